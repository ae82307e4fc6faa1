"""Fixtures and helpers for the vigil integration tests.

Every test drives the real vigild and vigilctl binaries (paths from the
VIGILD, VIGILCTL and VIGIL_WORKERS environment variables, set by
meson) in its own temporary directory with its own ctl socket. Nothing
here sleeps to decide a result: wait_for() polls a condition until a
deadline and fails with a message saying what it waited for.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

VIGILD = os.environ.get("VIGILD", "vigild")
VIGILCTL = os.environ.get("VIGILCTL", "vigilctl")
WORKERS = os.environ.get("VIGIL_WORKERS", "")

# Deadlines are generous: the suite also runs under ASan/UBSan on a
# loaded 2-core machine. They only bound how long a failure takes.
DEFAULT_TIMEOUT = float(os.environ.get("VIGIL_TEST_TIMEOUT", "20"))

STATES = {"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def W(name):
    """Absolute path of a test worker executable."""
    path = os.path.join(WORKERS, name)
    assert os.access(path, os.X_OK), f"worker {path} is not built (VIGIL_WORKERS={WORKERS!r})"
    return path


class Timeout(AssertionError):
    pass


def wait_for(cond, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.02):
    """Polls cond() until it returns something truthy, and returns that.

    OSError and ValueError raised by cond (a file not written yet, half a
    JSON document) count as "not yet". Raises Timeout naming `what`.
    """
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            value = cond()
        except (OSError, ValueError) as e:
            value, last_err = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.0f}s waiting for {what}"
            if last_err is not None:
                msg += f" (last error: {last_err!r})"
            raise Timeout(msg)
        time.sleep(interval)


def read_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def read_lines(path):
    """Complete lines of a file, [] if it does not exist yet."""
    try:
        text = read_file(path)
    except FileNotFoundError:
        return []
    return [l for l in text.split("\n")[:-1]]


def read_pid(path):
    """The first integer of a file a worker wrote, or None if not there yet."""
    try:
        text = read_file(path).split()
    except FileNotFoundError:
        return None
    return int(text[0]) if text else None


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
    """True if pid exists and is not a zombie."""
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


def zombie_children(ppid):
    return [pid for pid in children_of(ppid) if (proc_stat(pid) or ("?",))[0] == "Z"]


def open_fds(pid):
    return sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))


class UnixHTTPConnection(http.client.HTTPConnection):
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

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


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


class Vigil:
    """One test's vigild: its directory, config, socket and log."""

    def __init__(self, tmp):
        self.dir = tmp
        self.sock = os.path.join(tmp, "ctl.sock")
        self.conf = os.path.join(tmp, "vigil.conf")
        self.logfile = os.path.join(tmp, "vigild.log")
        self.tag = f"VIGIL_TEST_TAG={tmp}"
        self.proc = None
        self.popens = []
        self.extra_pids = []

    # -- files ---------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_config(self, programs="", vigil_extra="", path=None):
        text = f"[vigil]\nsocket = {self.sock}\nlog_level = debug\n{vigil_extra}\n{programs}\n"
        with open(path or self.conf, "w") as f:
            f.write(text)
        return path or self.conf

    def log(self):
        try:
            return read_file(self.logfile)
        except FileNotFoundError:
            return ""

    # -- vigild --------------------------------------------------------
    def env(self, **extra):
        env = dict(os.environ)
        env["VIGIL_TEST_TAG"] = self.dir
        env.pop("VIGIL_SOCKET", None)
        env.pop("NOTIFY_SOCKET", None)
        env.update(extra)
        return env

    def spawn(self, args=None, conf=None, logfile=None, extra_env=None, **popen_kw):
        """Starts a vigild process without waiting for anything."""
        argv = [VIGILD, "-c", conf or self.conf] + (args or [])
        log = open(logfile or self.logfile, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             env=self.env(**(extra_env or {})), **popen_kw)
        log.close()
        self.popens.append(p)
        return p

    def start(self, programs=None, vigil_extra="", wait=True, **popen_kw):
        """Writes the config (if given), starts vigild, waits until its
        socket answers."""
        if programs is not None:
            self.write_config(programs, vigil_extra)
        self.proc = self.spawn(**popen_kw)
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self, proc=None, timeout=DEFAULT_TIMEOUT):
        proc = proc or self.proc

        def answers():
            if proc.poll() is not None:
                raise AssertionError(f"vigild exited with {proc.returncode} before answering; log:\n{self.log()}")
            return http(self.sock, "GET", "/healthz", timeout=5).status in (200, 503)

        wait_for(answers, timeout, f"vigild to answer on {self.sock}")

    @property
    def pid(self):
        return self.proc.pid

    # -- ctl -----------------------------------------------------------
    def get(self, path, **kw):
        return http(self.sock, "GET", path, **kw)

    def post(self, path, body=None, **kw):
        return http(self.sock, "POST", path, body=body, **kw)

    def ctl(self, *args, socket_path=None, env=None, timeout=120):
        """Runs vigilctl -s SOCKET ARGS; returns the CompletedProcess."""
        argv = [VIGILCTL, "-s", socket_path or self.sock] + [str(a) for a in args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env or self.env())

    def programs(self):
        r = self.get("/v1/programs")
        assert r.status == 200, r
        return r.json()["programs"]

    def program(self, name):
        for p in self.programs():
            if p["name"] == name:
                return p
        raise KeyError(f"no process {name!r} in GET /v1/programs")

    def state(self, name):
        return self.program(name)["state"]

    def wait_state(self, name, states, timeout=DEFAULT_TIMEOUT):
        """Waits until process `name` is in one of `states`; returns its JSON."""
        if isinstance(states, str):
            states = (states,)
        seen = []

        def cond():
            p = self.program(name)
            if not seen or seen[-1] != p["state"]:
                seen.append(p["state"])
            return p if p["state"] in states else None

        try:
            return wait_for(cond, timeout, f"{name} to be {'/'.join(states)}")
        except Timeout as e:
            raise Timeout(f"{e}; states seen: {seen}; log tail:\n{self.log()[-3000:]}") from None

    def wait_running(self, name, timeout=DEFAULT_TIMEOUT):
        return self.wait_state(name, "RUNNING", timeout)

    def wait_exit(self, proc=None, timeout=DEFAULT_TIMEOUT):
        proc = proc or self.proc
        return wait_for(lambda: proc.poll() is not None, timeout, "vigild to exit") and proc.returncode

    # -- cleanup -------------------------------------------------------
    def tagged_pids(self):
        """Every live process that inherited this test's environment tag."""
        me = os.getpid()
        out = []
        needle = self.tag.encode()
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

    def kill_everything(self):
        victims = set(self.extra_pids)
        for p in self.popens:
            if p.poll() is None:
                victims.update(descendants_of(p.pid))
                p.kill()
        for p in self.popens:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 30
        while True:
            left = [pid for pid in victims | set(self.tagged_pids()) if pid_alive(pid)]
            if not left or time.monotonic() > deadline:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        return left


@pytest.fixture
def vigil(request):
    tmp = tempfile.mkdtemp(prefix="vg", dir="/tmp")
    os.chmod(tmp, 0o755)
    v = Vigil(tmp)
    yield v
    left = v.kill_everything()
    log = v.log()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(f"--- vigild log ({v.logfile}) ---\n{log[-6000:]}")
    shutil.rmtree(tmp, ignore_errors=True)
    assert not left, f"processes still alive after teardown: {left}"
    bad = [m for m in SANITIZER_MARKERS if m in log]
    assert not bad, f"sanitizer report in the vigild log:\n{log[-6000:]}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
