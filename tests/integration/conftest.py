"""Fixtures and helpers for the vigil integration tests.

Every test drives the real vigild and vigilctl binaries (paths from the
VIGILD, VIGILCTL and VIGIL_WORKERS environment variables, set by
meson) in its own temporary directory with its own ctl socket. Nothing
here sleeps to decide a result: wait_for() polls a condition until a
deadline and fails with a message saying what it waited for.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
from vigiltest import (VIGILCTL, VIGILD, Timeout, children_of, clean_env,  # noqa: E402,F401
                       descendants_of, http, kill_pids, make_tmpdir, make_wait_for, pid_alive,
                       pid_gone, proc_stat, pytest_runtest_makereport, raw_http, read_file,
                       read_text, run_ctl, sanitizer_reports, tagged_pids, wait_answers)

WORKERS = os.environ.get("VIGIL_WORKERS", "")

# Deadlines are generous: the suite also runs under ASan/UBSan on a
# loaded 2-core machine. They only bound how long a failure takes.
DEFAULT_TIMEOUT = float(os.environ.get("VIGIL_TEST_TIMEOUT", "20"))

STATES = {"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

# OSError and ValueError raised by cond (a file not written yet, half a
# JSON document) count as "not yet".
wait_for = make_wait_for(DEFAULT_TIMEOUT, (OSError, ValueError))


def W(name):
    """Absolute path of a test worker executable."""
    path = os.path.join(WORKERS, name)
    assert os.access(path, os.X_OK), f"worker {path} is not built (VIGIL_WORKERS={WORKERS!r})"
    return path


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


def zombie_children(ppid):
    return [pid for pid in children_of(ppid) if (proc_stat(pid) or ("?",))[0] == "Z"]


def open_fds(pid):
    return sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))


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
        return read_text(self.logfile)

    # -- vigild --------------------------------------------------------
    def env(self, **extra):
        return clean_env(self.tag, **extra)

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
        wait_answers(proc or self.proc, self.sock, self.log, wait_for, timeout)

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
        return run_ctl(*args, sock=socket_path or self.sock, env=env or self.env(), timeout=timeout)

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
        return tagged_pids(self.tag)

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
            kill_pids(left)
            time.sleep(0.02)
        return left


@pytest.fixture
def vigil(request):
    tmp = make_tmpdir("vg")
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
    assert not sanitizer_reports(log), f"sanitizer report in the vigild log:\n{log[-6000:]}"
