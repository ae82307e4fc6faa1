"""vigilctl events: one readable line per event (local time, name,
from -> to, what ended it), NAME filtering, --json as vigild sends it,
-f following, and an unknown name."""

import json
import re
import subprocess

from events_helpers import get_events
from vigiltest import VIGILCTL, W

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  (\S+) +(.*)$")


def start(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nstart_secs = 0\n"
                f"[program:crash]\ncommand = {W('crash-after')} 0 3\nrestart = never\nstart_secs = 0\n")
    vigil.wait_running("web")
    vigil.wait_state("crash", "EXITED")


def test_readable_lines(vigil):
    start(vigil)
    r = vigil.ctl("events")
    assert r.returncode == 0, r.stderr
    lines = [LINE.match(line) for line in r.stdout.splitlines()]
    assert all(lines), r.stdout
    got = [(m.group(1), m.group(2).strip()) for m in lines]
    assert ("web", "STARTING -> RUNNING") in got
    assert ("crash", "RUNNING -> EXITED  exit code 3") in got
    assert len(got) == len(get_events(vigil))

    r = vigil.ctl("events", "web")
    assert r.returncode == 0, r.stderr
    assert {LINE.match(line).group(1) for line in r.stdout.splitlines()} == {"web"}

    r = vigil.ctl("events", "nosuch")
    assert r.returncode == 1 and "no such program: nosuch" in r.stderr and r.stdout == ""


def test_json_lines_are_vigilds(vigil):
    start(vigil)
    r = vigil.ctl("events", "crash", "--json")
    assert r.returncode == 0, r.stderr
    printed = [json.loads(line) for line in r.stdout.splitlines()]
    assert printed == [e for e in get_events(vigil) if e["name"] == "crash"]


def test_follow_prints_new_events(vigil):
    start(vigil)
    p = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "events", "web", "-f"], stdout=subprocess.PIPE, text=True,
                         env=vigil.env())
    try:
        # the kept events first: web's two
        assert "STOPPED -> STARTING" in p.stdout.readline()
        assert "STARTING -> RUNNING" in p.stdout.readline()
        assert vigil.ctl("stop", "web").returncode == 0
        assert "RUNNING -> STOPPING" in p.stdout.readline()
        assert "STOPPING -> STOPPED" in p.stdout.readline()
    finally:
        p.kill()
        p.wait()
