"""What a health check probes, run by the test on threads: an HTTP server
whose answer the test switches (a status code, or "hang": the request is
read and never answered) and a TCP listener the test can close (then
connecting is refused). Both count what reached them, so a test waits
for a request instead of sleeping.

    with ProbeHTTPServer(200) as web:
        vigil.start(f"...health_check = {web.url}\\n...")
        ...
        web.answer(500)
"""

import http.server
import socket
import threading

from .waiting import TIMEOUT, wait_for


class ProbeHTTPServer:
    """HTTP on 127.0.0.1, a port of its own; every GET gets self.status."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []  # (path, Host header) of each request, in order
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends the hanging requests
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/healthz"):
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, status):
        """From the next request on: an int status, or "hang"."""
        with self.lock:
            self.status = status

    def count(self):
        with self.lock:
            return len(self.requests)

    def wait_requests(self, n, timeout=TIMEOUT):
        """Waits until n requests in all have arrived; returns them."""
        wait_for(lambda: self.count() >= n, timeout, lambda: f"{n} requests on port {self.port} "
                 f"(got {self.count()})")
        with self.lock:
            return list(self.requests)

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                with owner.lock:
                    owner.requests.append((self.path, self.headers.get("Host")))
                    status = owner.status
                if status == "hang":
                    owner.released.wait()
                    self.close_connection = True
                    return
                body = b"ok\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ProbeTCPListener:
    """A listening socket on 127.0.0.1 that accepts and closes at once;
    close() stops listening, so that connecting is refused."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"tcp://127.0.0.1:{self.port}"

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.close()
            with self.lock:
                self.accepted += 1

    def count(self):
        with self.lock:
            return self.accepted

    def close(self):
        if self.stopped:
            return
        self.stopped = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
