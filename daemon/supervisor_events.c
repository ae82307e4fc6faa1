/* supervisor_events.h: events and hooks from the state observers. */
#define _GNU_SOURCE
#include "supervisor_events.h"

#include <event2/event.h>
#include <stdbool.h>

#include "events.h"
#include "hooks.h"
#include "policy.h"
#include "program.h"
#include "program_spawn.h"
#include "vigild.h"

static struct event *ended_event;

/* A process that just ended, or could not be spawned, until the state
 * change that follows in the same call: its state event names the pid
 * that ended, and a failure runs on_failure with the state entered. A
 * failed spawn in BACKOFF stays in BACKOFF (no state change): then
 * ended_event, one loop turn later, runs the hook. */
static struct {
	struct proc *p;
	pid_t pid;
	bool failure;
} just_ended;

static void supervisor_flush_ended(void)
{
	struct proc *p = just_ended.p;

	just_ended.p = NULL;
	if (p && just_ended.failure)
		hooks_failure(p, NULL);
}

static void supervisor_events_ended_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	supervisor_flush_ended();
}

static void supervisor_note_ended(struct proc *p, pid_t pid, bool failure)
{
	supervisor_flush_ended();
	just_ended.p = p;
	just_ended.pid = pid;
	just_ended.failure = failure;
	event_active(ended_event, 0, 0);
}

/* What program_table.c's act_exited makes of the exit p->last_exit
 * records (read before it acts): a failure unless it was asked for, a
 * daemon child's parent is gone, or it ended with a success code. */
static bool supervisor_exit_is_failure(const struct proc *p)
{
	const struct last_exit *le = &p->last_exit;

	if (vigil.shutting_down || p->retiring || p->start_after_stop || p->kill_reason == KILL_STOP ||
	    (p->parent && p->parent->state != STATE_RUNNING))
		return false;
	if (p->kill_reason != KILL_NONE) /* heartbeat, ready_timeout, health */
		return true;
	return !exit_is_success(p->cfg, le->signo ? le->signo : (le->code & 0xff) << 8);
}

pid_t supervisor_events_spawn(struct proc *p, char *err, size_t errlen, int *errnum)
{
	pid_t pid = program_spawn(p, err, errlen, errnum);

	if (pid < 0 && !policy_spawn_error_is_transient(*errnum) && !vigil.shutting_down)
		supervisor_note_ended(p, 0, true);
	return pid;
}

/* Events of one state change, then the hooks it calls for. */
void supervisor_events_state_changed(struct proc *p, enum proc_state old)
{
	pid_t pid = p->pid;

	if (p->state == STATE_STOPPING && p->kill_reason == KILL_HEARTBEAT)
		events_heartbeat(p);
	if (!pid && just_ended.p == p)
		pid = just_ended.pid;
	events_state(p, old, pid);
	if (just_ended.p == p)
		supervisor_flush_ended();
	if (p->state == STATE_FATAL)
		hooks_fatal(p);
}

void supervisor_events_pid_changed(struct proc *p, pid_t old_pid)
{
	if (!p->pid && old_pid)
		supervisor_note_ended(p, old_pid, supervisor_exit_is_failure(p));
}

void supervisor_events_health_changed(struct proc *p, enum health_state old)
{
	events_health(p, old);
	/* health_action = none only reports: the loss is the failure (with
	 * restart, the end of the process it stops is) */
	if (p->health.state == HEALTH_UNHEALTHY && p->cfg->health_action == HEALTH_ACTION_NONE)
		hooks_failure(p, "health");
}

void supervisor_events_forget(const struct proc *p)
{
	if (just_ended.p == p)
		just_ended.p = NULL;
}

int supervisor_events_init(void)
{
	ended_event = event_new(vigil.base, -1, 0, supervisor_events_ended_timer, NULL);
	return ended_event ? 0 : -1;
}

void supervisor_events_free(void)
{
	if (ended_event)
		event_free(ended_event);
	ended_event = NULL;
	just_ended.p = NULL;
	hooks_free();
	events_free();
}
