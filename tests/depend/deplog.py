"""Shared by the files of tests/depend: the record dep-worker keeps (one
file per test, every program appends to it) and config snippets.

dep-worker appends `start NAME PID T`, `stop NAME PID T` (SIGTERM) and
`exit NAME PID T CODE` (it ended alone), T in seconds of CLOCK_MONOTONIC,
so the tests assert order from what the workers saw, not from when the
test happened to look.
"""

import re
from collections import namedtuple

from vigiltest import command, read_lines, wait_for

Rec = namedtuple("Rec", "kind name pid t code")

# dep-worker writes its `start` line after exec, a little after vigild
# forked it: a spawn that waited for start_secs is seen at least
# start_secs - EXEC_SLACK after its requirement's own `start` line.
EXEC_SLACK = 0.2


class DepLog:
    """The record file `deps` in a Vigil's folder, and commands writing it."""

    def __init__(self, vigil, name="deps"):
        self.vigil = vigil
        self.path = vigil.path(name)

    def cmd(self, name, ms=None, code=0, gate=None):
        """A `command` line: dep-worker recording as NAME; with ms it exits
        with code after ms milliseconds (counted once the file `gate` in
        the Vigil's folder exists, if given), else it runs until SIGTERM."""
        args = [self.path, name]
        if ms is not None:
            args += [ms, code] + ([self.vigil.path(gate)] if gate else [])
        return command("dep-worker", *args)

    def open_gate(self, gate):
        """Creates the gate file; returns the monotonic time it did."""
        return self.vigil.touch(gate)

    def records(self, kind=None, name=None):
        out = []
        for line in read_lines(self.path):
            f = line.split()
            rec = Rec(f[0], f[1], int(f[2]), float(f[3]), int(f[4]) if len(f) > 4 else None)
            if (kind is None or rec.kind == kind) and (name is None or rec.name == name):
                out.append(rec)
        return out

    def wait(self, kind, name, count=1, timeout=None):
        """Waits until NAME has `count` records of kind; returns the last
        one of them."""
        kw = {} if timeout is None else {"timeout": timeout}
        recs = wait_for(lambda: (lambda r: r if len(r) >= count else None)(self.records(kind, name)),
                        what=lambda: f"{count} '{kind}' record(s) of {name} (have {self.text()!r})", **kw)
        return recs[count - 1]

    def running(self, *names):
        """Waits until every named process is RUNNING and its worker wrote
        its `start` line (from then on it records a SIGTERM: before, the
        signal would kill it unrecorded); returns {name: pid}."""
        pids = self.vigil.wait_all_running(*names)
        for n, pid in pids.items():
            wait_for(lambda: any(r.pid == pid for r in self.records("start", n)),
                     what=lambda: f"the start line of {n} (pid {pid}) in {self.text()!r}")
        return pids

    def one(self, kind, name):
        """The only record of kind for NAME (asserts there is exactly one).
        Waits for it: a process with start_secs = 0 is RUNNING before the
        worker wrote its `start` line."""
        self.wait(kind, name)
        recs = self.records(kind, name)
        assert len(recs) == 1, f"expected one '{kind}' of {name}: {self.text()}"
        return recs[0]

    def order(self, kind):
        """Names with a record of kind, in the order of their timestamps."""
        return [r.name for r in sorted(self.records(kind), key=lambda r: r.t)]

    def text(self):
        try:
            with open(self.path) as f:
                return f.read()
        except FileNotFoundError:
            return ""


def section(name, cmd, **opts):
    """A [program:NAME] section; option values as given (underscored keys)."""
    lines = [f"[program:{name}]", f"command = {cmd}"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def names_in(output):
    """The process names (words, `prog:N` kept whole) in vigilctl's output."""
    return set(re.findall(r"[A-Za-z0-9_.:-]+", output.replace(": ", " ")))
