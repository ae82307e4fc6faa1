"""Processes as /proc shows them, a clean environment for vigild, and
killing what a test left behind."""

import os
import time
import signal
import subprocess

# Variables a test's vigild must not inherit from whatever runs pytest
# (a systemd unit, a vigil-supervised shell, ...).
INHERITED_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "JOURNAL_STREAM", "VIGIL_SOCKET")

SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(")") + 2:].split()


def proc_stat(pid):
    """(state, ppid) of a pid from /proc, or None if it does not exist."""
    rest = _stat_fields(pid)
    return None if rest is None else (rest[0], int(rest[1]))


def proc_identity(pid):
    """(pid, start time) of a live pid, or None: unlike the pid alone it
    cannot name another process after the pid is reused."""
    rest = _stat_fields(pid)
    return None if rest is None else (pid, int(rest[19]))


def pid_alive(pid):
    """True if pid exists and is not a zombie (dead, not yet reaped)."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def pid_gone(pid):
    """True if pid no longer exists at all (exited and reaped)."""
    return proc_stat(pid) is None


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children_of(ppid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == ppid:
            out.append(pid)
    return out


def zombie_children(ppid):
    return [pid for pid in children_of(ppid) if (proc_stat(pid) or ("?",))[0] == "Z"]


def descendants_of(root):
    parent = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            parent[pid] = st[1]
    out, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        for pid, pp in parent.items():
            if pp == p and pid not in out:
                out.append(pid)
                frontier.append(pid)
    return out


def open_fds(pid):
    return sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))


def _read_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError):
        return None


PF_KTHREAD = 0x00200000


def _in_execve(pid):
    """Alive, not a zombie and not a kernel thread (which has no argv)."""
    rest = _stat_fields(pid)
    return rest is not None and rest[0] not in ("Z", "X") and not int(rest[6]) & PF_KTHREAD


def cmdline(pid):
    """pid's argv, [] for a zombie, None when it is gone. A process vigild
    has just spawned may still be inside execve: vigild resumes once the
    child has left vigild's memory, a moment before the kernel has set up
    the new argv, and /proc shows it empty meanwhile; that is waited out."""
    argv = _read_cmdline(pid)
    deadline = time.monotonic() + 2
    while argv == [] and _in_execve(pid) and time.monotonic() < deadline:
        time.sleep(0.001)
        argv = _read_cmdline(pid)
    return argv


def pids_with_arg(text):
    """Every live process but this one with `text` in an argument of its
    command line (a marker a test put there, such as a sleep length)."""
    me = os.getpid()
    return [pid for pid in all_pids()
            if pid != me and any(text in a for a in (cmdline(pid) or [])) and pid_alive(pid)]


def tagged_pids(tag):
    """Every live process but this one whose environment holds the
    VAR=value string `tag` (a test's vigild hands it down to all it runs)."""
    me = os.getpid()
    out = []
    needle = tag.encode()
    for pid in all_pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle + b"\0" in env or env.endswith(needle):
            st = proc_stat(pid)
            if st and st[0] != "Z":
                out.append(pid)
    return out


def kill_pids(pids):
    """SIGKILLs each pid, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_gracefully(proc, timeout):
    """SIGTERM to a running Popen, SIGKILL if it has not exited within
    timeout; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def clean_env(tag=None, **extra):
    """os.environ without INHERITED_VARS, plus tag ("VAR=value") and extra."""
    env = dict(os.environ)
    for k in INHERITED_VARS:
        env.pop(k, None)
    if tag:
        k, _, v = tag.partition("=")
        env[k] = v
    env.update(extra)
    return env


def sanitizer_reports(text):
    """The sanitizer markers found in a vigild log."""
    return [m for m in SANITIZER_MARKERS if m in text]
