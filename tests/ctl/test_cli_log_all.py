"""One view of several processes' output (issue 10, item 5): `vigilctl
log all [-f]`, `log web db [-f]` interleave their lines after each
process's name. On the wire: GET /v1/programs/NAME/log where NAME is all,
a program with instances or a list "web,db" answers JSON lines
{"name","stream","line"} (application/x-ndjson); one process named by
its name keeps the plain text. One connection follows every ring it
names, and a reader that does not read never holds vigild up."""

import json
import os
import signal
import socket
import subprocess

from vigiltest import VIGILCTL, W, command, wait_for


def lines_worker(n, err=0):
    return command("output-worker.py", "lines", n, err)


CONFIG = f"""
[program:web]
command = {lines_worker(3, 1)}
start_secs = 0
numprocs = 2
[program:db]
command = {lines_worker(2)}
start_secs = 0
"""


def start(vigil, extra=""):
    vigil.start(CONFIG + extra)
    vigil.wait_all_running("web:0", "web:1", "db")
    wait_for(lambda: all(vigil.get(f"/v1/programs/{n}/log").text.count("\n") >= k
                         for n, k in (("web:0", 3), ("web:1", 3), ("db", 2))), what="every worker's lines")


def test_wire_format(vigil):
    start(vigil)
    r = vigil.get("/v1/programs/all/log")
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson", r
    got = [json.loads(ln) for ln in r.text.splitlines()]
    assert all(set(d) == {"name", "stream", "line"} and d["stream"] == "stdout" for d in got), got
    by = {}
    for d in got:
        by.setdefault(d["name"], []).append(d["line"])
    assert by == {"web:0": ["out 0", "out 1", "out 2"], "web:1": ["out 0", "out 1", "out 2"],
                  "db": ["out 0", "out 1"]}, by
    # a program with instances, and a list; each process once
    r = vigil.get("/v1/programs/web/log?stream=stderr")
    assert sorted((d["name"], d["stream"], d["line"]) for d in map(json.loads, r.text.splitlines())) == \
        [("web:0", "stderr", "err 0"), ("web:1", "stderr", "err 0")], r
    r = vigil.get("/v1/programs/db,web:1,db/log?lines=1")
    assert r.headers["Content-Type"] == "application/x-ndjson", r
    assert len(r.text.splitlines()) == 1, r  # the last line of the two processes together
    # one process by its name: plain text as before
    r = vigil.get("/v1/programs/db/log")
    assert r.headers["Content-Type"].startswith("text/plain") and r.text == "out 0\nout 1\n", r
    r = vigil.get("/v1/programs/db,nosuch/log")
    assert r.status == 404 and "nosuch" in r.json()["error"], r


def test_log_all_interleaves_with_names(vigil):
    start(vigil)
    r = vigil.ctl("log", "all")
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert len(rows) == 8, rows
    assert all(row.startswith(("web:0 | ", "web:1 | ", "db    | ")) for row in rows), rows
    assert [row for row in rows if row.startswith("db")] == ["db    | out 0", "db    | out 1"], rows
    r = vigil.ctl("log", "web:1", "db", "-n", "3")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stdout
    r = vigil.ctl("log", "db", "web", "--json")
    assert r.returncode == 0 and {json.loads(ln)["name"] for ln in r.stdout.splitlines()} == \
        {"db", "web:0", "web:1"}, r.stdout
    r = vigil.ctl("log", "db", "--json")
    assert [json.loads(ln) for ln in r.stdout.splitlines()] == [
        {"name": "db", "stream": "stdout", "line": "out 0"}, {"name": "db", "stream": "stdout", "line": "out 1"}]
    r = vigil.ctl("log", "db")
    assert r.stdout == "out 0\nout 1\n", r.stdout


def test_log_follow_of_several(vigil):
    start(vigil)
    p = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "web:1", "db", "-f", "-n", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=vigil.env())
    try:
        # ticks are sent until they are seen: the follow starts at some point
        got = []
        os.set_blocking(p.stdout.fileno(), False)

        def seen():
            for n in ("web:0", "web:1", "db"):
                os.kill(vigil.program(n)["pid"], signal.SIGUSR2)
            chunk = p.stdout.read()
            if chunk:
                got.extend(chunk.splitlines())
            return any(g.startswith("web:1 | tick") for g in got) and any(g.startswith("db    | tick") for g in got)

        wait_for(seen, what=lambda: f"ticks of web:1 and db in {got}")
        assert not any(g.startswith("web:0") for g in got), got
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_follow_continues_when_a_followed_program_goes(vigil):
    start(vigil)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(vigil.sock)
    s.settimeout(30)
    s.sendall(b"GET /v1/programs/all/log?lines=0&follow=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    # db goes with a reload; the follow keeps web's lines
    vigil.write_config(CONFIG.split("[program:db]")[0])
    assert vigil.reload().status == 200
    wait_for(lambda: "db" not in vigil.programs(), what="db removed")

    def tick_seen():
        nonlocal buf
        os.kill(vigil.program("web:0")["pid"], signal.SIGUSR2)
        s.settimeout(0.2)
        try:
            buf += s.recv(65536)
        except socket.timeout:
            pass
        return b'"name":"web:0","stream":"stdout","line":"tick' in buf

    wait_for(tick_seen, what=lambda: f"web:0's tick in {buf[-500:]!r}")
    s.close()


def test_slow_reader_of_several_never_holds_vigild_up(vigil):
    flood = command("output-worker.py", "flood", 200000)
    start(vigil, f"[program:flood]\ncommand = {flood}\nautostart = no\nstart_secs = 0\nrestart = never\n")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(vigil.sock)
    s.sendall(b"GET /v1/programs/flood,db/log?lines=0&follow=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    # not read while flood writes 200000 lines (~3 MB): vigild goes on
    assert vigil.ctl("start", "flood", "--no-block").returncode == 0
    vigil.wait_state("flood", "EXITED")
    assert "line 00199999" in vigil.get("/v1/programs/flood/log?lines=1").text
    assert vigil.get("/v1/programs").status == 200
    # read what was queued, then a new line of db: the skip is told first
    s.settimeout(0.5)
    data = b""
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    assert len(data) < 200000 * 40, len(data)  # bounded: not every line was queued
    assert b"line 00000000" in data, data[:300]

    def notice_seen():
        nonlocal data
        os.kill(vigil.program("db")["pid"], signal.SIGUSR2)
        try:
            data += s.recv(1 << 20)
        except socket.timeout:
            pass
        return b'{"skipped":' in data and b'"name":"db","stream":"stdout","line":"tick' in data

    wait_for(notice_seen, what=lambda: f"the skip notice and db's tick in {data[-400:]!r}")
    tail = data[data.index(b'{"skipped":'):]
    assert tail.index(b'{"skipped":') < tail.index(b'"name":"db"'), tail[:300]
    s.close()
