#!/bin/sh
# Regenerates man/*.1 from the command tree and the reference prose in docs/reference/PAGE.md
# (`wfq __man --reference docs/reference PAGE`). tests/cli/test_docs.sh fails when the committed
# pages differ from what the binary prints.
set -eu
WFQ=${1:-build/dev/cli/wfq}
cd "$(dirname "$0")/.."
for page in $("$WFQ" __man --list); do
    "$WFQ" __man --reference docs/reference "$page" > "man/$page.1"
done
