"""`requires` through the real vigild and vigilctl (DESIGN.md
"Dependencies and one-shot tasks"): a dependent is spawned only once each
requirement is in its condition (`running`, `completed`, `healthy`), waits
in WAITING meanwhile with a status naming what it waits for, and starting
it pulls in what it requires. Order is asserted from dep-worker's records."""

import socket
import time

import pytest

from deplog import EXEC_SLACK, DepLog, section


def test_running_waits_for_start_secs(vigil):
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs="1500ms")
                + section("web", d.cmd("web"), requires="db", start_secs=0))
    # While db is STARTING, web waits (and was not spawned).
    web = vigil.wait_state("web", "WAITING")
    assert web["pid"] is None, web
    assert "db (running)" in (web["status"] or ""), web
    assert web["requires"] == [{"name": "db", "condition": "running"}], web
    db_start = d.wait("start", "db")
    d.running("db", "web")
    web_start = d.one("start", "web")
    assert web_start.t - db_start.t >= 1.5 - EXEC_SLACK, \
        f"web spawned {web_start.t - db_start.t:.3f}s after db, before db's start_secs (1.5s): {d.text()}"
    assert d.one("start", "db").pid == vigil.program("db")["pid"]


def test_independent_programs_do_not_wait(vigil):
    """web (priority 10) waits for db; other (priority 30, no requires)
    is spawned at once, before db could be RUNNING."""
    d = DepLog(vigil)
    vigil.start(section("web", d.cmd("web"), requires="db", priority=10, start_secs=0)
                + section("db", d.cmd("db"), priority=20, start_secs="2s")
                + section("other", d.cmd("other"), priority=30, start_secs=0))
    other = d.wait("start", "other")
    db = d.one("start", "db")
    assert other.t < db.t + 1.0, f"other waited with web: {d.text()}"
    d.running("db", "web", "other")
    assert d.one("start", "web").t - db.t >= 2.0 - EXEC_SLACK, d.text()


def test_completed_oneshot_runs_before_dependent(vigil):
    d = DepLog(vigil)
    vigil.start(section("migrate", d.cmd("migrate", 0, 0, gate="go"), type="oneshot")
                + section("web", d.cmd("web"), requires="migrate:completed", start_secs=0))
    d.wait("start", "migrate")
    assert vigil.state("migrate") == "STARTING"
    web = vigil.wait_state("web", "WAITING")
    assert web["pid"] is None and "migrate (completed)" in (web["status"] or ""), web
    assert not d.records("start", "web")
    d.open_gate("go")
    vigil.wait_running("web")
    migrate_exit = d.one("exit", "migrate")
    web_start = d.one("start", "web")
    assert web_start.t > migrate_exit.t, f"web spawned before migrate finished: {d.text()}"
    m = vigil.program("migrate")
    assert m["state"] == "EXITED" and m["completed"] is True, m
    # the status text is gone once web no longer waits
    assert "waiting" not in (vigil.program("web")["status"] or "")


@pytest.fixture
def refused_port():
    """A TCP port on 127.0.0.1 bound by the test but not listening
    (connects are refused) until the test calls .listen() on the socket."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


# Needs the health engine (daemon/health.c, helper "health"): until it
# lands no check ever passes and web stays WAITING.
@pytest.mark.parametrize("probe", ["tcp", "exec"])
def test_healthy_waits_for_a_passing_check(vigil, refused_port, probe):
    d = DepLog(vigil)
    healthy_file = vigil.path("db-healthy")
    if probe == "tcp":
        check = f"tcp://127.0.0.1:{refused_port.getsockname()[1]}"
    else:
        check = f"exec:/usr/bin/test -e {healthy_file}"
    vigil.start(section("db", d.cmd("db"), start_secs=0, health_check=check, health_interval="100ms",
                        health_timeout="1s", health_retries=1, health_action="none")
                + section("web", d.cmd("web"), requires="db:healthy", start_secs=0))
    vigil.wait_running("db")
    # checks run and fail: db RUNNING but not healthy, web still waits
    db = vigil.wait_program("db", lambda p: p["health"] and p["health"]["failures"] >= 2, "2 failed checks")
    assert db["health"]["state"] != "healthy", db
    web = vigil.wait_state("web", "WAITING")
    assert web["pid"] is None and "db (healthy)" in (web["status"] or ""), web
    assert not d.records("start", "web")
    if probe == "tcp":
        refused_port.listen(16)
        passes_from = time.monotonic()
    else:
        passes_from = vigil.touch("db-healthy")
    vigil.wait_running("web")
    assert d.one("start", "web").t > passes_from, d.text()
    assert vigil.program("db")["health"]["state"] == "healthy"


def test_all_instances_of_a_numprocs_requirement(vigil):
    """web requires pool (numprocs = 3): pool:0 and pool:1 RUNNING are not
    enough; `start web` pulls in pool:2 and web spawns once it is RUNNING."""
    d = DepLog(vigil)
    vigil.start(section("pool", d.cmd("pool:%(process_num)d"), numprocs=3, start_secs="1s", autostart="no")
                + section("web", d.cmd("web"), requires="pool", start_secs=0, autostart="no"))
    for i in (0, 1):
        r = vigil.ctl("start", f"pool:{i}")
        assert r.returncode == 0, r.stderr
    assert vigil.state("pool:2") == "STOPPED"
    r = vigil.ctl("start", "--no-block", "web")
    assert r.returncode == 0, r.stderr
    web = vigil.wait_state("web", "WAITING")
    assert "pool (running)" in (web["status"] or ""), web
    pool2_start = d.wait("start", "pool:2")
    d.running("pool:0", "pool:1", "pool:2", "web")
    web_start = d.one("start", "web")
    assert web_start.t - pool2_start.t >= 1.0 - EXEC_SLACK, \
        f"web spawned before pool:2 was RUNNING: {d.text()}"


def test_numprocs_requirement_at_autostart(vigil):
    d = DepLog(vigil)
    vigil.start(section("pool", d.cmd("pool:%(process_num)d"), numprocs=3, start_secs="1s")
                + section("web", d.cmd("web"), requires="pool", start_secs=0))
    d.running("pool:0", "pool:1", "pool:2", "web")
    last_pool = max(d.one("start", f"pool:{i}").t for i in range(3))
    assert d.one("start", "web").t - last_pool >= 1.0 - EXEC_SLACK, d.text()


def test_start_pulls_in_requirements_transitively(vigil):
    """autostart = no everywhere: `vigilctl start web` starts db, then api
    and migrate (both require db), then web; `other` stays STOPPED."""
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs="500ms", autostart="no")
                + section("api", d.cmd("api"), requires="db", start_secs="500ms", autostart="no")
                + section("migrate", d.cmd("migrate", 100, 0), type="oneshot", requires="db", autostart="no")
                + section("web", d.cmd("web"), requires="api, migrate", start_secs=0, autostart="no")
                + section("other", d.cmd("other"), start_secs=0, autostart="no"))
    assert d.records() == []
    r = vigil.ctl("start", "web")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    ps = vigil.programs()
    assert ps["web"]["state"] == "RUNNING", ps  # vigilctl start waited for it
    assert ps["db"]["state"] == "RUNNING" and ps["api"]["state"] == "RUNNING", ps
    assert ps["migrate"]["state"] == "EXITED" and ps["migrate"]["completed"], ps
    assert ps["other"]["state"] == "STOPPED", ps
    db, api, web = (d.one("start", n) for n in ("db", "api", "web"))
    migrate_start, migrate_exit = d.one("start", "migrate"), d.one("exit", "migrate")
    assert api.t - db.t >= 0.5 - EXEC_SLACK, d.text()
    assert migrate_start.t - db.t >= 0.5 - EXEC_SLACK, d.text()
    assert web.t - api.t >= 0.5 - EXEC_SLACK, d.text()
    assert web.t > migrate_exit.t, d.text()
    assert not d.records(name="other")
