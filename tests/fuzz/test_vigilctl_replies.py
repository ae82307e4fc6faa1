"""vigilctl against replies vigild never sends, from a fake server on the
ctl socket: whatever JSON comes back, vigilctl says "unexpected reply" and
exits 1, never crashes. The fuzz target ctl_reply found these shapes; this
drives the real binary with them."""

import os
import shutil
import socketserver
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
from vigiltest import make_tmpdir, run_ctl, sanitizer_reports  # noqa: E402

PROCESS = ('{"name": "web", "program": "web", "instance": 0, "state": "RUNNING", "pid": 7,'
           ' "uptime_s": 1.5, "restarts": 0, "last_exit": null, "heartbeat": null,'
           ' "status": null, "daemon": false, "bind_to": null}')


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        # read the request head (vigilctl sends no body), answer, close
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        body = self.server.body.encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def fake_vigild():
    tmp = make_tmpdir("vigil-fake-")
    server = socketserver.ThreadingUnixStreamServer(os.path.join(tmp, "ctl.sock"), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_real_process_list_is_shown(fake_vigild):
    fake_vigild.body = '{"programs": [%s]}' % PROCESS
    r = run_ctl("status", "web", sock=fake_vigild.server_address, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "web" in r.stdout and "RUNNING" in r.stdout


@pytest.mark.parametrize("body", [
    "[]", "null", "7", '"text"', "not json",
    '{"programs": [{}]}', '{"programs": [1]}', '{"programs": {"a": 1}}',
    '{"programs": [{"name": "web"}]}', '{"name": "web", "state": 5}', "{}",
])
@pytest.mark.parametrize("command", [["status", "web"], ["restart", "web"]])
def test_an_odd_reply_is_an_error_not_a_crash(fake_vigild, body, command):
    fake_vigild.body = body
    r = run_ctl(*command, "--timeout", "5s", sock=fake_vigild.server_address, timeout=30)
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr}"
    assert "unexpected reply from vigild" in r.stderr
    assert not sanitizer_reports(r.stderr)


@pytest.mark.parametrize("fields", [
    '"health": "healthy"', '"health": {"state": 5, "last_error": 7}', '"health": {"state": "unhealthy"}',
    '"health": {"state": "unhealthy", "last_error": ""}', '"health": {"state": null, "last_error": null}',
    '"health": {"state": "unhealthy", "last_error": "%s"}' % ("\\u00e9" * 300),
    '"type": 3, "completed": "yes"', '"type": "oneshot", "completed": 1', '"requires": {"db": 1}',
    '"requires": [7, {"name": null}]', '"last_exit": {"cause": "dependency"}, "status": 5',
])
def test_odd_dependency_and_health_fields_are_shown_not_crashed_on(fake_vigild, fields):
    fake_vigild.body = '{"programs": [%s]}' % PROCESS.replace('"status": null', '"status": null, ' + fields)
    for command in (["status"], ["status", "web"], ["status", "web", "--json"]):
        r = run_ctl(*command, sock=fake_vigild.server_address, timeout=30)
        assert r.returncode in (0, 3), f"{command}: exit {r.returncode}: {r.stderr}"
        assert "web" in r.stdout, r.stdout
        assert not sanitizer_reports(r.stderr)
