"""The 监控报活 demo (conf/examples/demo.conf, as meson generated it) runs:
the alive-pinger's pings reach vigild, the worker misbehaves on purpose
and gets restarted, first after its crash, then after its hang."""

import os

import pytest

from vigiltest import DEMO_CONF


def test_demo_config_runs(vigil):
    if not os.path.exists(DEMO_CONF):
        pytest.fail(f"demo config {DEMO_CONF!r} not built (VIGIL_DEMO_CONF)")
    with open(DEMO_CONF) as f:
        text = f.read()
    assert "/tmp/vigil-demo" in text
    # its own folder instead of the fixed /tmp/vigil-demo.* paths, so runs
    # never collide; everything else as shipped
    text = text.replace("/tmp/vigil-demo", vigil.path("demo"))
    with open(vigil.conf, "w") as f:
        f.write(text)
    vigil.sock = vigil.path("demo.sock")
    vigil.start()

    worker = vigil.wait_running("report-worker")
    pinger = vigil.wait_running("alive-pinger")
    assert pinger["daemon"] is True and pinger["bind_to"] == "report-worker", pinger
    # pings seen: the pinger vouches for the worker
    pinger = vigil.wait_program("alive-pinger", lambda p: p["heartbeat"]["last_ping_age_s"] is not None,
                                "a first ping from the alive-pinger")
    assert pinger["heartbeat"]["timeout_s"] == 3.0, pinger
    assert pinger["heartbeat"]["last_ping_age_s"] < 3.0, pinger
    vigil.wait_program("report-worker", lambda p: (p["status"] or "").startswith("report #"), "its STATUS= progress")

    # run 0 crashes during its second report (about 5.5s in): restarted at once
    p = vigil.wait_program("report-worker", lambda p: p["restarts"] >= 1, "a restart after the crash", timeout=40)
    assert p["last_exit"]["cause"] == "exit" and p["last_exit"]["code"] == 3, p
    assert p["pid"] != worker["pid"]
    # run 1 hangs: the pinger stops vouching and vigild restarts the worker
    p = vigil.wait_program("report-worker",
                           lambda p: p["last_exit"]["cause"] == "heartbeat" and p["state"] == "RUNNING",
                           "a restart after the hang (cause heartbeat)", timeout=40)
    assert p["restarts"] >= 2, p
    vigil.wait_running("alive-pinger", not_pid=pinger["pid"])
