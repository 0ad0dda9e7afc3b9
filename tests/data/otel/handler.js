// The stream handler of the interop test: for each job it continues the job's trace from the
// traceparent wfq sends (the SDK's W3C propagator), does its work in a span of its own, and
// answers. Uses the OpenTelemetry JS SDK, exporting to OTEL_EXPORTER_OTLP_ENDPOINT.
const readline = require("readline");
const api = require("@opentelemetry/api");
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { resourceFromAttributes } = require("@opentelemetry/resources");

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "review-handler" }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter())] });
provider.register();
const tracer = api.trace.getTracer("review-handler");

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const job = JSON.parse(line);
  if (job.cancel !== undefined) return;
  const parent = api.propagation.extract(api.ROOT_CONTEXT, { traceparent: job.traceparent });
  tracer.startActiveSpan("review pr", { attributes: { "review.pr": job.payload.pr } }, parent, (span) => {
    span.end();
    process.stdout.write(JSON.stringify({ id: job.id, ok: true, result: { reviewed: job.payload.pr } }) + "\n");
  });
});
process.on("SIGTERM", () => provider.shutdown().finally(() => process.exit(0)));
