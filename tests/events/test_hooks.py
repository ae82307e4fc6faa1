"""on_failure and on_fatal through the real vigild (DESIGN.md "Events and
hooks"): the environment (every variable present, empty when it does not
apply), output in vigild's log after the program's name, on_fatal once
per entering FATAL, one hook per program at a time with the later ones
skipped and counted, an on_fatal that waits for a running on_failure.
The 30 s limit is tests/unit/test_hooks.c's (with a shorter limit)."""

import os

from vigiltest import W, read_text, wait_for

VARS = ("VIGIL_NAME", "VIGIL_PROGRAM", "VIGIL_EVENT", "VIGIL_STATE", "VIGIL_CAUSE", "VIGIL_EXIT_CODE",
        "VIGIL_EXIT_SIGNAL", "VIGIL_RESTARTS")


def read_env(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


def env_dump(vigil, tag):
    """A hook writing its environment to DIR/TAG.N (N: its pid), atomically."""
    out = vigil.path(tag)
    return f"sh -c 'env > {out}.tmp.$$ && mv {out}.tmp.$$ {out}.$$; echo {tag} hook ran'"


def dumps(vigil, tag):
    return sorted(n for n in os.listdir(vigil.dir) if n.startswith(tag + ".") and ".tmp." not in n)


def test_failure_environment_and_log(vigil):
    vigil.start(f"[program:crash]\ncommand = {W('crash-after')} 0 3\nrestart = never\nstart_secs = 0\n"
                f"on_failure = {env_dump(vigil, 'failure')}\n"
                f"[program:victim]\ncommand = {W('run-forever')}\nrestart = never\nstart_secs = 0\n"
                f"on_failure = {env_dump(vigil, 'killed')}\n")
    vigil.wait_state("crash", "EXITED")
    files = wait_for(lambda: dumps(vigil, "failure"), 30, "the crash's on_failure")
    env = read_env(vigil.path(files[0]))
    assert {k: env[k] for k in VARS} == {
        "VIGIL_NAME": "crash", "VIGIL_PROGRAM": "crash", "VIGIL_EVENT": "failure", "VIGIL_STATE": "EXITED",
        "VIGIL_CAUSE": "exit", "VIGIL_EXIT_CODE": "3", "VIGIL_EXIT_SIGNAL": "", "VIGIL_RESTARTS": "0"}
    # vigild's environment, not the program's socket contract
    assert "PATH" in env and "NOTIFY_SOCKET" not in env
    wait_for(lambda: "crash: on_failure: failure hook ran" in vigil.log(), 30, "the hook's output in the log")

    vigil.wait_running("victim")
    assert vigil.ctl("signal", "KILL", "victim").returncode == 0
    files = wait_for(lambda: dumps(vigil, "killed"), 30, "the killed program's on_failure")
    env = read_env(vigil.path(files[0]))
    assert (env["VIGIL_CAUSE"], env["VIGIL_EXIT_CODE"], env["VIGIL_EXIT_SIGNAL"]) == ("signal", "", "KILL")
    # a stop on request is no failure
    assert vigil.ctl("start", "victim").returncode == 0
    assert vigil.ctl("stop", "victim").returncode == 0
    assert len(dumps(vigil, "killed")) == 1


def test_on_fatal_once_per_giving_up(vigil):
    vigil.start(f"[program:doomed]\ncommand = {W('crash-after')} 0 3\nstart_secs = 0\nrestart_delay = 10ms\n"
                f"start_limit_burst = 2\non_fatal = {env_dump(vigil, 'fatal')}\n")
    vigil.wait_state("doomed", "FATAL")
    files = wait_for(lambda: dumps(vigil, "fatal"), 30, "on_fatal")
    wait_for(lambda: "doomed: on_fatal (pid" in vigil.log() and " done" in vigil.log(), 30, "on_fatal done")
    env = read_env(vigil.path(files[0]))
    assert (env["VIGIL_EVENT"], env["VIGIL_STATE"], env["VIGIL_CAUSE"], env["VIGIL_EXIT_CODE"]) == (
        "fatal", "FATAL", "exit", "3")
    assert int(env["VIGIL_RESTARTS"]) == 2
    assert len(dumps(vigil, "fatal")) == 1
    # it gives up again after a start by hand: a second alert
    vigil.ctl("start", "doomed")
    vigil.wait_state("doomed", "FATAL")
    wait_for(lambda: len(dumps(vigil, "fatal")) == 2, 30, "the second on_fatal")


def blocking_hook(vigil, tag):
    """Records start and end in DIR/TAG.log, and in between waits until
    DIR/release exists (at most 20 s)."""
    rec, release = vigil.path(tag + ".log"), vigil.path("release")
    return (f"sh -c 'echo start $VIGIL_EVENT >> {rec}; i=0; "
            f"while [ ! -e {release} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
            f"echo end $VIGIL_EVENT >> {rec}'")


def test_one_hook_at_a_time_later_ones_skipped(vigil):
    vigil.start(f"[program:loop]\ncommand = {W('crash-after')} 0 3\nstart_secs = 0\nrestart_delay = 10ms\n"
                f"restart_delay_max = 10ms\nstart_limit_burst = 1000000\n"
                f"on_failure = {blocking_hook(vigil, 'hook')}\n")
    rec = vigil.path("hook.log")
    wait_for(lambda: vigil.log().count("on_failure of loop skipped") >= 5, 30, "5 skipped on_failure")
    assert read_text(rec).splitlines() == ["start failure"]
    vigil.touch("release")
    wait_for(lambda: "hooks skipped while on_failure ran" in vigil.log(), 30, "the count of skipped hooks")
    # the next failure runs one again, never two at once
    wait_for(lambda: read_text(rec).count("start") >= 3, 30, "more hooks")
    assert vigil.ctl("stop", "loop").returncode == 0
    wait_for(lambda: read_text(rec).count("end") == read_text(rec).count("start"), 30, "the last hook's end")
    lines = read_text(rec).splitlines()
    assert lines == ["start failure", "end failure"] * (len(lines) // 2), lines


def test_on_fatal_waits_for_the_running_hook(vigil):
    vigil.start(f"[program:doomed]\ncommand = {W('crash-after')} 0 3\nstart_secs = 0\nrestart_delay = 10ms\n"
                f"start_limit_burst = 3\non_failure = {blocking_hook(vigil, 'hook')}\n"
                f"on_fatal = {blocking_hook(vigil, 'hook')}\n")
    vigil.wait_state("doomed", "FATAL")
    rec = vigil.path("hook.log")
    wait_for(lambda: "on_fatal waits for on_failure" in vigil.log(), 30, "on_fatal waiting")
    assert read_text(rec).splitlines() == ["start failure"]
    vigil.touch("release")
    wait_for(lambda: read_text(rec).splitlines() == ["start failure", "end failure", "start fatal", "end fatal"],
             30, "on_fatal after on_failure")


def test_vigild_exits_after_the_on_fatal_of_its_critical_program(vigil):
    """Container mode: the program vigild exists for gave up, and its
    alert still goes out before vigild exits (a hook ends with vigild)."""
    sent = vigil.path("alert-sent")
    vigil.start(f"[program:main]\ncommand = {W('crash-after')} 0 4\nstart_secs = 0\nrestart_delay = 10ms\n"
                f"start_limit_burst = 1\ncritical = yes\n"
                f"on_fatal = sh -c 'sleep 0.5; echo $VIGIL_STATE > {sent}'\n"
                f"[program:side]\ncommand = {W('run-forever')}\n")
    assert vigil.wait_exit(timeout=60) == 4, vigil.log()[-3000:]
    assert read_text(sent) == "FATAL\n"
    assert "waiting for 1 hook" in vigil.log()
