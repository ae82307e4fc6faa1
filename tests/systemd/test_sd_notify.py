"""vigild under a (fake) systemd: READY=1, STATUS=, RELOADING=1/READY=1,
STOPPING=1 and WATCHDOG=1 on $NOTIFY_SOCKET, and what its children see."""

import json
import os
import signal
import time

from vigiltest import PY, TIMEOUT, NotifyListener, W, command, wait_for

SLEEPS = """
[program:a]
command = /bin/sleep 1001
start_secs = 300ms
[program:b]
command = /bin/sleep 1002
start_secs = 300ms
[program:manual]
command = /bin/sleep 1003
autostart = no
"""


def is_(key, value=None):
    return lambda f: key in f and (value is None or f[key] == value)


def mono_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_ready_status_stopping(vigil):
    n = NotifyListener(vigil.path("n.sock"))
    try:
        vigil.start(SLEEPS, env={"NOTIFY_SOCKET": n.path}, wait=False)
        ready = n.wait(is_("READY", "1"), what="READY=1")
        ps = vigil.programs()
        # READY=1 comes once the autostart programs are started
        for name in ("a", "b"):
            assert ps[name]["pid"], ps
            assert ps[name]["state"] in ("STARTING", "RUNNING"), ps
        assert ps["manual"]["state"] == "STOPPED" and ps["manual"]["pid"] is None, ps
        assert n.find(is_("STOPPING")) is None
        n.wait(is_("STATUS", "2 running, 0 backoff, 0 fatal"), what="STATUS with 2 running")
        r = vigil.ctl("stop", "b")
        assert r.returncode == 0, r.stderr
        n.wait(is_("STATUS", "1 running, 0 backoff, 0 fatal"), what="STATUS after b stopped")
        # no watchdog pings were asked for, none are sent
        assert n.count(is_("WATCHDOG")) == 0, n.texts()
        assert ready == n.find(is_("READY")), "READY=1 sent once at start"
        vigil.signal(signal.SIGTERM)
        n.wait(is_("STOPPING", "1"), what="STOPPING=1")
        assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()
        # READY=1 is not repeated after STOPPING=1
        stopping = n.find(is_("STOPPING"))
        assert n.find(is_("READY"), stopping) is None, n.texts()
    finally:
        n.close()


def test_status_counts_fatal_and_backoff(vigil):
    n = NotifyListener(vigil.path("n.sock"))
    try:
        vigil.start("""
[program:ok]
command = /bin/sleep 1001
start_secs = 0
[program:bad]
command = /bin/false
start_secs = 1s
restart_delay = 100ms
start_limit_burst = 1
start_limit_interval = 60s
""", env={"NOTIFY_SOCKET": n.path})
        n.wait(is_("READY", "1"), what="READY=1")
        vigil.wait_state("bad", "FATAL")
        n.wait(is_("STATUS", "1 running, 0 backoff, 1 fatal"), what="STATUS with 1 fatal")
    finally:
        n.close()


def check_reload_pair(n, start, t0, t1, what):
    i = n.wait(is_("RELOADING", "1"), start, what=f"RELOADING=1 ({what})")
    fields = n.snapshot()[i][1]
    assert "MONOTONIC_USEC" in fields, f"RELOADING=1 without MONOTONIC_USEC: {n.texts()[i]!r}"
    usec = int(fields["MONOTONIC_USEC"])
    # CLOCK_MONOTONIC is one clock for the whole machine
    assert t0 <= usec <= mono_usec(), (t0, usec, t1)
    j = n.wait(is_("READY", "1"), i + 1, what=f"READY=1 after RELOADING=1 ({what})")
    return j + 1


def test_reloading_then_ready_around_reload(vigil):
    n = NotifyListener(vigil.path("n.sock"))
    try:
        vigil.start(SLEEPS, env={"NOTIFY_SOCKET": n.path})
        pos = n.wait(is_("READY", "1"), what="READY=1") + 1
        assert n.find(is_("RELOADING"), 0) is None

        t0 = mono_usec()
        r = vigil.reload()
        assert r.status == 200, r
        pos = check_reload_pair(n, pos, t0, mono_usec(), "POST /v1/reload")

        t0 = mono_usec()
        vigil.signal(signal.SIGHUP)
        pos = check_reload_pair(n, pos, t0, None, "SIGHUP")

        # a broken config: the reload fails, vigild is ready again all the same
        with open(vigil.conf, "a") as f:
            f.write("\n[program:broken]\ncommand = /bin/true\nstop_timeout = ten\n")
        t0 = mono_usec()
        r = vigil.reload()
        assert r.status == 400, r
        pos = check_reload_pair(n, pos, t0, None, "failed reload")
        assert vigil.alive()
    finally:
        n.close()


def start_with_watchdog(vigil, n, watchdog_pid_self, usec):
    env = {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": str(usec)}
    prefix = [PY, W("sd-launch.py"), "--watchdog-self", "--"] if watchdog_pid_self else []
    if not watchdog_pid_self:
        env["WATCHDOG_PID"] = str(os.getpid())  # some other process: not for vigild
    vigil.start("[program:a]\ncommand = /bin/sleep 1001\n", env=env, prefix=prefix)


def test_watchdog_pings_only_when_watchdog_pid_is_vigild(vigil_factory):
    mine, other = vigil_factory(), vigil_factory()
    n_mine, n_other = NotifyListener(mine.path("n.sock")), NotifyListener(other.path("n.sock"))
    usec = 1000000
    try:
        start_with_watchdog(other, n_other, False, usec)
        start_with_watchdog(mine, n_mine, True, usec)
        n_other.wait(is_("READY", "1"), what="READY=1 (other)")
        n_mine.wait(is_("READY", "1"), what="READY=1 (mine)")
        # the launcher's pid became vigild's: WATCHDOG_PID named vigild
        with open(f"/proc/{mine.pid}/environ", "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        assert env[b"WATCHDOG_PID"] == str(mine.pid).encode()
        start = n_mine.find(is_("READY"))
        # pings keep coming, at about half the period
        wait_for(lambda: n_mine.count(is_("WATCHDOG", "1"), start) >= 5,
                 what=lambda: f"5 WATCHDOG=1 pings (got {n_mine.texts()!r})")
        times = [t for t, f, _ in n_mine.snapshot() if f.get("WATCHDOG") == "1"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # every half period (500ms); a sanitizer build on a busy machine is
        # slower, but a gap must never reach the whole period
        assert max(gaps[1:]) < usec / 1e6, gaps
        assert sum(gaps[1:]) / len(gaps[1:]) > 0.3, f"pinging far more often than half the period: {gaps}"
        # the other vigild, started before and running as long, sent none
        assert n_other.count(is_("WATCHDOG")) == 0, n_other.texts()
        assert other.alive() and mine.alive()
    finally:
        n_mine.close()
        n_other.close()


def test_children_do_not_see_vigilds_systemd_variables(vigil):
    n = NotifyListener(vigil.path("n.sock"))
    try:
        envfile = vigil.path("env.json")
        vigil.start(f"[program:e]\ncommand = {command('output-worker.py', 'env', envfile)}\n",
                    env={"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "5000000"},
                    prefix=[PY, W("sd-launch.py"), "--watchdog-self", "--listen", vigil.sock, "--"])
        env = wait_for(lambda: json.load(open(envfile)), what="child environment")
        assert env.get("NOTIFY_SOCKET") != n.path, env
        assert env.get("NOTIFY_SOCKET") == vigil.sock + ".notify", env
        for var in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"):
            assert var not in env, (var, env)
        assert env["VIGIL_PROGRAM"] == "e"
    finally:
        n.close()
