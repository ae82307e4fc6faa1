"""Collecting what arrives while a test goes on, on a thread, so the test
can wait for it with a deadline: datagrams on a fake systemd notify
socket, lines on a subprocess's stdout."""

import socket
import threading
import time

from .waiting import TIMEOUT, wait_for


class NotifyListener:
    """A fake systemd notify socket: a SOCK_DGRAM Unix socket whose
    datagrams are collected, with their arrival time, by a thread."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic seconds, {key: value}, raw text)
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            fields = {}
            for line in text.split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), fields, text))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def find(self, pred, start=0):
        """Index of the first message at or after `start` for which
        pred(fields) holds, or None."""
        msgs = self.snapshot()
        for i in range(start, len(msgs)):
            if pred(msgs[i][1]):
                return i
        return None

    def wait(self, pred, start=0, what="notify message", timeout=TIMEOUT):
        i = wait_for(lambda: (lambda r: None if r is None else (r,))(self.find(pred, start)),
                     timeout=timeout, what=lambda: f"{what} (got {self.texts()!r})")
        return i[0]

    def texts(self):
        return [m[2] for m in self.snapshot()]

    def count(self, pred, start=0):
        return sum(1 for m in self.snapshot()[start:] if pred(m[1]))

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


class LineReader:
    """Collects the stdout lines of a subprocess on a thread, so a test can
    wait for a line with a deadline."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait_line(self, line, what=None):
        return wait_for(lambda: line in self.snapshot(),
                        what=what or (lambda: f"line {line!r} (got {self.snapshot()[-10:]!r})"))
