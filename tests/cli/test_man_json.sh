# Every JSON example in every man page renders as valid JSON. roff eats double quotes in macro
# arguments (`.B {"id": 42, "ok": true}` renders as `{"id": 42, ok : true}`), so the pages are
# rendered as a reader sees them, by mandoc and by man -l, and each example in the rendered text
# is parsed: 1000 columns wide (no line wrapped or hyphenated: what the roff source says), and
# 80 wide (a terminal). Write examples in display blocks (.nf/.fi): running text is filled,
# justified and hyphenated, and `\ ` would render as a no-break space (U+00A0), which is not
# JSON whitespace. An example that parses but holds what roff makes of - ' " (U+2010, U+2212,
# typographic quotes) fails too: a reader who copies it gets other bytes.
#
# An example is found wherever the text has `{` followed by a quote or by `key:` (an object,
# even one whose quotes were eaten: `{ $snooze : 30s }`), or `[` followed by `{`, `[` or a
# quote (an array of them). It runs to its matching bracket, over line breaks (display blocks)
# and skipping brackets inside strings. Braces that are not JSON stay out: field lists such as
# {name, exec, timeout}, templates such as {payload.repository.id}, synopses such as [ARG...].
# MAN_DIR (default: the repository's man/) lets the test be pointed at other pages.
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"
MAN_DIR=${MAN_DIR:-$WFQ_SOURCE_DIR/man}
command -v python3 > /dev/null || skip "no python3"

renderers=()
command -v mandoc > /dev/null && command -v col > /dev/null && renderers+=(mandoc)
command -v man > /dev/null && renderers+=(man)
[ ${#renderers[@]} -gt 0 ] || skip "neither mandoc nor man is installed"

render() {  # renderer width page -> plain text on stdout
    case $1 in
        mandoc) mandoc -T utf8 -O width="$2" "$3" | col -bx ;;
        man) MANWIDTH=$2 MAN_KEEP_FORMATTING= man -l "$3" 2> /dev/null | col -bx ;;
    esac
}

pages=("$MAN_DIR"/*.[1-9])
[ -e "${pages[0]}" ] || fail "no man pages in $MAN_DIR"
mkdir -p "$TMP/rendered"
for r in "${renderers[@]}"; do
    for width in 1000 80; do
        for page in "${pages[@]}"; do
            out="$TMP/rendered/$(basename "$page").$r-$width"
            render "$r" "$width" "$page" > "$out" || fail "$r cannot render $page"
            [ -s "$out" ] || fail "$r rendered $page as nothing"
        done
    done
done

cat > "$TMP/man_json.py" <<'PY'
import json, os, re, sys

START = re.compile(r'\{\s*(?:"|\}|[\w$]+\s*:)|\[\s*[\[{"\]]')
CLOSE = {"{": "}", "[": "]"}
# What roff makes of -, ', ", ` and \  (hyphen, minus, typographic quotes, no-break space)
TYPOGRAPHIC = set("\u2010\u2011\u2212\u2018\u2019\u201c\u201d\u00a0")

def example_at(text, i):
    """The text from the bracket at i to its match (strings skipped), or None if it never closes."""
    stack, j, in_str = [], i, False
    while j < len(text):
        c = text[j]
        if in_str:
            if c == "\\": j += 1
            elif c == '"': in_str = False
        elif c == '"': in_str = True
        elif c in CLOSE: stack.append(CLOSE[c])
        elif c in "}]":
            if not stack or stack.pop() != c: return None
            if not stack: return text[i:j + 1]
        j += 1
    return None

if sys.argv[1] == "--self-check":
    for s in ['{"id": 42, ok : true}', '{"$snooze": 30s }', '{ $snooze : 30s }', '["a", "b"]', '[{"a": 1}]', '{}']:
        assert START.search(s), s
    for s in ['{name, exec, timeout}', 'pr:{payload.repository.id}', '[ARG...]', '[--procs N]', '[line cut]',
              '{job_id, attempt}', '[ID]']:
        assert not START.search(s), s
    assert example_at('x {"a": "}", "b": [1]} y', 2) == '{"a": "}", "b": [1]}'
    assert example_at('{"id": 42, "ok": true', 0) is None
    sys.exit(0)

bad, counts = [], {}
for name in sorted(os.listdir(sys.argv[1])):
    text = open(os.path.join(sys.argv[1], name), encoding="utf-8").read()
    i, n = 0, 0
    while True:
        m = START.search(text, i)
        if not m: break
        start = m.start()
        example = example_at(text, start)
        n += 1
        line = text.count("\n", 0, start) + 1
        if example is None:
            end = text.find("\n", start)
            bad.append(f"{name}:{line}: unbalanced: {text[start:end if end >= 0 else None]}")
            i = start + 1
            continue
        try:
            json.loads(example)
            typographic = sorted(set(example) & TYPOGRAPHIC)
            if typographic:  # valid, but not what a reader who copies it meant
                bad.append(f"{name}:{line}: roff turned characters into {', '.join(f'U+{ord(c):04X}' for c in typographic)}: {example}")
        except ValueError as e:
            bad.append(f"{name}:{line}: {e}: {' '.join(example.split())}")
        i = start + len(example)
    counts[name] = n
for b in bad: print(b)
for name, n in counts.items(): print(f"examples {name} {n}")
sys.exit(1 if bad else 0)
PY
python3 "$TMP/man_json.py" --self-check || fail "the extractor's self-check"
python3 "$TMP/man_json.py" "$TMP/rendered" > "$TMP/report" \
    || { grep -v '^examples ' "$TMP/report"
         fail "JSON examples in the man pages that are not valid JSON (above; FILE.RENDERER-WIDTH:LINE): write each as a display block (.nf/.fi; in a generated page, an indented line of the --help footer)"; }

# The extractor finds what it must: the stream protocol's lines in wfq-handler(7) (a job, its
# three answers, cancel, snooze) and the tour's payload in wfq(1), in each rendering.
count() { awk -v f="$1" '$1 == "examples" && $2 == f { print $3 }' "$TMP/report"; }
for r in "${renderers[@]}"; do
    for width in 1000 80; do
        n=$(count "wfq-handler.7.$r-$width")
        [ "${n:-0}" -ge 6 ] || fail "found ${n:-0} JSON examples in wfq-handler(7) ($r, $width columns), want at least 6"
        n=$(count "wfq.1.$r-$width")
        [ "${n:-0}" -ge 1 ] || fail "found no JSON example in wfq(1) ($r, $width columns)"
    done
done
total=$(awk '$1 == "examples" { s += $3 } END { print s + 0 }' "$TMP/report")
pass "all $total JSON examples in ${#pages[@]} man pages parse, rendered by ${renderers[*]} at 1000 and 80 columns"
