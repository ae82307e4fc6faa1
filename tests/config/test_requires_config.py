"""vigild --check on the options of dependencies, one-shot tasks, health
checks and container mode (DESIGN.md "Dependencies and one-shot tasks",
"Active health checks", "Container mode"): good configs exit 0, bad ones
exit 2 with every error in one pass, each at the file:line of its option."""

import subprocess

import pytest

from vigiltest import VIGILD, W


def check(vigil, text, name="vigil.conf"):
    path = vigil.path(name)
    with open(path, "w") as f:
        f.write(f"[vigil]\nsocket = {vigil.sock}\n" + text)
    r = subprocess.run([VIGILD, "--check", "-c", path], capture_output=True, text=True, timeout=60,
                       env=vigil.env())
    return path, r


def errors_of(path, r):
    """The error lines of a rejected config, with the path shortened to FILE."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    return [line.replace(path, "FILE", 1) for line in r.stderr.splitlines() if line.startswith(path + ":")]


def test_good_config_with_every_new_option(vigil):
    run = W("run-forever")
    path, r = check(vigil, f"""
[program:db]
command = {run}
health_check = tcp://127.0.0.1:5432
health_interval = 2s
health_timeout = 1s
health_retries = 5
health_start_period = 30s
health_action = none

[program:migrate]
command = /bin/true
type = oneshot
restart = never
start_secs = 10s

[program:web]
command = {run}
numprocs = 2
requires = db:healthy, migrate:completed, cache
health_check = http://localhost:80%(process_num)02d/healthz?deep=1
critical = yes

[program:cache]
command = {run}
requires = migrate
health_check = exec:/bin/sh -c 'exit 0'

[program:pinger]
command = {run}
daemon = yes
bind_to = web
numprocs = 2
""")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_every_requires_error_in_one_pass(vigil):
    run = W("run-forever")
    path, r = check(vigil, f"""
[program:a]
command = {run}
requires = b, nosuch
[program:b]
command = {run}
requires = c
[program:c]
command = {run}
requires = a:healthy
[program:self]
command = {run}
requires = self
[program:kid]
command = {run}
daemon = yes
requires = a
""")
    # [vigil], its socket and an empty line come first; errors in line order
    assert errors_of(path, r) == [
        'FILE:6: [program:a] requires: no program named "nosuch"',
        "FILE:6: [program:a] requires: cycle a -> b -> c -> a",
        'FILE:12: [program:c] requires: "a:healthy", but [program:a] has no health_check',
        "FILE:15: [program:self] requires: a program cannot require itself",
        "FILE:19: [program:kid] requires: a daemon child (daemon = yes) starts with its parent and requires nothing",
    ]


def test_cycle_found_from_outside_is_named_once(vigil):
    path, r = check(vigil, """
[program:front]
command = true
requires = db
[program:db]
command = true
requires = cache:running
[program:cache]
command = true
requires = db
""")
    assert errors_of(path, r) == ["FILE:9: [program:db] requires: cycle db -> cache -> db"]


@pytest.mark.parametrize("value,message", [
    ("web:1", '"web:1" names one instance; require the program "web" (all its instances)'),
    ("a,,b", "empty entry (write NAME[:running|healthy|completed], ...)"),
    ("a, b,", "empty entry (write NAME[:running|healthy|completed], ...)"),
    ("a:up", '"up" is not a condition (running|healthy|completed)'),
    ("a, a:healthy", '"a" is named twice'),
])
def test_bad_requires_value(vigil, value, message):
    path, r = check(vigil, f"[program:a]\ncommand = true\nrequires = {value}\n")
    assert errors_of(path, r) == [f"FILE:5: [program:a] requires: {message}"]


def test_oneshot_errors(vigil):
    path, r = check(vigil, """
[program:m]
command = /bin/true
type = oneshot
restart = always
health_check = exec:/bin/true
""")
    assert errors_of(path, r) == [
        'FILE:7: [program:m] restart: "always" is not for type = oneshot, which runs to completion '
        "(use on-failure or never)",
        "FILE:8: [program:m] health_check: a oneshot has none (it runs to completion; require it with :completed)",
    ]


@pytest.mark.parametrize("value,message", [
    ("htp://x", '"htp://x" is not a health check (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)'),
    ("http://127.0.0.1/healthz",
     '"http://127.0.0.1/healthz": no port (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)'),
    ("https://127.0.0.1:443/",
     '"https://127.0.0.1:443/": https is not supported (probe the plain http port, or use exec: with curl)'),
    ("tcp://127.0.0.1:70000", '"tcp://127.0.0.1:70000": "70000" is not a port (1-65535)'),
    ("exec:", "exec: empty command"),
])
def test_bad_health_check(vigil, value, message):
    path, r = check(vigil, f"[program:a]\ncommand = true\n\nhealth_check = {value}\n")
    assert errors_of(path, r) == [f"FILE:6: [program:a] health_check: {message}"]


def test_health_check_host_that_does_not_resolve(vigil):
    path, r = check(vigil, "[program:a]\ncommand = true\nhealth_check = tcp://no-such-host.invalid:80\n")
    (line,) = errors_of(path, r)
    assert line.startswith('FILE:5: [program:a] health_check: cannot resolve "no-such-host.invalid": '), line


def test_health_timings_and_critical(vigil):
    path, r = check(vigil, """
[program:a]
command = true
health_check = tcp://127.0.0.1:1
health_timeout = 5s
health_interval = 2s
[program:kid]
command = true
daemon = yes
critical = yes
""")
    assert errors_of(path, r) == [
        "FILE:12: [program:kid] critical: a daemon child (daemon = yes) cannot be critical; mark its parent",
    ]
    for option, value, message in [("health_interval", "0", "must be more than 0"),
                                   ("health_retries", "0", '"0" is not a whole number from 1 to 1000'),
                                   ("health_action", "kill", '"kill" is not a health_action (restart|none)'),
                                   ("type", "forking", '"forking" is not a type (simple|notify|oneshot)')]:
        path, r = check(vigil, f"[program:a]\ncommand = true\n{option} = {value}\n")
        assert errors_of(path, r) == [f"FILE:5: [program:a] {option}: {message}"]
