"""Events through the real vigild (DESIGN.md "Events and hooks"): state
changes in order with seq growing by one, since= resumption, the lost
marker for a since older than the ring and for a follower that stopped
reading (vigild keeps answering meanwhile), heartbeat, health and reload
events, and the query checks of GET /v1/events."""

import time

from events_helpers import Follower, assert_no_gap, crash_loop, get_events, last_seq, wait_seq
from vigiltest import W, wait_for

RING = 1000


def test_state_events_in_order_and_since_resumes(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nstart_secs = 100ms\n"
                f"[program:crash]\ncommand = {W('crash-after')} 50 3\nrestart = never\nstart_secs = 0\n")
    vigil.wait_running("web")
    vigil.wait_state("crash", "EXITED")
    events = get_events(vigil)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert set(e) >= {"seq", "time", "name", "program", "event"}
        assert abs(e["time"] - time.time()) < 120 and round(e["time"], 3) == e["time"]
    web = [(e["from"], e["to"]) for e in events if e["name"] == "web"]
    assert web == [("STOPPED", "STARTING"), ("STARTING", "RUNNING")]
    crash = [e for e in events if e["name"] == "crash"]
    assert [(e["from"], e["to"]) for e in crash] == [("STOPPED", "STARTING"), ("STARTING", "RUNNING"),
                                                     ("RUNNING", "EXITED")]
    assert crash[-1]["last_exit"] == {"cause": "exit", "code": 3, "signal": None}
    # the pid of the process that ended, though none runs now
    assert crash[-1]["pid"] == crash[0]["pid"] and crash[0]["pid"] > 0
    assert crash[0]["program"] == "crash"

    # a consumer that saw up to seq N gets exactly what came after
    n = events[1]["seq"]
    assert get_events(vigil, f"since={n}") == events[n:]
    assert get_events(vigil, f"since={events[-1]['seq']}") == []
    r = vigil.ctl("restart", "web")
    assert r.returncode == 0, r.stderr
    more = get_events(vigil, f"since={events[-1]['seq']}")
    assert [(e["name"], e["from"], e["to"]) for e in more] == [
        ("web", "RUNNING", "STOPPING"), ("web", "STOPPING", "STARTING"), ("web", "STARTING", "RUNNING")]
    assert more[0]["seq"] == events[-1]["seq"] + 1
    assert more[1]["last_exit"]["cause"] == "stopped"


def test_follow_streams_new_events(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    vigil.wait_running("web")
    seen = last_seq(vigil)
    f = Follower(vigil.sock, f"since={seen - 1}&follow=1")
    try:
        # what came after since first, then what happens from now on
        f.read_until(lambda evs: len(evs) >= 1, "the backlog")
        assert f.events[0]["seq"] == seen
        assert vigil.ctl("stop", "web").returncode == 0
        evs = f.read_until(lambda evs: any(e.get("to") == "STOPPED" for e in evs), "web STOPPED")
        assert [(e["from"], e["to"]) for e in evs[1:]] == [("RUNNING", "STOPPING"), ("STOPPING", "STOPPED")]
        assert_no_gap(evs)
    finally:
        f.close()


def test_since_older_than_the_ring_gets_lost_first(vigil):
    vigil.start(crash_loop("loop", numprocs=4))
    wait_seq(vigil, RING + 200, "more events than the ring holds")
    assert vigil.ctl("stop", "loop").returncode == 0
    kept = get_events(vigil)
    assert len(kept) == RING
    assert [e["seq"] for e in kept] == list(range(kept[0]["seq"], kept[0]["seq"] + RING))
    # since=0 asked for everything: what the ring no longer has is counted
    events = get_events(vigil, "since=0")
    assert events[0] == {"event": "lost", "count": kept[0]["seq"] - 1}
    assert events[1:] == kept
    events = get_events(vigil, "since=5")
    assert events[0] == {"event": "lost", "count": kept[0]["seq"] - 6}
    # still in the ring: nothing lost
    mid = kept[500]["seq"]
    assert get_events(vigil, f"since={mid}") == kept[501:]
    assert get_events(vigil, f"since={kept[0]['seq'] - 1}") == kept


def test_stalled_follower_is_told_what_it_lost(vigil):
    vigil.start(crash_loop("loop", numprocs=8))
    start = last_seq(vigil)
    stalled = Follower(vigil.sock, f"since={start}&follow=1", rcvbuf=4096)
    try:
        # far more than a connection may hold: vigild goes on regardless
        t0 = time.monotonic()
        wait_seq(vigil, start + 6000, "6000 more events")
        for _ in range(5):
            t = time.monotonic()
            assert vigil.get("/v1/programs").status == 200
            assert time.monotonic() - t < 5
        evs = stalled.read_until(lambda evs: any(e["event"] == "lost" for e in evs[:-1]),
                                 "a lost marker followed by an event", timeout=120)
        lost = [e for e in evs if e["event"] == "lost"]
        assert lost[0]["count"] > 0
        assert evs[0]["seq"] == start + 1
        assert_no_gap(evs)
        del t0
    finally:
        stalled.close()
    vigil.ctl("stop", "loop")


def test_heartbeat_health_and_reload_events(vigil):
    programs = (f"[program:silent]\ncommand = {W('run-forever')}\nheartbeat_timeout = 300ms\n"
                "restart = never\nstart_secs = 0\n"
                f"[program:sick]\ncommand = {W('run-forever')}\nstart_secs = 0\nhealth_check = exec:false\n"
                "health_interval = 100ms\nhealth_timeout = 100ms\nhealth_retries = 1\nhealth_action = none\n")
    vigil.start(programs)
    vigil.wait_state("silent", "EXITED")

    def events_of(name):
        return [e for e in get_events(vigil) if e["name"] == name]

    hb = wait_for(lambda: [e for e in events_of("silent") if e["event"] == "heartbeat"], 30, "heartbeat event")
    assert hb[0]["pid"] > 0 and hb[0]["timeout_s"] == 0.3
    silent = events_of("silent")
    i = silent.index(hb[0])
    # the loss, then the kill it causes
    assert (silent[i + 1]["from"], silent[i + 1]["to"]) == ("RUNNING", "STOPPING")
    assert silent[-1]["last_exit"]["cause"] == "heartbeat"

    health = wait_for(lambda: [e for e in events_of("sick") if e["event"] == "health"], 30, "health event")
    assert (health[0]["from"], health[0]["to"]) == ("starting", "unhealthy")
    assert health[0]["failures"] == 1 and health[0]["last_error"] == "exit 1"

    with open(vigil.conf, "a") as f:
        f.write(f"[program:added]\ncommand = {W('run-forever')}\n")
    assert vigil.reload().status == 200
    reload = [e for e in get_events(vigil) if e["event"] == "reload"]
    assert len(reload) == 1
    assert reload[0]["added"] == ["added"] and reload[0]["removed"] == [] and reload[0]["changed"] == []
    assert reload[0]["name"] is None and reload[0]["program"] is None


def test_query_is_checked(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\n")
    for query in ("since=-1", "since=+1", "since=1x", "since=", "follow=2", "lines=3", "since=1&since=2"):
        r = vigil.get(f"/v1/events?{query}")
        assert r.status == 400, (query, r)
        assert "error" in r.json()
    # ahead of the newest event: a consumer of an earlier vigild
    r = vigil.get("/v1/events?since=99999")
    assert r.status == 400 and "since=0" in r.json()["error"]
    assert vigil.post("/v1/events").status == 405
