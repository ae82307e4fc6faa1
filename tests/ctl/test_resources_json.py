"""cpu_percent and rss_bytes of the process JSON, the CPU% and MEM columns
of `vigilctl status` and the two /metrics series, with a cgroup per
process and without (VIGIL_CGROUP=off: /proc/PID/stat and the process's
session). resource-worker spins, idles, or touches memory (itself or in
a child) and says "ready" in a file once it does."""

import os

import pytest

from vigiltest import command, wait_for

from test_health import parse_metrics

MB = 1 << 20
# one reading of a process's figures serves the requests of half a second
# (daemon/proc_stat.c): polls further apart than that each see a new one
FRESH = 0.6

MODES = {"cgroup": {}, "pgroup": {"VIGIL_CGROUP": "off"}}


def worker(vigil, name, *args):
    return f"[program:{name}]\ncommand = {command('resource-worker', *args, vigil.path(name + '.ready'))}\n" \
           f"start_secs = 0\n"


def start(vigil, mode, *programs):
    vigil.start("".join(programs), env=MODES[mode])
    for section in programs:
        name = section.split("]")[0].split(":")[1]
        if "autostart = no" not in section:
            wait_for(lambda n=name: os.path.exists(vigil.path(n + ".ready")), what=f"{name} ready")


@pytest.mark.parametrize("mode", MODES)
def test_busy_and_idle_cpu(vigil, mode):
    start(vigil, mode, worker(vigil, "spin", "spin"), worker(vigil, "idle", "idle"))
    seen = []

    def busy_and_idle():
        procs = vigil.programs()
        seen.append((procs["spin"]["cpu_percent"], procs["idle"]["cpu_percent"]))
        return procs["spin"]["cpu_percent"] > 50 and procs["idle"]["cpu_percent"] < 5

    # a second apart: each is the share since the one before
    wait_for(busy_and_idle, interval=1.0, what=lambda: f"spin > 50 %, idle < 5 % (seen {seen})")
    assert all(isinstance(s, float) and isinstance(i, float) for s, i in seen), seen


@pytest.mark.parametrize("mode", MODES)
def test_rss_of_the_process_and_its_descendants(vigil, mode):
    start(vigil, mode, worker(vigil, "mem", "alloc", 50), worker(vigil, "kid", "child", 50),
          worker(vigil, "idle", "idle"))
    procs = vigil.programs()
    assert procs["mem"]["rss_bytes"] > 50 * MB, procs["mem"]
    assert procs["kid"]["rss_bytes"] > 50 * MB, procs["kid"]  # the child's pages count
    assert 0 < procs["idle"]["rss_bytes"] < 20 * MB, procs["idle"]


@pytest.mark.parametrize("mode", MODES)
def test_null_when_no_process_runs(vigil, mode):
    start(vigil, mode, worker(vigil, "idle", "idle"), worker(vigil, "off", "idle") + "autostart = no\n")
    off = vigil.program("off")
    assert off["pid"] is None and off["cpu_percent"] is None and off["rss_bytes"] is None, off
    assert isinstance(vigil.program("idle")["rss_bytes"], int)
    r = vigil.ctl("stop", "idle")
    assert r.returncode == 0, r.stderr
    idle = vigil.program("idle")
    assert idle["cpu_percent"] is None and idle["rss_bytes"] is None, idle


def columns(stdout):
    """The table as {name: {header: cell}}, cells cut at the header's column."""
    lines = stdout.splitlines()
    header = lines[0]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    return {cells[0]: dict(zip(names, cells))
            for cells in ([line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
                          for line in lines[1:])}


def test_status_columns(vigil):
    start(vigil, "cgroup", worker(vigil, "spin", "spin"), worker(vigil, "mem", "alloc", 50),
          worker(vigil, "off", "idle") + "autostart = no\n")
    seen = []

    def spin_shows_busy():
        r = vigil.ctl("status")
        assert r.returncode == 0, r.stderr
        rows = columns(r.stdout)
        seen.append(rows["spin"]["CPU%"])
        return float(rows["spin"]["CPU%"]) > 50 and rows

    rows = wait_for(spin_shows_busy, interval=1.0, what=lambda: f"spin's CPU% > 50 (seen {seen})")
    mem = rows["mem"]["MEM"]
    assert mem.endswith("M") and 50 <= float(mem[:-1]) < 100, rows["mem"]
    assert rows["off"]["CPU%"] == "-" and rows["off"]["MEM"] == "-", rows["off"]


@pytest.mark.parametrize("mode", MODES)
def test_metrics(vigil, mode):
    start(vigil, mode, worker(vigil, "spin", "spin"), worker(vigil, "mem", "alloc", 50),
          worker(vigil, "off", "idle") + "autostart = no\n")

    def cpu_seconds():
        return parse_metrics(vigil.get("/metrics").text).get(
            ("vigil_process_cpu_seconds_total", frozenset({("name", "spin")})), 0)

    first = cpu_seconds()
    wait_for(lambda: cpu_seconds() > first + 0.3, interval=FRESH, what="spin's CPU seconds grow")
    r = vigil.get("/metrics")
    samples = parse_metrics(r.text)
    assert "# TYPE vigil_process_cpu_seconds_total counter" in r.text
    assert "# TYPE vigil_process_resident_memory_bytes gauge" in r.text
    assert samples[("vigil_process_resident_memory_bytes", frozenset({("name", "mem")}))] > 50 * MB
    # a process that does not run has no series (a 0 would read as a measurement)
    usage = ("vigil_process_cpu_seconds_total", "vigil_process_resident_memory_bytes")
    assert not [k for k in samples if k[0] in usage and ("name", "off") in k[1]], samples
