"""The ctl socket: a live one is never stolen, a stale one is replaced."""

import os
import socket
import stat

from vigiltest import W


def config(vigil, marker):
    return f"""
[program:svc]
command = {W('run-forever')} {marker}
start_secs = 0
"""


def test_live_socket_makes_second_vigild_refuse(vigil):
    vigil.start(config(vigil, vigil.path("first")))
    first = vigil.wait_running("svc")["pid"]
    second_conf = vigil.write_config(config(vigil, vigil.path("second")), path=vigil.path("second.conf"))
    p = vigil.spawn(conf=second_conf, log=vigil.path("second.log"))
    rc = vigil.wait_exit(p)
    assert rc != 0, "second vigild started on a live socket"
    log = open(vigil.path("second.log")).read()
    assert vigil.sock in log and "already" in log, log
    assert not os.path.exists(vigil.path("second")), "second vigild started its programs"
    # the first one is untouched and still answers on its socket
    assert vigil.proc.poll() is None
    assert stat.S_ISSOCK(os.stat(vigil.sock).st_mode)
    p = vigil.program("svc")
    assert p["pid"] == first and p["state"] == "RUNNING"
    assert vigil.ctl("status", "svc").returncode == 0


def test_stale_socket_is_replaced(vigil):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(vigil.sock)
    s.close()
    assert stat.S_ISSOCK(os.stat(vigil.sock).st_mode)
    vigil.start(config(vigil, vigil.path("m")))
    vigil.wait_running("svc")
    assert vigil.ctl("status", "svc").returncode == 0


def test_socket_mode(vigil):
    vigil.start(config(vigil, vigil.path("m")))
    assert stat.S_IMODE(os.stat(vigil.sock).st_mode) == 0o660
    vigil.ctl("shutdown")
    vigil.wait_exit()
    vigil.start(config(vigil, vigil.path("m")), vigil_extra="socket_mode = 0600")
    assert stat.S_IMODE(os.stat(vigil.sock).st_mode) == 0o600


def test_non_socket_file_is_not_removed(vigil):
    with open(vigil.sock, "w") as f:
        f.write("precious")
    vigil.write_config(config(vigil, vigil.path("m")))
    p = vigil.spawn()
    assert vigil.wait_exit(p) != 0
    assert open(vigil.sock).read() == "precious"
    assert not os.path.exists(vigil.path("m"))
