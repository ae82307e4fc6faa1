"""Fixtures for the heartbeat, readiness and daemon-children tests.

Each test gets its own short temp dir under /tmp (Unix socket paths are
limited to 107 bytes), its own config and its own vigild. Every process
started for a test carries HB_TEST_TAG=<its dir> in its environment
(vigild hands its environment down to the programs), so teardown finds
and SIGKILLs all of them, whatever state the test left them in.

Binaries come from the environment meson sets: VIGILD, VIGILCTL,
VIGIL_WORKERS (the folder with notify-worker), HB_DEMO_CONF.
Nothing sleeps to decide a result: wait_for() polls with a deadline.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from http.client import HTTPException

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
from vigiltest import (VIGILCTL, VIGILD, Timeout, clean_env, http, kill_pids,  # noqa: E402,F401
                       make_tmpdir, make_wait_for, pid_alive, pytest_runtest_makereport, read_text,
                       run_ctl, sanitizer_reports, stop_gracefully, tagged_pids, wait_answers)

WORKERS = os.environ.get("VIGIL_WORKERS", "")
DEMO_CONF = os.environ.get("HB_DEMO_CONF", "")

# Deadlines only bound how long a failure takes; they are generous because
# the suite also runs under ASan+UBSan on a small, busy machine.
DEADLINE = float(os.environ.get("HB_TEST_DEADLINE", "20"))

# OSError/ValueError/KeyError/TypeError from cond mean "not yet".
wait_for = make_wait_for(DEADLINE, (OSError, ValueError, KeyError, TypeError))


def worker_path(name="notify-worker"):
    path = os.path.join(WORKERS, name)
    assert os.access(path, os.X_OK), f"{path} is not built (VIGIL_WORKERS={WORKERS!r})"
    return path


def read_events(path):
    """The worker's event file as dicts: {"event": "ping", "pid": 12, "t": 3.2, ...}
    (t in seconds of CLOCK_MONOTONIC, comparable with time.monotonic())."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n")[:-1]:
        fields = line.split()
        ev = {"event": fields[0]}
        for field in fields[1:]:
            k, _, v = field.partition("=")
            ev[k] = v
        ev["pid"] = int(ev["pid"])
        ev["t"] = int(ev.pop("t_us")) / 1e6
        if "sig" in ev:
            ev["sig"] = int(ev["sig"])
        out.append(ev)
    return out


def read_kv(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        raise ValueError("incomplete")
    return dict(line.split("=", 1) for line in text.splitlines())


class Vigil:
    """One vigild for one test, in its own folder."""

    def __init__(self, tmp):
        self.dir = tmp
        self.sock = os.path.join(tmp, "s")
        self.notify_sock = self.sock + ".notify"
        self.conf = os.path.join(tmp, "vigil.conf")
        self.log = os.path.join(tmp, "vigild.log")
        self.tag = f"HB_TEST_TAG={tmp}"
        self.proc = None
        self._logf = None
        self.extra_env = {}
        self.killed = False  # the test SIGKILLed vigild on purpose

    # paths and commands -------------------------------------------------
    def path(self, name):
        return os.path.join(self.dir, name)

    def worker(self, *args):
        """A config `command` line running notify-worker with args."""
        return " ".join([worker_path()] + [shell_word(str(a)) for a in args])

    def touch(self, name):
        with open(self.path(name), "w"):
            pass
        return time.monotonic()

    def events(self, name):
        return read_events(self.path(name))

    # lifecycle ----------------------------------------------------------
    def write_config(self, programs, vigil_section=""):
        text = f"[vigil]\nsocket = {self.sock}\nlog_level = debug\n{vigil_section}\n{programs}"
        with open(self.conf, "w") as f:
            f.write(text)

    def env(self, extra=None):
        env = clean_env(self.tag)
        # ASan: keep reports in vigild's log; a leak or error fails teardown
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.extra_env)
        if extra:
            env.update(extra)
        return env

    def start(self, programs=None, vigil_section=""):
        if programs is not None:
            self.write_config(programs, vigil_section)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([VIGILD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT, env=self.env())
        wait_answers(self.proc, self.sock, self.log_text, wait_for, DEADLINE)
        return self

    def log_text(self):
        return read_text(self.log)

    def stop(self):
        """Graceful shutdown if possible, then SIGKILL whatever is left."""
        if self.proc:
            stop_gracefully(self.proc, 15)
        kill_pids(tagged_pids(self.tag))
        if self._logf:
            self._logf.close()
            self._logf = None
        return self.proc.returncode if self.proc else None

    # ctl ----------------------------------------------------------------
    def request(self, method, path, body=None, timeout=10):
        """(status, parsed JSON or text); (None, None) when vigild does not answer."""
        try:
            r = http(self.sock, method, path, body=body, timeout=timeout)
        except (OSError, HTTPException):
            return None, None
        try:
            return r.status, r.json()
        except ValueError:
            return r.status, r.text

    def api(self, method, path):
        status, body = self.request(method, path)
        assert status is not None, f"vigild does not answer {method} {path}\n{self.log_text()[-3000:]}"
        return status, body

    def programs(self):
        status, body = self.api("GET", "/v1/programs")
        assert status == 200, body
        return {p["name"]: p for p in body["programs"]}

    def prog(self, name):
        status, body = self.api("GET", f"/v1/programs/{name}")
        assert status == 200, (status, body)
        return body

    def wait_prog(self, name, cond, what, timeout=DEADLINE):
        """Polls GET /v1/programs/NAME until cond(P) holds; returns P."""
        last = {}

        def check():
            last["p"] = self.prog(name)
            return last["p"] if cond(last["p"]) else None

        try:
            return wait_for(check, timeout=timeout, what=f"{name}: {what}")
        except Timeout as e:
            raise Timeout(f"{e}\nlast seen: {json.dumps(last.get('p'))}\nvigild log tail:\n"
                          f"{self.log_text()[-4000:]}") from None

    def wait_running(self, name, timeout=DEADLINE, not_pid=None):
        return self.wait_prog(
            name, lambda p: p["state"] == "RUNNING" and p["pid"] and p["pid"] != not_pid,
            f"RUNNING" + (f" with a pid other than {not_pid}" if not_pid else ""), timeout)

    def ctl(self, *args, env=None, timeout=60):
        e = self.env(env)
        e["VIGIL_SOCKET"] = self.sock
        return run_ctl(*args, env=e, timeout=timeout)

    def check_sanitizers(self):
        text = self.log_text()
        assert not sanitizer_reports(text), f"vigild sanitizer report in {self.log}:\n{text[-6000:]}"


def shell_word(s):
    """Quotes s for vigild's POSIX-shell-like command splitting."""
    if s and all(c.isalnum() or c in "-_./=:,@%+" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


@pytest.fixture
def vigil(request):
    """A Vigil for this test; the test calls .start(programs). Teardown stops
    vigild, kills everything tagged for the test, and fails the test if
    vigild reported a sanitizer error or ended badly."""
    tmp = make_tmpdir("hb")
    v = Vigil(tmp)
    yield v
    rc = v.stop()
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    if failed:
        print(f"kept {tmp}; vigild log tail:\n{v.log_text()[-4000:]}")
        return
    v.check_sanitizers()
    if v.proc is not None and not v.killed:
        assert rc == 0, f"vigild exited with {rc} on SIGTERM:\n{v.log_text()[-4000:]}"
    shutil.rmtree(tmp, ignore_errors=True)
