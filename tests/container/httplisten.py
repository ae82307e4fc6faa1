"""HTTP over TCP to vigild's http_listen listener, for the container suite."""

import re
import socket
from http.client import HTTPConnection

from vigiltest import Reply, wait_for


def free_port():
    """A TCP port of 127.0.0.1 free just now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, method="GET", body=None, headers=None, host="127.0.0.1", timeout=10):
    conn = HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()


def wait_listening(vigil, port, timeout=30):
    """Waits until the listener on port answers /healthz; fails at once
    if vigild exits first."""

    def answers():
        if vigil.proc.poll() is not None:
            raise AssertionError(f"vigild exited with {vigil.proc.returncode}; log:\n{vigil.log()[-3000:]}")
        try:
            return get(port, "/healthz", timeout=5).status in (200, 503)
        except OSError:
            return None

    wait_for(answers, timeout, f"the http_listen listener on port {port}")


def metric_names(text):
    """The metric families a Prometheus text names (# TYPE lines)."""
    return set(re.findall(r"^# TYPE (\S+)", text, re.M))
