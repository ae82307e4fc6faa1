"""Zombies, orphans, process groups."""

import os
import signal

from vigiltest import (W, children_of, open_fds, pid_alive, pid_gone, proc_stat, read_file,
                      wait_for, zombie_children)


def test_no_zombies_or_fd_leak_after_200_fast_crashes(vigil):
    vigil.start(f"""
[program:crasher]
command = {W('crash-after')} 0 1
restart = always
start_secs = 0
restart_delay = 10ms
restart_delay_max = 10ms
start_limit_burst = 100000
[program:steady]
command = {W('run-forever')}
start_secs = 0
""")
    vigil.wait_running("steady")
    fds_before = open_fds(vigil.pid)
    wait_for(lambda: vigil.program("crasher")["restarts"] >= 200, timeout=120,
             what="200 restarts of crasher", interval=0.05)
    p = vigil.program("crasher")
    # each crash is a failed start (it ends within 100 ms whatever
    # start_secs says), but the start limit is far away
    assert p["state"] != "FATAL", p
    assert p["last_exit"]["code"] == 1, p
    r = vigil.ctl("stop", "crasher")
    assert r.returncode == 0, r.stderr
    assert vigil.program("crasher")["state"] in ("STOPPED", "EXITED")
    # Exactly one child is left (steady); none of the 200 is a zombie.
    wait_for(lambda: not zombie_children(vigil.pid), what="no zombie children of vigild")
    kids = children_of(vigil.pid)
    assert kids == [vigil.program("steady")["pid"]], f"vigild children: {kids}"
    # No fd grew with the restarts.
    wait_for(lambda: len(open_fds(vigil.pid)) <= len(fds_before),
             what=f"vigild's open fds back to {len(fds_before)} (now {open_fds(vigil.pid)})")
    assert vigil.get("/healthz").status == 200


def test_orphan_is_reaped_by_vigild(vigil):
    out = vigil.path("orphan")
    vigil.start(f"""
[program:maker]
command = {W('orphan-maker')} {out}
start_secs = 0
""")
    vigil.wait_running("maker")
    text = wait_for(lambda: read_file(out), what="orphaned grandchild to report")
    gpid, new_parent = map(int, text.split())
    assert new_parent == vigil.pid, (
        f"orphan was re-parented to {new_parent}, not to vigild ({vigil.pid}): not a child subreaper")
    # The orphan exits right after reporting; vigild must reap it.
    wait_for(lambda: pid_gone(gpid), what=f"orphan {gpid} to be reaped (state now {proc_stat(gpid)})")
    assert not zombie_children(vigil.pid)
    # the program itself is untouched by the orphan's exit
    p = vigil.program("maker")
    assert p["state"] == "RUNNING" and p["restarts"] == 0


def grandchild_of(vigil, pidfile):
    text = wait_for(lambda: read_file(pidfile), what="grandchild to write its pid")
    gpid, parent = map(int, text.split())
    return gpid, parent


def test_kill_group_kills_grandchildren_on_stop(vigil):
    pidfile = vigil.path("gc")
    vigil.start(f"""
[program:fam]
command = {W('fork-grandchild')} {pidfile}
start_secs = 0
kill_group = yes
stop_timeout = 5s
""")
    p = vigil.wait_running("fam")
    gpid, parent = grandchild_of(vigil, pidfile)
    assert parent == p["pid"]
    assert pid_alive(gpid)
    r = vigil.ctl("stop", "fam")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not pid_alive(gpid), what=f"grandchild {gpid} to die with its group")
    wait_for(lambda: pid_gone(gpid), what=f"grandchild {gpid} to be reaped")
    assert vigil.program("fam")["last_exit"]["cause"] == "stopped"


def test_without_kill_group_only_the_main_process_is_signalled(vigil):
    # The counterpart of the test above: shows the grandchild check can fail.
    pidfile = vigil.path("gc")
    vigil.start(f"""
[program:fam]
command = {W('fork-grandchild')} {pidfile}
start_secs = 0
kill_group = no
stop_timeout = 5s
""")
    p = vigil.wait_running("fam")
    gpid, _ = grandchild_of(vigil, pidfile)
    vigil.extra_pids.append(gpid)
    r = vigil.ctl("stop", "fam")
    assert r.returncode == 0, r.stderr
    assert pid_gone(p["pid"]) or not pid_alive(p["pid"])
    assert pid_alive(gpid), "kill_group = no still signalled the grandchild"
    os.kill(gpid, signal.SIGKILL)
    wait_for(lambda: pid_gone(gpid), what="killed grandchild to be reaped by vigild")


def test_leftover_group_members_die_with_their_leader(vigil):
    # DESIGN: kill_group = yes -> signals go to the process group; when the
    # main process dies the rest of its group must not keep the old
    # resources for the restart.
    pidfile = vigil.path("gc")
    vigil.start(f"""
[program:fam]
command = {W('fork-grandchild')} {pidfile}
start_secs = 0
kill_group = yes
""")
    p = vigil.wait_running("fam")
    gpid, _ = grandchild_of(vigil, pidfile)
    os.remove(pidfile)
    os.kill(p["pid"], signal.SIGKILL)
    wait_for(lambda: pid_gone(gpid), what=f"old grandchild {gpid} to be killed and reaped")
    new_gpid, new_parent = grandchild_of(vigil, pidfile)
    assert new_gpid != gpid
    assert vigil.wait_running("fam")["pid"] == new_parent
