/* daemon/health.c's exec probes, run through program_spawn_probe as
 * vigild runs them and reaped by the real reaper: the verdict from the
 * exit and the last line, the timeout that kills the probe's group, a
 * grandchild that holds the pipe, health_end mid-check. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health_helpers.h"

static void exec_case(const char *script, const char *error)
{
	struct owner *o = owner_new();

	o->cfg.directory = "/tmp";
	owner_check_shell(o, script);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	if (error)
		assert_string_equal(o->h.last_error ? o->h.last_error : "(passed)", error);
	else
		assert_int_equal(o->h.passed, 1);
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid);
	owner_free(o);
}

static void test_exec_verdicts(void **state)
{
	char long_line[300];

	(void)state;
	exec_case("exit 0", NULL);
	exec_case("echo fine; exit 0", NULL);
	exec_case("printf 'first\\n\\nthe last one  \\r\\n\\n \\n'; exit 3", "the last one");
	exec_case("echo on stderr >&2; exit 1", "on stderr");
	exec_case("printf 'no newline at the end'; exit 1", "no newline at the end");
	exec_case("exit 4", "exit 4");
	exec_case("kill -TERM $$", "killed by signal TERM");
	/* run as its program would be, in a session of its own */
	exec_case("echo \"$VIGIL_PROCESS_NAME in $(pwd)\"; exit 1", "probe-test in /tmp");
	exec_case("read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; "
		  "[ $pid = $pgrp ] && [ $pid = $sid ] && echo leader; exit 1",
		  "leader");
	memset(long_line, 'x', 255);
	long_line[255] = '\0';
	exec_case("printf 'x%.0s' $(seq 1000); echo; exit 1", long_line);
}

static void test_exec_cannot_start(void **state)
{
	struct owner *o = owner_new();
	struct health_target t = { .kind = HEALTH_EXEC };

	(void)state;
	t.argv = calloc(2, sizeof(char *));
	assert_non_null(t.argv);
	t.argv[0] = strdup("/nonexistent/probe");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_true(last_error_is(o, "exec /nonexistent/probe: No such file or directory"));
	owner_free(o);
}

static void test_exec_timeout_kills_the_group(void **state)
{
	struct owner *o = owner_new();

	(void)state;
	o->cfg.health_timeout = MSEC(1250);
	owner_check_shell(o, "sleep 30 & sleep 30");
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_true(last_error_is(o, "timeout after 1.25s"));
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid);
	assert_true(WIFSIGNALED(reaped_probe_status) && WTERMSIG(reaped_probe_status) == SIGKILL);
	/* the background sleep too (an orphan this subreaper reaps) */
	RUN_UNTIL(kill(-o->last_probe_pid, 0) < 0 && errno == ESRCH);
	owner_free(o);
}

/* A grandchild that left the probe's group and holds the pipe does not
 * hold the verdict: the exit decides after a short grace. */
static void test_exec_escaped_grandchild(void **state)
{
	char script[256], pid_file[] = "/tmp/vigil-unit-health-XXXXXX";
	struct owner *o = owner_new();
	FILE *f;
	int fd = mkstemp(pid_file), pid = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	o->cfg.health_timeout = MSEC(10000);
	snprintf(script, sizeof(script), "setsid sh -c 'echo $$ > %s; exec sleep 30' & sleep 30 & exit 0", pid_file);
	owner_check_shell(o, script);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	RUN_UNTIL((f = fopen(pid_file, "re")) && fscanf(f, "%d", &pid) == 1);
	fclose(f);
	kill(pid, SIGKILL);
	unlink(pid_file);
	owner_free(o);
}

static void test_exec_end_mid_check(void **state)
{
	int fds = count_fds();
	struct owner *o = owner_new();

	(void)state;
	owner_check_shell(o, "sleep 30");
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->last_probe_pid > 0);
	health_end(&o->h);
	assert_null(o->h.probe);
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid); /* recognised, and discarded */
	assert_int_equal(checks(o), 0);
	/* the same while health_free tears it down */
	o->last_probe_pid = 0;
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->last_probe_pid > 0);
	owner_free(o);
	RUN_UNTIL(reaped_probe_pid > 0 && kill(reaped_probe_pid, 0) < 0);
	assert_int_equal(count_fds(), fds);
}

/* vigild could not make a process (fork's EAGAIN): that says nothing of
 * the program, so no verdict; the check is tried again later and passes
 * once it can run. */
static void test_no_verdict_without_resources(void **state)
{
	struct owner *o = owner_new();

	(void)state;
	o->fail_spawns = 3;
	owner_check_shell(o, "exit 0");
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->spawn_calls == 3);
	assert_int_equal(checks(o), 0);
	assert_null(o->h.probe);
	assert_true(event_pending(o->h.timer, EV_TIMEOUT, NULL));
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	assert_int_equal(o->h.failed, 0);
	owner_free(o);
}

/* ---------------------------------------------------------------- many */

static void test_thousands_of_exec_checks(void **state)
{
	int fds = count_fds();
	struct owner *o = owner_new();
	struct health_target t = { .kind = HEALTH_EXEC, .argv = calloc(2, sizeof(char *)) };

	(void)state;
	t.argv[0] = strdup("/bin/true");
	o->cfg.health_interval = 0;
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(checks(o) >= 1000);
	assert_int_equal(o->h.failed, 0);
	owner_free(o);
	assert_int_equal(count_fds(), fds);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_verdicts),
		cmocka_unit_test(test_exec_cannot_start),
		cmocka_unit_test(test_exec_timeout_kills_the_group),
		cmocka_unit_test(test_exec_escaped_grandchild),
		cmocka_unit_test(test_exec_end_mid_check),
		cmocka_unit_test(test_no_verdict_without_resources),
		cmocka_unit_test(test_thousands_of_exec_checks),
	};

	return health_tests_run("health-exec", tests, sizeof(tests) / sizeof(tests[0]));
}
