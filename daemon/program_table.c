/* The state table: for every state, what every event does. Each cell
 * names one action; an event that means nothing in a state (an exit
 * while no process runs, READY=1 outside STARTING) is act_nothing, so
 * the table is complete and tests/unit/test_program_table.c walks all
 * of it.
 *
 *            START       STOP         RESTART       EXIT    TIMER          READY  HB LOST  PARENT   PARENT
 *                                                                                         RUNNING  GONE
 * STOPPED    spawn       clear        spawn         -       -              -      -        follow   -
 * STARTING   -           kill         kill, then    exited  RUNNING, or    RUNNING kill    follow   SIGKILL
 *                                     spawn                 kill (READY)
 * RUNNING    -           kill         kill, then    exited  forgive        -      kill     follow   SIGKILL
 *                                     spawn                 failures
 * BACKOFF    spawn now   STOPPED      spawn now     -       spawn          -      -        follow   STOPPED
 * STOPPING   after stop  a stop now   after stop    exited  SIGKILL        -      -        follow   -
 * EXITED     spawn       clear        spawn         -       -              -      -        follow   -
 * FATAL      spawn       clear        spawn         -       -              -      -        follow   -
 * WAITING    -           STOPPED      -             -       -              -      -        -        -
 *
 * Three more columns: UNHEALTHY (RUNNING: kill, a failure like a lost
 * heartbeat), REQUIRES MET (WAITING: spawn) and REQUIRES FAILED
 * (WAITING: FATAL, cause dependency); "-" everywhere else. A spawn from
 * rest goes through proc_spawn, which asks first whether what the
 * program requires holds, and waits in WAITING if not.
 *
 * "exited" is act_exited: STOPPED after a stop, a restart's spawn, or
 * the restart policy (proc_after_failure_or_exit). "follow": a daemon
 * child starts with its parent if it autostarts or ran before. */
#define _GNU_SOURCE
#include "program.h"
#include "program_impl.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stall.h"
#include "vigild.h"

struct proc_event_arg {
	int wait_status;
	const char *why;
};

typedef int (*proc_action)(struct proc *p, const struct proc_event_arg *arg);

static int act_nothing(struct proc *p, const struct proc_event_arg *arg)
{
	(void)p;
	(void)arg;
	return 0;
}

/* START from rest, or a BACKOFF cut short: a start by request forgives
 * earlier failures. */
static int act_spawn(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	evtimer_del(p->timer);
	proc_reset_failures(p);
	proc_spawn(p);
	return 0;
}

static int act_start_after_stop(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	p->start_after_stop = true;
	return 0;
}

/* A stop cancels a pending restart and a daemon child's wish to come
 * back with its parent. */
static void proc_cancel_pending_starts(struct proc *p)
{
	p->start_after_stop = false;
	p->follow_parent = false;
}

static int act_stop_idle(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_cancel_pending_starts(p);
	return 0;
}

static int act_stop_running(struct proc *p, const struct proc_event_arg *arg)
{
	char buf[16];

	(void)arg;
	proc_cancel_pending_starts(p);
	log_info("%s: stopping pid %d with %s", p->name, (int)p->pid,
		 p->cfg->daemon ? "KILL" : signal_name(p->cfg->stop_signal, buf, sizeof(buf)));
	proc_begin_kill(p, KILL_STOP, p->cfg->stop_signal);
	return 0;
}

/* already dying for another reason: from now on it is a stop */
static int act_stop_dying(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_cancel_pending_starts(p);
	p->kill_reason = KILL_STOP;
	return 0;
}

static int act_stop_backoff(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_cancel_pending_starts(p);
	evtimer_del(p->timer);
	p->spawn_retries = 0;
	proc_set_state(p, STATE_STOPPED);
	return 0;
}

static int act_restart_running(struct proc *p, const struct proc_event_arg *arg)
{
	act_stop_running(p, arg);
	p->start_after_stop = true;
	return 0;
}

static int act_restart_dying(struct proc *p, const struct proc_event_arg *arg)
{
	act_stop_dying(p, arg);
	p->start_after_stop = true;
	return 0;
}

static int act_exited(struct proc *p, const struct proc_event_arg *arg)
{
	enum kill_reason reason = p->kill_reason;
	enum proc_state from = reason == KILL_NONE ? p->state : p->kill_from;
	int64_t ran = now_usec() - p->started_at;

	proc_record_exit(p, arg->wait_status);
	proc_clean_up_after_exit(p);
	/* STATUS= was the ended process's word */
	free(p->status_text);
	p->status_text = NULL;
	proc_set_pid(p, 0);
	p->kill_reason = KILL_NONE;
	evtimer_del(p->timer);
	heartbeat_disarm(&p->hb);

	if (vigil.shutting_down) {
		proc_set_state(p, STATE_STOPPED);
	} else if (p->start_after_stop) {
		/* a restart, or a start that arrived while it was dying */
		p->start_after_stop = false;
		p->restarts++;
		proc_spawn(p);
	} else if (reason == KILL_STOP) {
		proc_set_state(p, STATE_STOPPED);
	} else if (p->parent && p->parent->state != STATE_RUNNING) {
		/* a daemon child waits for its parent to run again */
		proc_set_state(p, STATE_STOPPED);
	} else {
		proc_after_failure_or_exit(p, from, ran,
					   reason == KILL_NONE && exit_is_success(p->cfg, arg->wait_status));
	}
	return 0;
}

/* start_secs passed (simple), or ready_timeout passed (notify) */
static int act_timer_starting(struct proc *p, const struct proc_event_arg *arg)
{
	int64_t wait;

	(void)arg;
	if (p->cfg->type == PROGRAM_SIMPLE) {
		proc_mark_started(p);
		return 0;
	}
	/* its READY=1 may be queued, or its sender waiting for room: read
	 * what is there first, and judge only what vigild has caught up on */
	wait = heartbeat_verdict_wait(p->started_at + p->cfg->ready_timeout, p->timer_deadline,
				      p->cfg->ready_timeout, p->name);
	if (p->state != STATE_STARTING)
		return 0;
	if (wait) {
		proc_arm_timer(p, wait);
		return 0;
	}
	log_warn("%s: no READY=1 within %.1fs: failed start", p->name, (double)p->cfg->ready_timeout / USEC_PER_SEC);
	proc_begin_kill(p, KILL_READY_TIMEOUT, p->cfg->stop_signal);
	return 0;
}

/* it lived POLICY_MIN_RUN_USEC */
static int act_timer_running(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_reset_failures(p);
	return 0;
}

static int act_timer_backoff(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	if (vigil.shutting_down) {
		proc_set_state(p, STATE_STOPPED);
		return 0;
	}
	if (!p->spawn_retries) /* a retry for resources is not a restart */
		p->restarts++;
	proc_spawn(p);
	return 0;
}

static int act_timer_stopping(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	if (vigil_stalled_since(p->timer_deadline, p->name)) {
		proc_arm_timer(p, p->cfg->stop_timeout);
		return 0;
	}
	log_warn("%s: pid %d still running %.1fs after the signal: sending SIGKILL", p->name, (int)p->pid,
		 (double)p->cfg->stop_timeout / USEC_PER_SEC);
	proc_kill(p, SIGKILL);
	return 0;
}

static int act_ready(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	if (p->cfg->type != PROGRAM_NOTIFY)
		return 0;
	evtimer_del(p->timer);
	log_info("%s: ready (READY=1)", p->name);
	proc_mark_started(p);
	return 0;
}

static int act_heartbeat_lost(struct proc *p, const struct proc_event_arg *arg)
{
	struct proc *parent = p->parent;
	char buf[16];

	log_warn("%s: no heartbeat for %.1fs (%s): sending %s", p->name,
		 (double)(now_usec() - (p->hb.last_ping ? p->hb.last_ping : p->started_at)) / USEC_PER_SEC, arg->why,
		 p->cfg->daemon ? "KILL" : signal_name(p->cfg->heartbeat_signal, buf, sizeof(buf)));
	proc_begin_kill(p, KILL_HEARTBEAT, p->cfg->heartbeat_signal);
	/* A bound daemon child speaks for its parent: silence means the
	 * parent is hung, and both restart. */
	if (parent && (parent->state == STATE_RUNNING || parent->state == STATE_STARTING)) {
		log_warn("%s: counts as hung: its daemon child %s stopped pinging; sending %s", parent->name, p->name,
			 signal_name(parent->cfg->heartbeat_signal, buf, sizeof(buf)));
		proc_begin_kill(parent, KILL_HEARTBEAT, parent->cfg->heartbeat_signal);
	}
	return 0;
}

static int act_parent_running(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	if (p->cfg->autostart || p->follow_parent)
		proc_request_start(p);
	p->follow_parent = false;
	return 0;
}

/* it comes back with its parent, even if only started by hand */
static int act_parent_gone_running(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_begin_kill(p, KILL_STOP, SIGKILL);
	p->follow_parent = true;
	return 0;
}

static int act_parent_gone_backoff(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	evtimer_del(p->timer);
	proc_set_state(p, STATE_STOPPED);
	p->follow_parent = true;
	return 0;
}

/* its checks failed health_retries times: a failure, like a lost heartbeat */
static int act_unhealthy(struct proc *p, const struct proc_event_arg *arg)
{
	char buf[16];

	log_warn("%s: unhealthy after %d failed checks (%s): sending %s", p->name, p->health.failures,
		 arg->why ? arg->why : "?", signal_name(p->cfg->stop_signal, buf, sizeof(buf)));
	proc_begin_kill(p, KILL_HEALTH, p->cfg->stop_signal);
	return 0;
}

static int act_requires_met(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_spawn_now(p);
	return 0;
}

static int act_requires_failed(struct proc *p, const struct proc_event_arg *arg)
{
	proc_fail_requirement(p, arg->why);
	return 0;
}

static int act_stop_waiting(struct proc *p, const struct proc_event_arg *arg)
{
	(void)arg;
	proc_cancel_pending_starts(p);
	free(p->status_text);
	p->status_text = NULL;
	proc_set_state(p, STATE_STOPPED);
	return 0;
}

#define AT_REST(stop)                                                                                      \
	{ [PEV_START] = act_spawn, [PEV_STOP] = stop, [PEV_RESTART] = act_spawn, [PEV_EXIT] = act_nothing,      \
	  [PEV_TIMER] = act_nothing, [PEV_READY] = act_nothing, [PEV_HEARTBEAT_LOST] = act_nothing,            \
	  [PEV_PARENT_RUNNING] = act_parent_running, [PEV_PARENT_GONE] = act_nothing,                         \
	  [PEV_UNHEALTHY] = act_nothing, [PEV_REQUIRES_MET] = act_nothing, [PEV_REQUIRES_FAILED] = act_nothing }

static const proc_action proc_table[STATE_COUNT][PEV_COUNT] = {
	[STATE_STOPPED] = AT_REST(act_stop_idle),
	[STATE_STARTING] = {
		[PEV_START] = act_nothing, [PEV_STOP] = act_stop_running, [PEV_RESTART] = act_restart_running,
		[PEV_EXIT] = act_exited, [PEV_TIMER] = act_timer_starting, [PEV_READY] = act_ready,
		[PEV_HEARTBEAT_LOST] = act_heartbeat_lost, [PEV_PARENT_RUNNING] = act_parent_running,
		[PEV_PARENT_GONE] = act_parent_gone_running, [PEV_UNHEALTHY] = act_nothing,
		[PEV_REQUIRES_MET] = act_nothing, [PEV_REQUIRES_FAILED] = act_nothing,
	},
	[STATE_RUNNING] = {
		[PEV_START] = act_nothing, [PEV_STOP] = act_stop_running, [PEV_RESTART] = act_restart_running,
		[PEV_EXIT] = act_exited, [PEV_TIMER] = act_timer_running, [PEV_READY] = act_nothing,
		[PEV_HEARTBEAT_LOST] = act_heartbeat_lost, [PEV_PARENT_RUNNING] = act_parent_running,
		[PEV_PARENT_GONE] = act_parent_gone_running, [PEV_UNHEALTHY] = act_unhealthy,
		[PEV_REQUIRES_MET] = act_nothing, [PEV_REQUIRES_FAILED] = act_nothing,
	},
	[STATE_BACKOFF] = {
		[PEV_START] = act_spawn, [PEV_STOP] = act_stop_backoff, [PEV_RESTART] = act_spawn,
		[PEV_EXIT] = act_nothing, [PEV_TIMER] = act_timer_backoff, [PEV_READY] = act_nothing,
		[PEV_HEARTBEAT_LOST] = act_nothing, [PEV_PARENT_RUNNING] = act_parent_running,
		[PEV_PARENT_GONE] = act_parent_gone_backoff, [PEV_UNHEALTHY] = act_nothing,
		[PEV_REQUIRES_MET] = act_nothing, [PEV_REQUIRES_FAILED] = act_nothing,
	},
	[STATE_STOPPING] = {
		[PEV_START] = act_start_after_stop, [PEV_STOP] = act_stop_dying, [PEV_RESTART] = act_restart_dying,
		[PEV_EXIT] = act_exited, [PEV_TIMER] = act_timer_stopping, [PEV_READY] = act_nothing,
		[PEV_HEARTBEAT_LOST] = act_nothing, [PEV_PARENT_RUNNING] = act_parent_running,
		[PEV_PARENT_GONE] = act_nothing, [PEV_UNHEALTHY] = act_nothing,
		[PEV_REQUIRES_MET] = act_nothing, [PEV_REQUIRES_FAILED] = act_nothing,
	},
	[STATE_EXITED] = AT_REST(act_stop_idle),
	[STATE_FATAL] = AT_REST(act_stop_idle),
	/* asked to start; spawned once what it requires holds */
	[STATE_WAITING] = {
		[PEV_START] = act_nothing, [PEV_STOP] = act_stop_waiting, [PEV_RESTART] = act_nothing,
		[PEV_EXIT] = act_nothing, [PEV_TIMER] = act_nothing, [PEV_READY] = act_nothing,
		[PEV_HEARTBEAT_LOST] = act_nothing, [PEV_PARENT_RUNNING] = act_nothing,
		[PEV_PARENT_GONE] = act_nothing, [PEV_UNHEALTHY] = act_nothing,
		[PEV_REQUIRES_MET] = act_requires_met, [PEV_REQUIRES_FAILED] = act_requires_failed,
	},
};

int proc_dispatch(struct proc *p, enum proc_event ev, int wait_status, const char *why)
{
	struct proc_event_arg arg = { .wait_status = wait_status, .why = why };

	return proc_table[p->state][ev](p, &arg);
}

int proc_request_start(struct proc *p)
{
	int rc = proc_may_start(p);

	return rc < 0 ? rc : proc_dispatch(p, PEV_START, 0, NULL);
}

int proc_request_stop(struct proc *p)
{
	return proc_dispatch(p, PEV_STOP, 0, NULL);
}

int proc_request_restart(struct proc *p)
{
	int rc = proc_may_start(p);

	return rc < 0 ? rc : proc_dispatch(p, PEV_RESTART, 0, NULL);
}

void proc_on_exit(struct proc *p, int wait_status)
{
	proc_dispatch(p, PEV_EXIT, wait_status, NULL);
}

void proc_on_ready(struct proc *p)
{
	proc_dispatch(p, PEV_READY, 0, NULL);
}

void proc_on_heartbeat_lost(struct proc *p, const char *why)
{
	proc_dispatch(p, PEV_HEARTBEAT_LOST, 0, why);
}

void proc_heartbeat_deadline_passed(void *p, const char *why)
{
	proc_on_heartbeat_lost(p, why);
}

void proc_on_parent_gone(struct proc *child)
{
	proc_dispatch(child, PEV_PARENT_GONE, 0, NULL);
}

void proc_on_unhealthy(struct proc *p, const char *why)
{
	proc_dispatch(p, PEV_UNHEALTHY, 0, why);
}

void proc_on_requirements(struct proc *p, bool failed, const char *why)
{
	proc_dispatch(p, failed ? PEV_REQUIRES_FAILED : PEV_REQUIRES_MET, 0, why);
}
