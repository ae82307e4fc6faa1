/* THE state machine. Every assignment of proc->state happens here, in
 * proc_set_state(); the rest of vigild reports events and this file
 * decides, cell by cell of proc_table[state][event] below.
 *
 * Restart storms are bounded whatever start_secs says: an exit within
 * POLICY_MIN_RUN_USEC of the spawn is a failed start, and quick runs in a
 * row past start_limit_burst wait the backoff delay (policy.h). A spawn
 * that fails for lack of fds, processes or memory goes to BACKOFF and is
 * retried, never counted as a failed start. A heartbeat miss sends
 * heartbeat_signal and moves to STOPPING; its exit then counts as a
 * failure. Daemon children are killed with SIGKILL when their parent
 * leaves RUNNING and only run while it is RUNNING: those reactions are
 * decided here too, where the parent's state changes. */
#define _GNU_SOURCE
#include "program.h"
#include "program_impl.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "guard.h"
#include "heartbeat.h"
#include "log.h"
#include "program_spawn.h"
#include "vigild.h"

static struct proc_hooks hooks = { .spawn = program_spawn, .signal = kill };

void proc_set_hooks(const struct proc_hooks *h)
{
	hooks.state_changed = h->state_changed;
	hooks.pid_changed = h->pid_changed;
	hooks.spawn = h->spawn ? h->spawn : program_spawn;
	hooks.signal = h->signal ? h->signal : kill;
	hooks.requirements = h->requirements;
}

static void proc_timer_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proc_dispatch(arg, PEV_TIMER, 0, NULL);
}

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
	start_limit_init(&p->start_limit, cfg->start_limit_burst);
	p->timer = evtimer_new(vigil.base, proc_timer_fired, p);
	if (!p->timer)
		abort();
	heartbeat_init(&p->hb, p, p->name);
	p->hb.timeout = cfg->heartbeat_timeout;
	if (cfg->health_check) {
		p->health_text = expand_program_vars(cfg->health_check, cfg->name, instance, err, sizeof(err));
		if (!p->health_text)
			abort(); /* config_check expanded and parsed it already */
	}
	health_init(&p->health, p, p->name, &p->cfg, p->health_text);
	output_init(&p->output, p->name, p->instance, &p->cfg);
	return p;
}

/* The owner forgets p (its pid index) before: see proc_hooks. */
void proc_free(struct proc *p)
{
	if (!p)
		return;
	event_free(p->timer);
	heartbeat_free(&p->hb);
	health_free(&p->health);
	free(p->health_text);
	output_free(&p->output);
	start_limit_free(&p->start_limit);
	free(p->argv_text);
	free(p->spawn_error);
	free(p->status_text);
	free(p->children);
	for (size_t i = 0; i < p->nreqs; i++)
		free(p->reqs[i].procs);
	free(p->reqs);
	free(p->dependents);
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
	case CAUSE_HEALTH: return "health";
	case CAUSE_DEPENDENCY: return "dependency";
	}
	return "?";
}

const char *proc_event_name(enum proc_event ev)
{
	static const char *const names[PEV_COUNT] = {
		[PEV_START] = "start", [PEV_STOP] = "stop", [PEV_RESTART] = "restart", [PEV_EXIT] = "exit",
		[PEV_TIMER] = "timer", [PEV_READY] = "ready", [PEV_HEARTBEAT_LOST] = "heartbeat lost",
		[PEV_PARENT_RUNNING] = "parent running", [PEV_PARENT_GONE] = "parent gone",
		[PEV_UNHEALTHY] = "unhealthy", [PEV_REQUIRES_MET] = "requires met",
		[PEV_REQUIRES_FAILED] = "requires failed",
	};
	return ev < PEV_COUNT ? names[ev] : "?";
}

bool proc_is_active(const struct proc *p)
{
	return p->pid != 0 || p->state == STATE_BACKOFF;
}

/* The one place a state changes. A daemon child's fate follows its
 * parent's state, so it is decided here, before the observer hears. */
void proc_set_state(struct proc *p, enum proc_state state)
{
	enum proc_state old = p->state;

	if (old == state)
		return;
	p->state = state;
	p->state_since = now_usec();
	log_debug("%s: %s -> %s", p->name, state_name(old), state_name(state));
	/* active checks run while it is RUNNING */
	if (state == STATE_RUNNING && p->pid)
		health_begin(&p->health, p->started_at);
	else if (old == STATE_RUNNING)
		health_end(&p->health);
	if (state == STATE_RUNNING && !vigil.shutting_down)
		for (size_t i = 0; i < p->nchildren; i++)
			proc_dispatch(p->children[i], PEV_PARENT_RUNNING, 0, NULL);
	else if (old == STATE_RUNNING)
		for (size_t i = 0; i < p->nchildren; i++)
			proc_dispatch(p->children[i], PEV_PARENT_GONE, 0, NULL);
	if (hooks.state_changed)
		hooks.state_changed(p, old);
}

void proc_set_pid(struct proc *p, pid_t pid)
{
	pid_t old = p->pid;

	p->pid = pid;
	if (hooks.pid_changed)
		hooks.pid_changed(p, old);
}

void proc_arm_timer(struct proc *p, int64_t usec)
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
void proc_kill(struct proc *p, int signo)
{
	pid_t target = p->cfg->kill_group ? -p->pgid : p->pid;

	if (p->pid && hooks.signal(target, signo) < 0 && errno != ESRCH)
		log_warn("%s: cannot send signal %d to pid %d: %s", p->name, signo, (int)p->pid, strerror(errno));
	if (p->pid && signo == SIGKILL && p->state == STATE_STOPPING && p->cfg->kill_group)
		cgroup_kill(p->name);
}

/* Leftovers of a process group die with their leader, so a restart
 * never finds the old port or lock still held; so does the rest of its
 * cgroup, setsid'd or double-forked. */
void proc_clean_up_after_exit(struct proc *p)
{
	if (p->cfg->kill_group) {
		hooks.signal(-p->pgid, SIGKILL);
		cgroup_kill(p->name);
	}
	cgroup_release(p->name);
	guard_forget_group(p->pgid);
}

/* Starts the end of the running process: signo now (SIGCONT so a
 * stopped process sees it), SIGKILL once stop_timeout passes. Daemon
 * children are never waited for. */
void proc_begin_kill(struct proc *p, enum kill_reason reason, int signo)
{
	p->kill_reason = reason;
	p->kill_from = p->state;
	evtimer_del(p->timer); /* start_secs or ready_timeout no longer apply */
	proc_set_state(p, STATE_STOPPING);
	heartbeat_disarm(&p->hb);
	if (p->cfg->daemon || p->cfg->stop_timeout == 0) {
		proc_kill(p, SIGKILL);
		return;
	}
	proc_kill(p, signo);
	if (signo != SIGKILL && signo != SIGCONT)
		proc_kill(p, SIGCONT);
	proc_arm_timer(p, p->cfg->stop_timeout);
}

void proc_reset_failures(struct proc *p)
{
	p->failed_starts = 0;
	start_limit_reset(&p->start_limit);
}

void proc_mark_started(struct proc *p)
{
	int64_t ran = now_usec() - p->started_at;

	/* Failures are forgiven only once it has lived POLICY_MIN_RUN_USEC:
	 * with start_secs = 0 a crash loop would otherwise never back off. */
	if (ran >= POLICY_MIN_RUN_USEC)
		proc_reset_failures(p);
	proc_set_state(p, STATE_RUNNING);
	if (ran < POLICY_MIN_RUN_USEC)
		proc_arm_timer(p, POLICY_MIN_RUN_USEC - ran);
	if (p->cfg->type == PROGRAM_NOTIFY && p->pid)
		heartbeat_arm(&p->hb); /* a notify program's watchdog runs from READY=1 */
}


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

static void proc_spawn_failed(struct proc *p, pid_t rc, const char *err, int errnum)
{
	free(p->spawn_error);
	p->spawn_error = strdup(err);
	/* status says why, not only "exit 127" */
	free(p->status_text);
	if (asprintf(&p->status_text, "cannot start: %s", err) < 0)
		p->status_text = NULL;
	if (policy_spawn_error_is_transient(errnum)) {
		proc_spawn_retry_later(p, err);
		return;
	}
	log_err("%s: cannot start: %s", p->name, err);
	if (rc == SPAWN_CHILD_FAILED)
		p->last_exit = (struct last_exit){ .set = true, .cause = CAUSE_EXIT, .code = 127 };
	proc_failed_start(p, p->cfg->restart != RESTART_NEVER);
}

void proc_fail_requirement(struct proc *p, const char *why)
{
	why = why ? why : "a requirement failed";
	log_err("%s: not started: %s (FATAL)", p->name, why);
	p->last_exit = (struct last_exit){ .set = true, .cause = CAUSE_DEPENDENCY, .code = -1 };
	free(p->status_text);
	p->status_text = strdup(why);
	proc_set_state(p, STATE_FATAL);
}

void proc_spawn(struct proc *p)
{
	char why[512];
	int rc = hooks.requirements ? hooks.requirements(p, why, sizeof(why)) : REQUIRES_MET;

	if (rc == REQUIRES_FAILED) {
		proc_fail_requirement(p, why);
		return;
	}
	if (rc == REQUIRES_WAIT) {
		evtimer_del(p->timer);
		free(p->status_text);
		p->status_text = strdup(why);
		if (p->state != STATE_WAITING)
			log_info("%s: %s", p->name, why);
		proc_set_state(p, STATE_WAITING);
		return;
	}
	proc_spawn_now(p);
}

void proc_spawn_now(struct proc *p)
{
	char err[512];
	int errnum;
	pid_t pid;

	p->hb.timeout = p->cfg->heartbeat_timeout;
	pid = hooks.spawn(p, err, sizeof(err), &errnum);
	if (pid < 0) {
		proc_spawn_failed(p, pid, err, errnum);
		return;
	}
	if (p->spawn_retries > 1)
		log_info("%s: could start again after %d tries", p->name, p->spawn_retries);
	p->spawn_retries = 0;
	free(p->spawn_error);
	p->spawn_error = NULL;
	free(p->status_text);
	p->status_text = NULL;
	p->pgid = pid;
	p->started_at = now_usec();
	p->hb.last_ping = 0;
	p->kill_reason = KILL_NONE;
	p->ran_once = true;
	p->completed = false;
	proc_set_pid(p, pid);
	log_info("%s: started pid %d", p->name, (int)pid);
	proc_set_state(p, STATE_STARTING);
	if (p->cfg->type != PROGRAM_NOTIFY)
		heartbeat_arm(&p->hb);
	if (p->cfg->type == PROGRAM_ONESHOT) {
		/* STARTING until it exits: that is its result */
	} else if (p->cfg->type == PROGRAM_NOTIFY) {
		if (p->cfg->ready_timeout)
			proc_arm_timer(p, p->cfg->ready_timeout);
	} else if (p->cfg->start_secs == 0) {
		proc_mark_started(p);
	} else {
		proc_arm_timer(p, p->cfg->start_secs);
	}
}

void proc_failed_start(struct proc *p, bool wants_restart)
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

void proc_record_exit(struct proc *p, int status)
{
	static const enum exit_cause cause_of_kill[] = {
		[KILL_STOP] = CAUSE_STOPPED,
		[KILL_HEARTBEAT] = CAUSE_HEARTBEAT,
		[KILL_READY_TIMEOUT] = CAUSE_READY_TIMEOUT,
		[KILL_HEALTH] = CAUSE_HEALTH,
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
void proc_after_failure_or_exit(struct proc *p, enum proc_state from, int64_t ran, bool success)
{
	bool wants_restart = policy_wants_restart(p->cfg->restart, success);
	int64_t delay;

	if (p->cfg->type == PROGRAM_ONESHOT && success) {
		/* done: the "completed" condition */
		proc_reset_failures(p);
		p->completed = true;
		proc_set_state(p, STATE_EXITED);
		return;
	}
	if (p->cfg->type == PROGRAM_ONESHOT) {
		/* every failed run is a failed start */
		proc_failed_start(p, wants_restart);
	} else if (from == STATE_STARTING || ran < POLICY_MIN_RUN_USEC) {
		proc_failed_start(p, wants_restart);
	} else if (!wants_restart) {
		p->completed = success;
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

/* Whether a start or restart may happen now: not while vigild shuts
 * down, and a daemon child only while its parent runs. */
int proc_may_start(const struct proc *p)
{
	if (vigil.shutting_down)
		return -EBUSY;
	if (p->parent && p->parent->state != STATE_RUNNING)
		return -EAGAIN;
	return 0;
}

int proc_send_signal(struct proc *p, int signo)
{
	if (!p->pid)
		return -ESRCH;
	proc_kill(p, signo);
	return 0;
}

void proc_on_health_changed(struct proc *p, enum health_state old)
{
	const struct health *h = &p->health;

	if (h->state == HEALTH_HEALTHY && old == HEALTH_UNHEALTHY)
		log_info("%s: healthy again", p->name);
	else if (h->state == HEALTH_HEALTHY)
		log_info("%s: healthy", p->name);
	if (h->state != HEALTH_UNHEALTHY)
		return;
	if (p->cfg->health_action == HEALTH_ACTION_NONE) {
		log_warn("%s: unhealthy after %d failed checks (%s); health_action = none: left running", p->name,
			 h->failures, h->last_error ? h->last_error : "?");
		return;
	}
	proc_on_unhealthy(p, h->last_error);
}

void proc_on_ping(struct proc *p)
{
	heartbeat_ping(&p->hb);
}

void proc_on_status(struct proc *p, const char *text)
{
	free(p->status_text);
	p->status_text = strdup(text);
}

void proc_on_watchdog_usec(struct proc *p, int64_t usec)
{
	log_info("%s: heartbeat timeout set to %.3fs by WATCHDOG_USEC=", p->name, (double)usec / USEC_PER_SEC);
	p->hb.timeout = usec;
	if (usec == 0)
		heartbeat_disarm(&p->hb);
	else if (p->pid && (p->state == STATE_RUNNING || p->cfg->type != PROGRAM_NOTIFY))
		heartbeat_arm(&p->hb);
}

void proc_on_mainpid(struct proc *p, pid_t pid)
{
	if (pid == p->pid || getpgid(pid) != p->pgid) {
		log_warn("%s: ignoring MAINPID=%d: not a process of its group", p->name, (int)pid);
		return;
	}
	log_info("%s: main pid is now %d (MAINPID=)", p->name, (int)pid);
	proc_set_pid(p, pid);
}
