"""vigild's own stderr (DESIGN.md, "vigild"; `stdout =`, `output_prefix`):
one descriptor shared by every writer, so nothing overwrites anything
under `vigild > f 2>&1`; vigild's lines timestamped with their level;
`inherit` lines prefixed with the process name, whole lines only;
errors at error priority on the journal's stream, every line of them."""

import os
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from vigiltest import VIGILD, clean_env, command, read_text, wait_for

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
VIGILD_LINE = re.compile(rf"^({STAMP}) vigild: (debug|info|notice|warning|err): (.+)$")
FLOOD = 20000


def numbers(lines, pattern):
    """The numbers of the lines matching pattern (one group), in order."""
    return [int(m.group(1)) for m in map(re.compile(pattern).match, lines) if m]


def journald_here():
    return os.access("/run/systemd/journal/socket", os.W_OK)


@pytest.mark.skipif(journald_here(), reason="a journald runs here: stdout = journal would not fall back")
def test_every_writer_of_stderr_shares_one_descriptor(vigil):
    """`vigild > f 2>&1` (no O_APPEND): vigild's own lines, the journal
    fallback and inherited output all land whole, none over another."""
    path = vigil.path("all.log")
    vigil.log_paths.add(path)  # sanitizer reports land there
    vigil.write_config(f"""
[program:jr]
command = {command('output-worker.py', 'flood', FLOOD)}
stdout = journal
stderr = stdout
restart = never
start_secs = 0
[program:inh]
command = {command('output-worker.py', 'flood', FLOOD)}
restart = never
start_secs = 0
[program:flap]
command = /bin/true
restart = always
start_secs = 0
restart_delay = 5ms
restart_delay_max = 5ms
start_limit_burst = 1000000
""")
    with open(path, "wb") as f:  # O_TRUNC, not O_APPEND: the shell's `>`
        vigil.start(stdout=f, stderr=subprocess.STDOUT)
    vigil.wait_state("jr", "EXITED")
    vigil.wait_state("inh", "EXITED")
    wait_for(lambda: read_text(path).count("flap: started pid") >= 100, what="a hundred restarts of flap")
    vigil.ctl("stop", "flap")
    vigil.signal(15)
    assert vigil.wait_exit() == 0
    lines = read_text(path).split("\n")
    assert lines[-1] == "", f"ends in a partial line: {lines[-1]!r}"
    lines = lines[:-1]
    jr = numbers(lines, r"^jr\[\d+\]: line (\d{8})$")
    assert jr == list(range(FLOOD)), f"journal fallback lines lost or cut: {len(jr)} of {FLOOD}"
    inh = numbers(lines, r"^inh  \| line (\d{8})$")
    assert inh == list(range(FLOOD)), f"inherited lines lost or cut: {len(inh)} of {FLOOD}"
    started = numbers(lines, r".* vigild: info: flap: started pid (\d+)$")
    ended = set(numbers(lines, r".* vigild: info: flap: pid (\d+) exited with code 0$"))
    assert len(started) >= 100 and not set(started[:-1]) - ended, "vigild's own lines lost or cut"
    odd = [l for l in lines if not (VIGILD_LINE.match(l) or re.match(r"^(jr\[\d+\]: |inh  \| )line \d{8}$", l))]
    assert not odd, f"{len(odd)} lines that are none of the three: {odd[:5]}"
    assert "all programs stopped; exiting" in lines[-1]


def test_own_lines_start_with_local_time_and_level(vigil):
    # a zone of the POSIX TZ form, so no tzdata is needed: UTC+05:30
    vigil.start(f"[program:a]\ncommand = {command('output-worker.py', 'lines', 1)}\nstart_secs = 0\n",
                env={"TZ": "XYZ-5:30"})
    vigil.wait_running("a")
    first = vigil.log().split("\n")[0]
    m = VIGILD_LINE.match(first)
    assert m, first
    stamp = datetime.fromisoformat(m.group(1))
    assert stamp.utcoffset() == timedelta(hours=5, minutes=30), first
    assert abs(stamp - datetime.now(timezone.utc)) < timedelta(minutes=1), first
    assert re.search(rf"^{STAMP} vigild: info: a: started pid \d+$", vigil.log(), re.M), vigil.log()
    assert "\033" not in vigil.log(), "colours in a file"


def test_inherit_lines_carry_the_padded_name_whole(vigil):
    vigil.start(f"""
[program:web]
command = {command('output-worker.py', 'lines', 2, 1)}
numprocs = 2
start_secs = 0
[program:a]
command = /bin/sh -c 'printf "hel"; sleep 0.3; echo "lo"; printf "no newline"'
start_secs = 0
restart = never
[program:json]
command = /bin/echo '{{"level":"info"}}'
start_secs = 0
restart = never
output_prefix = no
""")
    want_out = ["web:0 | out 0", "web:0 | out 1", "web:1 | out 0", "web:1 | out 1", "a     | hello",
                "a     | no newline", '{"level":"info"}']
    wait_for(lambda: all(w in vigil.stdout_text().split("\n") for w in want_out),
             what=lambda: f"every line on vigild's stdout (got {vigil.stdout_text()!r})")
    wait_for(lambda: "web:1 | err 0\n" in vigil.log(), what="stderr prefixed on vigild's stderr")
    assert not [l for l in vigil.stdout_text().split("\n") if l and l not in want_out], vigil.stdout_text()


def test_partial_line_of_a_process_is_flushed_at_exit(vigil):
    vigil.start("[program:p]\ncommand = /bin/sh -c 'printf \"last words\"; exec sleep 1000'\nstart_secs = 0\n")
    vigil.wait_running("p")
    vigil.signal(15)
    assert vigil.wait_exit() == 0
    assert "p | last words\n" in vigil.stdout_text(), vigil.stdout_text()


def read_pty(master, until, timeout=10):
    """What arrives on a pty's master side until `until` is in it."""
    data = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(master, False)
    while until not in data and time.monotonic() < deadline:
        try:
            data += os.read(master, 65536)
        except BlockingIOError:
            time.sleep(0.02)
        except OSError:  # EIO: every writer closed the terminal
            break
    return data.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("no_color", [False, True], ids=["tty", "tty-NO_COLOR"])
def test_colours_only_on_a_terminal_without_no_color(vigil, no_color):
    master, slave = os.openpty()
    try:
        vigil.write_config(f"[program:web]\ncommand = {command('output-worker.py', 'lines', 1)}\nstart_secs = 0\n")
        vigil.start(stdout=slave, stderr=slave, env={"NO_COLOR": "1"} if no_color else {})
        os.close(slave)
        slave = None
        data = read_pty(master, b"out 0\n").decode()
        vigil.signal(15)
        assert vigil.wait_exit() == 0
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    if no_color:
        assert "\033" not in data and "web | out 0\n" in data, data
        assert re.search(rf"^{STAMP} vigild: info: web: started pid", data, re.M), data
    else:
        assert re.search(r"\033\[[0-9;]+mweb \|\033\[0m out 0\n", data), data
        assert re.search(rf"\033\[2m{STAMP}\033\[0m vigild: \033\[1minfo:\033\[0m web: started pid", data), data


# -- the journal's stream: JOURNAL_STREAM names vigild's stderr ----------

class JournalStream:
    """A stream socket pair standing in for journald's: vigild gets one
    end as stderr with JOURNAL_STREAM naming it, the test reads the other."""

    def __init__(self):
        import socket
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        st = os.fstat(self.theirs.fileno())
        self.env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        self.data = b""
        self.ours.setblocking(False)

    def lines(self):
        while True:
            try:
                chunk = self.ours.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.data += chunk
        return self.data.decode().split("\n")[:-1]

    def close(self):
        self.ours.close()
        self.theirs.close()


BAD = "[program:x]\ncommand = /bin/true\nstop_timeout = ten\nbogus_option = 1\n"


def write_bad(vigil):
    with open(vigil.path("bad.conf"), "w") as f:
        f.write(f"[vigil]\nsocket = {vigil.sock}\n{BAD}")
    return vigil.path("bad.conf")


@pytest.mark.parametrize("check", [False, True], ids=["start", "check"])
def test_config_errors_are_errors_on_the_journal(vigil, check):
    bad = write_bad(vigil)
    js = JournalStream()
    try:
        r = subprocess.run([VIGILD, "-c", bad] + (["--check"] if check else []), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=js.theirs, env=clean_env(**js.env), timeout=30)
        assert r.returncode == 2
        lines = js.lines()
    finally:
        js.close()
    assert len(lines) >= 3, lines
    assert all(l.startswith("<3>") for l in lines), lines
    assert f"<3>{bad}:5: [program:x] stop_timeout: " in "\n".join(lines), lines
    assert any(l.startswith(f"<3>{bad}:6: ") and "bogus_option" in l for l in lines), lines
    assert lines[-1] == ("<3>vigild: configuration has errors" if check
                         else "<3>configuration has errors; nothing started"), lines


def test_reload_error_details_are_errors_on_the_journal(vigil):
    js = JournalStream()
    try:
        vigil.write_config("")
        vigil.start(stderr=js.theirs, env=js.env)
        wait_for(lambda: any(l.startswith("<6>vigild ") and " started " in l for l in js.lines()),
                 what="vigild's start on the stream")
        with open(vigil.conf, "a") as f:
            f.write(BAD)
        vigil.signal(1)
        wait_for(lambda: any("bogus_option" in l for l in js.lines()), what="the reload error on the stream")
        lines = js.lines()
        i = next(k for k, l in enumerate(lines) if "reload: configuration has errors" in l)
        block = [l for l in lines[i:] if "[program:x]" in l or "configuration has errors" in l]
        assert len(block) == 3 and all(l.startswith("<3>") for l in block), lines[i:]
        assert all(re.match(r"^<[0-7]>", l) for l in lines), [l for l in lines if not re.match(r"^<[0-7]>", l)]
        vigil.signal(15)
        assert vigil.wait_exit() == 0
    finally:
        js.close()


def test_prefix_width_follows_a_reload(vigil):
    a = f"[program:a]\ncommand = {command('output-worker.py', 'lines', 1)}\nstart_secs = 0\n"
    vigil.start(a)
    wait_for(lambda: "a | out 0\n" in vigil.stdout_text(), what="a's line, padded to itself")
    vigil.write_config(a + "[program:longer-name]\ncommand = /bin/true\nautostart = no\n")
    assert vigil.ctl("reload").returncode == 0
    vigil.ctl("signal", "USR2", "a")
    wait_for(lambda: "a           | tick 1\n" in vigil.stdout_text(),
             what=lambda: f"a's line padded to longer-name (got {vigil.stdout_text()!r})")
