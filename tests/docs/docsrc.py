"""What the documentation must cover, read from the code itself: the config
options the parser accepts, vigild's and vigilctl's usage texts, the state
and exit cause names, the ctl routes. And what the scdoc sources define.
A new option, command or state without documentation then fails
tests/docs."""

import os
import re
import subprocess

from vigiltest import VIGILCTL, VIGILD

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# meson sets it (tests/meson.build); the pages are there when scdoc was found
DOC_BUILD_DIR = os.environ.get("VIGIL_DOC_DIR", os.path.join(SOURCE_ROOT, "build", "doc"))
PAGES = ("vigild.8", "vigilctl.1", "vigil.conf.5")


def source(*parts):
    with open(os.path.join(SOURCE_ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def scd(page):
    """The scdoc source of PAGE (such as "vigil.conf.5")."""
    return source("doc", page + ".scd")


def _c_block(text, start, end="\n}"):
    """The text from the first START to the next END (a table or a function)."""
    i = text.index(start)
    return text[i:text.index(end, i)]


def program_options():
    """The names in daemon/config_option.c's program_options table."""
    table = _c_block(source("daemon", "config_option.c"), "program_options[] = {", "\n};")
    return set(re.findall(r'^\s*(?:\{|CHOICE\()\s*"([a-z_]+)"', table, re.M))


def vigil_options():
    """The [vigil] options config_vigil_option in daemon/config.c compares
    the name with."""
    body = _c_block(source("daemon", "config.c"), "static void config_vigil_option(")
    return set(re.findall(r'strcmp\(name, "([a-z_]+)"\)', body))


def documented_options():
    """Options vigil.conf(5) defines: "*name* = ..." at the start of a
    definition line (several on one line: "*a* = _X_, *b* = _Y_")."""
    out = set()
    for line in scd("vigil.conf.5").splitlines():
        if line.startswith("*"):
            out |= set(re.findall(r"\*([a-z_]+)\* =", line))
    return out


def defined_terms(page):
    """The bold words a definition line of PAGE starts with (unindented,
    "*word*..."): commands, states, signals, exit codes."""
    return set(re.findall(r"^\*([^*\s]+)\*", scd(page), re.M))


def _run_help(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def help_text(binary):
    r = _run_help([binary, "--help"])
    assert r.returncode == 0, f"{binary} --help: exit {r.returncode}: {r.stderr}"
    return r.stdout


def options_in(text):
    """Every -x and --word of a usage text."""
    return set(re.findall(r"(?<![\w$-])(--?[a-zA-Z][\w-]*)", text))


def help_options(binary):
    return options_in(help_text(binary))


def command_help_options(command):
    """The options `vigilctl COMMAND --help` names, or None when this
    vigilctl has no per-command help."""
    r = _run_help([VIGILCTL, command, "--help"])
    return options_in(r.stdout) if r.returncode == 0 else None


def vigilctl_commands():
    """The commands vigilctl --help lists: the first word of each indented
    line ("  status   show processes"; "start|stop|restart" counts as
    three), but for the usage lines ("       vigilctl --version")."""
    out = set()
    for line in help_text(VIGILCTL).splitlines():
        m = re.match(r"^\s+([a-z][a-z|-]*)(?:\s|$)", line)
        if m and m.group(1) != "vigilctl":
            out |= set(m.group(1).split("|"))
    return out


def vigild_options():
    return help_options(VIGILD)


def state_names():
    return set(re.findall(r'\[STATE_[A-Z]+\] = "([A-Z]+)"', source("common", "state.c")))


def exit_causes():
    body = _c_block(source("daemon", "program.c"), "const char *exit_cause_name(")
    return set(re.findall(r'return "([a-z_]+)";', body))


def ctl_routes():
    """("GET", "/v1/programs"), ("POST", "/start"), ...: exact paths, and
    the actions on /v1/programs/NAME as "/ACTION"."""
    table = _c_block(source("daemon", "ctl_route.c"), "} routes[] = {", "\n};")
    out = set()
    for method, shape, path in re.findall(r"EVHTTP_REQ_([A-Z]+), ROUTE_([A-Z]+), (NULL|\"[^\"]*\")", table):
        if path != "NULL":
            out.add((method, path.strip('"') if shape == "EXACT" else "/" + path.strip('"')))
    return out
