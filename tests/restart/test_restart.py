"""Crash -> restart, restart policies, backoff, FATAL, stop_timeout."""

import os
import signal
import time

import pytest

from vigiltest import W, pid_gone, read_lines, read_pid, wait_for


def starts(path):
    """(pid, monotonic time) of every start crash-after recorded."""
    out = []
    for line in read_lines(path):
        pid, t = line.split()
        out.append((int(pid), float(t)))
    return out


def test_crash_is_restarted(vigil):
    pidfile = vigil.path("pid")
    vigil.start(f"""
[program:svc]
command = {W('run-forever')} {pidfile}
start_secs = 100ms
restart_delay = 5s
restart_delay_max = 10s
""")
    p = vigil.wait_running("svc")
    first = p["pid"]
    assert wait_for(lambda: read_pid(pidfile) == first, what="worker to write its pid")
    assert p["restarts"] == 0 and p["last_exit"] is None

    os.kill(first, signal.SIGKILL)
    t0 = time.monotonic()
    p = wait_for(lambda: (q := vigil.program("svc"))["pid"] not in (None, first) and q,
                 what="svc to run again under a new pid")
    # It ran well before dying: restarted at once, not after restart_delay (5s).
    assert time.monotonic() - t0 < 4.0, "restart of a program that ran well waited for restart_delay"
    assert wait_for(lambda: read_pid(pidfile) == p["pid"], what="new worker to write its pid")
    assert pid_gone(first)
    p = vigil.wait_running("svc")
    assert p["restarts"] == 1
    assert p["last_exit"] == {"cause": "signal", "code": None, "signal": 9}


# (restart policy, success_exit_codes, exit code, restarted?)
POLICIES = [
    ("on-failure", "0", 0, False),
    ("on-failure", "0", 4, True),
    ("on-failure", "0, 3", 3, False),
    ("on-failure", "0, 3", 4, True),
    ("always", "0", 0, True),
    ("always", "3", 3, True),
    ("never", "0", 4, False),
    ("never", "0", 0, False),
]


@pytest.mark.parametrize("policy,codes,code,restarted", POLICIES)
def test_restart_policy(vigil, policy, codes, code, restarted):
    rec = vigil.path("rec")
    vigil.start(f"""
[program:job]
command = {W('crash-after')} 300 {code} {rec}
restart = {policy}
success_exit_codes = {codes}
start_secs = 100ms
restart_delay = 100ms
""")
    if restarted:
        wait_for(lambda: len(starts(rec)) >= 3, what=f"job (restart={policy}, exit {code}) to be started 3 times")
        p = vigil.program("job")
        assert p["restarts"] >= 2
        assert p["state"] in ("STARTING", "RUNNING")
    else:
        p = vigil.wait_state("job", "EXITED")
        # The restart would have happened before the state became EXITED.
        assert len(starts(rec)) == 1
        assert p["restarts"] == 0
        assert p["pid"] is None
    assert p["last_exit"] == {"cause": "exit", "code": code, "signal": None}


def test_backoff_grows_then_fatal(vigil):
    rec = vigil.path("rec")
    vigil.start(f"""
[program:flaky]
command = {W('crash-after')} 0 1 {rec}
start_secs = 1s
restart_delay = 300ms
restart_delay_max = 10s
start_limit_burst = 4
start_limit_interval = 60s
""")
    vigil.wait_state("flaky", "BACKOFF")
    p = vigil.wait_state("flaky", "FATAL", timeout=60)
    assert p["pid"] is None
    times = [t for _, t in starts(rec)]
    # burst 4: the 5th failed start within the interval gives up.
    assert len(times) == 5, f"expected 1 start + 4 restarts before FATAL, got {len(times)}: {times}"
    gaps = [b - a for a, b in zip(times, times[1:])]
    # expected about 0.3, 0.6, 1.2, 2.4 (doubling); leave room for a slow machine
    assert gaps[0] >= 0.29, f"first restart came before restart_delay: gaps {gaps}"
    for a, b in zip(gaps, gaps[1:]):
        assert b > a * 1.4, f"backoff does not grow: gaps {gaps}"
    assert gaps[-1] < 2.4 + 2.0, f"backoff grew beyond doubling: gaps {gaps}"
    assert p["last_exit"] == {"cause": "exit", "code": 1, "signal": None}
    assert "FATAL" in vigil.log() or "giving up" in vigil.log()


def test_backoff_is_capped(vigil):
    rec = vigil.path("rec")
    vigil.start(f"""
[program:flaky]
command = {W('crash-after')} 0 1 {rec}
start_secs = 1s
restart_delay = 100ms
restart_delay_max = 300ms
start_limit_burst = 6
start_limit_interval = 60s
""")
    vigil.wait_state("flaky", "FATAL", timeout=60)
    times = [t for _, t in starts(rec)]
    assert len(times) == 7
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 0.1, 0.2, then capped at 0.3
    assert all(g < 1.2 for g in gaps), f"restart_delay_max not honoured: {gaps}"
    assert gaps[-1] >= 0.29, gaps


def test_start_from_fatal(vigil):
    rec = vigil.path("rec")
    healthy = vigil.path("healthy")
    vigil.start(f"""
[program:flaky]
command = {W('crash-after')} 0 1 {rec} {healthy}
start_secs = 300ms
restart_delay = 50ms
start_limit_burst = 2
start_limit_interval = 60s
""")
    vigil.wait_state("flaky", "FATAL", timeout=30)
    n = len(starts(rec))
    assert n == 3
    # "fix" the program, then only vigilctl start leaves FATAL
    open(healthy, "w").close()
    r = vigil.ctl("start", "flaky")
    assert r.returncode == 0, r.stderr
    p = vigil.wait_running("flaky")
    assert p["pid"] == starts(rec)[-1][0]
    assert len(starts(rec)) == n + 1


def test_start_from_fatal_that_fails_again_reports_failure(vigil):
    rec = vigil.path("rec")
    vigil.start(f"""
[program:flaky]
command = {W('crash-after')} 0 1 {rec}
start_secs = 300ms
restart_delay = 50ms
start_limit_burst = 2
start_limit_interval = 60s
""")
    vigil.wait_state("flaky", "FATAL", timeout=30)
    r = vigil.ctl("start", "flaky")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "flaky" in r.stderr
    # it really tried again: the start limit counts afresh
    assert len(starts(rec)) == 6
    assert vigil.state("flaky") == "FATAL"


def test_stop_timeout_kills_with_sigkill(vigil):
    pidfile = vigil.path("pid")
    vigil.start(f"""
[program:stubborn]
command = {W('ignore-term')} {pidfile}
start_secs = 0
stop_timeout = 1s
""")
    p = vigil.wait_running("stubborn")
    pid = wait_for(lambda: read_pid(pidfile), what="ignore-term to write its pid")
    assert pid == p["pid"]
    t0 = time.monotonic()
    r = vigil.ctl("stop", "stubborn")
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert elapsed >= 0.9, f"stopped after {elapsed:.2f}s: SIGKILL came before stop_timeout"
    p = vigil.program("stubborn")
    assert p["state"] == "STOPPED"
    assert p["pid"] is None
    assert p["last_exit"] == {"cause": "stopped", "code": None, "signal": 9}
    wait_for(lambda: pid_gone(pid), what=f"pid {pid} to be gone")
    assert p["restarts"] == 0


def test_stop_signal_is_used(vigil):
    out = vigil.path("sig")
    vigil.start(f"""
[program:w]
command = {W('record-signals')} {out}
start_secs = 0
stop_signal = USR1
stop_timeout = 1s
""")
    vigil.wait_running("w")
    wait_for(lambda: read_lines(out), what="record-signals to be ready")
    r = vigil.ctl("stop", "w")
    assert r.returncode == 0, r.stderr
    assert f"signal {signal.SIGUSR1.value}" in read_lines(out)
    p = vigil.program("w")
    assert p["state"] == "STOPPED"
    assert p["last_exit"]["cause"] == "stopped"
