"""Stop and restart go through dependents (DESIGN.md "Dependencies and
one-shot tasks"): `stop db` stops what requires db first, `restart db`
stops them, restarts db and starts them again once db is RUNNING; a crash
of db is db's own business; shutdown stops dependents before what they
require, even against priority."""

import os
import signal

import pytest

from deplog import EXEC_SLACK, DepLog, names_in, section


def chain(d, web_start_secs=0, **db_opts):
    """db <- web <- front (front requires web, web requires db)."""
    return (section("db", d.cmd("db"), start_secs=db_opts.pop("start_secs", 0), **db_opts)
            + section("web", d.cmd("web"), requires="db", start_secs=web_start_secs)
            + section("front", d.cmd("front"), requires="web", start_secs=0))


def test_stop_stops_dependents_first(vigil):
    d = DepLog(vigil)
    vigil.start(chain(d) + section("other", d.cmd("other"), start_secs=0))
    pids = d.running("db", "web", "front", "other")
    r = vigil.ctl("stop", "db")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert {"db", "web", "front"} <= names_in(r.stdout + r.stderr), (r.stdout, r.stderr)
    ps = vigil.programs()
    assert [ps[n]["state"] for n in ("db", "web", "front")] == ["STOPPED"] * 3, ps
    assert ps["other"]["state"] == "RUNNING" and ps["other"]["pid"] == pids["other"], ps
    assert d.order("stop") == ["front", "web", "db"], d.text()
    assert ps["web"]["last_exit"]["cause"] == "stopped", ps["web"]


def test_stop_reply_lists_dependents_first(vigil):
    d = DepLog(vigil)
    vigil.start(chain(d))
    d.running("db", "web", "front")
    r = vigil.post("/v1/programs/db/stop")
    assert r.status == 200, r
    assert [p["name"] for p in r.json()["programs"]] == ["front", "web", "db"], r.json()
    for n in ("front", "web", "db"):
        vigil.wait_state(n, "STOPPED")
    assert d.order("stop") == ["front", "web", "db"], d.text()


def test_restart_restarts_dependents_after_requirement(vigil):
    d = DepLog(vigil)
    vigil.start(chain(d, start_secs="500ms", web_start_secs="300ms"))
    old = d.running("db", "web", "front")
    # through the API: vigilctl's waiting is test_restart_with_a_slow_stopping_dependent's
    r = vigil.post("/v1/programs/db/restart")
    assert r.status == 200, r
    new = {n: vigil.wait_running(n, not_pid=old[n])["pid"] for n in ("db", "web", "front")}
    assert d.order("stop") == ["front", "web", "db"], d.text()
    db_stop = d.one("stop", "db")
    db2, web2, front2 = (d.wait("start", n, count=2) for n in ("db", "web", "front"))
    assert db2.pid == new["db"] and web2.pid == new["web"] and front2.pid == new["front"], d.text()
    assert db2.t > db_stop.t, d.text()
    assert web2.t - db2.t >= 0.5 - EXEC_SLACK, f"web started before db was RUNNING again: {d.text()}"
    assert front2.t - web2.t >= 0.3 - EXEC_SLACK, f"front started before web was RUNNING again: {d.text()}"


def test_restart_reply_lists_dependents(vigil):
    d = DepLog(vigil)
    vigil.start(chain(d))
    d.running("db", "web", "front")
    r = vigil.post("/v1/programs/db/restart")
    assert r.status == 200, r
    assert [p["name"] for p in r.json()["programs"]] == ["front", "web", "db"], r.json()


def test_crash_of_a_requirement_does_not_cascade(vigil):
    d = DepLog(vigil)
    vigil.start(chain(d, restart_delay="100ms"))
    pids = d.running("db", "web", "front")
    os.kill(pids["db"], signal.SIGKILL)
    db = vigil.wait_running("db", not_pid=pids["db"])
    assert db["last_exit"] == {"cause": "signal", "code": None, "signal": 9}, db
    ps = vigil.programs()
    assert (ps["web"]["pid"], ps["front"]["pid"]) == (pids["web"], pids["front"]), ps
    assert ps["web"]["state"] == "RUNNING" and ps["front"]["state"] == "RUNNING", ps
    assert not d.records("stop"), d.text()
    assert len(d.records("start", "web")) == 1, d.text()


def test_shutdown_stops_dependents_first_against_priority(vigil):
    """web (priority 10) requires db (priority 20): by priority alone web
    would start first and stop last."""
    d = DepLog(vigil)
    vigil.start(section("web", d.cmd("web"), requires="db", priority=10, start_secs=0)
                + section("db", d.cmd("db"), priority=20, start_secs="300ms")
                + section("late", d.cmd("late"), priority=30, start_secs=0))
    d.running("db", "web", "late")
    assert d.one("start", "web").t - d.one("start", "db").t >= 0.3 - EXEC_SLACK, d.text()
    vigil.signal(signal.SIGTERM)
    assert vigil.wait_exit() == 0
    stops = d.order("stop")
    assert sorted(stops) == ["db", "late", "web"], d.text()
    assert stops.index("web") < stops.index("db"), f"db stopped before web, which requires it: {d.text()}"


def test_stop_of_a_requirement_stops_a_waiting_dependent(vigil):
    """A stop on request is no failure: web, WAITING for db, is stopped
    with it (STOPPED, not FATAL with cause dependency)."""
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs="30s")
                + section("web", d.cmd("web"), requires="db", start_secs=0))
    vigil.wait_state("web", "WAITING")
    d.wait("start", "db")
    r = vigil.post("/v1/programs/db/stop")
    assert r.status == 200, r
    assert [p["name"] for p in r.json()["programs"]] == ["web", "db"], r.json()
    vigil.wait_state("db", "STOPPED")
    web = vigil.wait_state("web", ("STOPPED", "FATAL"))
    assert web["state"] == "STOPPED", web
    assert not d.records("start", "web"), d.text()


def test_restart_with_a_slow_stopping_dependent(vigil):
    """web takes 500ms to stop: front, stopped before it, is STOPPED for a
    while before db itself restarts; `vigilctl restart db` must still wait
    for front to run again rather than take that STOPPED for a failure."""
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs=0)
                + section("web", d.cmd("web"), requires="db", start_secs=0, environment="DEP_STOP_DELAY_MS=500")
                + section("front", d.cmd("front"), requires="web", start_secs=0))
    old = d.running("db", "web", "front")
    r = vigil.ctl("restart", "db")
    # vigild itself restarts all three ...
    new = {n: vigil.wait_running(n, not_pid=old[n])["pid"] for n in ("db", "web", "front")}
    assert d.order("stop") == ["front", "web", "db"], d.text()
    assert all(d.wait("start", n, count=2).pid == new[n] for n in new), d.text()
    # ... and vigilctl waited for that, naming them
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert {"db", "web", "front"} <= names_in(r.stdout + r.stderr), (r.stdout, r.stderr)


# strict: remove the mark once fixed (an unexpected pass fails the suite)
def test_shutdown_while_a_dependent_waits_fails_nothing(vigil):
    """SIGTERM while web WAITS for db (STARTING): web is stopped before db,
    as a dependent; db stopped by the shutdown is no failed requirement, so
    web does not go FATAL. Read from vigild's log (state changes are logged
    at debug) until GET /v1/events is there to show them."""
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs="30s")
                + section("web", d.cmd("web"), requires="db", start_secs=0))
    vigil.wait_state("web", "WAITING")
    d.wait("start", "db")
    vigil.signal(signal.SIGTERM)
    assert vigil.wait_exit() == 0
    log = vigil.log()
    assert "web: WAITING -> FATAL" not in log, log[-3000:]
    assert "web: WAITING -> STOPPED" in log, log[-3000:]
