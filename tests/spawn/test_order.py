"""numprocs naming and priority order (start ascending, stop descending)."""

import signal

from vigiltest import W, pid_gone, read_lines, wait_for

PID_MAX = int(open("/proc/sys/kernel/pid_max").read())


def forked_before(a, b):
    """pid a was allocated before pid b (pids grow, wrapping at pid_max)."""
    return 0 < (b - a) % PID_MAX < PID_MAX // 2


def test_numprocs_names(vigil):
    vigil.start(f"""
[program:pool]
command = {W('report-env')} {vigil.path('out_%(process_num)d')}
numprocs = 3
start_secs = 0
[program:solo]
command = {W('run-forever')}
start_secs = 0
""")
    names = list(vigil.programs())
    assert names == ["pool:0", "pool:1", "pool:2", "solo"]
    for i in range(3):
        p = vigil.wait_running(f"pool:{i}")
        assert p["program"] == "pool" and p["instance"] == i
        text = wait_for(lambda: open(vigil.path(f"out_{i}")).read(), what=f"pool:{i} report")
        env = dict(l[4:].split("=", 1) for l in text.splitlines() if l.startswith("env "))
        assert int(text.split("\n")[0].split()[1]) == p["pid"]
        assert env.get("VIGIL_PROCESS_NUM", str(i)) == str(i)
    solo = vigil.wait_running("solo")
    assert solo["name"] == "solo" and solo["program"] == "solo" and solo["instance"] == 0
    assert vigil.ctl("status", "pool:2").returncode == 0
    r = vigil.ctl("stop", "pool:1")
    assert r.returncode == 0, r.stderr
    assert [vigil.state(f"pool:{i}") for i in range(3)] == ["RUNNING", "STOPPED", "RUNNING"]


def order_config(vigil):
    log = vigil.path("order")
    return log, f"""
[program:c_late]
command = {W('order-log')} {log} c_late
priority = 30
start_secs = 0
[program:a_early]
command = {W('order-log')} {log} a_early
priority = 10
start_secs = 0
[program:b_mid]
command = {W('order-log')} {log} b_mid
priority = 20
numprocs = 2
start_secs = 0
[program:b_amid]
command = {W('order-log')} {log} b_amid
priority = 20
start_secs = 0
"""


def test_priority_start_ascending_and_stop_descending(vigil):
    log, conf = order_config(vigil)
    vigil.start(conf)
    order = ["a_early", "b_amid", "b_mid:0", "b_mid:1", "c_late"]
    assert list(vigil.programs()) == order
    pids = [vigil.wait_running(n)["pid"] for n in order]
    # spawned in this order: each pid was forked before the next
    for a, b in zip(pids, pids[1:]):
        assert forked_before(a, b), f"start order is not by priority: pids {list(zip(order, pids))}"
    wait_for(lambda: len([l for l in read_lines(log) if l.startswith("start")]) == 5, what="5 starts logged")

    vigil.proc.send_signal(signal.SIGTERM)
    assert vigil.wait_exit() == 0
    stops = [l.split()[1] for l in read_lines(log) if l.startswith("stop")]
    assert len(stops) == 5, read_lines(log)
    prio = {"a_early": 10, "b_amid": 20, "b_mid": 20, "c_late": 30}
    got = [prio[s] for s in stops]
    assert got == sorted(got, reverse=True), f"stop order is not descending priority: {stops}"
    for pid in pids:
        assert pid_gone(pid)


def test_priority_order_with_ctl_all(vigil):
    log, conf = order_config(vigil)
    vigil.start(conf)
    for n in ("a_early", "c_late"):
        vigil.wait_running(n)
    r = vigil.ctl("stop", "all")
    assert r.returncode == 0, r.stderr
    r = vigil.ctl("start", "all")
    assert r.returncode == 0, r.stderr
    order = ["a_early", "b_amid", "b_mid:0", "b_mid:1", "c_late"]
    pids = [vigil.program(n)["pid"] for n in order]
    for a, b in zip(pids, pids[1:]):
        assert forked_before(a, b), f"start all is not by priority: {list(zip(order, pids))}"
