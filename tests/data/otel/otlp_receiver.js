// An OTLP/HTTP trace receiver for the tests: decodes each POST /v1/traces with protobufjs and
// the OpenTelemetry project's own .proto files (http/protobuf) or as OTLP JSON (http/json), and
// appends one JSON line per span to OUT: service, traceId, spanId, parentSpanId (hex), name,
// kind, attributes. argv: PROTO_ROOT OUT PORT_FILE.
const http = require("http");
const fs = require("fs");
const path = require("path");
const protobuf = require("protobufjs");

const [protoRoot, out, portFile] = process.argv.slice(2);
const root = new protobuf.Root();
root.resolvePath = (origin, target) => path.join(protoRoot, target);
root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
const Request = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
const Response = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse");

const hex = (b) => (b && b.length ? Buffer.from(b).toString("hex") : "");
const value = (v) => (v.stringValue !== undefined ? v.stringValue : v.intValue !== undefined ? String(v.intValue) : JSON.stringify(v));

function record(request, json) {
  const lines = [];
  for (const rs of request.resourceSpans || []) {
    const resource = {};
    for (const a of (rs.resource && rs.resource.attributes) || []) resource[a.key] = value(a.value);
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) {
        const attributes = {};
        for (const a of s.attributes || []) attributes[a.key] = value(a.value);
        lines.push(JSON.stringify({
          service: resource["service.name"], resource, scope: ss.scope && ss.scope.name,
          traceId: json ? s.traceId : hex(s.traceId), spanId: json ? s.spanId : hex(s.spanId),
          parentSpanId: json ? s.parentSpanId || "" : hex(s.parentSpanId), name: s.name, kind: s.kind,
          attributes, status: s.status ? s.status.code : 0,
        }));
      }
  }
  if (lines.length) fs.appendFileSync(out, lines.join("\n") + "\n");
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const type = req.headers["content-type"] || "";
    fs.appendFileSync(out + ".requests", JSON.stringify({ url: req.url, type, headers: req.headers, bytes: body.length }) + "\n");
    try {
      if (req.method !== "POST" || req.url !== "/v1/traces") throw new Error("not POST /v1/traces");
      if (type.startsWith("application/json")) {
        record(JSON.parse(body.toString("utf8")), true);
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      } else if (type.startsWith("application/x-protobuf")) {
        record(Request.toObject(Request.decode(body), { longs: String, enums: Number, bytes: Array, defaults: false }), false);
        res.writeHead(200, { "Content-Type": "application/x-protobuf" }).end(Response.encode(Response.create({})).finish());
      } else {
        throw new Error("content type " + type);
      }
    } catch (e) {
      fs.appendFileSync(out + ".errors", String(e) + "\n");
      res.writeHead(400).end(String(e));
    }
  });
});
server.listen(0, "127.0.0.1", () => fs.writeFileSync(portFile, String(server.address().port)));
