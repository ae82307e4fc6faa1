"""The ctl protocol: HTTP/1.1 + JSON over the Unix socket (DESIGN.md)."""

import json
import os
import re
import signal
import subprocess

from vigiltest import STATES, W, exec_fails_at_run_time, http, pid_gone, raw_http, read_lines, wait_for

P_KEYS = {"name", "program", "instance", "state", "pid", "uptime_s", "restarts", "last_exit",
          "heartbeat", "status", "daemon", "bind_to", "requires", "health", "cpu_percent", "rss_bytes", "type",
          "completed", "output_lost_bytes"}


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_process_shape(p):
    assert set(p) == P_KEYS, f"keys differ from DESIGN.md: extra {set(p) - P_KEYS}, missing {P_KEYS - set(p)}"
    assert isinstance(p["name"], str) and isinstance(p["program"], str)
    assert is_int(p["instance"]) and p["instance"] >= 0
    assert p["state"] in STATES
    assert p["pid"] is None or (is_int(p["pid"]) and p["pid"] > 0)
    assert is_num(p["uptime_s"]) and p["uptime_s"] >= 0
    assert is_int(p["restarts"]) and p["restarts"] >= 0
    le = p["last_exit"]
    if le is not None:
        assert set(le) == {"cause", "code", "signal"}
        assert le["cause"] in ("exit", "signal", "heartbeat", "ready_timeout", "health", "dependency", "stopped")
        assert le["code"] is None or is_int(le["code"])
        assert le["signal"] is None or is_int(le["signal"])
    hb = p["heartbeat"]
    if hb is not None:
        assert set(hb) == {"timeout_s", "last_ping_age_s"}
        assert is_num(hb["timeout_s"])
        assert hb["last_ping_age_s"] is None or is_num(hb["last_ping_age_s"])
    assert p["status"] is None or isinstance(p["status"], str)
    assert isinstance(p["daemon"], bool)
    assert is_int(p["output_lost_bytes"]) and p["output_lost_bytes"] >= 0
    assert p["bind_to"] is None or isinstance(p["bind_to"], str)
    assert isinstance(p["requires"], list)
    for r in p["requires"]:
        assert set(r) == {"name", "condition"} and isinstance(r["name"], str), r
        assert r["condition"] in ("running", "healthy", "completed"), r
    h = p["health"]
    if h is not None:
        assert set(h) == {"state", "failures", "last_check_age_s", "last_error"}, h
        assert h["state"] in ("starting", "healthy", "unhealthy"), h
        assert is_int(h["failures"]) and h["failures"] >= 0, h
        assert h["last_check_age_s"] is None or is_num(h["last_check_age_s"]), h
        assert h["last_error"] is None or isinstance(h["last_error"], str), h
    assert p["type"] in ("simple", "notify", "oneshot")
    assert isinstance(p["completed"], bool)


SHAPE_CONFIG = """
[program:zeta]
command = {run}
priority = 10
start_secs = 0
[program:alpha]
command = {run}
priority = 10
start_secs = 0
heartbeat_timeout = 5s
[program:mid]
command = {run}
numprocs = 2
priority = 5
start_secs = 0
[program:idle]
command = {run}
priority = 1
autostart = no
[program:quitter]
command = {quit}
priority = 20
start_secs = 0
restart = never
"""


def start_shape(vigil, vigil_extra=""):
    vigil.start(SHAPE_CONFIG.format(run=W("run-forever"), quit=f"{W('crash-after')} 0 7"), vigil_extra=vigil_extra)
    for n in ("zeta", "alpha", "mid:0", "mid:1"):
        vigil.wait_running(n)
    vigil.wait_state("quitter", "EXITED")


def test_programs_json_shape_and_order(vigil):
    start_shape(vigil)
    r = vigil.get("/v1/programs")
    assert r.status == 200
    assert r.headers.get("Content-Type", "").startswith("application/json")
    doc = r.json()
    assert set(doc) == {"programs"}
    progs = doc["programs"]
    assert [p["name"] for p in progs] == ["idle", "mid:0", "mid:1", "alpha", "zeta", "quitter"]
    for p in progs:
        check_process_shape(p)
    by = {p["name"]: p for p in progs}
    assert by["mid:1"]["program"] == "mid" and by["mid:1"]["instance"] == 1
    assert by["alpha"]["program"] == "alpha" and by["alpha"]["instance"] == 0
    assert by["idle"]["state"] == "STOPPED" and by["idle"]["pid"] is None and by["idle"]["last_exit"] is None
    assert by["alpha"]["heartbeat"] == {"timeout_s": 5.0, "last_ping_age_s": None}
    assert by["zeta"]["heartbeat"] is None
    assert by["quitter"]["last_exit"] == {"cause": "exit", "code": 7, "signal": None}
    assert by["quitter"]["pid"] is None
    assert by["zeta"]["daemon"] is False and by["zeta"]["bind_to"] is None
    assert by["zeta"]["status"] is None
    # no requires, no health_check: [] and null; a simple program never completes
    for p in progs:
        assert p["requires"] == [] and p["health"] is None, p
        assert p["type"] == "simple" and p["completed"] is False, p


def test_programs_json_shape_core_keys(vigil):
    # Same as above without the "no extra keys" rule, so a failure of the
    # exact-keys check does not hide the rest.
    start_shape(vigil)
    for p in vigil.programs().values():
        assert P_KEYS <= set(p), f"missing keys: {P_KEYS - set(p)}"


def test_get_one_program(vigil):
    start_shape(vigil)
    r = vigil.get("/v1/programs/zeta")
    assert r.status == 200
    p = r.json()
    assert p["name"] == "zeta"
    assert P_KEYS <= set(p)
    r = vigil.get("/v1/programs/mid:1")
    assert r.status == 200 and r.json()["name"] == "mid:1"


def test_unknown_name_is_404(vigil):
    start_shape(vigil)
    for method, path in [("GET", "/v1/programs/nosuch"), ("POST", "/v1/programs/nosuch/start"),
                         ("POST", "/v1/programs/nosuch/stop"), ("POST", "/v1/programs/nosuch/restart"),
                         ("POST", "/v1/programs/nosuch/signal?sig=HUP"), ("GET", "/v1/programs/mid:7")]:
        r = http(vigil.sock, method, path)
        assert r.status == 404, (method, path, r)
        assert "error" in r.json() and isinstance(r.json()["error"], str)


def test_start_stop_restart_by_program_instance_and_all(vigil):
    start_shape(vigil)
    old = {name: p["pid"] for name, p in vigil.programs().items()}

    r = vigil.post("/v1/programs/mid/stop")
    assert r.status == 200, r
    vigil.wait_state("mid:0", "STOPPED")
    vigil.wait_state("mid:1", "STOPPED")
    assert vigil.state("zeta") == "RUNNING"
    assert pid_gone(old["mid:0"]) and pid_gone(old["mid:1"])

    r = vigil.post("/v1/programs/mid:1/start")
    assert r.status == 200, r
    vigil.wait_running("mid:1")
    assert vigil.state("mid:0") == "STOPPED"

    r = vigil.post("/v1/programs/zeta/restart")
    assert r.status == 200, r
    p = wait_for(lambda: (q := vigil.program("zeta"))["state"] == "RUNNING" and q["pid"] != old["zeta"] and q,
                 what="zeta to run under a new pid")
    assert p["restarts"] >= 1
    assert pid_gone(old["zeta"])

    r = vigil.post("/v1/programs/all/stop")
    assert r.status == 200, r
    for name in vigil.programs():
        vigil.wait_state(name, ("STOPPED", "EXITED"))
    r = vigil.post("/v1/programs/all/start")
    assert r.status == 200, r
    for n in ("idle", "mid:0", "mid:1", "alpha", "zeta"):
        vigil.wait_running(n)


def test_signal_is_delivered(vigil):
    out = vigil.path("sig")
    vigil.start(f"""
[program:sigs]
command = {W('record-signals')} {out}
start_secs = 0
""")
    vigil.wait_running("sigs")
    wait_for(lambda: read_lines(out), what="record-signals ready")
    r = vigil.post("/v1/programs/sigs/signal?sig=HUP")
    assert r.status == 200, r
    wait_for(lambda: f"signal {signal.SIGHUP.value}" in read_lines(out), what="worker to record SIGHUP")
    r = vigil.post("/v1/programs/sigs/signal?sig=SIGUSR2")
    assert r.status == 200, r
    wait_for(lambda: f"signal {signal.SIGUSR2.value}" in read_lines(out), what="worker to record SIGUSR2")
    r = vigil.post(f"/v1/programs/sigs/signal?sig={signal.SIGUSR1.value}")
    assert r.status == 200, r
    wait_for(lambda: f"signal {signal.SIGUSR1.value}" in read_lines(out), what="worker to record SIGUSR1")
    assert vigil.state("sigs") == "RUNNING"


def test_signal_bad_requests(vigil):
    vigil.start(f"""
[program:idle]
command = {W('run-forever')}
autostart = no
[program:up]
command = {W('run-forever')}
start_secs = 0
""")
    vigil.wait_running("up")
    r = vigil.post("/v1/programs/up/signal")
    assert r.status == 400 and "error" in r.json()
    r = vigil.post("/v1/programs/up/signal?sig=NOPE")
    assert r.status == 400 and "error" in r.json()
    # not running: not possible in this state
    r = vigil.post("/v1/programs/idle/signal?sig=HUP")
    assert r.status == 409 and "error" in r.json()


def test_healthz_and_metrics(vigil):
    start_shape(vigil)
    r = vigil.get("/healthz")
    assert r.status == 200
    doc = r.json()
    assert isinstance(doc, dict)
    r = vigil.get("/metrics")
    assert r.status == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain")
    text = r.body.decode()
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$')
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        assert sample.match(line), f"not a Prometheus sample line: {line!r}"
    assert 'name="zeta"' in text


def test_healthz_reports_fatal(vigil):
    vigil.start(f"""
[program:broken]
command = {exec_fails_at_run_time(vigil.path('missing'))}
start_secs = 0
restart = never
""")
    vigil.wait_state("broken", "FATAL")
    r = vigil.get("/healthz")
    assert r.status != 200, "a FATAL program is not healthy"


def test_shutdown_endpoint(vigil):
    start_shape(vigil)
    pids = [p["pid"] for p in vigil.programs().values() if p["pid"]]
    r = vigil.post("/v1/shutdown")
    assert r.status == 200
    assert vigil.wait_exit() == 0
    for pid in pids:
        assert pid_gone(pid)
    assert not os.path.exists(vigil.sock)


def test_unknown_endpoint_404_and_wrong_method_4xx(vigil):
    start_shape(vigil)
    r = vigil.get("/v2/nothing")
    assert r.status == 404 and "error" in r.json()
    r = vigil.get("/v1/programs/zeta/stop")
    assert r.status in (404, 405), r


def test_oversized_body_is_413(vigil):
    start_shape(vigil)
    body = b"x" * (70 * 1024)
    req = (b"POST /v1/programs/zeta/stop HTTP/1.1\r\nHost: localhost\r\n"
           b"Content-Type: application/json\r\nConnection: close\r\n"
           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    reply = raw_http(vigil.sock, req)
    status_line = reply.split(b"\r\n", 1)[0]
    assert status_line.split()[1:2] == [b"413"], f"expected 413, got {status_line!r}"
    # nothing was done
    assert vigil.state("zeta") == "RUNNING"
    assert vigil.proc.poll() is None
    assert vigil.get("/healthz").status == 200


def test_oversized_body_413_with_curl(vigil):
    start_shape(vigil)
    big = vigil.path("big")
    with open(big, "wb") as f:
        f.write(b"{" + b" " * (65 * 1024) + b"}")
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", vigil.sock,
                        "-X", "POST", "-H", "Expect: 100-continue", "--data-binary", f"@{big}", "http://localhost/v1/programs/zeta/restart"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "413", (r.stdout, r.stderr)
    assert vigil.program("zeta")["restarts"] == 0


def test_oversized_error_body_is_json(vigil):
    # DESIGN: errors come back as {"error": "..."}.
    start_shape(vigil)
    body = b"x" * (70 * 1024)
    req = (b"POST /v1/programs/zeta/stop HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    reply = raw_http(vigil.sock, req)
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert b" 413 " in head.split(b"\r\n")[0] + b" "
    assert "error" in json.loads(payload), f"413 body is not a JSON error: {payload[:200]!r}"


def as_nobody(cmd):
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd


def test_peer_not_allowed_is_403(vigil):
    start_shape(vigil, vigil_extra="socket_mode = 0666")
    assert oct(os.stat(vigil.sock).st_mode & 0o777) == oct(0o666)
    curl = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", vigil.sock]
    r = subprocess.run(as_nobody(curl + ["http://localhost/v1/programs"]), capture_output=True, text=True,
                       timeout=60)
    body, _, code = r.stdout.rpartition("\n")
    assert code == "403", (r.stdout, r.stderr)
    assert "error" in json.loads(body)
    # nor may nobody act
    r = subprocess.run(as_nobody(curl + ["-X", "POST", "http://localhost/v1/programs/zeta/stop"]),
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.rpartition("\n")[2] == "403", (r.stdout, r.stderr)
    assert vigil.wait_running("zeta")["restarts"] == 0
    # root still may
    r = subprocess.run(curl + ["http://localhost/v1/programs"], capture_output=True, text=True, timeout=60)
    assert r.stdout.rpartition("\n")[2] == "200"


def test_peer_in_socket_group_is_allowed(vigil):
    vigil.start(f"""
[program:up]
command = {W('run-forever')}
start_secs = 0
""", vigil_extra="socket_mode = 0666\nsocket_group = nogroup")
    vigil.wait_running("up")
    curl = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", vigil.sock,
            "http://localhost/v1/programs"]
    r = subprocess.run(as_nobody(curl), capture_output=True, text=True, timeout=60)
    assert r.stdout == "200", (r.stdout, r.stderr)


def test_reload_applies_the_difference(vigil):
    run = W("run-forever")
    vigil.start(f"""
[program:keep]
command = {run}
start_secs = 0
[program:change]
command = {run}
start_secs = 0
[program:drop]
command = {run}
start_secs = 0
""")
    keep = vigil.wait_running("keep")["pid"]
    change = vigil.wait_running("change")["pid"]
    drop = vigil.wait_running("drop")["pid"]
    vigil.write_config(f"""
[program:keep]
command = {run}
start_secs = 0
[program:change]
command = {run} {vigil.path('changed')}
start_secs = 0
[program:new]
command = {run}
start_secs = 0
""")
    r = vigil.post("/v1/reload")
    assert r.status == 200, r
    doc = r.json()
    assert {k: sorted(doc.get(k, ["<missing>"])) for k in ("added", "removed", "changed", "unchanged")} == {
        "added": ["new"], "removed": ["drop"], "changed": ["change"], "unchanged": ["keep"]}, doc
    vigil.wait_running("new")
    wait_for(lambda: pid_gone(drop), what="removed program to be stopped")
    assert "drop" not in vigil.programs()
    p = wait_for(lambda: (q := vigil.program("change"))["state"] == "RUNNING" and q["pid"] != change and q,
                 what="changed program to be restarted")
    assert p["pid"] != change
    assert vigil.program("keep")["pid"] == keep, "an unchanged program was touched by reload"


def test_reload_with_bad_config_changes_nothing(vigil):
    run = W("run-forever")
    vigil.start(f"""
[program:keep]
command = {run}
start_secs = 0
""")
    keep = vigil.wait_running("keep")["pid"]
    vigil.write_config(f"""
[program:keep]
command = {run}
stop_timeout = ten
""")
    r = vigil.post("/v1/reload")
    assert r.status == 400, r
    assert "stop_timeout" in r.json()["error"]
    assert vigil.program("keep")["pid"] == keep
    assert vigil.state("keep") == "RUNNING"


def test_log_endpoint(vigil):
    vigil.start(f"""
[program:talker]
command = {W('run-forever')}
start_secs = 0
stdout = file:{vigil.path('talker.out')}
stderr = file:{vigil.path('talker.err')}
""")
    vigil.wait_running("talker")
    wait_for(lambda: "hello on stdout" in open(vigil.path("talker.out")).read(), what="worker output")
    wait_for(lambda: "hello on stderr" in open(vigil.path("talker.err")).read(), what="worker output")
    r = vigil.get("/v1/programs/talker/log?stream=stdout&lines=10")
    assert r.status == 200, r
    assert b"hello on stdout" in r.body
    r = vigil.get("/v1/programs/talker/log?stream=stderr&lines=10")
    assert r.status == 200, r
    assert b"hello on stderr" in r.body


def test_sighup_reloads(vigil):
    run = W("run-forever")
    vigil.start(f"""
[program:keep]
command = {run}
start_secs = 0
""")
    keep = vigil.wait_running("keep")["pid"]
    with open(vigil.conf, "a") as f:
        f.write(f"\n[program:added]\ncommand = {run}\nstart_secs = 0\n")
    vigil.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "added" in vigil.programs(), what="SIGHUP to load the new program")
    vigil.wait_running("added")
    assert vigil.program("keep")["pid"] == keep


def test_non_utf8_input_gets_json_errors(vigil):
    """Regression: a name or signal that decodes to bytes that are not
    UTF-8 still gets a JSON error body."""
    vigil.start(f"""
[program:x]
command = {W('run-forever')}
start_secs = 0
""")
    vigil.wait_running("x")
    r = vigil.get("/v1/programs/%FF")
    assert r.status == 404, r
    body = r.json()
    assert "error" in body and isinstance(body["error"], str), body
    r = vigil.post("/v1/programs/x/signal?sig=%FF")
    assert r.status == 400, r
    body = r.json()
    assert "error" in body and isinstance(body["error"], str), body
    # the same with a name that does not exist
    r = vigil.post("/v1/programs/%FF/signal?sig=%FF")
    assert r.status in (400, 404), r
    assert "error" in r.json(), r
    assert vigil.state("x") == "RUNNING"
