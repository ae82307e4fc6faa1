"""What vigilctl and vigild print (issue 10, items 3, 13 and 14): operator
actions in vigild's log with their peer, reload's summary, --json of every
command that prints, seconds to the millisecond, the HEARTBEAT column of
a stopped process, the restarts metric's help, status --names."""

import json
import os
import re
import subprocess

from vigiltest import VIGILCTL, W, wait_for

RUN = W("run-forever")


def section(name, **opts):
    lines = [f"[program:{name}]", f"command = {RUN}", "start_secs = 0"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def ctl_with_pid(vigil, *args):
    """Runs vigilctl; returns (CompletedProcess-like, its pid)."""
    p = subprocess.Popen([VIGILCTL, "-s", vigil.sock] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=vigil.env(), stdin=subprocess.DEVNULL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (args, p.returncode, out, err)
    return p.pid


def test_operator_actions_are_logged_with_their_peer(vigil):
    vigil.start(section("web") + section("db"))
    vigil.wait_all_running("web", "db")
    uid = os.getuid()
    for args, what in ((["restart", "web"], "restart web"), (["stop", "db"], "stop db"),
                       (["start", "db"], "start db"), (["signal", "HUP", "db"], "signal HUP db"),
                       (["reload"], "reload")):
        pid = ctl_with_pid(vigil, *args)
        line = f"info: {what} requested by uid {uid} (pid {pid})"
        wait_for(lambda: line in vigil.log(), what=lambda: f"{line!r} in vigild's log:\n{vigil.log()[-2000:]}")
    pid = ctl_with_pid(vigil, "shutdown")
    assert vigil.wait_exit() == 0
    assert f"info: shutdown requested by uid {uid} (pid {pid})" in vigil.log()
    # a status is no action
    assert "status" not in "".join(ln for ln in vigil.log().splitlines() if "requested by" in ln)


def test_reload_prints_a_summary_or_json(vigil):
    vigil.start(section("web") + section("api") + section("old") + section("same"))
    vigil.wait_all_running("web", "api", "old", "same")
    r = vigil.ctl("reload")
    assert r.returncode == 0 and r.stdout == "nothing changed\n", (r.stdout, r.stderr)
    vigil.write_config(section("web", priority=5) + section("api", priority=6) + section("db") + section("same"))
    r = vigil.ctl("reload")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 changed, 1 added, 1 removed: api, web; db; old\n" or \
        r.stdout == "2 changed, 1 added, 1 removed: web, api; db; old\n", r.stdout
    vigil.write_config(section("web", priority=5) + section("api", priority=6) + section("db", priority=1)
                       + section("same"))
    r = vigil.ctl("reload", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["added"], doc["removed"], doc["changed"]) == ([], [], ["db"]), doc
    assert sorted(doc["unchanged"]) == ["api", "same", "web"], doc


def test_json_of_every_command_that_prints(vigil):
    vigil.start(section("web") + section("pool", numprocs=2))
    vigil.wait_all_running("web", "pool:0", "pool:1")
    for args in (["restart", "web"], ["stop", "pool"], ["start", "pool", "--no-block"]):
        r = vigil.ctl(*args, "--json")
        assert r.returncode == 0, (args, r.stderr)
        names = sorted(p["name"] for p in json.loads(r.stdout)["programs"])
        assert names == (["web"] if "web" in args else ["pool:0", "pool:1"]), (args, r.stdout)
    doc = json.loads(vigil.ctl("stop", "web", "--json").stdout)
    assert [p["state"] for p in doc["programs"]] == ["STOPPED"], doc
    r = vigil.ctl("shutdown", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"status": "stopped"}, r.stdout
    assert vigil.wait_exit() == 0


def decimals(text, key):
    return [m.group(1) for m in re.finditer(r'"%s":\s*-?\d+\.?(\d*)' % key, text)]


def test_seconds_are_rounded_to_the_millisecond(vigil):
    vigil.start(section("web", heartbeat_timeout="2.5s", type="simple"))
    vigil.wait_running("web")
    wait_for(lambda: vigil.program("web")["uptime_s"] > 0.01, what="some uptime")
    raw = vigil.get("/v1/programs").text
    r = vigil.ctl("status", "--json")
    assert r.returncode == 0, r.stderr
    for text in (raw, r.stdout):
        ups = decimals(text, "uptime_s")
        assert ups and all(len(d) <= 3 for d in ups), text
        assert all(len(d) <= 3 for d in decimals(text, "timeout_s")), text
    assert '"timeout_s": 2.5' in r.stdout, r.stdout


def test_stopped_process_heartbeat_is_a_dash(vigil):
    vigil.start(section("hb", heartbeat_timeout="30s", autostart="no"))
    r = vigil.ctl("status", "hb")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    header, row = r.stdout.splitlines()
    cells = dict(zip(header.split(), row.split()))
    assert cells["STATE"] == "STOPPED" and cells["HEARTBEAT"] == "-", r.stdout
    assert "waiting" not in r.stdout


def test_restarts_metric_help_says_what_it_counts(vigil):
    vigil.start(section("web"))
    pid = vigil.wait_running("web")["pid"]
    assert vigil.ctl("restart", "web").returncode == 0
    vigil.wait_running("web", not_pid=pid)
    text = vigil.get("/metrics").text
    help_line = next(ln for ln in text.splitlines() if ln.startswith("# HELP vigil_process_restarts_total"))
    assert "requested" in help_line and "automatic" in help_line, help_line
    assert 'vigil_process_restarts_total{name="web"} 1' in text, text
    assert vigil.program("web")["restarts"] == 1


def test_status_names_for_completion(vigil):
    vigil.start(section("web") + section("pool", numprocs=2) + section("idle", autostart="no"))
    vigil.wait_all_running("web", "pool:0", "pool:1")
    r = vigil.ctl("status", "--names")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(["web", "pool", "pool:0", "pool:1", "idle"]), r.stdout
    r = vigil.ctl("status", "pool", "--names")
    assert r.returncode == 0 and r.stdout.splitlines() == ["pool", "pool:0", "pool:1"], r.stdout
