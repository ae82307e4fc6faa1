"""conf/examples/container's vigil.conf run as a container runs it: vigild
as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc), with
only its paths and ports moved into the test's folder. Orphans land on
vigild and are reaped; SIGTERM stops everything in order and vigild exits
0; when the critical program ends for good vigild exits with its code,
and /healthz over TCP turns 503 while vigild stops."""

import os
import signal
import subprocess

import pytest

from containerconf import adapted
from httplisten import free_port, get, wait_listening
from vigiltest import children_of, command, read_file, wait_for

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def unshare_refusal():
    """Why unshare cannot make a PID namespace here, or None."""
    try:
        r = subprocess.run(UNSHARE + ["true"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "unshare (util-linux) is not installed"
    return None if r.returncode == 0 else f"unshare --pid refused here: {r.stderr.strip()}"


pytestmark = pytest.mark.skipif(unshare_refusal() is not None, reason=str(unshare_refusal()))


def nspid(pid):
    """pid's numbers, from the outermost PID namespace to its own."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def namespace_pids(pid1):
    """{pid inside: pid outside} of every process in pid1's PID namespace."""
    ns = os.readlink(f"/proc/{pid1}/ns/pid")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/ns/pid") == ns:
                out[nspid(int(d))[-1]] = int(d)
        except OSError:
            pass
    return out


def start_pid1(vigil):
    """Starts vigild as PID 1 of a new PID namespace; returns its pid out here."""
    vigil.start(prefix=UNSHARE)
    pid1 = wait_for(lambda: (children_of(vigil.pid) or [None])[0], 30, "vigild under unshare")
    assert nspid(pid1)[-1] == 1, f"vigild is not PID 1 of its namespace: NSpid {nspid(pid1)}"
    return pid1


def test_as_shipped_serves_reaps_orphans_and_stops_in_order_on_sigterm(vigil):
    listen, app = free_port(), free_port()
    orphan_out = vigil.path("orphan")
    adapted(vigil, listen, app, extra=f"\n[program:orphans]\ncommand = {command('orphan-maker', orphan_out)}\n"
                                      "start_secs = 0\n")
    pid1 = start_pid1(vigil)
    wait_listening(vigil, listen)
    vigil.wait_all_running("refresh", "app", "orphans")
    wait_for(lambda: get(app, "/").status == 200, 30, "the app to serve")
    assert b"hello from the container example" in get(app, "/").body
    h = wait_for(lambda: (r := get(listen, "/healthz")).status == 200 and r, 30, "/healthz 200")
    assert h.json()["status"] == "ok"
    # the orphan was re-parented to PID 1, vigild, which reaps it
    gpid, parent = map(int, wait_for(lambda: read_file(orphan_out), 30, "the orphan to report").split())
    assert parent == 1, f"the orphan went to {parent}, not to vigild (PID 1)"
    wait_for(lambda: gpid not in namespace_pids(pid1), 30, f"orphan {gpid} to be reaped by vigild")
    os.kill(pid1, signal.SIGTERM)
    assert vigil.wait_exit() == 0, vigil.log()[-3000:]
    log = vigil.log()
    assert log.index("app: stopping pid") < log.index("refresh: stopping pid"), log[-3000:]
    assert "all programs stopped; exiting" in log


def test_critical_failure_exits_with_its_code_and_healthz_turns_503_while_stopping(vigil):
    listen, app = free_port(), free_port()
    gate = vigil.path("gate")
    # the app ends with 3 when the gate opens; slow takes its stop_timeout
    # to stop, which keeps vigild stopping long enough to be probed
    adapted(vigil, listen, app, app_command=f"/bin/sh -c 'while [ ! -e {gate} ]; do sleep 0.02; done; exit 3'",
            extra=f"\n[program:slow]\ncommand = {command('ignore-term', vigil.path('slow.pid'))}\n"
                  "start_secs = 0\nstop_timeout = 3s\n")
    pid1 = start_pid1(vigil)
    wait_listening(vigil, listen)
    vigil.wait_all_running("refresh", "app", "slow")
    assert get(listen, "/healthz").status == 200
    vigil.touch("gate")

    def degraded_while_stopping():
        r = get(listen, "/healthz")
        return r if r.status == 503 and os.path.exists(f"/proc/{pid1}") else None

    r = wait_for(degraded_while_stopping, 30, "/healthz to turn 503 while vigild stops")
    assert r.json()["status"] == "degraded", r
    assert vigil.alive(), "vigild was gone before a probe could see 503"
    assert vigil.wait_exit() == 3, vigil.log()[-3000:]
    assert "app: critical program is" in vigil.log() and "vigild exits with 3" in vigil.log()
