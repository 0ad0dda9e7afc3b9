# wfq state: patches between files, and gzip streams that interoperate with gzip(1).
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"
FIX="$WFQ_TEST_DATA/review-context/typical"

old="$FIX/05-fetch_changed_files.json"; new="$FIX/06-gather_documentation_context.json"
"$WFQ" state diff "$old" "$new" > "$TMP/p.json"
"$WFQ" state patch "$old" "$TMP/p.json" > "$TMP/out.json"
python3 -c "
import json,sys
a=json.load(open('$TMP/out.json')); b=json.load(open('$new'))
sys.exit(0 if a==b else 1)" || fail "diff then patch did not give NEW"
"$WFQ" state diff "$old" "$new" --format merge-patch > "$TMP/m.json"
"$WFQ" state patch "$old" "$TMP/m.json" --format merge-patch > "$TMP/out2.json"
cmp -s "$TMP/out.json" "$TMP/out2.json" || fail "merge patch result differs"
expect_exit 0 "$WFQ" state diff "$old" "$new" --stats
for k in full_bytes patch_bytes full_gzip_bytes patch_gzip_bytes; do echo "$OUT" | jq_field "d['$k']" > /dev/null || fail "--stats lacks $k"; done
[ "$(echo "$OUT" | jq_field "d['patch_bytes'] < d['full_bytes']")" = True ] || fail "patch not smaller"
pass "state diff | state patch reproduces NEW (json-patch and merge-patch); --stats gives sizes"

echo '{"a": "text"}' > "$TMP/doc.json"
echo '[{"op": "add", "path": "/a/b", "value": 1}]' > "$TMP/bad.json"
expect_exit 65 "$WFQ" state patch "$TMP/doc.json" "$TMP/bad.json"
contains "$ERR" "operation 1"
echo '{not json' > "$TMP/broken.json"
expect_exit 65 "$WFQ" state diff "$TMP/broken.json" "$TMP/doc.json"
expect_exit 2 "$WFQ" state diff "$TMP/doc.json" "$TMP/doc.json" --format yaml-patch
pass "a patch the RFC rejects, or invalid JSON, exits 65; an unknown format exits 2"

"$WFQ" state compress "$new" -o "$TMP/ctx.gz" --level 9
gzip -dc "$TMP/ctx.gz" | cmp -s - "$new" || fail "gzip -d cannot read our stream"
gzip -c "$new" > "$TMP/theirs.gz"
"$WFQ" state decompress "$TMP/theirs.gz" | cmp -s - "$new" || fail "we cannot read gzip's stream"
"$WFQ" state compress < "$new" | gzip -dc | cmp -s - "$new" || fail "stdin/stdout"
head -c 100 "$TMP/ctx.gz" > "$TMP/truncated.gz"
expect_exit 65 "$WFQ" state decompress "$TMP/truncated.gz" -o "$TMP/never.json"
[ ! -e "$TMP/never.json" ] || fail "a failed decompress left an output file"
expect_exit 65 "$WFQ" state decompress "$new"
expect_exit 2 "$WFQ" state compress "$new" --level 12
pass "compress/decompress interoperate with gzip(1); truncated or non-gzip input exits 65 and writes nothing"
