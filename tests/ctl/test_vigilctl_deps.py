"""vigilctl with dependencies, oneshots and health checks, against a fake
vigild on the ctl socket that answers from a script: what vigilctl makes
of WAITING, of a oneshot's EXITED, of a dependency failure and of an
unhealthy process (exit codes, the HEALTH column), and that start, stop
and restart wait for every process their reply lists (the dependents a
stop or restart touched too) and print one line for each. Replies are the
shapes of DESIGN.md's "ctl protocol", scripted to reach every branch;
the last tests check the same against the real vigild."""

import json
import os
import shutil
import socket
import socketserver
import threading

import pytest

from vigiltest import W, make_tmpdir, run_ctl, sanitizer_reports, wait_for


def proc(name, state, pid=None, **fields):
    program, _, instance = name.partition(":")
    p = {"name": name, "program": program, "instance": int(instance or 0), "state": state, "pid": pid,
         "uptime_s": 1.5 if pid else 0.0, "restarts": 0, "last_exit": None, "heartbeat": None, "status": None,
         "daemon": False, "bind_to": None, "requires": [], "health": None, "type": "simple",
         "completed": False, "output_lost_bytes": 0}
    p.update(fields)
    return p


def health(state, failures=0, last_error=None):
    return {"state": state, "failures": failures, "last_check_age_s": 0.5, "last_error": last_error}


def programs(*procs):
    return {"programs": list(procs)}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        method, path, _ = self.rfile.readline().decode().split(" ", 2)
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        status, body = self.server.answer(method, path)
        body = json.dumps(body).encode()
        self.wfile.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))


class FakeVigild(socketserver.ThreadingUnixStreamServer):
    """script: {(method, path): [reply, ...]}, each reply a body (status
    200) or (status, body); each request takes the next, the last one
    repeats. requests: every (method, path) in the order they came."""

    daemon_threads = True

    def __init__(self, path):
        super().__init__(path, Handler)
        self.lock = threading.Lock()
        self.script = {}
        self.requests = []

    def answer(self, method, path):
        with self.lock:
            self.requests.append((method, path))
            replies = self.script.get((method, path))
            if not replies:
                return 404, {"error": f"not scripted: {method} {path}"}
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
        return reply if isinstance(reply, tuple) else (200, reply)

    def gets(self, path):
        return [r for r in self.requests if r == ("GET", path)]


@pytest.fixture
def fake():
    tmp = make_tmpdir("vigil-fake-deps-")
    server = FakeVigild(os.path.join(tmp, "ctl.sock"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    shutil.rmtree(tmp, ignore_errors=True)


def ctl(fake, *args):
    r = run_ctl(*args, "--timeout", "20s", sock=fake.server_address, timeout=60)
    assert not sanitizer_reports(r.stderr), r.stderr
    return r


# ---- start, stop, restart: every process of the reply

def test_stop_waits_for_the_dependents_its_reply_lists(fake):
    fake.script[("POST", "/v1/programs/db/stop")] = [
        programs(proc("web", "STOPPING", 11), proc("db", "RUNNING", 10))]
    # db is stopped once web is, which takes three polls here
    fake.script[("GET", "/v1/programs")] = [
        programs(proc("web", "STOPPING", 11), proc("db", "RUNNING", 10)),
        programs(proc("web", "STOPPED"), proc("db", "STOPPING", 10)),
        programs(proc("web", "STOPPED"), proc("db", "STOPPED"))]
    r = ctl(fake, "stop", "db")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["web: stopped", "db: stopped"]
    assert fake.requests[0] == ("POST", "/v1/programs/db/stop")
    # web is not db's: the whole list is polled, until both are stopped
    assert len(fake.gets("/v1/programs")) == 3, fake.requests
    assert not fake.gets("/v1/programs/db"), fake.requests


def test_instances_are_printed_by_process_name(fake):
    fake.script[("POST", "/v1/programs/pool/stop")] = [
        programs(proc("pool:0", "STOPPING", 5), proc("pool:1", "STOPPED"))]
    fake.script[("GET", "/v1/programs/pool")] = [programs(proc("pool:0", "STOPPED"), proc("pool:1", "STOPPED"))]
    r = ctl(fake, "stop", "pool")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["pool:0: stopped", "pool:1: stopped"]
    # only pool's processes in the reply: only pool is polled
    assert fake.gets("/v1/programs/pool") and not fake.gets("/v1/programs"), fake.requests


def test_restart_judges_by_its_reply_without_a_get_first(fake):
    fake.script[("POST", "/v1/programs/db/restart")] = [
        programs(proc("web", "STOPPING", 11), proc("db", "STOPPING", 10))]
    fake.script[("GET", "/v1/programs")] = [
        # the old processes still RUNNING (as the reply's pids say) are not restarted yet
        programs(proc("web", "RUNNING", 11), proc("db", "RUNNING", 10)),
        programs(proc("web", "WAITING", status="waiting for db (running)"), proc("db", "RUNNING", 20)),
        programs(proc("web", "RUNNING", 21), proc("db", "RUNNING", 20))]
    r = ctl(fake, "restart", "db")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["web: restarted", "db: restarted"]
    assert fake.requests[0] == ("POST", "/v1/programs/db/restart"), fake.requests
    assert len(fake.gets("/v1/programs")) == 3, fake.requests


def test_restart_waits_while_a_dependent_is_stopped_to_resume(fake):
    # db is restarted once front is down; front is STOPPED until db runs again
    fake.script[("POST", "/v1/programs/db/restart")] = [
        programs(proc("front", "STOPPING", 11), proc("db", "RUNNING", 10))]
    fake.script[("GET", "/v1/programs")] = [
        programs(proc("front", "STOPPED"), proc("db", "STOPPING", 10)),
        programs(proc("front", "STOPPED"), proc("db", "RUNNING", 20)),
        programs(proc("front", "RUNNING", 21), proc("db", "RUNNING", 20))]
    r = ctl(fake, "restart", "db")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["front: restarted", "db: restarted"]


def test_start_waits_for_every_named_process_also_one_the_reply_left_out(fake):
    # kid (a daemon child) could not start with its parent down: the reply
    # leaves it out (and lists parent twice); vigilctl waits for it anyway
    fake.script[("POST", "/v1/programs/all/start")] = [programs(proc("parent", "STARTING", 5),
                                                                proc("parent", "STARTING", 5))]
    fake.script[("GET", "/v1/programs")] = [
        programs(proc("kid", "STOPPED", bind_to="parent", daemon=True), proc("parent", "STARTING", 5)),
        programs(proc("kid", "STOPPED", bind_to="parent", daemon=True), proc("parent", "RUNNING", 5)),
        programs(proc("kid", "RUNNING", 6, bind_to="parent", daemon=True), proc("parent", "RUNNING", 5))]
    r = ctl(fake, "start", "all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["parent: started", "kid: started"]
    assert len(fake.gets("/v1/programs")) == 3, fake.requests


def test_restart_of_a_stopped_process_is_done_by_the_process_it_spawned(fake):
    # restarting a process at rest spawns at once: the reply's pid is the new one
    fake.script[("POST", "/v1/programs/web/restart")] = [programs(proc("web", "STARTING", 30))]
    fake.script[("GET", "/v1/programs/web")] = [programs(proc("web", "STARTING", 30)),
                                                programs(proc("web", "RUNNING", 30))]
    r = ctl(fake, "restart", "web")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["web: restarted"]


def test_start_waits_through_waiting(fake):
    fake.script[("POST", "/v1/programs/web/start")] = [
        programs(proc("web", "WAITING", status="waiting for db (healthy)",
                      requires=[{"name": "db", "condition": "healthy"}]))]
    fake.script[("GET", "/v1/programs/web")] = [
        programs(proc("web", "WAITING", status="waiting for db (healthy)")),
        programs(proc("web", "WAITING", status="waiting for db (healthy)")),
        programs(proc("web", "STARTING", 40)),
        programs(proc("web", "RUNNING", 40))]
    r = ctl(fake, "start", "web")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["web: started"]
    assert len(fake.gets("/v1/programs/web")) == 4


def test_a_requirement_that_failed_fails_the_start_and_says_why(fake):
    fake.script[("POST", "/v1/programs/web/start")] = [programs(proc("web", "WAITING"))]
    fake.script[("GET", "/v1/programs/web")] = [
        programs(proc("web", "FATAL", status="db is FATAL",
                      last_exit={"cause": "dependency", "code": None, "signal": None}))]
    r = ctl(fake, "start", "web")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "web: failed to start: now FATAL (a requirement failed: db is FATAL)" in r.stderr, r.stderr
    assert r.stdout == ""


def oneshot(state, pid=None, completed=False, **fields):
    return proc("migrate", state, pid, type="oneshot", completed=completed, **fields)


@pytest.mark.parametrize("action", ["start", "restart"])
def test_a_oneshot_is_started_when_it_completed(fake, action):
    fake.script[("POST", f"/v1/programs/migrate/{action}")] = [programs(oneshot("STARTING", 50))]
    fake.script[("GET", "/v1/programs/migrate")] = [
        programs(oneshot("STARTING", 50)),
        programs(oneshot("BACKOFF", last_exit={"cause": "exit", "code": 1, "signal": None})),
        programs(oneshot("STARTING", 51)),
        programs(oneshot("EXITED", completed=True, last_exit={"cause": "exit", "code": 0, "signal": None}))]
    r = ctl(fake, action, "migrate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["migrate: completed"]
    assert len(fake.gets("/v1/programs/migrate")) == 4


@pytest.mark.parametrize("final", [
    oneshot("EXITED", last_exit={"cause": "exit", "code": 3, "signal": None}),
    oneshot("FATAL", last_exit={"cause": "exit", "code": 3, "signal": None}),
])
def test_a_oneshot_that_failed_fails_the_start(fake, final):
    fake.script[("POST", "/v1/programs/migrate/start")] = [programs(oneshot("STARTING", 50))]
    fake.script[("GET", "/v1/programs/migrate")] = [programs(final)]
    r = ctl(fake, "start", "migrate")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"migrate: failed to start: now {final['state']} (last exit: exit 3)" in r.stderr, r.stderr


def test_start_pulls_in_a_completed_oneshot(fake):
    # web requires migrate (completed): the reply lists both, migrate done already
    fake.script[("POST", "/v1/programs/web/start")] = [
        programs(oneshot("EXITED", completed=True), proc("web", "WAITING"))]
    fake.script[("GET", "/v1/programs")] = [programs(oneshot("EXITED", completed=True), proc("web", "RUNNING", 9))]
    r = ctl(fake, "start", "web")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["migrate: completed", "web: started"]


def test_a_process_gone_meanwhile_fails_the_wait(fake):
    fake.script[("POST", "/v1/programs/db/stop")] = [programs(proc("web", "STOPPING", 3), proc("db", "RUNNING", 2))]
    fake.script[("GET", "/v1/programs")] = [programs(proc("db", "STOPPED"))]
    r = ctl(fake, "stop", "db")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "web: failed to stop: vigild no longer lists it" in r.stderr, r.stderr


def test_no_block_sends_one_request(fake):
    fake.script[("POST", "/v1/programs/db/stop")] = [programs(proc("web", "STOPPING", 3), proc("db", "RUNNING", 2))]
    r = ctl(fake, "stop", "--no-block", "db")
    assert r.returncode == 0, r.stderr
    assert fake.requests == [("POST", "/v1/programs/db/stop")]


# ---- status exit codes

@pytest.mark.parametrize("p, code", [
    (proc("web", "RUNNING", 7), 0),
    (proc("web", "RUNNING", 7, health=health("starting")), 0),
    (proc("web", "RUNNING", 7, health=health("healthy")), 0),
    (proc("web", "RUNNING", 7, health=health("unhealthy", 3, "HTTP 500")), 3),
    (proc("web", "WAITING", status="waiting for db (running)"), 3),
    (proc("web", "FATAL", last_exit={"cause": "dependency", "code": None, "signal": None}), 3),
    (oneshot("EXITED", completed=True), 0),
    (oneshot("EXITED", completed=False, last_exit={"cause": "exit", "code": 1, "signal": None}), 3),
    (oneshot("STARTING", 5), 3),
    # EXITED but not a oneshot: not fine, completed or not
    (proc("web", "EXITED", completed=True), 3),
])
def test_status_exit_code(fake, p, code):
    fake.script[("GET", f"/v1/programs/{p['name']}")] = [p]
    r = ctl(fake, "status", p["name"])
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    r = ctl(fake, "status", p["name"], "--json")
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert json.loads(r.stdout)["programs"] == [p]


def test_status_without_names_is_0_whatever_the_health(fake):
    fake.script[("GET", "/v1/programs")] = [programs(proc("web", "RUNNING", 7,
                                                          health=health("unhealthy", 3, "HTTP 500")))]
    r = ctl(fake, "status")
    assert r.returncode == 0, r.stderr


# ---- the HEALTH column

def columns(stdout):
    """The table as {name: {header: cell}}, cells cut at the header's column."""
    lines = stdout.splitlines()
    header = lines[0]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows[cells[0]] = dict(zip(names, cells))
    return names, rows


def test_health_column(fake):
    hostile = "\x1b[31mred\x1b[0m \x07 and a long tail " + "x" * 100 + "\nsecond line"
    fake.script[("GET", "/v1/programs")] = [programs(
        proc("plain", "RUNNING", 1),
        proc("fresh", "RUNNING", 2, health=health("starting")),
        proc("good", "RUNNING", 3, health=health("healthy")),
        proc("bad", "RUNNING", 4, health=health("unhealthy", 3, "HTTP 500")),
        proc("slow", "RUNNING", 5, health=health("unhealthy", 3, "timeout after 2s")),
        proc("noisy", "RUNNING", 6, health=health("unhealthy", 4, hostile)),
        proc("shy", "RUNNING", 6, health=health("unhealthy", 4, None)),
        proc("utf", "RUNNING", 8, health=health("unhealthy", 1, "é" * 30)),
        proc("two", "RUNNING", 9, health=health("unhealthy", 1, "first\nsecond")),
        proc("wait", "WAITING", status="waiting for db (healthy), migrate (completed)"))]
    r = ctl(fake, "status")
    assert r.returncode == 0, r.stderr
    names, rows = columns(r.stdout)
    assert names == ["NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM", "RESTARTS", "LAST-EXIT", "HEARTBEAT", "HEALTH", "STATUS"]
    assert rows["plain"]["HEALTH"] == "-"
    assert rows["fresh"]["HEALTH"] == "starting"
    assert rows["good"]["HEALTH"] == "healthy"
    assert rows["bad"]["HEALTH"] == "unhealthy (HTTP 500)"
    assert rows["slow"]["HEALTH"] == "unhealthy (timeout after 2s)"
    assert rows["shy"]["HEALTH"] == "unhealthy"
    assert rows["two"]["HEALTH"] == "unhealthy (first...)"
    noisy = rows["noisy"]["HEALTH"]
    assert noisy.startswith("unhealthy (?[31mred?[0m ? and a long tail x") and noisy.endswith("...)"), noisy
    assert len(noisy) == len("unhealthy ()") + 40 + 3, noisy
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "second line" not in r.stdout
    # cut at 40 bytes, never inside a character: 20 "é" of 2 bytes each
    assert rows["utf"]["HEALTH"] == "unhealthy (" + "é" * 20 + "...)"
    assert rows["wait"]["STATE"] == "WAITING"
    assert rows["wait"]["STATUS"] == "waiting for db (healthy), migrate (completed)"


# ---- end to end: the real vigild


@pytest.fixture
def listening_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def health_config(port):
    return f"""
[program:good]
command = {W("run-forever")}
start_secs = 0
health_check = tcp://127.0.0.1:{port}
health_interval = 100ms
health_retries = 1
[program:bad]
command = {W("run-forever")}
start_secs = 0
health_check = exec:/bin/sh -c 'echo starting up; echo "backend said: HTTP 503"; exit 1'
health_interval = 100ms
health_retries = 2
health_action = none
[program:plain]
command = {W("run-forever")}
start_secs = 0
"""


def test_health_end_to_end(vigil, listening_port):
    vigil.start(health_config(listening_port))
    vigil.wait_program("good", lambda p: p["health"]["state"] == "healthy", "good healthy")
    bad = vigil.wait_program("bad", lambda p: p["health"]["state"] == "unhealthy", "bad unhealthy")
    assert bad["health"]["last_error"] == "backend said: HTTP 503", bad
    assert bad["state"] == "RUNNING", bad  # health_action = none: only reported
    assert vigil.ctl("status", "good").returncode == 0
    assert vigil.ctl("status", "plain").returncode == 0
    r = vigil.ctl("status", "bad")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    r = vigil.ctl("status", "good", "bad")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    r = vigil.ctl("status")
    assert r.returncode == 0, r.stderr
    _, rows = columns(r.stdout)
    assert rows["good"]["HEALTH"] == "healthy", r.stdout
    assert rows["bad"]["HEALTH"] == "unhealthy (backend said: HTTP 503)", r.stdout
    assert rows["plain"]["HEALTH"] == "-", r.stdout
    # /metrics: a gauge and the counts of checks, for the two with a check
    text = vigil.http("GET", "/metrics").text
    assert 'vigil_process_healthy{name="good"} 1' in text.splitlines(), text
    assert 'vigil_process_healthy{name="bad"} 0' in text.splitlines(), text
    assert 'name="plain"' not in "".join(l for l in text.splitlines() if "health" in l), text
    counts = {}
    for line in text.splitlines():
        if line.startswith("vigil_health_checks_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels] = int(value)
    assert counts['vigil_health_checks_total{name="good",result="pass"}'] >= 1, counts
    assert counts['vigil_health_checks_total{name="bad",result="fail"}'] >= 2, counts
    assert counts['vigil_health_checks_total{name="bad",result="pass"}'] == 0, counts
    assert len(counts) == 4, counts


ONESHOT_CONFIG = f"""
[program:migrate]
command = /bin/sh -c 'exit 0'
type = oneshot
[program:broken]
command = /bin/sh -c 'exit 4'
type = oneshot
restart = never
[program:web]
command = {W("run-forever")}
start_secs = 0
requires = migrate
"""


def test_oneshot_end_to_end(vigil):
    vigil.start(ONESHOT_CONFIG)
    vigil.wait_running("web")
    m = vigil.wait_state("migrate", "EXITED")
    assert m["completed"] is True and m["type"] == "oneshot", m
    assert vigil.program("web")["requires"] == [{"name": "migrate", "condition": "completed"}]
    r = vigil.ctl("status", "migrate", "web")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    b = vigil.wait_state("broken", "EXITED")
    assert b["completed"] is False, b
    r = vigil.ctl("status", "broken")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    # start runs a completed oneshot again and waits for it to complete
    r = vigil.ctl("start", "migrate")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["migrate: completed"], r.stdout
    r = vigil.ctl("start", "broken")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "broken: failed to start: now EXITED (last exit: exit 4)" in r.stderr, r.stderr


def test_stop_and_restart_print_the_dependents_end_to_end(vigil):
    vigil.start(f"""
[program:db]
command = {W("run-forever")}
start_secs = 0
[program:web]
command = {W("run-forever")}
start_secs = 0
requires = db
""")
    old = {n: vigil.wait_running(n)["pid"] for n in ("db", "web")}
    r = vigil.ctl("restart", "db")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["web: restarted", "db: restarted"], r.stdout
    for n in ("db", "web"):
        p = vigil.program(n)
        assert p["state"] == "RUNNING" and p["pid"] != old[n], p
    r = vigil.ctl("stop", "db")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["web: stopped", "db: stopped"], r.stdout
    assert vigil.state("web") == "STOPPED" and vigil.state("db") == "STOPPED"
    r = vigil.ctl("start", "web")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    wait_for(lambda: vigil.state("db") == "RUNNING", what="db pulled in")
