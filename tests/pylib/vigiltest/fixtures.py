"""The pytest fixtures every suite uses (tests/conftest.py offers them):
`vigil` (one Vigil) and `vigil_factory` (as many as a test needs).

Teardown, even when the test failed: every vigild still running gets
SIGTERM and must exit 0, then everything the test left is SIGKILLed
(Vigil.terminate). A test that passed then fails if that went wrong or if
a vigild log holds a sanitizer report; its folder is removed. A failed
test keeps its folder and prints the log tails.
"""

import os
import shutil

import pytest

from .files import make_tmpdir, read_text
from .procs import sanitizer_reports
from .vigil import Vigil


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_call, ...) so a
    fixture's teardown can tell whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(node):
    return any(getattr(getattr(node, "rep_" + when, None), "failed", False) for when in ("setup", "call"))


def _problems(made):
    out = []
    for v in made:
        out += v.problems
        for path in sorted(v.log_paths):
            text = read_text(path)
            if sanitizer_reports(text):
                out.append(f"sanitizer report in {path}:\n{text[-6000:]}")
    return out


@pytest.fixture
def vigil_factory(request):
    """make() returns a new Vigil, each in a folder of its own (the first
    in the test's folder, the next ones below it)."""
    root = make_tmpdir("vg")
    os.chmod(root, 0o755)  # programs running as nobody write in it
    made = []

    def make():
        folder = root
        if made:
            folder = os.path.join(root, str(len(made)))
            os.mkdir(folder)
            os.chmod(folder, 0o755)
        made.append(Vigil(folder))
        return made[-1]

    yield make
    for v in made:
        v.terminate()
    problems = [] if _failed(request.node) else _problems(made)
    if _failed(request.node) or problems:
        for v in made:
            print(f"--- vigild log ({v.log_path}) ---\n{v.log()[-6000:]}")
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, "\n".join(problems)


@pytest.fixture
def vigil(vigil_factory):
    """A Vigil for this test; the test calls .start(programs)."""
    return vigil_factory()
