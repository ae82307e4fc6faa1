"""Fixtures for the vigil service tests (reload, output, systemd glue).

Each test gets its own short temp dir under /tmp, its own vigild (from
$VIGILD) and ctl socket; on teardown vigild and everything it started is
killed, even when the test failed. Results are decided by polling with
deadlines (wait_for), never by a fixed sleep.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
from vigiltest import (VIGILCTL, VIGILD, Timeout, all_pids, clean_env, cmdline, descendants_of,  # noqa: E402,F401
                       http, kill_pids, make_tmpdir, make_wait_for, pid_alive, pid_gone, run_ctl,
                       sanitizer_reports, stop_gracefully, wait_answers)

WORKERS = os.environ.get("VIGIL_WORKERS", "")
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
WORKER = os.path.join(WORKERS, "output-worker.py")
LAUNCH = os.path.join(WORKERS, "sd-launch.py")

# Generous: the suite also runs under ASan/UBSan on a loaded small machine.
# Deadlines only bound how long a failure takes to be reported.
TIMEOUT = float(os.environ.get("VIGIL_TEST_TIMEOUT", "30"))

SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS")

# OSError/ValueError/KeyError from cond count as "not yet".
wait_for = make_wait_for(TIMEOUT, (OSError, ValueError, KeyError))


def worker(*args):
    """A config `command` running output-worker.py with the given arguments."""
    return " ".join([PY, WORKER] + [str(a) for a in args])


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def file_ends_with_bytes(path, tail):
    try:
        return read_bytes(path).endswith(tail)
    except FileNotFoundError:
        return False


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


class Vigil:
    """One vigild in its own directory. `config` is the program sections
    (a [vigil] section with the socket is put in front unless present)."""

    def __init__(self, tmp):
        self.dir = tmp
        self.sock = os.path.join(tmp, "c.sock")
        self.conf = os.path.join(tmp, "vigil.conf")
        self.proc = None
        self.stdout_path = os.path.join(tmp, "vigild.out")
        self.stderr_path = os.path.join(tmp, "vigild.err")
        self.seen_pids = set()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self, text, vigil_section=None):
        if vigil_section is None:
            vigil_section = f"[vigil]\nsocket = {self.sock}\n"
        with open(self.conf + ".tmp", "w") as f:
            f.write(vigil_section + "\n" + text.format(d=self.dir))
        os.rename(self.conf + ".tmp", self.conf)

    def start(self, config=None, env=None, prefix=(), wait=True, vigil_section=None):
        if config is not None:
            self.write_config(config, vigil_section)
        full_env = clean_env(**(env or {}))
        self.stdout = open(self.stdout_path, "wb")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(list(prefix) + [VIGILD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.stdout, stderr=self.stderr, env=full_env,
                                     start_new_session=True)
        if wait:
            self.wait_up()
        return self

    def wait_up(self):
        wait_answers(self.proc, self.sock, self.stderr_text, wait_for, TIMEOUT)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            return read_bytes(self.stderr_path).decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        try:
            return read_bytes(self.stdout_path).decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def http(self, method, path, timeout=30):
        return http(self.sock, method, path, timeout=timeout)

    def programs(self):
        r = self.http("GET", "/v1/programs")
        assert r.status == 200, r
        procs = {p["name"]: p for p in r.json()["programs"]}
        for p in procs.values():
            if p.get("pid"):
                self.seen_pids.add(p["pid"])
        return procs

    def state(self, name):
        return self.programs()[name]["state"]

    def wait_state(self, name, state, timeout=TIMEOUT):
        states = (state,) if isinstance(state, str) else tuple(state)
        def check():
            p = self.programs().get(name)
            return p if p and p["state"] in states else None
        return wait_for(check, timeout=timeout, what=lambda: f"{name} in {states} (now {self._brief()})")

    def wait_running(self, *names, timeout=TIMEOUT):
        """Waits until every named process is RUNNING; returns {name: pid}."""
        def check():
            ps = self.programs()
            if all(ps.get(n, {}).get("state") == "RUNNING" and ps[n]["pid"] for n in names):
                return {n: ps[n]["pid"] for n in names}
            return None
        return wait_for(check, timeout=timeout, what=lambda: f"{names} RUNNING (now {self._brief()})")

    def _brief(self):
        try:
            return {n: (p["state"], p["pid"]) for n, p in self.programs().items()}
        except Exception as e:  # noqa: BLE001 - only for a message
            return repr(e)

    def reload(self):
        return self.http("POST", "/v1/reload")

    def ctl(self, *args, timeout=60):
        return run_ctl(*args, sock=self.sock, timeout=timeout)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def kill_all(self):
        """vigild and every process below it are gone when this returns."""
        if self.proc is None:
            return
        pids = set(descendants_of(self.pid)) | self.seen_pids
        stop_gracefully(self.proc, TIMEOUT)
        pids |= set(descendants_of(self.pid))
        kill_pids([pid for pid in pids if pid_alive(pid) and pid != os.getpid()])
        self.stdout.close()
        self.stderr.close()

    def sanitizer_errors(self):
        return sanitizer_reports(self.stderr_text())


def guard_of(vigil):
    """The guard of this vigild: a process named vigild-guard running
    vigild's command line (it is a fork of it), or None."""
    argv = cmdline(vigil.pid)
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "vigild-guard":
                    continue
        except OSError:
            continue
        if cmdline(pid) == argv and pid_alive(pid):
            return pid
    return None


@pytest.fixture
def tmpdir_short():
    d = make_tmpdir("vs")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def vigil_factory(tmpdir_short):
    made = []
    counter = [0]

    def make():
        if not made:
            d = tmpdir_short
        else:
            counter[0] += 1
            d = os.path.join(tmpdir_short, str(counter[0]))
            os.mkdir(d)
        v = Vigil(d)
        made.append(v)
        return v

    yield make
    errors = []
    for v in made:
        v.kill_all()
        bad = v.sanitizer_errors()
        if bad:
            errors.append(f"vigild in {v.dir} reported {bad}:\n{v.stderr_text()[-4000:]}")
    assert not errors, "\n".join(errors)


@pytest.fixture
def vigil(vigil_factory):
    return vigil_factory()


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
