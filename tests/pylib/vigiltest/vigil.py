"""Vigil: one test's vigild, in a folder of its own with its own config,
ctl socket and logs, driven through its ctl socket and vigilctl."""

import json
import os
import signal
import subprocess
import time
from http.client import HTTPException

from .ctl import VIGILD, http, run_ctl, wait_answers
from .files import read_text
from .procs import (all_pids, clean_env, cmdline, descendants_of, kill_pids, pid_alive,
                    proc_identity, tagged_pids)
from .waiting import TIMEOUT, Timeout, wait_for
from .workers import read_events


class Vigil:
    """One vigild for one test (the `vigil` fixture makes it).

    Its files, all in self.dir: vigil.conf, the ctl socket ctl.sock (and
    vigild's notify socket beside it), vigild.log (vigild's stderr: its
    log) and vigild.out (its stdout), appended to by every vigild started
    here. Each vigild and vigilctl of the test runs with VIGIL_TEST_TAG=<dir>
    in its environment, which vigild hands down to everything it runs, so
    that terminate() finds whatever a test left behind.
    """

    def __init__(self, folder):
        self.dir = folder
        self.sock = self.path("ctl.sock")
        self.conf = self.path("vigil.conf")
        self.log_path = self.path("vigild.log")
        self.stdout_path = self.path("vigild.out")
        self.tag = f"VIGIL_TEST_TAG={folder}"
        self.proc = None  # the vigild start() started last
        self.popens = []  # every vigild started here
        self.log_paths = {self.log_path}
        self.extra_pids = []  # what a test made vigild let go of: killed at teardown
        self.problems = []  # what terminate() found wrong

    @property
    def notify_sock(self):
        return self.sock + ".notify"

    # -- files ---------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def touch(self, name):
        """Creates the file NAME here; returns the monotonic time it did."""
        with open(self.path(name), "w"):
            pass
        return time.monotonic()

    def events(self, name):
        """The notify-worker event file NAME here (see read_events)."""
        return read_events(self.path(name))

    def write_config(self, programs="", vigil_extra="", path=None, socket=None):
        """Writes (atomically) a config: a [vigil] section with the socket
        (socket, default self.sock), log_level = debug and the lines
        vigil_extra (from line 4 on), then the program sections. Returns
        its path (default self.conf)."""
        path = path or self.conf
        text = f"[vigil]\nsocket = {socket or self.sock}\nlog_level = debug\n{vigil_extra}\n{programs}\n"
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)
        return path

    def log(self):
        """What every vigild started here wrote on stderr: its log."""
        return read_text(self.log_path)

    def stdout_text(self):
        return read_text(self.stdout_path)

    # -- vigild --------------------------------------------------------
    def env(self, **extra):
        """The environment a vigild or vigilctl of this test runs with."""
        env = clean_env(self.tag)
        # ASan: keep reports in vigild's log; a leak or error fails teardown
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(extra)
        return env

    def spawn(self, args=(), conf=None, log=None, env=None, prefix=(), stdout=None, stderr=None, **popen_kw):
        """Starts PREFIX... vigild -c CONF ARGS... and returns the Popen at
        once. Its stderr is appended to log (default vigild.log) unless
        stderr is given (a descriptor, or subprocess.STDOUT), its stdout to
        vigild.out unless stdout is given; env adds variables."""
        log = log or self.log_path
        self.log_paths.add(log)
        argv = list(prefix) + [VIGILD, "-c", conf or self.conf] + list(args)
        with open(log, "ab") as err, open(self.stdout_path, "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out if stdout is None else stdout,
                                 stderr=err if stderr is None else stderr, env=self.env(**(env or {})), start_new_session=True, **popen_kw)
        self.popens.append(p)
        return p

    def start(self, programs=None, vigil_extra="", wait=True, **spawn_kw):
        """Writes the config (if programs is given), starts vigild (see
        spawn) as self.proc and, unless wait is false, waits until its
        socket answers."""
        if programs is not None:
            self.write_config(programs, vigil_extra)
        self.proc = self.spawn(**spawn_kw)
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout=TIMEOUT):
        """Waits until self.proc answers on self.sock; fails at once if it exits."""
        wait_answers(self.proc, self.sock, self.log, timeout)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, proc=None, timeout=TIMEOUT):
        """Waits until vigild (proc, default self.proc) exits; returns its status."""
        proc = proc or self.proc
        return wait_for(lambda: proc.poll() is not None, timeout, "vigild to exit") and proc.returncode

    def guard_pid(self):
        """The pid of self.proc's guard (a fork of vigild named vigild-guard
        running its command line), or None."""
        argv = cmdline(self.pid)
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

    # -- ctl -----------------------------------------------------------
    def http(self, method, path, body=None, timeout=30):
        """One request on the ctl socket; raises if vigild does not answer."""
        return http(self.sock, method, path, body=body, timeout=timeout)

    def get(self, path, timeout=30):
        return self.http("GET", path, timeout=timeout)

    def post(self, path, body=None, timeout=30):
        return self.http("POST", path, body=body, timeout=timeout)

    def reload(self):
        return self.post("/v1/reload")

    def ctl(self, *args, sock=None, env=None, timeout=120):
        """Runs vigilctl -s SOCK ARGS (env adds variables); returns the
        CompletedProcess."""
        return run_ctl(*args, sock=sock or self.sock, env=self.env(**(env or {})), timeout=timeout)

    def _api(self, path):
        """GET path; a vigild that does not answer fails the test at once
        (a waiting test must not take it for "not yet")."""
        try:
            return self.get(path)
        except (OSError, HTTPException) as e:
            raise AssertionError(f"vigild does not answer GET {path}: {e!r}\n"
                                 f"vigild log tail:\n{self.log()[-3000:]}") from None

    def programs(self):
        """GET /v1/programs as {name: process}, in the order listed."""
        r = self._api("/v1/programs")
        assert r.status == 200, r
        return {p["name"]: p for p in r.json()["programs"]}

    def program(self, name):
        """GET /v1/programs/NAME; KeyError if there is no such process."""
        r = self._api(f"/v1/programs/{name}")
        if r.status == 404:
            raise KeyError(f"no process {name!r}: {r.text}")
        assert r.status == 200, r
        return r.json()

    def state(self, name):
        return self.program(name)["state"]

    def wait_program(self, name, cond, what, timeout=TIMEOUT):
        """Polls process NAME until cond(process) holds; returns it."""
        seen = {"states": [], "last": None}

        def check():
            p = seen["last"] = self.program(name)
            if not seen["states"] or seen["states"][-1] != p["state"]:
                seen["states"].append(p["state"])
            return p if cond(p) else None

        try:
            return wait_for(check, timeout, f"{name}: {what}")
        except Timeout as e:
            raise Timeout(f"{e}\nstates seen: {seen['states']}; last: {json.dumps(seen['last'])}\n"
                          f"vigild log tail:\n{self.log()[-3000:]}") from None

    def wait_state(self, name, states, timeout=TIMEOUT):
        """Waits until process NAME is in (one of) states; returns it."""
        states = (states,) if isinstance(states, str) else tuple(states)
        return self.wait_program(name, lambda p: p["state"] in states, "/".join(states), timeout)

    def wait_running(self, name, not_pid=None, timeout=TIMEOUT):
        """Waits until process NAME is RUNNING (under a pid other than
        not_pid, if given); returns it."""
        return self.wait_program(
            name, lambda p: p["state"] == "RUNNING" and p["pid"] and p["pid"] != not_pid,
            "RUNNING" + (f" with a pid other than {not_pid}" if not_pid else ""), timeout)

    def wait_all_running(self, *names, timeout=TIMEOUT):
        """Waits until every named process is RUNNING; returns {name: pid}."""
        def check():
            ps = self.programs()
            if all(ps.get(n, {}).get("state") == "RUNNING" and ps[n]["pid"] for n in names):
                return {n: ps[n]["pid"] for n in names}
            return None

        return wait_for(check, timeout, lambda: f"{', '.join(names)} RUNNING (now {self._brief()})")

    def _brief(self):
        try:
            return {n: (p["state"], p["pid"]) for n, p in self.programs().items()}
        except Exception as e:  # noqa: BLE001 - only for a message
            return repr(e)

    # -- cleanup -------------------------------------------------------
    def tagged_pids(self):
        """Every live process that inherited this test's environment tag."""
        return tagged_pids(self.tag)

    def terminate(self, timeout=TIMEOUT):
        """Ends every vigild started here that still runs (SIGCONT, SIGTERM,
        SIGKILL after timeout), then SIGKILLs whatever is left: the pids in
        extra_pids, the tagged processes and those the vigilds had below
        them. Adds to self.problems a vigild that did not exit 0 on this
        SIGTERM and a process that outlived SIGKILL. Can run twice."""
        running = [p for p in self.popens if p.poll() is None]
        victims = {proc_identity(pid) for pid in self.extra_pids}
        for p in running:
            victims.update(proc_identity(pid) for pid in descendants_of(p.pid))
            for sig in (signal.SIGCONT, signal.SIGTERM):  # a test may have stopped it
                try:
                    os.kill(p.pid, sig)
                except ProcessLookupError:
                    pass
        for p in running:
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.problems.append(f"vigild (pid {p.pid}) still ran {timeout:.0f}s after SIGTERM")
            else:
                if rc != 0:
                    self.problems.append(f"vigild (pid {p.pid}) exited with {rc} on SIGTERM at teardown")
        self.extra_pids = []
        left = self._kill_leftovers({v for v in victims if v})
        if left:
            self.problems.append(f"processes still alive after SIGKILL: {left}")

    def _kill_leftovers(self, victims, timeout=30):
        """SIGKILLs until nothing of victims ((pid, start time) pairs) or
        of the tagged processes lives; returns the pids left."""
        deadline = time.monotonic() + timeout
        while True:
            victims = {v for v in victims if proc_identity(v[0]) == v}
            left = sorted({pid for pid, _ in victims} | set(self.tagged_pids()))
            left = [pid for pid in left if pid_alive(pid)]
            if not left or time.monotonic() > deadline:
                return left
            kill_pids(left)
            time.sleep(0.02)
