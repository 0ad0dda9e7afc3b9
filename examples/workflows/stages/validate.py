#!/usr/bin/env python3
# Stage contract: the context on stdin, the new context on stdout. Exit 65 fails the job at once.
import json, sys
ctx = json.load(sys.stdin)
if "pullRequest" not in ctx or "repository" not in ctx:
    print("payload needs pullRequest and repository", file=sys.stderr)
    sys.exit(65)
ctx["validated"] = True
json.dump(ctx, sys.stdout)
