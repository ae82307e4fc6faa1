"""`critical = yes`, container mode (DESIGN.md "Container mode"): when the
critical program ends for good, vigild stops everything in order and exits
with its exit code (128 + signal, 1 if it never ran); a stop on request
does not count."""

import os
import signal

import pytest

from deplog import DepLog, section
from vigiltest import exec_fails_at_run_time, pid_gone


def others(d):
    """db and web (requires db), to be stopped in order when vigild exits."""
    return (section("db", d.cmd("db"), start_secs=0)
            + section("web", d.cmd("web"), requires="db", start_secs=0))


def test_exit_code_of_critical_program_after_stopping_all_in_order(vigil):
    d = DepLog(vigil)
    vigil.start(others(d) + section("app", d.cmd("app", 0, 3, gate="go"), critical="yes", restart="never",
                                    start_secs=0))
    pids = d.running("db", "web", "app")
    d.open_gate("go")
    assert vigil.wait_exit() == 3, vigil.log()[-3000:]
    assert d.one("exit", "app").code == 3
    assert d.order("stop") == ["web", "db"], d.text()
    assert all(pid_gone(p) for p in pids.values()), pids
    assert "app" in vigil.log()


def test_critical_program_that_completes_gives_0(vigil):
    """restart = on-failure (the default): an exit 0 is not restarted, so
    it ended for good; vigild exits 0 after stopping the rest."""
    d = DepLog(vigil)
    vigil.start(others(d) + section("app", d.cmd("app", 0, 0, gate="go"), critical="yes", start_secs=0))
    d.running("db", "web", "app")
    d.open_gate("go")
    assert vigil.wait_exit() == 0, vigil.log()[-3000:]
    assert d.order("stop") == ["web", "db"], d.text()


def test_killed_critical_program_gives_128_plus_signal(vigil):
    d = DepLog(vigil)
    vigil.start(others(d) + section("app", d.cmd("app"), critical="yes", restart="never", start_secs=0))
    pids = d.running("db", "web", "app")
    os.kill(pids["app"], signal.SIGKILL)
    assert vigil.wait_exit() == 137, vigil.log()[-3000:]
    assert d.order("stop") == ["web", "db"], d.text()


def test_fatal_critical_program_gives_its_last_exit_code(vigil):
    d = DepLog(vigil)
    vigil.start(others(d) + section("app", d.cmd("app", 0, 4), critical="yes", start_secs="1s",
                                    restart_delay="50ms", start_limit_burst=1, start_limit_interval="60s"))
    assert vigil.wait_exit(timeout=60) == 4, vigil.log()[-3000:]
    assert len(d.records("exit", "app")) == 2, d.text()  # burst 1: the second failed start gives up
    assert d.order("stop") == ["web", "db"], d.text()


@pytest.mark.parametrize("restart", ["never", "on-failure"])
def test_critical_program_that_never_ran_gives_1(vigil, restart):
    d = DepLog(vigil)
    missing = exec_fails_at_run_time(vigil.path("no-such-program"))
    # it may end before its ctl socket ever answers: do not wait for that
    vigil.start(others(d) + section("app", missing, critical="yes", restart=restart, start_secs=0,
                                    restart_delay="50ms", start_limit_burst=1, start_limit_interval="60s"),
                wait=False)
    assert vigil.wait_exit(timeout=60) == 1, vigil.log()[-3000:]
    assert "app" in vigil.log()


def test_first_instance_to_end_decides(vigil):
    d = DepLog(vigil)
    vigil.start(section("app", d.cmd("app:%(process_num)d", 0, 6, gate="go%(process_num)d"), numprocs=2,
                        critical="yes", restart="never", start_secs=0))
    d.running("app:0", "app:1")
    d.open_gate("go1")
    assert vigil.wait_exit() == 6, vigil.log()[-3000:]
    assert d.one("stop", "app:0")  # the other instance was stopped, not left behind


def test_stop_on_request_does_not_end_vigild(vigil):
    d = DepLog(vigil)
    vigil.start(section("app", d.cmd("app"), critical="yes", restart="never", start_secs=0)
                + section("db", d.cmd("db"), start_secs=0))
    pids = d.running("app", "db")
    r = vigil.ctl("stop", "app")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert vigil.state("app") == "STOPPED"
    # still serving, db untouched; and a start brings the critical program back
    assert vigil.alive()
    assert vigil.program("db")["pid"] == pids["db"]
    r = vigil.ctl("start", "app")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    vigil.wait_running("app", not_pid=pids["app"])
    assert vigil.alive()
