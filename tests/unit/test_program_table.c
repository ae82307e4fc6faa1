/* Walks the whole state table of daemon/program_table.c: every event in
 * every state, without forking or signalling anything. The spawn and
 * kill the state machine uses are replaced through proc_set_hooks() by
 * recorders; each cell starts from a fresh process driven into its state
 * by events (never by assigning p->state), and the state it ends in, the
 * signals it sent and the spawns it asked for are checked against the
 * expectations written out below, which follow DESIGN.md's states. */
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
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "program.h"
#include "program_impl.h"
#include "spawn.h"
#include "vigild.h"

/* pids above any pid_max: nothing real is ever named */
#define FAKE_PID_BASE 5000000

static struct {
	int spawns;
	bool fail_spawn; /* the next spawns fail for good (exec: ENOENT) */
	int signals[8];
	int nsignals;
	int state_changes;
	int requires; /* what the requirements hook answers: REQUIRES_MET (0) ... */
} rec;

static int fake_requirements(struct proc *p, char *why, size_t whylen)
{
	(void)p;
	snprintf(why, whylen, rec.requires == REQUIRES_FAILED ? "requirement db failed" : "waiting for db (running)");
	return rec.requires;
}

static pid_t fake_spawn(struct proc *p, char *err, size_t errlen, int *errnum)
{
	(void)p;
	if (rec.fail_spawn) {
		snprintf(err, errlen, "exec /nonexistent: No such file or directory");
		*errnum = ENOENT;
		return SPAWN_CHILD_FAILED;
	}
	*errnum = 0;
	return FAKE_PID_BASE + ++rec.spawns;
}

static int fake_signal(pid_t target, int signo)
{
	(void)target;
	if (rec.nsignals < (int)(sizeof(rec.signals) / sizeof(rec.signals[0])))
		rec.signals[rec.nsignals++] = signo;
	return 0;
}

static void count_state_change(struct proc *p, enum proc_state old)
{
	(void)p;
	(void)old;
	rec.state_changes++;
}

static struct config *config;

static int setup(void **state)
{
	static const struct proc_hooks hooks = {
		.state_changed = count_state_change, .spawn = fake_spawn, .signal = fake_signal,
		.requirements = fake_requirements,
	};
	char path[] = "/tmp/vigil-unit-table-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	char *errors = NULL;

	(void)state;
	assert_non_null(f);
	/* start_secs 1s keeps it STARTING until its timer; stop_timeout 1s
	 * keeps it STOPPING until its timer; kill_group = no: one target */
	fputs("[program:t]\ncommand = /bin/true\nstart_secs = 1s\nstop_timeout = 1s\nstop_signal = TERM\n"
	      "heartbeat_signal = ABRT\nrestart = always\nkill_group = no\nstart_limit_burst = 3\n",
	      f);
	fclose(f);
	vigil.base = vigil_event_base_new();
	vigil.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	config = config_load(path, &errors);
	unlink(path);
	if (!config)
		fail_msg("config: %s", errors);
	free(errors);
	proc_set_hooks(&hooks);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(config);
	event_base_free(vigil.base);
	close(vigil.devnull);
	vigil.base = NULL;
	return 0;
}

static void ev(struct proc *p, enum proc_event e, int wait_status)
{
	proc_dispatch(p, e, wait_status, e == PEV_HEARTBEAT_LOST ? "test" : NULL);
}

#define EXIT_CODE(n) ((n) << 8) /* a wait status */

/* A fresh process, driven into `state` by events. */
static struct proc *proc_in(enum proc_state state)
{
	struct proc *p = proc_new(config->programs[0], 0);
	struct program_config *pc = p->cfg;

	pc->restart = RESTART_ALWAYS;
	switch (state) {
	case STATE_STOPPED:
		break;
	case STATE_STARTING:
		ev(p, PEV_START, 0);
		break;
	case STATE_RUNNING:
		ev(p, PEV_START, 0);
		ev(p, PEV_TIMER, 0); /* start_secs passed */
		/* it has lived long enough that an exit restarts it at once */
		p->started_at -= 2 * USEC_PER_SEC;
		break;
	case STATE_BACKOFF:
		ev(p, PEV_START, 0);
		ev(p, PEV_EXIT, EXIT_CODE(1)); /* a failed start */
		break;
	case STATE_STOPPING:
		ev(p, PEV_START, 0);
		ev(p, PEV_TIMER, 0);
		ev(p, PEV_STOP, 0);
		break;
	case STATE_EXITED:
		pc->restart = RESTART_ON_FAILURE;
		ev(p, PEV_START, 0);
		ev(p, PEV_TIMER, 0);
		p->started_at -= 2 * USEC_PER_SEC;
		ev(p, PEV_EXIT, EXIT_CODE(0)); /* success: not restarted */
		pc->restart = RESTART_ALWAYS;
		break;
	case STATE_FATAL:
		pc->restart = RESTART_NEVER;
		rec.fail_spawn = true;
		ev(p, PEV_START, 0); /* exec fails for good */
		rec.fail_spawn = false;
		pc->restart = RESTART_ALWAYS;
		break;
	case STATE_WAITING:
		rec.requires = REQUIRES_WAIT;
		ev(p, PEV_START, 0);
		rec.requires = REQUIRES_MET;
		break;
	default:
		fail_msg("no way to state %d", state);
	}
	assert_int_equal(p->state, state);
	memset(&rec, 0, sizeof(rec));
	return p;
}

/* What each cell must lead to. */
struct cell {
	enum proc_state next;
	int spawns;  /* how many spawns the event asked for */
	int signal;  /* the first signal sent, 0: none */
	bool start_after_stop;
};

#define S(st) { STATE_##st, 0, 0, false }
#define SPAWN { STATE_STARTING, 1, 0, false }
#define KILL(st, sig) { STATE_##st, 0, sig, false }
#define LATER { STATE_STOPPING, 0, 0, true }

static const struct cell expected[STATE_COUNT][PEV_COUNT] = {
	/* START  STOP  RESTART  EXIT  TIMER  READY  HB LOST  PARENT RUNNING  PARENT GONE  UNHEALTHY  REQUIRES MET  REQUIRES FAILED */
	[STATE_STOPPED] = { SPAWN, S(STOPPED), SPAWN, S(STOPPED), S(STOPPED), S(STOPPED), S(STOPPED), SPAWN, S(STOPPED),
			    S(STOPPED), S(STOPPED), S(STOPPED) },
	[STATE_STARTING] = { S(STARTING), KILL(STOPPING, SIGTERM), { STATE_STOPPING, 0, SIGTERM, true },
			     { STATE_BACKOFF, 0, 0, false }, S(RUNNING), S(STARTING), KILL(STOPPING, SIGABRT),
			     S(STARTING), KILL(STOPPING, SIGKILL), S(STARTING), S(STARTING), S(STARTING) },
	[STATE_RUNNING] = { S(RUNNING), KILL(STOPPING, SIGTERM), { STATE_STOPPING, 0, SIGTERM, true },
			    SPAWN, S(RUNNING), S(RUNNING), KILL(STOPPING, SIGABRT), S(RUNNING),
			    KILL(STOPPING, SIGKILL), KILL(STOPPING, SIGTERM), S(RUNNING), S(RUNNING) },
	[STATE_BACKOFF] = { SPAWN, S(STOPPED), SPAWN, S(BACKOFF), SPAWN, S(BACKOFF), S(BACKOFF), SPAWN, S(STOPPED),
			    S(BACKOFF), S(BACKOFF), S(BACKOFF) },
	[STATE_STOPPING] = { LATER, S(STOPPING), LATER, S(STOPPED), KILL(STOPPING, SIGKILL), S(STOPPING),
			     S(STOPPING), LATER, S(STOPPING), S(STOPPING), S(STOPPING), S(STOPPING) },
	[STATE_EXITED] = { SPAWN, S(EXITED), SPAWN, S(EXITED), S(EXITED), S(EXITED), S(EXITED), SPAWN, S(EXITED),
			   S(EXITED), S(EXITED), S(EXITED) },
	[STATE_FATAL] = { SPAWN, S(FATAL), SPAWN, S(FATAL), S(FATAL), S(FATAL), S(FATAL), SPAWN, S(FATAL),
			  S(FATAL), S(FATAL), S(FATAL) },
	[STATE_WAITING] = { S(WAITING), S(STOPPED), S(WAITING), S(WAITING), S(WAITING), S(WAITING), S(WAITING),
			    S(WAITING), S(WAITING), S(WAITING), SPAWN, S(FATAL) },
};

static void test_every_cell(void **state)
{
	(void)state;
	for (int s = 0; s < STATE_COUNT; s++) {
		for (int e = 0; e < PEV_COUNT; e++) {
			const struct cell *want = &expected[s][e];
			struct proc *p = proc_in((enum proc_state)s);
			int status = s == STATE_STOPPING ? EXIT_CODE(0) : EXIT_CODE(1);

			ev(p, (enum proc_event)e, status);
			if (p->state != want->next || rec.spawns != want->spawns ||
			    (rec.nsignals ? rec.signals[0] : 0) != want->signal ||
			    p->start_after_stop != want->start_after_stop)
				fail_msg("%s + %s: got %s, %d spawns, signal %d, start_after_stop %d; "
					 "want %s, %d, %d, %d",
					 state_name(s), proc_event_name(e), state_name(p->state), rec.spawns,
					 rec.nsignals ? rec.signals[0] : 0, p->start_after_stop, state_name(want->next),
					 want->spawns, want->signal, want->start_after_stop);
			proc_free(p);
		}
	}
}

/* The cells a simple program cannot show: READY=1 and the ready timeout
 * of a type = notify program. */
static void test_notify_cells(void **state)
{
	struct proc *p;

	(void)state;
	config->programs[0]->type = PROGRAM_NOTIFY;
	config->programs[0]->ready_timeout = USEC_PER_SEC;
	p = proc_in(STATE_STARTING);
	ev(p, PEV_READY, 0);
	assert_int_equal(p->state, STATE_RUNNING);
	ev(p, PEV_READY, 0); /* a second READY=1 changes nothing */
	assert_int_equal(p->state, STATE_RUNNING);
	proc_free(p);

	p = proc_in(STATE_STARTING);
	p->timer_deadline = now_usec(); /* the timer is on time: no stall */
	ev(p, PEV_TIMER, 0);		/* no READY=1 in time */
	assert_int_equal(p->state, STATE_STOPPING);
	assert_int_equal(p->kill_reason, KILL_READY_TIMEOUT);
	assert_int_equal(rec.signals[0], SIGTERM);
	ev(p, PEV_EXIT, EXIT_CODE(0) | SIGTERM); /* killed: a failed start */
	assert_int_equal(p->state, STATE_BACKOFF);
	assert_int_equal(p->last_exit.cause, CAUSE_READY_TIMEOUT);
	proc_free(p);
	config->programs[0]->type = PROGRAM_SIMPLE;
}

/* A stop while it is dying for a lost heartbeat makes its end a stop. */
static void test_stop_while_dying_is_a_stop(void **state)
{
	struct proc *p;

	(void)state;
	p = proc_in(STATE_RUNNING);
	ev(p, PEV_HEARTBEAT_LOST, 0);
	assert_int_equal(p->kill_reason, KILL_HEARTBEAT);
	ev(p, PEV_STOP, 0);
	assert_int_equal(p->kill_reason, KILL_STOP);
	ev(p, PEV_EXIT, SIGABRT);
	assert_int_equal(p->state, STATE_STOPPED);
	assert_int_equal(p->last_exit.cause, CAUSE_STOPPED);
	proc_free(p);
}

/* Starts and restarts are refused before the table while vigild stops. */
/* A oneshot is STARTING while it runs: success is EXITED and completed,
 * a failure a failed start (backoff), whatever start_secs says. */
static void test_oneshot(void **state)
{
	struct proc *p;

	(void)state;
	config->programs[0]->type = PROGRAM_ONESHOT;
	config->programs[0]->restart = RESTART_ON_FAILURE;
	p = proc_new(config->programs[0], 0);
	ev(p, PEV_START, 0);
	assert_int_equal(p->state, STATE_STARTING);
	ev(p, PEV_TIMER, 0); /* start_secs does not apply */
	assert_int_equal(p->state, STATE_STARTING);
	ev(p, PEV_EXIT, EXIT_CODE(1));
	assert_int_equal(p->state, STATE_BACKOFF);
	assert_int_equal(p->failed_starts, 1);
	assert_false(p->completed);
	ev(p, PEV_TIMER, 0); /* the backoff passed: it runs again */
	assert_int_equal(p->state, STATE_STARTING);
	p->started_at -= 5 * USEC_PER_SEC; /* however long it ran */
	ev(p, PEV_EXIT, EXIT_CODE(0));
	assert_int_equal(p->state, STATE_EXITED);
	assert_true(p->completed);
	assert_int_equal(p->failed_starts, 0);
	ev(p, PEV_START, 0); /* started again by name: runs again */
	assert_int_equal(p->state, STATE_STARTING);
	assert_false(p->completed);
	proc_free(p);
	config->programs[0]->type = PROGRAM_SIMPLE;
}

/* WAITING: spawned once its requirements are met; a requirement that
 * failed for good makes it FATAL with cause dependency and says why. */
static void test_waiting(void **state)
{
	struct proc *p;

	(void)state;
	p = proc_in(STATE_WAITING);
	assert_int_equal(rec.spawns, 0);
	assert_string_equal(p->status_text, "waiting for db (running)");
	ev(p, PEV_REQUIRES_MET, 0);
	assert_int_equal(p->state, STATE_STARTING);
	assert_int_equal(rec.spawns, 1);
	assert_null(p->status_text);
	proc_free(p);

	p = proc_in(STATE_WAITING);
	proc_dispatch(p, PEV_REQUIRES_FAILED, 0, "requirement db failed");
	assert_int_equal(p->state, STATE_FATAL);
	assert_int_equal(p->last_exit.cause, CAUSE_DEPENDENCY);
	assert_string_equal(p->status_text, "requirement db failed");
	assert_int_equal(rec.spawns, 0);
	proc_free(p);

	rec.requires = REQUIRES_FAILED; /* it failed before the start was asked for */
	p = proc_new(config->programs[0], 0);
	ev(p, PEV_START, 0);
	assert_int_equal(p->state, STATE_FATAL);
	assert_int_equal(p->last_exit.cause, CAUSE_DEPENDENCY);
	rec.requires = REQUIRES_MET;
	proc_free(p);
}

static void test_start_requests_refused_while_shutting_down(void **state)
{
	struct proc *p;

	(void)state;
	p = proc_in(STATE_STOPPED);
	vigil.shutting_down = true;
	assert_int_equal(proc_request_start(p), -EBUSY);
	assert_int_equal(proc_request_restart(p), -EBUSY);
	assert_int_equal(p->state, STATE_STOPPED);
	vigil.shutting_down = false;
	proc_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cell),
		cmocka_unit_test(test_notify_cells),
		cmocka_unit_test(test_stop_while_dying_is_a_stop),
		cmocka_unit_test(test_start_requests_refused_while_shutting_down),
		cmocka_unit_test(test_oneshot),
		cmocka_unit_test(test_waiting),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
