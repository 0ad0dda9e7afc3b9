# OTLP interop with the OpenTelemetry JavaScript SDK (npm, pinned in tests/data/otel/package.json,
# installed into WFQ_NPM_CACHE): a Node application instrumented with the SDK enqueues through
# `wfq enqueue` with its traceparent; a wfq worker runs a Node stream handler that also uses the
# SDK; all three export to one OTLP/HTTP receiver that decodes with protobufjs and the
# OpenTelemetry project's own .proto files (not wfq's code). One trace, whose parent links run
# application -> wfq producer (send) -> wfq consumer (process) -> handler span, with the
# messaging semantic conventions. Then the same through http/json.
. "$(dirname "$0")/lib.sh"
command -v node > /dev/null || skip "node is not installed (scripts/install-deps.sh installs nodejs)"
command -v npm > /dev/null || skip "npm is not installed"

cache=${WFQ_NPM_CACHE:-/tmp/wfq-npm}/otel
mkdir -p "$cache"
if ! flock "$cache/.lock" sh -c 'cmp -s "$2/package.json" "$1/package.json" && [ -f "$1/node_modules/.installed" ] || { cp "$2/package.json" "$1/package.json" && cd "$1" && timeout 300 npm install --no-audit --no-fund > npm.log 2>&1 && touch node_modules/.installed; }' sh "$cache" "$WFQ_TEST_DATA/otel"; then
    skip "npm install of the OpenTelemetry SDK failed (no registry?): $(tail -3 "$cache/npm.log")"
fi
export NODE_PATH="$cache/node_modules"
protos="$WFQ_SOURCE_DIR/third_party/opentelemetry-proto"

# receiver NAME: starts a receiver writing $TMP/NAME.spans; sets $endpoint.
receiver() {
    node "$WFQ_TEST_DATA/otel/otlp_receiver.js" "$protos" "$TMP/$1.spans" "$TMP/$1.port" 2> "$TMP/$1.log" &
    wait_for 20 test -s "$TMP/$1.port"
    endpoint="http://127.0.0.1:$(cat "$TMP/$1.port")"
}

receiver proto
export OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_BSP_SCHEDULE_DELAY=200
id=$(node "$WFQ_TEST_DATA/otel/app.js" "$WFQ")
[ -n "$id" ] || fail "the application enqueued nothing"
OTEL_SERVICE_NAME=wfq-worker "$WFQ" process --stream --lease 5s --poll 100ms -- node "$WFQ_TEST_DATA/otel/handler.js" 2> "$TMP/worker.log" &
worker=$!
wait_for 30 sh -c "\"$WFQ\" jobs show $id --json | grep -q '\"state\": *\"completed\"'"
# trace CHECK: waits until the receiver holds the four spans, then checks their links.
cat > "$TMP/check.py" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
def one(service, name):
    found = [s for s in spans if s["service"] == service and s["name"] == name]
    assert len(found) == 1, (service, name, [(s["service"], s["name"]) for s in spans])
    return found[0]
app = one("review-app", "POST /reviews")
producer = one("wfq-producer", "send default")
consumer = one("wfq-worker", "process default")
handler = one("review-handler", "review pr")
assert app["parentSpanId"] == "", app
assert producer["parentSpanId"] == app["spanId"], (producer, app)
assert consumer["parentSpanId"] == producer["spanId"], (consumer, producer)
assert handler["parentSpanId"] == consumer["spanId"], (handler, consumer)
assert len({s["traceId"] for s in (app, producer, consumer, handler)}) == 1
assert len(app["traceId"]) == 32 and len(app["spanId"]) == 16
# Messaging semantic conventions: producer send, consumer process, kinds PRODUCER (4) and CONSUMER (5).
assert producer["kind"] == 4 and consumer["kind"] == 5, (producer["kind"], consumer["kind"])
for span, op in ((producer, "send"), (consumer, "process")):
    a = span["attributes"]
    assert a["messaging.system"] == "wfq" and a["messaging.operation.type"] == op, a
    assert a["messaging.destination.name"] == "default" and a["messaging.message.id"] == sys.argv[2], a
assert consumer["resource"]["telemetry.sdk.name"] == "wfq", consumer["resource"]
claim = [s for s in spans if s["name"] == "claim" and s["parentSpanId"] == consumer["spanId"]]
assert len(claim) == 1, claim
PY
wait_for 30 python3 "$TMP/check.py" "$TMP/proto.spans" "$id"
python3 "$TMP/check.py" "$TMP/proto.spans" "$id" || fail "the trace's links"
pass "one trace over http/protobuf: application -> wfq producer -> wfq consumer -> handler, decoded by the OpenTelemetry protos"
grep -q '"type":"application/x-protobuf"' "$TMP/proto.spans.requests" || fail "no protobuf request: $(cat "$TMP/proto.spans.requests")"
[ ! -s "$TMP/proto.spans.errors" ] || fail "the receiver could not decode: $(cat "$TMP/proto.spans.errors")"
kill -TERM "$worker"
expect_wait 0 "$worker" "worker" "$TMP/worker.log"

# http/json, with headers and resource attributes from the standard variables.
receiver json
export OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint"
id=$(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json OTEL_EXPORTER_OTLP_HEADERS='x-tenant=acme,authorization=Bearer%20t0k' \
     OTEL_RESOURCE_ATTRIBUTES='deployment.environment=test,service.name=from-attributes' \
     TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 "$WFQ" enqueue review '{"pr": 8}')
wait_for 20 grep -q '"send default"' "$TMP/json.spans"
python3 - "$TMP/json.spans" "$TMP/json.spans.requests" <<'PY' || fail "http/json export"
import json, sys
span = [json.loads(l) for l in open(sys.argv[1])][0]
assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c" and span["parentSpanId"] == "b7ad6b7169203331", span
assert span["service"] == "from-attributes" and span["resource"]["deployment.environment"] == "test", span
req = json.loads(open(sys.argv[2]).readline())
assert req["type"] == "application/json" and req["url"] == "/v1/traces", req
assert req["headers"]["x-tenant"] == "acme" and req["headers"]["authorization"] == "Bearer t0k", req
PY
pass "http/json with OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES"

# The standard variables, checked: a bad one exits 2 naming it.
expect_exit 2 env OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$WFQ" enqueue review '{}'
contains "$ERR" "OTEL_EXPORTER_OTLP_PROTOCOL \"grpc\" is not supported"
expect_exit 2 env OTEL_EXPORTER_OTLP_TIMEOUT=soon "$WFQ" enqueue review '{}'
contains "$ERR" "OTEL_EXPORTER_OTLP_TIMEOUT must be a whole number"
expect_exit 2 env OTEL_TRACES_SAMPLER=sometimes "$WFQ" enqueue review '{}'
contains "$ERR" "OTEL_TRACES_SAMPLER \"sometimes\""
expect_exit 2 env OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318 "$WFQ" enqueue review '{}'
contains "$ERR" "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL"
for var in OTEL_BSP_SCHEDULE_DELAY OTEL_BSP_MAX_QUEUE_SIZE OTEL_BSP_MAX_EXPORT_BATCH_SIZE OTEL_BSP_EXPORT_TIMEOUT; do
    expect_exit 2 env "$var=5s" "$WFQ" enqueue review '{}'
    contains "$ERR" "$var must be a whole number"
done
before=$(wc -l < "$TMP/json.spans")
OTEL_SDK_DISABLED=true "$WFQ" enqueue review '{}' > /dev/null
OTEL_TRACES_SAMPLER=always_off "$WFQ" enqueue review '{}' > /dev/null
OTEL_EXPORTER_OTLP_PROTOCOL=http/json "$WFQ" enqueue review '{}' > /dev/null  # the marker: exported
wait_for 20 sh -c "[ \$(wc -l < '$TMP/json.spans') -gt $before ]"
[ "$(wc -l < "$TMP/json.spans")" = $((before + 1)) ] || fail "OTEL_SDK_DISABLED or always_off exported: $(tail -3 "$TMP/json.spans")"
pass "bad OTEL_* values exit 2; OTEL_SDK_DISABLED and OTEL_TRACES_SAMPLER=always_off export nothing"
