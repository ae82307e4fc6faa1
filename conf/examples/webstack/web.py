"""web: the web stack's HTTP server.

Usage: web.py PORT DB_PORT. Serves on 127.0.0.1:PORT: `GET /` counts the
visit in the db and says its number; `GET /healthz` answers 200 `ok` while
the server can serve (vigild's health check asks it).
"""

import http.server
import socket
import sys

port, db_port = int(sys.argv[1]), int(sys.argv[2])


def db_request(line):
    with socket.create_connection(("127.0.0.1", db_port), timeout=2) as s:
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, "ok")
        if self.path != "/":
            return self.reply(404, "not found")
        try:
            visits = db_request("INCR visits")
        except OSError as e:
            return self.reply(503, f"db unreachable: {e}")
        if visits.startswith("ERR"):
            return self.reply(500, visits)
        return self.reply(200, f"hello from the vigil web stack, visit #{visits}")

    def reply(self, code, text):
        body = text.encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        if not self.path.startswith("/healthz"):  # not a line per health check
            super().log_message(fmt, *args)


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"web serving on http://127.0.0.1:{port}/")
server.serve_forever()
