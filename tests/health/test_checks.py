"""Active health checks through the real vigild (DESIGN.md "Active health
checks"): http, tcp and exec probes against servers the test runs and
switches, their verdicts in GET /v1/programs, retries, health_start_period,
health_action = restart (cause "health") and none, and that a check that
hangs delays nothing else."""

import os

import pytest

from vigiltest import W, pids_with_arg, wait_for
from vigiltest.probe_server import ProbeHTTPServer, ProbeTCPListener


def program(name, check, **options):
    """A [program:NAME] running run-forever with health_check = check; the
    options (health_interval etc.) as written; health_timeout, which may
    not be longer, is health_interval unless given."""
    if "health_interval" in options:
        options.setdefault("health_timeout", options["health_interval"])
    lines = [f"[program:{name}]", f"command = {W('run-forever')}", "start_secs = 100ms",
             f"health_check = {check}"]
    lines += [f"{k} = {v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def health(vigil, name):
    return vigil.program(name)["health"]


def wait_health(vigil, name, cond, what):
    """Waits until cond(process's health object) holds; returns the process."""
    return vigil.wait_program(name, lambda p: p["health"] and cond(p["health"]), what)


def test_http_pass_is_healthy(vigil):
    with ProbeHTTPServer(200) as web:
        vigil.start(program("web", web.url("/healthz?deep=1"), health_interval="200ms"))
        p = wait_health(vigil, "web", lambda h: h["state"] == "healthy", "healthy")
        h = p["health"]
        assert h["failures"] == 0 and h["last_error"] is None
        assert isinstance(h["last_check_age_s"], (int, float)) and h["last_check_age_s"] >= 0
        path, host = web.wait_requests(1)[0]
        assert path == "/healthz?deep=1"
        assert host == f"127.0.0.1:{web.port}"
        # every health_interval, not just once
        n = web.count()
        web.wait_requests(n + 2)


def test_http_500_restarts_with_cause_health(vigil):
    with ProbeHTTPServer(200) as web:
        vigil.start(program("web", web.url(), health_interval="300ms", health_retries=3,
                            restart_delay="100ms"))
        first = wait_health(vigil, "web", lambda h: h["state"] == "healthy", "healthy")["pid"]
        web.answer(500)
        p = vigil.wait_program("web", lambda p: p["last_exit"] and p["last_exit"]["cause"] == "health",
                               'last_exit.cause "health"')
        assert p["restarts"] >= 1
        assert "web: unhealthy after 3 failed checks (HTTP 500)" in vigil.log()
        assert "web: health check failed (1/3): HTTP 500" in vigil.log()
        web.answer(200)
        # a new process starts "starting" and becomes healthy on its own
        p = vigil.wait_program("web", lambda p: p["pid"] not in (None, first) and p["state"] == "RUNNING"
                               and p["health"]["state"] == "healthy", "healthy again under a new pid")
        assert p["health"]["failures"] == 0


def test_http_hang_times_out(vigil):
    with ProbeHTTPServer("hang") as web:
        vigil.start(program("web", web.url(), health_timeout="300ms", health_retries=1,
                            health_action="none", health_interval="10s"))
        p = wait_health(vigil, "web", lambda h: h["state"] == "unhealthy", "unhealthy")
        assert p["health"]["last_error"] == "timeout after 300ms"
        assert p["state"] == "RUNNING"


def test_tcp_pass_then_refused(vigil):
    tcp = ProbeTCPListener()
    try:
        vigil.start(program("db", tcp.url, health_interval="300ms", health_retries=2, health_action="none"))
        wait_health(vigil, "db", lambda h: h["state"] == "healthy", "healthy")
        assert tcp.count() >= 1
        tcp.close()
        p = wait_health(vigil, "db", lambda h: h["state"] == "unhealthy", "unhealthy")
        assert p["health"]["last_error"] == "connection refused"
        assert p["health"]["failures"] >= 2
    finally:
        tcp.close()


def test_exec_pass_then_fail_with_its_last_line(vigil):
    flag = vigil.path("flag")
    open(flag, "w").close()
    # run in the program's directory: "flag" is relative
    check = ("exec:sh -c 'test -e flag && exit 0; echo checking...; echo \"db down: no $(basename flag)\" >&2;"
             " exit 2'")
    vigil.start(program("app", check, directory=vigil.dir, health_interval="300ms", health_retries=1,
                        health_action="none"))
    wait_health(vigil, "app", lambda h: h["state"] == "healthy", "healthy")
    os.unlink(flag)
    p = wait_health(vigil, "app", lambda h: h["state"] == "unhealthy", "unhealthy")
    assert p["health"]["last_error"] == "db down: no flag"
    open(flag, "w").close()
    wait_health(vigil, "app", lambda h: h["state"] == "healthy", "healthy again")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_exec_runs_as_its_program(vigil):
    """user, directory, umask and environment of the program; stdin /dev/null;
    a session of its own."""
    wd = vigil.path("wd")
    os.mkdir(wd)
    check = ("exec:sh -c 'read -r pid comm state ppid pgrp sid rest < /proc/$$/stat;"
             " echo \"$(id -un) $(pwd) $(umask) $COLOR $(readlink /proc/$$/fd/0) $((pid == sid))\"; exit 1'")
    vigil.start(program("app", check, user="nobody", directory=wd, umask="027", environment="COLOR=blue",
                        health_retries=1, health_action="none"))
    p = wait_health(vigil, "app", lambda h: h["state"] == "unhealthy", "unhealthy")
    assert p["health"]["last_error"] == f"nobody {wd} 0027 blue /dev/null 1"


def test_exec_exit_code_and_timeout(vigil):
    vigil.start(program("quiet", "exec:sh -c 'exit 7'", health_retries=1, health_action="none")
                + program("slow", "exec:sleep 31.5", health_timeout="300ms", health_interval="1h",
                          health_retries=1, health_action="none"))
    p = wait_health(vigil, "quiet", lambda h: h["state"] == "unhealthy", "unhealthy")
    assert p["health"]["last_error"] == "exit 7"
    p = wait_health(vigil, "slow", lambda h: h["state"] == "unhealthy", "unhealthy")
    assert p["health"]["last_error"] == "timeout after 300ms"
    wait_for(lambda: not pids_with_arg("31.5"), what="the timed-out probe to be killed")


def test_start_period(vigil):
    with ProbeHTTPServer(500) as web:
        vigil.start(program("web", web.url(), health_interval="300ms", health_retries=1,
                            health_start_period="3s", health_action="none"))
        p = wait_health(vigil, "web", lambda h: h["last_error"] == "HTTP 500", "a failed check")
        if p["uptime_s"] < 2.5:
            assert p["health"]["state"] == "starting" and p["health"]["failures"] == 0
        p = wait_health(vigil, "web", lambda h: h["state"] == "unhealthy", "unhealthy")
        assert p["uptime_s"] >= 3.0, "a failure within health_start_period counted"
        assert "within health_start_period, not counted" in vigil.log()


def test_action_none_reports_only(vigil):
    with ProbeHTTPServer(500) as web:
        vigil.start(program("web", web.url(), health_interval="300ms", health_retries=2,
                            health_action="none"))
        first = vigil.wait_running("web")["pid"]
        p = wait_health(vigil, "web", lambda h: h["state"] == "unhealthy", "unhealthy")
        assert "health_action = none: left running" in vigil.log()
        # still checked: failures go on counting, and one pass heals it
        wait_health(vigil, "web", lambda h: h["failures"] >= p["health"]["failures"] + 2, "more failures")
        web.answer(204)
        p = wait_health(vigil, "web", lambda h: h["state"] == "healthy", "healthy again")
        assert p["pid"] == first and p["state"] == "RUNNING" and p["restarts"] == 0
        assert p["last_exit"] is None


def test_a_hanging_check_delays_nothing_else(vigil):
    with ProbeHTTPServer("hang") as stuck, ProbeHTTPServer(200) as fine:
        vigil.start(program("stuck", stuck.url(), health_timeout="60s", health_interval="1h")
                    + program("fine", fine.url(), health_interval="200ms"))
        stuck.wait_requests(1)
        n = fine.count()
        fine.wait_requests(n + 10)
        # the stuck check is still in flight: a single request, no verdict
        assert stuck.count() == 1 and health(vigil, "stuck")["last_check_age_s"] is None
        r = vigil.ctl("status")
        assert r.returncode in (0, 3), r
        assert health(vigil, "fine")["state"] == "healthy"


def test_what_an_exec_check_leaves_dies_with_a_killed_vigild(vigil):
    """An exec check runs in its program's cgroup: a process it left behind
    in a session of its own (out of reach of the probe's process group) is
    killed with everything else when vigild is killed with SIGKILL.
    Regression: probes ran in vigild's own cgroup, and such a leftover
    lived on."""
    marker = f"77{os.getpid() % 10000:04d}"
    flag = vigil.path("left")
    # the probe ends only once its leftover has a session of its own
    probe = (f"exec:/bin/sh -c 'setsid /bin/sh -c \"touch {flag}; exec sleep {marker}\" & "
             f"while [ ! -e {flag} ]; do sleep 0.01; done'")
    vigil.start(program("web", probe, health_interval="5s"))
    web = wait_health(vigil, "web", lambda h: h["state"] == "healthy", "healthy")
    wait_for(lambda: pids_with_arg(marker), what="the check's leftover sleep")
    with open(f"/proc/{web['pid']}/cgroup") as f:
        if "vigil-" not in f.read():
            pytest.skip("no cgroups: vigild runs on process groups here")
    vigil.signal(9)
    vigil.wait_exit()
    wait_for(lambda: not pids_with_arg(marker), what="the leftover gone after kill -9 vigild")
