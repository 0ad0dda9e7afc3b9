// The application of the interop test: instrumented with the OpenTelemetry JS SDK, it handles
// "POST /reviews" in a server span and enqueues a job through `wfq enqueue` with that span's
// traceparent (W3C propagation, as the SDK injects it). Exports to OTEL_EXPORTER_OTLP_ENDPOINT.
// argv: WFQ; prints the job's id.
const { execFileSync } = require("child_process");
const api = require("@opentelemetry/api");
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { resourceFromAttributes } = require("@opentelemetry/resources");

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "review-app" }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter())] });
provider.register();
const tracer = api.trace.getTracer("review-app");

tracer.startActiveSpan("POST /reviews", { kind: api.SpanKind.SERVER }, (span) => {
  const carrier = {};
  api.propagation.inject(api.context.active(), carrier);
  const env = { ...process.env, TRACEPARENT: carrier.traceparent, OTEL_SERVICE_NAME: "wfq-producer" };
  const id = execFileSync(process.argv[2], ["enqueue", "review", '{"pr": 7}'], { env }).toString().trim();
  span.setAttribute("review.job", id);
  span.end();
  process.stdout.write(id + "\n");
});
provider.shutdown().catch((e) => {
  console.error(e);
  process.exit(1);
});
