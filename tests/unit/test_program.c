/* The state machine (daemon/program.c) driven through its real event
 * loop, with real child processes: every transition of the table at the
 * top of program.c that does not need the ctl socket. Conditions are
 * waited for with a deadline, never a fixed sleep. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "heartbeat.h"
#include "output.h"
#include "program.h"
#include "reaper.h"
#include "supervisor.h"
#include "vigild.h"

#define DEADLINE_USEC (10 * USEC_PER_SEC)

static char conf_path[] = "/tmp/vigil-unit-program-XXXXXX";

/* Loads `programs` (INI text of [program:...] sections) and builds the
 * processes, as vigild does at start. */
static void setup_config(const char *programs)
{
	char *errors = NULL;
	int fd = mkstemp(conf_path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	fputs(programs, f);
	fclose(f);
	vigil.base = vigil_event_base_new();
	vigil.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_int_equal(reaper_init(supervisor_child_exited), 0);
	heartbeat_set_actions(&(struct heartbeat_actions){ .lost = proc_heartbeat_deadline_passed });
	vigil.config = config_load(conf_path, &errors);
	if (!vigil.config)
		fail_msg("config: %s", errors);
	free(errors);
	assert_int_equal(supervisor_init(vigil.config), 0);
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (vigil.procs[i]->pid)
			kill(-vigil.procs[i]->pid, SIGKILL);
	vigil.shutting_down = false;
	supervisor_free();
	output_free_detached();
	reaper_free();
	config_free(vigil.config);
	vigil.config = NULL;
	event_base_free(vigil.base);
	vigil.base = NULL;
	close(vigil.devnull);
	unlink(conf_path);
	strcpy(conf_path, "/tmp/vigil-unit-program-XXXXXX");
	return 0;
}

static struct proc *proc_named(const char *name)
{
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (strcmp(vigil.procs[i]->name, name) == 0)
			return vigil.procs[i];
	fail_msg("no process %s", name);
	return NULL;
}

/* One turn of the event loop, at most 20 ms long. */
static void loop_turn(void)
{
	struct timeval tick = { 0, 20000 };

	event_base_loopexit(vigil.base, &tick);
	event_base_loop(vigil.base, EVLOOP_ONCE);
}

/* Runs the loop until p reaches state (fails after the deadline). */
static void run_until_state(struct proc *p, enum proc_state state)
{
	int64_t deadline = now_usec() + DEADLINE_USEC;

	while (p->state != state) {
		if (now_usec() > deadline)
			fail_msg("%s: still %s, waited for %s", p->name, state_name(p->state), state_name(state));
		loop_turn();
	}
}

static void test_start_then_running_after_start_secs(void **state)
{
	struct proc *p;

	(void)state;
	setup_config("[program:s]\ncommand = sleep 30\nstart_secs = 200ms\n");
	p = proc_named("s");
	assert_int_equal(p->state, STATE_STOPPED);
	assert_int_equal(proc_request_start(p), 0);
	assert_int_equal(p->state, STATE_STARTING);
	assert_true(p->pid > 0);
	run_until_state(p, STATE_RUNNING);
	assert_true(now_usec() - p->started_at >= 200 * USEC_PER_MSEC);
}

static void test_stop_records_stopped(void **state)
{
	struct proc *p;
	pid_t pid;

	(void)state;
	setup_config("[program:s]\ncommand = sleep 30\nstart_secs = 0\n");
	p = proc_named("s");
	proc_request_start(p);
	assert_int_equal(p->state, STATE_RUNNING);
	pid = p->pid;
	proc_request_stop(p);
	assert_int_equal(p->state, STATE_STOPPING);
	run_until_state(p, STATE_STOPPED);
	assert_int_equal(p->pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_true(p->last_exit.set);
	assert_int_equal(p->last_exit.cause, CAUSE_STOPPED);
	assert_int_equal(p->last_exit.signo, SIGTERM);
}

static void test_stop_timeout_kills(void **state)
{
	struct proc *p;
	char marker[] = "/tmp/vigil-unit-trap-XXXXXX", *conf;
	int64_t deadline = now_usec() + DEADLINE_USEC;

	(void)state;
	close(mkstemp(marker));
	unlink(marker);
	/* the shell ignores TERM, and says so once the trap is in place */
	if (asprintf(&conf, "[program:s]\ncommand = sh -c 'trap \"\" TERM; touch %s; while :; do sleep 0.05; done'\n"
			    "start_secs = 0\nstop_timeout = 200ms\nkill_group = no\n", marker) < 0)
		fail();
	setup_config(conf);
	free(conf);
	p = proc_named("s");
	proc_request_start(p);
	while (access(marker, F_OK) != 0) {
		if (now_usec() > deadline)
			fail_msg("the worker never set its trap");
		loop_turn();
	}
	unlink(marker);
	proc_request_stop(p);
	run_until_state(p, STATE_STOPPED);
	assert_int_equal(p->last_exit.signo, SIGKILL);
	assert_int_equal(p->last_exit.cause, CAUSE_STOPPED);
}

static void test_crash_after_running_restarts_at_once(void **state)
{
	struct proc *p;
	pid_t first;

	(void)state;
	setup_config("[program:c]\ncommand = sh -c 'sleep 0.2; exit 3'\nstart_secs = 100ms\n"
		     "restart_delay = 5s\nrestart_delay_max = 5s\n");
	p = proc_named("c");
	proc_request_start(p);
	first = p->pid;
	run_until_state(p, STATE_RUNNING);
	/* it ran well: the restart does not wait restart_delay (5 s) */
	run_until_state(p, STATE_STARTING);
	assert_true(p->pid != first && p->pid > 0);
	assert_int_equal(p->restarts, 1);
	assert_int_equal(p->last_exit.cause, CAUSE_EXIT);
	assert_int_equal(p->last_exit.code, 3);
}

static void test_failed_starts_back_off_then_fatal(void **state)
{
	struct proc *p;
	int backoffs = 0;
	enum proc_state last = STATE_STOPPED;
	int64_t deadline = now_usec() + DEADLINE_USEC;

	(void)state;
	setup_config("[program:f]\ncommand = false\nstart_secs = 1s\nrestart_delay = 10ms\n"
		     "restart_delay_max = 40ms\nstart_limit_burst = 3\n");
	p = proc_named("f");
	proc_request_start(p);
	while (p->state != STATE_FATAL && now_usec() < deadline) {
		if (p->state == STATE_BACKOFF && last != STATE_BACKOFF)
			backoffs++;
		last = p->state;
		loop_turn();
	}
	assert_int_equal(p->state, STATE_FATAL);
	assert_int_equal(backoffs, 3);	 /* burst 3: the 4th failed start is fatal */
	assert_int_equal(p->restarts, 3);
	/* start leaves FATAL with a clean slate */
	assert_int_equal(proc_request_start(p), 0);
	assert_int_equal(p->state, STATE_STARTING);
	assert_int_equal(p->failed_starts, 0);
}

static void test_stop_during_backoff(void **state)
{
	struct proc *p;

	(void)state;
	setup_config("[program:f]\ncommand = false\nstart_secs = 1s\nrestart_delay = 10s\n");
	p = proc_named("f");
	proc_request_start(p);
	run_until_state(p, STATE_BACKOFF);
	proc_request_stop(p);
	assert_int_equal(p->state, STATE_STOPPED);
}

static void test_policies(void **state)
{
	struct proc *never, *onfail, *always;

	(void)state;
	setup_config("[program:never]\ncommand = sh -c 'exit 1'\nstart_secs = 0\nrestart = never\n"
		     "[program:onfail]\ncommand = sh -c 'exit 0'\nstart_secs = 0\nrestart = on-failure\n"
		     "[program:always]\ncommand = sh -c 'sleep 0.1; exit 0'\nstart_secs = 0\nrestart = always\n");
	never = proc_named("never");
	onfail = proc_named("onfail");
	always = proc_named("always");
	proc_request_start(never);
	proc_request_start(onfail);
	proc_request_start(always);
	run_until_state(never, STATE_EXITED);
	run_until_state(onfail, STATE_EXITED);
	assert_int_equal(never->last_exit.code, 1);
	assert_int_equal(onfail->last_exit.code, 0);
	{
		int64_t deadline = now_usec() + DEADLINE_USEC;
		while (always->restarts < 2 && now_usec() < deadline)
			loop_turn();
	}
	assert_true(always->restarts >= 2); /* a clean exit restarts too */
	assert_int_equal(always->last_exit.code, 0);
}

static void test_exec_failure(void **state)
{
	struct proc *p;

	char binary[] = "/tmp/vigil-unit-binary-XXXXXX", *conf;
	int fd = mkstemp(binary);

	(void)state;
	/* config_load refuses a command that is not there: it goes away
	 * between the load and the start */
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0755), 0);
	close(fd);
	assert_true(asprintf(&conf, "[program:x]\ncommand = %s\nrestart = never\n", binary) > 0);
	setup_config(conf);
	free(conf);
	assert_int_equal(unlink(binary), 0);
	p = proc_named("x");
	proc_request_start(p);
	assert_int_equal(p->state, STATE_FATAL);
	assert_int_equal(p->pid, 0);
	assert_non_null(p->spawn_error);
	assert_non_null(strstr(p->spawn_error, "No such file or directory"));
	assert_int_equal(p->last_exit.code, 127);
}

static void test_heartbeat_lost_restarts(void **state)
{
	struct proc *p;
	pid_t first;

	(void)state;
	setup_config("[program:h]\ncommand = sleep 30\nstart_secs = 0\nheartbeat_timeout = 100ms\n"
		     "heartbeat_signal = TERM\n");
	p = proc_named("h");
	proc_request_start(p);
	first = p->pid;
	run_until_state(p, STATE_STOPPING); /* no ping within 100 ms */
	run_until_state(p, STATE_RUNNING);  /* restarted at once */
	assert_true(p->pid != first);
	assert_int_equal(p->last_exit.cause, CAUSE_HEARTBEAT);
	assert_int_equal(p->last_exit.signo, SIGTERM);
}

static void test_ping_keeps_alive(void **state)
{
	struct proc *p;
	pid_t pid;
	int64_t until;

	(void)state;
	setup_config("[program:h]\ncommand = sleep 30\nstart_secs = 0\nheartbeat_timeout = 150ms\n");
	p = proc_named("h");
	proc_request_start(p);
	pid = p->pid;
	until = now_usec() + 600 * USEC_PER_MSEC;
	while (now_usec() < until) {
		proc_on_ping(p);
		loop_turn();
	}
	assert_int_equal(p->state, STATE_RUNNING);
	assert_int_equal(p->pid, pid);
}

static void test_daemon_child_follows_parent(void **state)
{
	struct proc *parent, *child;
	pid_t child_pid;

	(void)state;
	setup_config("[program:w]\ncommand = sleep 30\nstart_secs = 100ms\n"
		     "[program:d]\ncommand = sleep 30\ndaemon = yes\nbind_to = w\nstart_secs = 0\n"
		     "heartbeat_timeout = 0\n");
	parent = proc_named("w");
	child = proc_named("d");
	assert_ptr_equal(child->parent, parent);
	assert_int_equal(proc_request_start(child), -EAGAIN); /* parent not RUNNING */
	supervisor_start_autostart();
	assert_int_equal(child->state, STATE_STOPPED);
	run_until_state(parent, STATE_RUNNING);
	assert_int_equal(child->state, STATE_RUNNING);
	child_pid = child->pid;
	proc_request_stop(parent);
	/* killed at once, with SIGKILL, not waited for */
	assert_int_equal(child->state, STATE_STOPPING);
	run_until_state(child, STATE_STOPPED);
	assert_int_equal(child->last_exit.signo, SIGKILL);
	assert_int_equal(kill(child_pid, 0), -1);
}

/* start_secs = 0 once let a crash loop restart ~550 times a second: an
 * exit within POLICY_MIN_RUN_USEC is a failed start, so it backs off and
 * reaches FATAL past the start limit. */
static void test_crash_loop_with_start_secs_0_reaches_fatal(void **state)
{
	struct proc *p;

	(void)state;
	setup_config("[program:storm]\ncommand = false\nstart_secs = 0\nrestart = always\n"
		     "restart_delay = 10ms\nrestart_delay_max = 20ms\nstart_limit_burst = 3\n");
	p = proc_named("storm");
	proc_request_start(p);
	run_until_state(p, STATE_FATAL);
	/* the first try and start_limit_burst retries, nothing more */
	assert_int_equal(p->restarts, 3);
	assert_int_equal(p->last_exit.code, 1);
}

/* Processes that ran well but lived < 1 s: restarted at once at most
 * start_limit_burst times in a row, then after the backoff delay. */
static void test_quick_runs_in_a_row_back_off(void **state)
{
	struct proc *p;
	int64_t deadline = now_usec() + DEADLINE_USEC;

	(void)state;
	setup_config("[program:q]\ncommand = sh -c 'sleep 0.15'\nstart_secs = 0\nrestart = always\n"
		     "restart_delay = 300ms\nrestart_delay_max = 300ms\nstart_limit_burst = 2\n");
	p = proc_named("q");
	proc_request_start(p);
	while (p->state != STATE_BACKOFF) {
		if (now_usec() > deadline)
			fail_msg("q never backed off: %s, %u restarts", state_name(p->state), p->restarts);
		assert_int_not_equal(p->state, STATE_FATAL); /* not a failed start */
		loop_turn();
	}
	assert_int_equal(p->restarts, 2);
	assert_int_equal(p->failed_starts, 0);
	run_until_state(p, STATE_RUNNING);
	assert_int_equal(p->restarts, 3);
}

/* A spawn that fails for lack of descriptors is retried and never makes
 * the program FATAL, however often it fails. */
static void test_spawn_without_descriptors_is_retried(void **state)
{
	struct rlimit lim, none;
	struct proc *p;
	int64_t until;

	(void)state;
	setup_config("[program:r]\ncommand = sleep 30\nstart_secs = 0\nrestart_delay = 10ms\n"
		     "restart_delay_max = 20ms\nstart_limit_burst = 1\n");
	p = proc_named("r");
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	none = lim;
	none.rlim_cur = (rlim_t)dup(0); /* the lowest free descriptor: none left above it */
	close((int)none.rlim_cur);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	proc_request_start(p);
	assert_int_equal(p->state, STATE_BACKOFF);
	until = now_usec() + 400 * 1000; /* several retries at 100 ms */
	while (now_usec() < until) {
		assert_int_equal(p->state, STATE_BACKOFF);
		loop_turn();
	}
	assert_true(p->spawn_retries >= 2);
	assert_int_equal(p->failed_starts, 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	run_until_state(p, STATE_RUNNING);
	assert_int_equal(p->restarts, 0);
	assert_int_equal(p->spawn_retries, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_start_then_running_after_start_secs, teardown),
		cmocka_unit_test_teardown(test_stop_records_stopped, teardown),
		cmocka_unit_test_teardown(test_stop_timeout_kills, teardown),
		cmocka_unit_test_teardown(test_crash_after_running_restarts_at_once, teardown),
		cmocka_unit_test_teardown(test_failed_starts_back_off_then_fatal, teardown),
		cmocka_unit_test_teardown(test_stop_during_backoff, teardown),
		cmocka_unit_test_teardown(test_policies, teardown),
		cmocka_unit_test_teardown(test_exec_failure, teardown),
		cmocka_unit_test_teardown(test_heartbeat_lost_restarts, teardown),
		cmocka_unit_test_teardown(test_ping_keeps_alive, teardown),
		cmocka_unit_test_teardown(test_daemon_child_follows_parent, teardown),
		cmocka_unit_test_teardown(test_crash_loop_with_start_secs_0_reaches_fatal, teardown),
		cmocka_unit_test_teardown(test_quick_runs_in_a_row_back_off, teardown),
		cmocka_unit_test_teardown(test_spawn_without_descriptors_is_retried, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
