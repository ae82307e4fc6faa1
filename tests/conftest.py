"""Shared by every pytest file under tests/ (pytest.ini makes this folder
the root): tests/pylib on the import path, and the harness's fixtures
(`vigil`, `vigil_factory`; see pylib/vigiltest)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pylib"))
from vigiltest.fixtures import pytest_runtest_makereport, vigil, vigil_factory  # noqa: E402,F401
