"""Harness shared by the pytest suites that drive the real vigild and
vigilctl (tests/integration, tests/heartbeat, tests/service).

Each suite's conftest.py puts this folder on sys.path and imports from
here: polling with a deadline (wait_for), /proc helpers, HTTP over the
ctl Unix socket, a clean environment for vigild, starting vigilctl,
killing what a test left behind and spotting sanitizer reports. The
suites' own Vigil classes and fixtures stay in their conftest.py.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from http.client import HTTPConnection, HTTPException

import pytest

VIGILD = os.environ.get("VIGILD", "vigild")
VIGILCTL = os.environ.get("VIGILCTL", "vigilctl")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

# Variables a test's vigild must not inherit from whatever runs pytest
# (a systemd unit, a vigil-supervised shell, ...).
INHERITED_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "JOURNAL_STREAM", "VIGIL_SOCKET")


# -- waiting -------------------------------------------------------------

class Timeout(AssertionError):
    pass


def poll(cond, timeout, what="condition", interval=0.02, not_yet=(OSError, ValueError)):
    """Polls cond() until it returns something truthy, and returns that.

    The exceptions in not_yet raised by cond (a file not written yet,
    half a JSON document) count as "not yet". Raises Timeout naming
    `what` (a string, or a callable giving one when the time is up).
    """
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            value = cond()
        except not_yet as e:
            value, last_err = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.1f}s waiting for {what() if callable(what) else what}"
            if last_err is not None:
                msg += f" (last error: {last_err!r})"
            raise Timeout(msg)
        time.sleep(interval)


def make_wait_for(default_timeout, not_yet=(OSError, ValueError)):
    """A suite's wait_for(cond, timeout, what, interval): poll() with the
    suite's default deadline and its idea of "not yet"."""

    def wait_for(cond, timeout=default_timeout, what="condition", interval=0.02):
        return poll(cond, timeout, what, interval, not_yet)

    return wait_for


# -- files ---------------------------------------------------------------

def read_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def read_text(path):
    """The text of a file, "" if it does not exist (yet)."""
    try:
        return read_file(path)
    except FileNotFoundError:
        return ""


def make_tmpdir(prefix):
    """A fresh folder under /tmp with a short name: Unix socket paths in
    it must stay under 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


# -- processes -----------------------------------------------------------

def proc_stat(pid):
    """(state, ppid) of a pid from /proc, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def pid_alive(pid):
    """True if pid exists and is not a zombie (dead, not yet reaped)."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def pid_gone(pid):
    """True if pid no longer exists at all (exited and reaped)."""
    return proc_stat(pid) is None


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children_of(ppid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == ppid:
            out.append(pid)
    return out


def descendants_of(root):
    parent = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            parent[pid] = st[1]
    out, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        for pid, pp in parent.items():
            if pp == p and pid not in out:
                out.append(pid)
                frontier.append(pid)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError):
        return None


def tagged_pids(tag):
    """Every live process but this one whose environment holds the
    VAR=value string `tag` (a test's vigild hands it down to all it runs)."""
    me = os.getpid()
    out = []
    needle = tag.encode()
    for pid in all_pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle + b"\0" in env or env.endswith(needle):
            st = proc_stat(pid)
            if st and st[0] != "Z":
                out.append(pid)
    return out


def kill_pids(pids):
    """SIGKILLs each pid, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_gracefully(proc, timeout):
    """SIGTERM to a running Popen, SIGKILL if it has not exited within
    timeout; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def clean_env(tag=None, **extra):
    """os.environ without INHERITED_VARS, plus tag ("VAR=value") and extra."""
    env = dict(os.environ)
    for k in INHERITED_VARS:
        env.pop(k, None)
    if tag:
        k, _, v = tag.partition("=")
        env[k] = v
    env.update(extra)
    return env


def sanitizer_reports(text):
    """The sanitizer markers found in a vigild log."""
    return [m for m in SANITIZER_MARKERS if m in text]


def run_ctl(*args, sock=None, env=None, timeout=60):
    """Runs vigilctl [-s SOCK] ARGS; returns the CompletedProcess (text)."""
    argv = [VIGILCTL] + (["-s", sock] if sock else []) + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


# -- HTTP over the ctl socket --------------------------------------------

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


def wait_answers(proc, sock, log_text, wait_for, timeout):
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


# -- pytest --------------------------------------------------------------

@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_call, ...) so a
    fixture's teardown can tell whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
