"""Talking to vigild: vigilctl, and HTTP over the ctl Unix socket (both
well-formed requests and raw bytes)."""

import json
import os
import socket
import subprocess
from http.client import HTTPConnection, HTTPException

from .waiting import wait_for

VIGILD = os.environ.get("VIGILD", "vigild")
VIGILCTL = os.environ.get("VIGILCTL", "vigilctl")


def run_ctl(*args, sock=None, env=None, timeout=60):
    """Runs vigilctl [-s SOCK] ARGS; returns the CompletedProcess (text)."""
    argv = [VIGILCTL] + (["-s", sock] if sock else []) + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


class UnixHTTPConnection(HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:400]!r}>"


def http(sock_path, method, path, body=None, timeout=30):
    conn = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        conn.request(method, path, body=body if body is not None else (b"" if method == "POST" else None))
        r = conn.getresponse()
        return Reply(r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()


def raw_http(sock_path, request_bytes, timeout=30):
    """Sends bytes as they are and returns everything the server answers
    until it closes; tolerates the server closing before it read all."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        try:
            s.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)
    finally:
        s.close()


def wait_answers(proc, sock, log_text, timeout):
    """Waits until the vigild `proc` answers GET /healthz on sock; fails
    at once, with log_text(), if it exits first."""

    def answers():
        if proc.poll() is not None:
            raise AssertionError(f"vigild exited with {proc.returncode} before answering; log:\n"
                                 f"{log_text()[-3000:]}")
        try:
            return http(sock, "GET", "/healthz", timeout=5).status in (200, 503)
        except HTTPException:
            return None

    wait_for(answers, timeout, f"vigild to answer on {sock}")
