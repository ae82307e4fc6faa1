"""Reload and `requires` (DESIGN.md "Dependencies and one-shot tasks",
"vigild" reload): a changed `requires` is a change; removing a program
together with the `requires` naming it works, its dependents stopped
first; a changed requirement restarts its dependents after it; a cycle
brought in by reload is refused with the cycle named, nothing touched."""

from deplog import EXEC_SLACK, DepLog, section


def test_changing_requires_is_a_change(vigil):
    d = DepLog(vigil)
    db, cache = section("db", d.cmd("db"), start_secs=0), section("cache", d.cmd("cache"), start_secs=0)
    vigil.start(db + cache + section("web", d.cmd("web"), requires="db", start_secs=0))
    old = d.running("db", "cache", "web")
    vigil.write_config(db + cache + section("web", d.cmd("web"), requires="db, cache", start_secs=0))
    r = vigil.reload()
    assert r.status == 200, r
    body = r.json()
    assert body["changed"] == ["web"], body
    assert sorted(body["unchanged"]) == ["cache", "db"], body
    p = vigil.wait_running("web", not_pid=old["web"])
    assert p["requires"] == [{"name": "db", "condition": "running"}, {"name": "cache", "condition": "running"}], p
    ps = vigil.programs()
    assert (ps["db"]["pid"], ps["cache"]["pid"]) == (old["db"], old["cache"]), ps


def test_removing_a_requirement_with_its_requires_line(vigil):
    d = DepLog(vigil)
    vigil.start(section("db", d.cmd("db"), start_secs=0)
                + section("web", d.cmd("web"), requires="db", start_secs=0))
    old = d.running("db", "web")
    vigil.write_config(section("web", d.cmd("web"), start_secs=0))
    r = vigil.reload()
    assert r.status == 200, r
    body = r.json()
    assert body["removed"] == ["db"] and body["changed"] == ["web"], body
    p = vigil.wait_running("web", not_pid=old["web"])
    assert p["requires"] == [], p
    assert "db" not in vigil.programs()
    d.wait("stop", "db")
    # the old web, which required db, was stopped before db
    assert d.order("stop") == ["web", "db"], d.text()


def test_changed_requirement_restarts_its_dependents_after_it(vigil):
    d = DepLog(vigil)
    web = section("web", d.cmd("web"), requires="db", start_secs=0)
    vigil.start(section("db", d.cmd("db"), start_secs="500ms") + web)
    old = d.running("db", "web")
    vigil.write_config(section("db", d.cmd("db"), start_secs="500ms", environment="V=2") + web)
    r = vigil.reload()
    assert r.status == 200, r
    assert r.json()["changed"] == ["db"], r.json()
    new = {n: vigil.wait_running(n, not_pid=old[n])["pid"] for n in ("db", "web")}
    assert d.order("stop") == ["web", "db"], d.text()
    db2, web2 = d.wait("start", "db", count=2), d.wait("start", "web", count=2)
    assert web2.t - db2.t >= 0.5 - EXEC_SLACK, f"web started again before db was RUNNING: {d.text()}"


def test_cycle_brought_in_by_reload_is_refused(vigil):
    d = DepLog(vigil)
    vigil.start(section("a", d.cmd("a"), requires="b", start_secs=0)
                + section("b", d.cmd("b"), start_secs=0))
    old = d.running("a", "b")
    vigil.write_config(section("a", d.cmd("a"), requires="b", start_secs=0)
                       + section("b", d.cmd("b"), requires="a", start_secs=0))
    r = vigil.reload()
    assert r.status == 400, r
    err = r.json()["error"]
    assert "a -> b -> a" in err or "b -> a -> b" in err, err
    assert vigil.conf in err, err
    r = vigil.ctl("reload")
    assert r.returncode in (1, 2) and ("a -> b -> a" in r.stderr or "b -> a -> b" in r.stderr), \
        (r.returncode, r.stdout, r.stderr)
    ps = vigil.programs()
    assert {n: ps[n]["pid"] for n in ("a", "b")} == old, ps
    assert [ps[n]["state"] for n in ("a", "b")] == ["RUNNING", "RUNNING"], ps
    assert ps["b"]["requires"] == [], ps["b"]
    assert not d.records("stop"), d.text()
