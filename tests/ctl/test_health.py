"""GET /healthz (200 with state counts, 503 once a program is FATAL) and
GET /metrics (Prometheus text with vigil_process_state per process)."""

import re

from vigiltest import STATES, wait_for

CONFIG = """
[program:ok]
command = /bin/sleep 1001
numprocs = 2
start_secs = 0
[program:bad]
command = /bin/false
start_secs = 1s
restart_delay = 50ms
start_limit_burst = 1
start_limit_interval = 60s
[program:idle]
command = /bin/sleep 1002
autostart = no
"""


def test_healthz_counts_and_degrades_on_fatal(vigil):
    vigil.start(CONFIG.replace("/bin/false", "/bin/sleep 1003").replace("start_secs = 1s", "start_secs = 0"))
    vigil.wait_all_running("ok:0", "ok:1", "bad")
    r = vigil.http("GET", "/healthz")
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ok", body
    assert body["states"]["RUNNING"] == 3 and body["states"]["STOPPED"] == 1, body
    assert set(STATES) <= set(body["states"]), body
    assert sum(body["states"].values()) == 4, body


def test_healthz_503_when_fatal_and_back_to_200(vigil):
    vigil.start(CONFIG)
    vigil.wait_state("bad", "FATAL")
    r = vigil.http("GET", "/healthz")
    assert r.status == 503, r
    body = r.json()
    assert body["states"]["FATAL"] == 1, body
    assert body["status"] != "ok", body
    # removing the fatal program by reload makes vigild healthy again
    vigil.write_config(CONFIG.split("[program:bad]")[0] + "[program:idle]" + CONFIG.split("[program:idle]")[1])
    assert vigil.reload().status == 200
    wait_for(lambda: vigil.http("GET", "/healthz").status == 200, what="healthz back to 200")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


def parse_metrics(text):
    """Checks the exposition format line by line; returns
    {(name, frozenset(labels)): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert not line.startswith("#"), f"stray comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"not Prometheus text: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def test_metrics(vigil):
    vigil.start(CONFIG)
    vigil.wait_all_running("ok:0", "ok:1")
    vigil.wait_state("bad", "FATAL")
    r = vigil.http("GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    samples = parse_metrics(r.text)
    assert samples[("vigil_up", frozenset())] == 1
    want = {"ok:0": "RUNNING", "ok:1": "RUNNING", "bad": "FATAL", "idle": "STOPPED"}
    for name, state in want.items():
        program = name.split(":")[0]
        per_state = {s: samples.get(("vigil_process_state",
                                     frozenset({("name", name), ("program", program), ("state", s)})))
                     for s in STATES}
        assert per_state[state] == 1, (name, per_state)
        assert sum(v for v in per_state.values() if v) == 1, (name, per_state)
    assert "# TYPE vigil_process_state gauge" in r.text
    # WAITING is a state like the others: every process has its series
    for name in want:
        key = ("vigil_process_state",
               frozenset({("name", name), ("program", name.split(":")[0]), ("state", "WAITING")}))
        assert samples.get(key) == 0, (name, key)
    # health series only for processes with a health_check: none here
    assert "# TYPE vigil_process_healthy gauge" in r.text
    assert "# TYPE vigil_health_checks_total counter" in r.text
    assert not [k for k in samples if k[0] in ("vigil_process_healthy", "vigil_health_checks_total")], samples
