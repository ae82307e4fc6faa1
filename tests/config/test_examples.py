"""The example configs of conf/examples are valid (`vigild --check`), the
README shows the web stack (conf/examples/webstack.conf) as shipped, and it
runs as written: migrate completes, db and web come up healthy in order, web
serves, and SIGTERM ends it all."""

import contextlib
import fcntl
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess

import pytest

from vigiltest import DEMO_CONF, VIGILD, pid_gone, wait_for

EXAMPLES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                         "conf", "examples"))
WEBSTACK = os.path.join(EXAMPLES, "webstack.conf")
README = os.path.join(EXAMPLES, "..", "..", "README.md")
# The fixed ports and paths of webstack.conf; the paths are moved into the
# test's folder, the ports cannot be.
WEB_PORT, DB_PORT = 18080, 15432
DATA_PREFIX = "/tmp/vigil-webstack"
# Test runs of other builds or worktrees on this machine would race for
# the ports: they take turns.
PORT_LOCK = "/tmp/vigil-test-webstack.lock"


def example_configs():
    """Every conf/examples/*.conf, and the demo config meson generates."""
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.conf"))) + [DEMO_CONF]


@pytest.mark.parametrize("conf", example_configs(), ids=os.path.basename)
def test_example_passes_check(vigil, conf):
    if not os.path.exists(conf):
        pytest.fail(f"example config {conf!r} missing (the demo's: not built? VIGIL_DEMO_CONF)")
    r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=60,
                       env=vigil.env())
    assert r.returncode == 0, f"{conf}: vigild --check exited {r.returncode}:\n{r.stderr}"


def test_readme_shows_webstack_as_shipped():
    """The README's web stack section is the file's program sections, verbatim."""
    with open(WEBSTACK) as f:
        programs = f.read().split("[program:migrate]", 1)
    with open(README) as f:
        readme = f.read()
    assert len(programs) == 2, "webstack.conf has no [program:migrate]"
    assert "[program:migrate]" + programs[1] in readme, "README.md's web stack differs from webstack.conf"


@contextlib.contextmanager
def port_turn(timeout=300):
    """Holds PORT_LOCK (waiting up to timeout for another run to let go)."""
    with open(PORT_LOCK, "a") as f:
        wait_for(lambda: _try_lock(f), timeout, f"{PORT_LOCK} (another webstack test holds it)", 0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _try_lock(f):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def port_taken(port):
    """Whether something listens on 127.0.0.1:PORT (binding as the example's
    servers bind, with SO_REUSEADDR, so a TIME_WAIT left over is no reason)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def install_webstack(vigil):
    """webstack.conf and its scripts folder, copied side by side into the
    test's folder so its relative `directory = webstack` holds as written;
    only its /tmp paths (socket, data) move into the test's folder."""
    with open(WEBSTACK) as f:
        text = f.read()
    assert DATA_PREFIX in text and f"tcp://127.0.0.1:{DB_PORT}" in text, text
    assert f"http://127.0.0.1:{WEB_PORT}/healthz" in text, text
    text = text.replace(DATA_PREFIX, vigil.path("run"))
    shutil.copytree(os.path.join(EXAMPLES, "webstack"), vigil.path("webstack"))
    vigil.conf = vigil.path("webstack.conf")
    with open(vigil.conf, "w") as f:
        f.write(text)
    vigil.sock = vigil.path("run.sock")


def healthy(p):
    return p["state"] == "RUNNING" and p["health"] is not None and p["health"]["state"] == "healthy"


def test_webstack_runs(vigil):
    with port_turn():
        taken = [port for port in (WEB_PORT, DB_PORT) if port_taken(port)]
        if taken:
            pytest.skip(f"port(s) {taken} of webstack.conf in use on 127.0.0.1")
        install_webstack(vigil)
        vigil.start()
        run_webstack(vigil)


def run_webstack(vigil):
    web_states = []

    def stack_up():
        ps = vigil.programs()
        if not web_states or web_states[-1] != ps["web"]["state"]:
            web_states.append(ps["web"]["state"])
        migrate, db, web = ps["migrate"], ps["db"], ps["web"]
        done = migrate["state"] == "EXITED" and migrate["completed"] and healthy(db) and healthy(web)
        return ps if done else None

    ps = wait_for(stack_up, 60, lambda: f"migrate EXITED, db and web healthy (web went {web_states})")
    # migrate takes 2 s: web waits for it (and for db's first check) first
    assert web_states[0] == "WAITING", web_states
    assert ps["migrate"]["last_exit"]["code"] == 0, ps["migrate"]
    assert ps["web"]["requires"] == [{"name": "db", "condition": "healthy"},
                                     {"name": "migrate", "condition": "completed"}], ps["web"]

    assert http_get(WEB_PORT, "/healthz") == (200, "ok\n")
    # web -> db -> the table migrate made
    assert http_get(WEB_PORT, "/") == (200, "hello from the vigil web stack, visit #1\n")
    r = vigil.ctl("status")
    assert r.returncode == 0, r
    for name in ("migrate", "db", "web"):
        assert name in r.stdout, r.stdout

    pids = [ps["db"]["pid"], ps["web"]["pid"]]
    vigil.signal(signal.SIGTERM)
    assert vigil.wait_exit() == 0, vigil.log()[-3000:]
    wait_for(lambda: all(pid_gone(pid) for pid in pids), 10, f"db and web (pids {pids}) gone")
    assert not port_taken(WEB_PORT) and not port_taken(DB_PORT)
