"""A misbehaving OTLP/HTTP collector for tests/cli/test_otlp_faults.sh. Each POST is answered as
the file MODE says when it arrives: "status CODE [RETRY_AFTER]" (that status, an optional
Retry-After header), "slow SECONDS" (waits, then 200), "garbage" (bytes that are not HTTP, then
closes), or "ok" (200 with an empty ExportTraceServiceResponse). Each request is logged to LOG
as "TIME MODE BYTES". argv: MODE LOG PORT_FILE."""
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode_file, log_file, port_file = sys.argv[1:]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = open(mode_file).read().split()
        with open(log_file, "a") as log:
            log.write("%.3f %s %d\n" % (time.time(), "_".join(mode), len(body)))
        if mode[0] == "garbage":
            self.wfile.write(b"\x00\x17not http at all\r\n\r\n\xff\xfe")
            self.close_connection = True
            return
        if mode[0] == "slow":
            time.sleep(float(mode[1]))
            mode = ["ok"]
        if mode[0] == "status":
            self.send_response(int(mode[1]))
            if len(mode) > 2:
                self.send_header("Retry-After", mode[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
