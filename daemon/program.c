/* THE state machine. Every assignment of proc->state happens here, in
 * proc_set_state(); the rest of vigild reports events and this file decides.
 *
 *   state     | start      | stop          | exit                     | timer
 *   ----------+------------+---------------+--------------------------+-----------------
 *   STOPPED   | spawn      | -             | -                        | -
 *   STARTING  | -          | -> STOPPING   | failed start (*)         | -> RUNNING
 *   RUNNING   | -          | -> STOPPING   | restart at once / EXITED | -
 *   BACKOFF   | spawn now  | -> STOPPED    | -                        | spawn
 *   STOPPING  | after stop | -             | -> STOPPED (or spawn)    | SIGKILL
 *   EXITED    | spawn      | -             | -                        | -
 *   FATAL     | spawn      | -             | -                        | -
 *
 * (*) failed start: BACKOFF with a growing delay, FATAL past the start
 * limit, EXITED if the policy does not restart this exit. */
#define _GNU_SOURCE
#include "program.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "reaper.h"
#include "spawn.h"
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
	start_limit_init(&p->start_limit, cfg->start_limit_burst);
	p->timer = evtimer_new(vigil.base, proc_timer_fired, p);
	if (!p->timer)
		abort();
	return p;
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	if (p->pid)
		reaper_forget(p);
	event_free(p->timer);
	start_limit_free(&p->start_limit);
	free(p->argv_text);
	free(p->spawn_error);
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

	evtimer_add(p->timer, &tv);
}

/* Signals go to the whole process group with kill_group; the child is
 * a session leader, so its pgid is its pid. */
static void proc_kill(struct proc *p, int signo)
{
	pid_t target = p->cfg->kill_group ? -p->pid : p->pid;

	if (p->pid && kill(target, signo) < 0 && errno != ESRCH)
		log_warn("%s: cannot send signal %d to pid %d: %s", p->name, signo, (int)p->pid, strerror(errno));
}

static void proc_failed_start(struct proc *p, bool wants_restart);

static void proc_spawn(struct proc *p)
{
	char err[512];
	pid_t pid = spawn_process(p, err, sizeof(err));

	if (pid < 0) {
		log_err("%s: cannot start: %s", p->name, err);
		free(p->spawn_error);
		p->spawn_error = strdup(err);
		proc_failed_start(p, p->cfg->restart != RESTART_NEVER);
		return;
	}
	free(p->spawn_error);
	p->spawn_error = NULL;
	p->pid = pid;
	p->started_at = now_usec();
	p->killed = false;
	p->stop_requested = false;
	reaper_track(p);
	log_info("%s: started pid %d", p->name, (int)pid);
	proc_set_state(p, STATE_STARTING);
	if (p->cfg->start_secs == 0) {
		p->failed_starts = 0;
		start_limit_reset(&p->start_limit);
		proc_set_state(p, STATE_RUNNING);
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
		p->failed_starts = 0;
		start_limit_reset(&p->start_limit);
		proc_set_state(p, STATE_RUNNING);
		break;
	case STATE_BACKOFF:
		p->restarts++;
		proc_spawn(p);
		break;
	case STATE_STOPPING:
		log_warn("%s: pid %d still running %.1fs after stop signal: sending SIGKILL", p->name, (int)p->pid,
			 (double)p->cfg->stop_timeout / USEC_PER_SEC);
		proc_kill(p, SIGKILL);
		p->killed = true;
		break;
	default:
		break;
	}
}

static void proc_record_exit(struct proc *p, int status)
{
	struct last_exit *le = &p->last_exit;
	char buf[16];

	le->set = true;
	le->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	le->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (p->stop_requested)
		le->cause = CAUSE_STOPPED;
	else
		le->cause = WIFSIGNALED(status) ? CAUSE_SIGNAL : CAUSE_EXIT;
	if (le->signo)
		log_msg(p->stop_requested ? LOG_INFO : LOG_WARNING, "%s: pid %d killed by signal %s", p->name,
			(int)p->pid, signal_name(le->signo, buf, sizeof(buf)));
	else
		log_msg(p->stop_requested || le->code == 0 ? LOG_INFO : LOG_WARNING, "%s: pid %d exited with code %d",
			p->name, (int)p->pid, le->code);
}

void proc_on_exit(struct proc *p, int status)
{
	enum proc_state was = p->state;
	bool wants_restart;

	proc_record_exit(p, status);
	reaper_forget(p);
	/* Leftovers of a process group die with their leader, so a restart
	 * never finds the old port or lock still held. */
	if (p->cfg->kill_group)
		kill(-p->pid, SIGKILL);
	p->pid = 0;
	evtimer_del(p->timer);
	wants_restart = policy_wants_restart(p->cfg->restart, exit_is_success(p->cfg, status));

	if (was == STATE_STOPPING || vigil.shutting_down) {
		p->stop_requested = false;
		if (p->start_after_stop && !vigil.shutting_down) {
			p->start_after_stop = false;
			p->restarts++;
			proc_spawn(p);
		} else {
			proc_set_state(p, STATE_STOPPED);
		}
	} else if (was == STATE_STARTING) {
		proc_failed_start(p, wants_restart);
	} else if (wants_restart) {
		/* It ran well: restart at once, no delay. */
		p->restarts++;
		proc_spawn(p);
	} else {
		proc_set_state(p, STATE_EXITED);
	}
}

int proc_request_start(struct proc *p)
{
	if (vigil.shutting_down)
		return -EBUSY;
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
	switch (p->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		p->stop_requested = true;
		log_info("%s: stopping pid %d with SIG%s", p->name, (int)p->pid,
			 signal_name(p->cfg->stop_signal, buf, sizeof(buf)));
		proc_set_state(p, STATE_STOPPING);
		if (p->cfg->stop_timeout == 0) {
			proc_kill(p, SIGKILL);
			p->killed = true;
			return 0;
		}
		proc_kill(p, p->cfg->stop_signal);
		/* a stopped (SIGSTOP) child would never see the signal */
		proc_kill(p, SIGCONT);
		proc_arm_timer(p, p->cfg->stop_timeout);
		return 0;
	case STATE_BACKOFF:
		evtimer_del(p->timer);
		proc_set_state(p, STATE_STOPPED);
		return 0;
	default:
		return 0;
	}
}

int proc_request_restart(struct proc *p)
{
	if (vigil.shutting_down)
		return -EBUSY;
	switch (p->state) {
	case STATE_STARTING:
	case STATE_RUNNING:
		proc_request_stop(p);
		p->start_after_stop = true;
		return 0;
	case STATE_STOPPING:
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
