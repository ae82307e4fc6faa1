"""`type = oneshot` (DESIGN.md "Dependencies and one-shot tasks"): STARTING
while it runs, EXITED (completed) on success, `start all` does not run a
completed one again but an explicit start does; a failing one follows
backoff to FATAL; a oneshot that fails for good makes its WAITING
dependents FATAL with cause "dependency"."""

import subprocess

import pytest

from deplog import DepLog, section
from vigiltest import VIGILD


def test_states_and_status_exit_code(vigil):
    d = DepLog(vigil)
    vigil.start(section("migrate", d.cmd("migrate", 0, 0, gate="go"), type="oneshot"))
    rec = d.wait("start", "migrate")
    p = vigil.wait_state("migrate", "STARTING")
    assert p["pid"] == rec.pid and p["type"] == "oneshot" and p["completed"] is False, p
    # not completed yet: status reports it as not fine
    r = vigil.ctl("status", "migrate")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    d.open_gate("go")
    p = vigil.wait_state("migrate", "EXITED")
    assert p["completed"] is True and p["pid"] is None, p
    assert p["last_exit"] == {"cause": "exit", "code": 0, "signal": None}, p
    assert p["restarts"] == 0, p
    r = vigil.ctl("status", "migrate")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert len(d.records("start", "migrate")) == 1


def test_start_all_skips_completed_but_explicit_start_reruns(vigil):
    d = DepLog(vigil)
    vigil.start(section("migrate", d.cmd("migrate", 300, 0), type="oneshot")
                + section("later", d.cmd("later"), start_secs=0, autostart="no"))
    vigil.wait_state("migrate", "EXITED")
    r = vigil.ctl("start", "all")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    vigil.wait_running("later")  # start all did start what was stopped
    assert len(d.records("start", "migrate")) == 1, d.text()
    assert vigil.state("migrate") == "EXITED"
    # an explicit start runs it again, and vigilctl waits until it completed
    r = vigil.ctl("start", "migrate")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert len(d.records("exit", "migrate")) == 2, f"vigilctl start returned before the run ended: {d.text()}"
    p = vigil.program("migrate")
    assert p["state"] == "EXITED" and p["completed"] is True, p


def test_failing_oneshot_backs_off_to_fatal(vigil):
    d = DepLog(vigil)
    vigil.start(section("migrate", d.cmd("migrate", 0, 5), type="oneshot", restart_delay="200ms",
                        start_limit_burst=3, start_limit_interval="60s"))
    p = vigil.wait_state("migrate", "FATAL", timeout=60)
    starts = [r.t for r in d.records("start", "migrate")]
    # burst 3: the 4th failed run within the interval gives up
    assert len(starts) == 4, d.text()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps[0] >= 0.19, f"the first rerun came before restart_delay: {gaps}"
    for a, b in zip(gaps, gaps[1:]):
        assert b > a * 1.4, f"backoff does not grow: {gaps}"
    assert p["last_exit"] == {"cause": "exit", "code": 5, "signal": None}, p
    assert p["completed"] is False, p


def test_restart_always_on_a_oneshot_is_a_config_error(vigil):
    d = DepLog(vigil)
    conf = vigil.write_config(section("migrate", d.cmd("migrate", 0, 0), type="oneshot", restart="always"))
    r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=30,
                       env=vigil.env())
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{conf}:" in r.stderr and "restart" in r.stderr and "[program:migrate]" in r.stderr, r.stderr
    vigil.start(wait=False)
    assert vigil.wait_exit() == 2
    assert not d.records()


@pytest.mark.parametrize("how", ["restart-never", "start-limit"])
def test_failed_oneshot_makes_waiting_dependent_fatal(vigil, how):
    d = DepLog(vigil)
    opts = {"restart": "never"} if how == "restart-never" else \
        {"restart_delay": "50ms", "start_limit_burst": 1, "start_limit_interval": "60s"}
    vigil.start(section("migrate", d.cmd("migrate", 0, 1, gate="go"), type="oneshot", **opts)
                + section("web", d.cmd("web"), requires="migrate", start_secs=0))
    web = vigil.wait_state("web", "WAITING")
    assert "migrate (completed)" in (web["status"] or ""), web  # on a oneshot, running means completed
    d.open_gate("go")
    m = vigil.wait_state("migrate", "EXITED" if how == "restart-never" else "FATAL")
    assert m["completed"] is False, m
    web = vigil.wait_state("web", "FATAL")
    assert web["last_exit"] is not None and web["last_exit"]["cause"] == "dependency", web
    assert "migrate" in (web["status"] or ""), web
    assert web["pid"] is None and not d.records("start", "web"), d.text()
