"""The programs of tests/workers, as meson built them into VIGIL_WORKERS,
and the files they write."""

import os
import sys

WORKERS = os.environ.get("VIGIL_WORKERS", "")
# The demo config meson generates (conf/examples/demo.conf.in).
DEMO_CONF = os.environ.get("VIGIL_DEMO_CONF", "")
# The Python workers run with the system python3: a `python3` on PATH may
# be a pyenv shim.
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def W(name):
    """Absolute path of the worker NAME (a binary, or a NAME.py script)."""
    path = os.path.join(WORKERS, name)
    mode = os.R_OK if name.endswith(".py") else os.X_OK
    assert os.access(path, mode), f"worker {path} is not built (VIGIL_WORKERS={WORKERS!r})"
    return path


def shell_word(s):
    """Quotes s for vigild's POSIX-shell-like command splitting."""
    if s and all(c.isalnum() or c in "-_./=:,@%+" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def command(worker, *args):
    """A config `command` line running the worker with args, each quoted;
    a .py worker runs under PY."""
    argv = ([PY] if worker.endswith(".py") else []) + [W(worker)] + [str(a) for a in args]
    return " ".join(shell_word(a) for a in argv)


def read_events(path):
    """notify-worker's event file (-o) as dicts: {"event": "ping", "pid": 12,
    "t": 3.2, ...} (t in seconds of CLOCK_MONOTONIC, comparable with
    time.monotonic()); [] before the file exists."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n")[:-1]:
        fields = line.split()
        ev = {"event": fields[0]}
        for field in fields[1:]:
            k, _, v = field.partition("=")
            ev[k] = v
        ev["pid"] = int(ev["pid"])
        ev["t"] = int(ev.pop("t_us")) / 1e6
        if "sig" in ev:
            ev["sig"] = int(ev["sig"])
        out.append(ev)
    return out


def read_kv(path):
    """A KEY=VALUE file (notify-worker --env-out); ValueError until it is
    complete."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        raise ValueError("incomplete")
    return dict(line.split("=", 1) for line in text.splitlines())
