"""[vigil] http_listen (DESIGN.md): a TCP listener that serves only
GET /healthz, GET /metrics and GET / ; everything else is 404, other
methods 405, and nothing there can change anything. Bad addresses are
config errors at file:line; a port that cannot be bound stops vigild
before any program starts; a reload that changes it says it needs a
restart."""

import os
import socket
import subprocess

import pytest

from httplisten import free_port, get, metric_names, wait_listening
from vigiltest import VIGILD, command, wait_for


def start(vigil, programs, port):
    vigil.start(programs, vigil_extra=f"http_listen = 127.0.0.1:{port}")
    wait_listening(vigil, port)


def sleeper(name, **opts):
    lines = [f"[program:{name}]", f"command = {command('run-forever')}", "start_secs = 0"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def test_healthz_and_metrics_are_those_of_the_ctl_socket(vigil):
    port = free_port()
    start(vigil, sleeper("a") + sleeper("b"), port)
    vigil.wait_all_running("a", "b")
    tcp, ctl = get(port, "/healthz"), vigil.get("/healthz")
    assert tcp.status == ctl.status == 200, (tcp, ctl)
    assert tcp.json() == ctl.json() and tcp.json()["status"] == "ok", (tcp, ctl)
    assert tcp.json()["states"]["RUNNING"] == 2
    assert tcp.headers["Content-Type"] == "application/json"
    tcp, ctl = get(port, "/metrics"), vigil.get("/metrics")
    assert tcp.status == 200 and tcp.headers["Content-Type"].startswith("text/plain; version=0.0.4"), tcp
    assert metric_names(tcp.text) == metric_names(ctl.text) and "vigil_up" in metric_names(tcp.text)
    assert 'vigil_process_state{name="a",program="a",state="RUNNING"} 1' in tcp.text
    # a scraper or a browser may add a query string: the path decides
    assert get(port, "/healthz?probe=1").status == 200


def test_healthz_is_503_with_a_fatal_program(vigil):
    port = free_port()
    start(vigil, sleeper("a") + "[program:bad]\ncommand = /bin/false\nstart_limit_burst = 1\n"
          "restart_delay = 10ms\n", port)
    vigil.wait_state("bad", "FATAL")
    tcp = get(port, "/healthz")
    assert tcp.status == 503 and tcp.json()["status"] == "degraded", tcp
    assert tcp.json() == vigil.get("/healthz").json()


def test_everything_else_is_404_or_405_and_changes_nothing(vigil):
    port = free_port()
    start(vigil, sleeper("a"), port)
    pid = vigil.wait_running("a")["pid"]
    for path in ("/v1/programs", "/v1/programs/a", "/healthz/", "/metrics/x", "/index.html", "/%68ealthz"):
        r = get(port, path)
        assert r.status == 404 and "error" in r.json(), (path, r)
    for method, path in (("POST", "/v1/programs/a/stop"), ("POST", "/v1/shutdown"), ("POST", "/v1/reload"),
                         ("DELETE", "/v1/programs/a")):
        r = get(port, path, method=method, body=b"")
        assert r.status == 404, (method, path, r)
    for method in ("POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"):
        for path in ("/healthz", "/metrics", "/"):
            r = get(port, path, method=method, body=b"" if method in ("POST", "PUT", "PATCH") else None)
            assert r.status == 405 and r.headers.get("Allow") == "GET", (method, path, r)
    r = get(port, "/healthz", body=b"hello", headers={"Content-Length": "5"})
    assert r.status == 413, r
    assert vigil.program("a")["pid"] == pid and vigil.state("a") == "RUNNING"
    assert vigil.alive()


def test_connections_are_capped_and_freed(vigil):
    """At most 64 at a time; the next one hears 503 at once, and once the
    others close the listener serves again."""
    port = free_port()
    start(vigil, sleeper("a"), port)
    held = []
    try:
        for _ in range(64):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        # each is counted one loop turn after its accept: wait until the
        # next connection is refused rather than guessing
        def refused():
            r = get(port, "/healthz")
            return r if r.status == 503 and b"too many connections" in r.body else None
        r = wait_for(refused, 30, "a connection over the cap to be refused")
        assert r.json()["error"].startswith("too many connections"), r
    finally:
        for s in held:
            s.close()
    wait_for(lambda: get(port, "/healthz").status == 200, 30, "the listener to serve again")


@pytest.mark.parametrize("value, why", [
    ("127.0.0.1", "no port"),
    ("127.0.0.1:0", "is not a port"),
    ("127.0.0.1:65536", "is not a port"),
    ("[::1:9100", "without \"]\""),
    ("::1:9100", "in brackets"),
    ("no-such-host.invalid:9100", "cannot resolve"),
])
def test_bad_address_is_a_config_error_at_its_line(vigil, value, why):
    conf = vigil.write_config(sleeper("a"), vigil_extra=f"http_listen = {value}")
    r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r
    assert f"{conf}:4: [vigil] http_listen: " in r.stderr and why in r.stderr, r.stderr


def test_check_accepts_v4_v6_and_names(vigil):
    for value in ("127.0.0.1:9100", "0.0.0.0:9100", "[::1]:9100", "[::]:9100", "localhost:9100"):
        conf = vigil.write_config(sleeper("a"), vigil_extra=f"http_listen = {value}")
        r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (value, r)


def test_port_in_use_stops_vigild_before_any_program_starts(vigil):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        marker = vigil.path("started")
        vigil.start(f"[program:a]\ncommand = /bin/sh -c 'touch {marker}; exec sleep 100'\n",
                    vigil_extra=f"http_listen = 127.0.0.1:{port}", wait=False)
        assert vigil.wait_exit() == 1, vigil.log()[-3000:]
    log = vigil.log()
    assert f"{vigil.conf}:4: [vigil] http_listen: cannot listen on 127.0.0.1:{port}: Address already in use" in log, log
    assert not os.path.exists(marker), "a program started although vigild could not listen"


def test_address_not_of_this_host_stops_vigild(vigil):
    vigil.start(sleeper("a"), vigil_extra="http_listen = 192.0.2.1:9100", wait=False)  # TEST-NET-1
    assert vigil.wait_exit() == 1, vigil.log()[-3000:]
    assert f"{vigil.conf}:4: [vigil] http_listen: cannot listen on 192.0.2.1:9100" in vigil.log()


def test_ipv6_loopback(vigil):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 0))
        except OSError as e:
            pytest.skip(f"cannot bind ::1 here: {e}")
        port = s.getsockname()[1]
    vigil.start(sleeper("a"), vigil_extra=f"http_listen = [::1]:{port}")
    wait_for(lambda: get(port, "/healthz", host="::1").status == 200, 30, "the listener on [::1]")
    assert f"http: listening on [::1]:{port}" in vigil.log()


def test_reload_that_changes_it_needs_a_restart(vigil):
    port, other = free_port(), free_port()
    start(vigil, sleeper("a"), port)
    vigil.write_config(sleeper("a"), vigil_extra=f"http_listen = 127.0.0.1:{other}")
    r = vigil.reload()
    assert r.status == 200 and r.json()["restart_needed"] == ["http_listen"], r
    assert "http_listen changed; it takes effect when vigild restarts" in vigil.log()
    assert get(port, "/healthz").status == 200  # the old one stays
    vigil.write_config(sleeper("a"))
    assert vigil.reload().json()["restart_needed"] == ["http_listen"]
