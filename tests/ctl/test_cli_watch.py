"""vigilctl status --watch [INTERVAL] (issue 10, item 15): on a terminal
(a pty here) the alternate screen, the table redrawn from the top left,
rows coloured by state unless NO_COLOR is set, and on Ctrl-C exit 0 with
the terminal given back; piped, the plain table again and again."""

import os
import pty
import select
import signal
import subprocess

from vigiltest import VIGILCTL, W, wait_for

CONFIG = f"""
[program:web]
command = {W('run-forever')}
start_secs = 0
[program:idle]
command = {W('run-forever')}
autostart = no
"""


def read_pty_until(fd, buf, cond, what):
    def check():
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf.extend(os.read(fd, 65536))
            except OSError:  # EIO: the child closed its side
                pass
        return cond(bytes(buf))
    wait_for(check, what=lambda: f"{what} in {bytes(buf)[-600:]!r}")


def watch_in_pty(vigil, env_extra):
    pid, fd = pty.fork()
    if pid == 0:  # the child: vigilctl on the pty, as a user at a terminal
        env = vigil.env(**env_extra)
        env["TERM"] = "xterm"
        os.execve(VIGILCTL, [VIGILCTL, "-s", vigil.sock, "status", "--watch", "0.2"], env)
    return pid, fd


def ctrl_c_and_wait(pid, fd, buf):
    os.write(fd, b"\x03")  # the terminal turns it into SIGINT
    read_pty_until(fd, buf, lambda b: b"\x1b[?1049l" in b, "the screen restored")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return status


def test_watch_on_a_terminal(vigil):
    vigil.start(CONFIG)
    vigil.wait_running("web")
    pid, fd = watch_in_pty(vigil, {})
    buf = bytearray()
    # two frames: redrawn in place, RUNNING in green
    read_pty_until(fd, buf, lambda b: b.count(b"\x1b[H") >= 2, "two frames")
    out = bytes(buf)
    assert out.startswith(b"\x1b[?1049h\x1b[?25l"), out[:80]
    assert b"Every 0.2s: vigilctl status" in out
    assert b"\x1b[32mweb " in out and b"RUNNING" in out, out[-600:]
    assert b"\x1b[J" in out
    status = ctrl_c_and_wait(pid, fd, buf)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert bytes(buf).endswith(b"\x1b[?25h\x1b[?1049l"), bytes(buf)[-80:]


def test_watch_no_color(vigil):
    vigil.start(CONFIG)
    vigil.wait_running("web")
    pid, fd = watch_in_pty(vigil, {"NO_COLOR": "1"})
    buf = bytearray()
    read_pty_until(fd, buf, lambda b: b.count(b"\x1b[H") >= 2, "two frames")
    status = ctrl_c_and_wait(pid, fd, buf)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    out = bytes(buf)
    assert b"web " in out and b"\x1b[32m" not in out and b"\x1b[1m" not in out, out[-600:]
    assert b"\x1b[?1049h" in out  # still full screen: only colours go


def test_watch_piped_is_plain(vigil):
    vigil.start(CONFIG)
    vigil.wait_running("web")
    p = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "status", "--watch", "0.1", "web"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=vigil.env(), stdin=subprocess.DEVNULL)
    buf = bytearray()
    os.set_blocking(p.stdout.fileno(), False)

    def frames():
        chunk = p.stdout.read()
        if chunk:
            buf.extend(chunk)
        return bytes(buf).count(b"NAME ") >= 3

    wait_for(frames, what=lambda: f"three tables in {bytes(buf)!r}")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 0
    out = bytes(buf) + (p.stdout.read() or b"")
    assert b"\x1b" not in out, out
    assert out.startswith(b"Every 0.1s: vigilctl status web    "), out[:100]
    assert b"\nweb " in out and b"idle" not in out, out


def test_watch_exits_4_when_vigild_is_unreachable(vigil):
    os.makedirs(vigil.dir, exist_ok=True)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(VIGILCTL, [VIGILCTL, "-s", vigil.path("none.sock"), "status", "--watch"], vigil.env())
    buf = bytearray()
    read_pty_until(fd, buf, lambda b: b"not running" in b, "the error")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4, status
    assert b"\x1b[?1049h" not in bytes(buf)  # the error stays on the terminal
