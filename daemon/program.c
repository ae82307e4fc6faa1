/* THE state machine. Every assignment of proc->state happens here, in
 * proc_set_state(); the rest of vigild reports events and this file decides.
 *
 *   state     | start      | stop          | exit                     | timer
 *   ----------+------------+---------------+--------------------------+-----------------
 *   STOPPED   | spawn      | -             | -                        | -
 *   STARTING  | -          | -> STOPPING   | failed start (*)         | RUNNING, or kill
 *             |            |               |                          | (no READY=1 in time)
 *   RUNNING   | -          | -> STOPPING   | restart at once / EXITED | ran long enough:
 *             |            |               | (**)                     | reset failures
 *   BACKOFF   | spawn now  | -> STOPPED    | -                        | spawn
 *   STOPPING  | after stop | -             | -> STOPPED, or as a      | SIGKILL
 *             |            |               | failure if killed for a  |
 *             |            |               | lost heartbeat/readiness |
 *   EXITED    | spawn      | -             | -                        | -
 *   FATAL     | spawn      | -             | -                        | -
 *
 * (*) failed start: BACKOFF with a growing delay, FATAL past the start
 * limit, EXITED if the policy does not restart this exit.
 * (**) restart storms are bounded whatever start_secs says: an exit
 * within POLICY_MIN_RUN_USEC of the spawn is a failed start, and quick
 * runs in a row past start_limit_burst wait the backoff delay (policy.h).
 * A spawn that fails for lack of fds, processes or memory goes to BACKOFF
 * and is retried, never counted as a failed start.
 * A heartbeat miss sends heartbeat_signal and moves to STOPPING; its exit
 * then counts as a failure. Daemon children are killed with SIGKILL when
 * their parent leaves RUNNING and only run while it is RUNNING. */
#define _GNU_SOURCE
#include "program.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "guard.h"
#include "heartbeat.h"
#include "log.h"
#include "program_spawn.h"
#include "reaper.h"
#include "supervisor.h"
#include "vigild.h"

static void proc_timer_fired(evutil_socket_t fd, short what, void *arg);

struct proc *proc_new(struct program_config *cfg, int instance)
{
	struct proc *p = calloc(1, sizeof(*p));
	char err[PARSE_ERR_MAX];

	if (!p)
		abort();
	p->cfg = cfg;
	p->instance = instance;
	if (cfg->numprocs > 1)
		snprintf(p->name, sizeof(p->name), "%s:%d", cfg->name, instance);
	else
		snprintf(p->name, sizeof(p->name), "%s", cfg->name);
	p->argv_text = expand_program_vars(cfg->command, cfg->name, instance, err, sizeof(err));
	if (!p->argv_text)
		abort(); /* config_check expanded every field already */
	p->state = STATE_STOPPED;
	p->state_since = now_usec();
	p->heartbeat_timeout = cfg->heartbeat_timeout;
	start_limit_init(&p->start_limit, cfg->start_limit_burst);
	p->timer = evtimer_new(vigil.base, proc_timer_fired, p);
	if (!p->timer)
		abort();
	heartbeat_init(p);
	output_proc_init(p);
	return p;
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	if (p->pid)
		reaper_forget(p);
	event_free(p->timer);
	heartbeat_free(p);
	output_proc_free(p);
	start_limit_free(&p->start_limit);
	free(p->argv_text);
	free(p->spawn_error);
	free(p->status_text);
	free(p->children);
	free(p);
}

const char *exit_cause_name(enum exit_cause cause)
{
	switch (cause) {
	case CAUSE_EXIT: return "exit";
	case CAUSE_SIGNAL: return "signal";
	case CAUSE_HEARTBEAT: return "heartbeat";
	case CAUSE_READY_TIMEOUT: return "ready_timeout";
	case CAUSE_STOPPED: return "stopped";
	}
	return "?";
}

bool proc_is_active(const struct proc *p)
{
	return p->pid != 0 || p->state == STATE_BACKOFF;
}

static void proc_set_state(struct proc *p, enum proc_state state)
{
	enum proc_state old = p->state;

	if (old == state)
		return;
	p->state = state;
	p->state_since = now_usec();
	log_debug("%s: %s -> %s", p->name, state_name(old), state_name(state));
	supervisor_on_state_change(p, old);
}

static void proc_arm_timer(struct proc *p, int64_t usec)
{
	struct timeval tv = { .tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC };

	/* libevent counts from the time cached at the start of this loop
	 * turn; a spawn may have taken a while since */
	event_base_update_cache_time(vigil.base);
	p->timer_deadline = now_usec() + usec;
	evtimer_add(p->timer, &tv);
}

/* Signals go to the whole process group with kill_group; the child is
 * a session leader, so its pgid is its first pid. The SIGKILL of a stop
 * goes to its whole cgroup: what escaped the group dies too. */
static void proc_kill(struct proc *p, int signo)
{
	pid_t target = p->cfg->kill_group ? -p->pgid : p->pid;

	if (p->pid && kill(target, signo) < 0 && errno != ESRCH)
		log_warn("%s: cannot send signal %d to pid %d: %s", p->name, signo, (int)p->pid, strerror(errno));
	if (p->pid && signo == SIGKILL && p->state == STATE_STOPPING && p->cfg->kill_group)
		cgroup_kill(p->name);
}

/* Starts the end of the running process: signo now (SIGCONT so a
 * stopped process sees it), SIGKILL once stop_timeout passes. Daemon
 * children are never waited for. */
static void proc_begin_kill(struct proc *p, enum kill_reason reason, int signo)
{
	p->kill_reason = reason;
	p->kill_from = p->state;
	evtimer_del(p->timer); /* start_secs or ready_timeout no longer apply */
	proc_set_state(p, STATE_STOPPING);
	heartbeat_disarm(p);
	if (p->cfg->daemon || p->cfg->stop_timeout == 0) {
		proc_kill(p, SIGKILL);
		return;
	}
	proc_kill(p, signo);
	if (signo != SIGKILL && signo != SIGCONT)
		proc_kill(p, SIGCONT);
	proc_arm_timer(p, p->cfg->stop_timeout);
}

static void proc_reset_failures(struct proc *p)
{
	p->failed_starts = 0;
	start_limit_reset(&p->start_limit);
}

static void proc_mark_started(struct proc *p)
{
	int64_t ran = now_usec() - p->started_at;

	/* Failures are forgiven only once it has lived POLICY_MIN_RUN_USEC:
	 * with start_secs = 0 a crash loop would otherwise never back off. */
	if (ran >= POLICY_MIN_RUN_USEC)
		proc_reset_failures(p);
	proc_set_state(p, STATE_RUNNING);
	if (ran < POLICY_MIN_RUN_USEC)
		proc_arm_timer(p, POLICY_MIN_RUN_USEC - ran);
	if (p->cfg->type == PROGRAM_NOTIFY)
		heartbeat_arm(p); /* a notify program's watchdog runs from READY=1 */
}

static void proc_failed_start(struct proc *p, bool wants_restart);

/* No descriptors, processes or memory now: BACKOFF and try again later,
 * whatever restart says; logged once per run of such failures. */
static void proc_spawn_retry_later(struct proc *p, const char *err)
{
	int64_t delay = policy_spawn_retry_delay(p->cfg, ++p->spawn_retries);

	if (p->spawn_retries == 1)
		log_err("%s: cannot start: %s; retrying, at least every %.1fs, until it can (not a failed start)",
			p->name, err, (double)policy_spawn_retry_delay(p->cfg, 1000) / USEC_PER_SEC);
	else
		log_debug("%s: cannot start: %s; try %d, next in %.3fs", p->name, err, p->spawn_retries,
			  (double)delay / USEC_PER_SEC);
	proc_set_state(p, STATE_BACKOFF);
	proc_arm_timer(p, delay);
}

static void proc_spawn(struct proc *p)
{
	char err[512];
	int errnum;
	pid_t pid;

	p->heartbeat_timeout = p->cfg->heartbeat_timeout;
	pid = program_spawn(p, err, sizeof(err), &errnum);
	if (pid < 0) {
		free(p->spawn_error);
		p->spawn_error = strdup(err);
		if (policy_spawn_error_is_transient(errnum)) {
			proc_spawn_retry_later(p, err);
			return;
		}
		log_err("%s: cannot start: %s", p->name, err);
		if (pid == SPAWN_CHILD_FAILED)
			p->last_exit = (struct last_exit){ .set = true, .cause = CAUSE_EXIT, .code = 127 };
		proc_failed_start(p, p->cfg->restart != RESTART_NEVER);
		return;
	}
	if (p->spawn_retries > 1)
		log_info("%s: could start again after %d tries", p->name, p->spawn_retries);
	p->spawn_retries = 0;
	free(p->spawn_error);
	p->spawn_error = NULL;
	free(p->status_text);
	p->status_text = NULL;
	p->pid = p->pgid = pid;
	p->started_at = now_usec();
	p->last_ping = 0;
	p->kill_reason = KILL_NONE;
	reaper_track(p);
	log_info("%s: started pid %d", p->name, (int)pid);
	proc_set_state(p, STATE_STARTING);
	if (p->cfg->type == PROGRAM_SIMPLE)
		heartbeat_arm(p);
	if (p->cfg->type == PROGRAM_NOTIFY) {
		if (p->cfg->ready_timeout)
			proc_arm_timer(p, p->cfg->ready_timeout);
	} else if (p->cfg->start_secs == 0) {
		proc_mark_started(p);
	} else {
		proc_arm_timer(p, p->cfg->start_secs);
	}
}

static void proc_failed_start(struct proc *p, bool wants_restart)
{
	const struct program_config *pc = p->cfg;
	int64_t delay;

	if (!wants_restart) {
		proc_set_state(p, p->spawn_error ? STATE_FATAL : STATE_EXITED);
		return;
	}
	p->failed_starts++;
	if (start_limit_record(&p->start_limit, now_usec(), pc->start_limit_interval, pc->start_limit_burst)) {
		log_err("%s: %d failed starts within %.1fs: giving up (FATAL); 'vigilctl start %s' tries again",
			p->name, pc->start_limit_burst + 1, (double)pc->start_limit_interval / USEC_PER_SEC, p->name);
		proc_set_state(p, STATE_FATAL);
		return;
	}
	delay = backoff_delay(pc->restart_delay, pc->restart_delay_max, p->failed_starts);
	log_info("%s: failed start %d, next try in %.3fs", p->name, p->failed_starts, (double)delay / USEC_PER_SEC);
	proc_set_state(p, STATE_BACKOFF);
	proc_arm_timer(p, delay);
}

static void proc_timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;

	(void)fd;
	(void)what;
	switch (p->state) {
	case STATE_STARTING:
		if (p->cfg->type == PROGRAM_SIMPLE) {
			proc_mark_started(p);
			break;
		}
		if (vigil_stalled_since(p->timer_deadline, p->name)) {
			proc_arm_timer(p, p->cfg->ready_timeout);
			break;
		}
		log_warn("%s: no READY=1 within %.1fs: failed start", p->name,
			 (double)p->cfg->ready_timeout / USEC_PER_SEC);
		proc_begin_kill(p, KILL_READY_TIMEOUT, p->cfg->stop_signal);
		break;
	case STATE_RUNNING:
		proc_reset_failures(p); /* it lived POLICY_MIN_RUN_USEC */
		break;
	case STATE_BACKOFF:
		if (vigil.shutting_down) {
			proc_set_state(p, STATE_STOPPED);
			break;
		}
		if (!p->spawn_retries) /* a retry for resources is not a restart */
			p->restarts++;
		proc_spawn(p);
		break;
	case STATE_STOPPING:
		if (vigil_stalled_since(p->timer_deadline, p->name)) {
			proc_arm_timer(p, p->cfg->stop_timeout);
			break;
		}
		log_warn("%s: pid %d still running %.1fs after the signal: sending SIGKILL", p->name, (int)p->pid,
			 (double)p->cfg->stop_timeout / USEC_PER_SEC);
		proc_kill(p, SIGKILL);
		break;
	default:
		break;
	}
}

static void proc_record_exit(struct proc *p, int status)
{
	static const enum exit_cause cause_of_kill[] = {
		[KILL_STOP] = CAUSE_STOPPED,
		[KILL_HEARTBEAT] = CAUSE_HEARTBEAT,
		[KILL_READY_TIMEOUT] = CAUSE_READY_TIMEOUT,
	};
	struct last_exit *le = &p->last_exit;
	bool expected = p->kill_reason == KILL_STOP;
	char buf[16];

	le->set = true;
	le->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	le->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (p->kill_reason != KILL_NONE)
		le->cause = cause_of_kill[p->kill_reason];
	else
		le->cause = WIFSIGNALED(status) ? CAUSE_SIGNAL : CAUSE_EXIT;
	if (le->signo)
		log_msg(expected ? LOG_INFO : LOG_WARNING, "%s: pid %d killed by signal %s", p->name, (int)p->pid,
			signal_name(le->signo, buf, sizeof(buf)));
	else
		log_msg(expected || le->code == 0 ? LOG_INFO : LOG_WARNING, "%s: pid %d exited with code %d", p->name,
			(int)p->pid, le->code);
}

/* What an unexpected end (or a kill for a lost heartbeat or readiness)
 * leads to: a failed start, an immediate restart, or EXITED. */
static void proc_after_failure_or_exit(struct proc *p, enum proc_state from, int64_t ran, bool success)
{
	bool wants_restart = policy_wants_restart(p->cfg->restart, success);
	int64_t delay;

	if (from == STATE_STARTING || ran < POLICY_MIN_RUN_USEC) {
		proc_failed_start(p, wants_restart);
	} else if (!wants_restart) {
		proc_set_state(p, STATE_EXITED);
	} else if ((delay = policy_restart_delay_after_run(p->cfg, ran, &p->quick_runs)) == 0) {
		/* It ran well: restart at once, no delay. */
		p->restarts++;
		proc_spawn(p);
	} else {
		log_warn("%s: ended %d times in a row less than %.0fs after its start: next restart in %.3fs", p->name,
			 p->quick_runs, (double)POLICY_QUICK_RUN_USEC / USEC_PER_SEC, (double)delay / USEC_PER_SEC);
		proc_set_state(p, STATE_BACKOFF);
		proc_arm_timer(p, delay);
	}
}

void proc_on_exit(struct proc *p, int status)
{
	enum kill_reason reason = p->kill_reason;
	enum proc_state from = reason == KILL_NONE ? p->state : p->kill_from;
	int64_t ran = now_usec() - p->started_at;

	proc_record_exit(p, status);
	reaper_forget(p);
	/* Leftovers of a process group die with their leader, so a restart
	 * never finds the old port or lock still held; so does the rest of
	 * its cgroup, setsid'd or double-forked. */
	if (p->cfg->kill_group) {
		kill(-p->pgid, SIGKILL);
		cgroup_kill(p->name);
	}
	cgroup_release(p->name);
	guard_forget_group(p->pgid);
	p->pid = 0;
	p->kill_reason = KILL_NONE;
	evtimer_del(p->timer);
	heartbeat_disarm(p);

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
		proc_after_failure_or_exit(p, from, ran, reason == KILL_NONE && exit_is_success(p->cfg, status));
	}
}

/* Whether a start or restart may happen now: not while vigild shuts
 * down, and a daemon child only while its parent runs. */
static int proc_may_start(const struct proc *p)
{
	if (vigil.shutting_down)
		return -EBUSY;
	if (p->parent && p->parent->state != STATE_RUNNING)
		return -EAGAIN;
	return 0;
}

int proc_request_start(struct proc *p)
{
	int rc = proc_may_start(p);

	if (rc < 0)
		return rc;
	switch (p->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		return 0;
	case STATE_STOPPING:
		p->start_after_stop = true;
		return 0;
	case STATE_BACKOFF:
		evtimer_del(p->timer);
		/* fall through */
	default:
		p->failed_starts = 0;
		start_limit_reset(&p->start_limit);
		proc_spawn(p);
		return 0;
	}
}

int proc_request_stop(struct proc *p)
{
	char buf[16];

	p->start_after_stop = false;
	p->follow_parent = false;
	switch (p->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		log_info("%s: stopping pid %d with %s", p->name, (int)p->pid,
			 p->cfg->daemon ? "KILL" : signal_name(p->cfg->stop_signal, buf, sizeof(buf)));
		proc_begin_kill(p, KILL_STOP, p->cfg->stop_signal);
		return 0;
	case STATE_STOPPING:
		/* already dying for another reason: from now on it is a stop */
		p->kill_reason = KILL_STOP;
		return 0;
	case STATE_BACKOFF:
		evtimer_del(p->timer);
		p->spawn_retries = 0;
		proc_set_state(p, STATE_STOPPED);
		return 0;
	default:
		return 0;
	}
}

int proc_request_restart(struct proc *p)
{
	int rc = proc_may_start(p);

	if (rc < 0)
		return rc;
	switch (p->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
	case STATE_STOPPING:
		proc_request_stop(p);
		p->start_after_stop = true;
		return 0;
	default:
		return proc_request_start(p);
	}
}

int proc_send_signal(struct proc *p, int signo)
{
	if (!p->pid)
		return -ESRCH;
	proc_kill(p, signo);
	return 0;
}

void proc_on_ping(struct proc *p)
{
	p->last_ping = now_usec();
	heartbeat_rearm(p);
}

void proc_on_ready(struct proc *p)
{
	if (p->state != STATE_STARTING || p->cfg->type != PROGRAM_NOTIFY)
		return;
	evtimer_del(p->timer);
	log_info("%s: ready (READY=1)", p->name);
	proc_mark_started(p);
}

void proc_on_status(struct proc *p, const char *text)
{
	free(p->status_text);
	p->status_text = strdup(text);
}

void proc_on_watchdog_usec(struct proc *p, int64_t usec)
{
	log_info("%s: heartbeat timeout set to %.3fs by WATCHDOG_USEC=", p->name, (double)usec / USEC_PER_SEC);
	p->heartbeat_timeout = usec;
	if (usec == 0)
		heartbeat_disarm(p);
	else if (p->state == STATE_RUNNING || p->cfg->type == PROGRAM_SIMPLE)
		heartbeat_arm(p);
}

void proc_on_mainpid(struct proc *p, pid_t pid)
{
	if (pid == p->pid || getpgid(pid) != p->pgid) {
		log_warn("%s: ignoring MAINPID=%d: not a process of its group", p->name, (int)pid);
		return;
	}
	log_info("%s: main pid is now %d (MAINPID=)", p->name, (int)pid);
	reaper_forget(p);
	p->pid = pid;
	reaper_track(p);
}

void proc_on_heartbeat_lost(struct proc *p, const char *why)
{
	char buf[16];

	if (p->state != STATE_RUNNING && p->state != STATE_STARTING)
		return;
	log_warn("%s: no heartbeat for %.1fs (%s): sending %s", p->name,
		 (double)(now_usec() - (p->last_ping ? p->last_ping : p->started_at)) / USEC_PER_SEC, why,
		 p->cfg->daemon ? "KILL" : signal_name(p->cfg->heartbeat_signal, buf, sizeof(buf)));
	proc_begin_kill(p, KILL_HEARTBEAT, p->cfg->heartbeat_signal);
	/* A bound daemon child speaks for its parent: silence means the
	 * parent is hung, and both restart. */
	if (p->parent && (p->parent->state == STATE_RUNNING || p->parent->state == STATE_STARTING)) {
		log_warn("%s: counts as hung: its daemon child %s stopped pinging; sending %s", p->parent->name, p->name,
			 signal_name(p->parent->cfg->heartbeat_signal, buf, sizeof(buf)));
		proc_begin_kill(p->parent, KILL_HEARTBEAT, p->parent->cfg->heartbeat_signal);
	}
}

void proc_on_parent_running(struct proc *child)
{
	if (child->cfg->autostart || child->follow_parent)
		proc_request_start(child);
	child->follow_parent = false;
}

void proc_on_parent_gone(struct proc *child)
{
	switch (child->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		proc_begin_kill(child, KILL_STOP, SIGKILL);
		/* it comes back with its parent, even if only started by hand */
		child->follow_parent = true;
		break;
	case STATE_BACKOFF:
		evtimer_del(child->timer);
		proc_set_state(child, STATE_STOPPED);
		child->follow_parent = true;
		break;
	default:
		break;
	}
}
