"""What the events suite shares: GET /v1/events as a list of events, and a
follower reading the streamed (chunked) reply on a raw socket, so a test
decides when, and whether, it reads."""

import json
import socket
import time

from vigiltest import W, wait_for


def crash_loop(name, numprocs=1, **options):
    """A program that exits with code 3 right after each start, restarted
    at once (restart_delay 5ms) and never given up on."""
    lines = [f"[program:{name}]", f"command = {W('crash-after')} 0 3", "start_secs = 0", "restart = always",
             "restart_delay = 5ms", "restart_delay_max = 5ms", "start_limit_burst = 1000000",
             f"numprocs = {numprocs}"]
    lines += [f"{k} = {v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def get_events(vigil, query=""):
    """GET /v1/events[?query] as a list of dicts."""
    r = vigil.get("/v1/events" + (f"?{query}" if query else ""))
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("application/x-ndjson"), r.headers
    return [json.loads(line) for line in r.text.splitlines()]


def last_seq(vigil):
    events = get_events(vigil)
    return events[-1]["seq"] if events else 0


class Follower:
    """GET /v1/events?QUERY&follow=1 on a raw socket: nothing is read
    until read_until is called (a stalled consumer, when it never is)."""

    def __init__(self, sock_path, query="follow=1", rcvbuf=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(sock_path)
        self.s.sendall(f"GET /v1/events?{query} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        self.raw = b""
        self.body = b""
        self.head = None
        self.events = []

    def _decode(self):
        """Headers, then chunks of JSON lines, into self.events."""
        if self.head is None:
            if b"\r\n\r\n" not in self.raw:
                return
            self.head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            assert self.head.startswith(b"HTTP/1.1 200"), self.head
        while b"\r\n" in self.raw:
            size_text, rest = self.raw.split(b"\r\n", 1)
            size = int(size_text, 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]
        *lines, self.body = self.body.split(b"\n")
        self.events += [json.loads(line) for line in lines if line]

    def read_until(self, cond, what, timeout=60):
        """Reads until cond(self.events) holds."""
        deadline = time.monotonic() + timeout
        self.s.settimeout(0.2)
        while not cond(self.events):
            assert time.monotonic() < deadline, f"timed out waiting for {what}; got {self.events[-5:]}"
            try:
                data = self.s.recv(1 << 20)
            except socket.timeout:
                continue
            assert data, f"vigild closed the stream before {what}; got {self.events[-5:]}"
            self.raw += data
            self._decode()
        return self.events

    def close(self):
        self.s.close()


def assert_no_gap(events):
    """seq grows by one, but across a lost marker by its count."""
    prev = None
    lost = 0
    for ev in events:
        if ev["event"] == "lost":
            lost += ev["count"]
            continue
        if prev is not None:
            assert ev["seq"] == prev + 1 + lost, (prev, lost, ev)
        prev, lost = ev["seq"], 0


def wait_seq(vigil, seq, what):
    return wait_for(lambda: last_seq(vigil) >= seq, 60, what)
