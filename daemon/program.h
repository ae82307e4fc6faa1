/* A supervised process ("web", or "web:2" with numprocs) and THE state
 * machine. Only program.c assigns proc->state; other modules report
 * events (exit, start/stop requests, pings) through the functions here,
 * and program.c announces what it decided through one observer (set by
 * the owner of the processes, supervisor.c): it never calls up.
 * Requests return 0 or -errno; nothing here logs on behalf of a caller. */
#ifndef VIGIL_PROGRAM_H
#define VIGIL_PROGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "state.h"
#include "config.h"
#include "health.h"
#include "heartbeat.h"
#include "output.h"
#include "policy.h"

enum exit_cause { CAUSE_EXIT, CAUSE_SIGNAL, CAUSE_HEARTBEAT, CAUSE_READY_TIMEOUT, CAUSE_STOPPED, CAUSE_HEALTH,
		  CAUSE_DEPENDENCY };

enum kill_reason {
	KILL_NONE,	    /* it ended by itself */
	KILL_STOP,	    /* stop requested (ctl, shutdown, or its parent ended) */
	KILL_HEARTBEAT,	    /* pings stopped */
	KILL_READY_TIMEOUT, /* type = notify and no READY=1 in time */
	KILL_HEALTH,	    /* its health checks failed (health_action = restart) */
};

struct last_exit {
	bool set;
	enum exit_cause cause;
	int code;   /* -1 when killed by a signal */
	int signo;  /* 0 when it exited */
};

struct proc {
	struct program_config *cfg;
	int instance;
	char name[80];
	char *argv_text; /* the command with %(process_num)d expanded */

	enum proc_state state;
	int64_t state_since; /* monotonic usec */
	pid_t pid;	     /* 0 when no process runs */
	int64_t started_at;  /* monotonic usec of the current process's spawn */
	unsigned restarts;   /* restarts so far: automatic after an exit, and requested */
	struct last_exit last_exit;
	char *spawn_error;   /* why the last spawn failed, until one succeeds */

	int failed_starts;   /* consecutive, drives the backoff delay */
	struct start_limit start_limit;
	int quick_runs;	     /* restarts in a row of processes that lived < 1 s */
	int spawn_retries;   /* spawns in a row that failed for lack of resources */
	struct event *timer; /* start_secs, backoff, stop_timeout, or the end of
				POLICY_MIN_RUN_USEC when RUNNING: by state */
	int64_t timer_deadline; /* monotonic usec */

	pid_t pgid;	     /* its process group: the first pid (MAINPID= may move pid) */
	enum kill_reason kill_reason; /* why the coming exit was caused */
	enum proc_state kill_from;    /* the state it was killed from */
	bool start_after_stop;	      /* restart: start again once stopped */
	bool follow_parent;	      /* daemon child: start again when the parent runs */

	struct heartbeat hb; /* deadline re-armed by every WATCHDOG=1, last ping */
	struct health health; /* active checks while RUNNING */
	char *health_text;    /* health_check with %(process_num)d expanded, or NULL */
	char *status_text;   /* last STATUS= */

	/* daemon-flagged children: parent is the bind_to process (NULL for
	 * vigild itself); children are the daemon processes bound to this one */
	struct proc *parent;
	struct proc **children;
	size_t nchildren;

	struct proc_output output; /* pipes, files and recent lines */

	/* requires: bound by the owner (supervisor.c) like daemon children.
	 * reqs[i] are the instances of the program cfg->requires[i] names;
	 * dependents are the processes whose requires name this program. */
	struct proc_requirement {
		struct proc **procs;
		size_t n;
		enum requirement_condition condition;
	} *reqs;
	size_t nreqs;
	struct proc **dependents;
	size_t ndependents;
	/* ordered stop and restart (depend.c): stop, or restart, once no
	 * dependent runs any more; resume: start again once what it requires
	 * is no longer being stopped or restarted; a reload's successor waits
	 * for its predecessor to be gone */
	bool stop_pending, restart_pending, resume_pending, awaiting_predecessor;
	unsigned depend_mark; /* depend.c's walks: seen in this one */
	bool depend_named;    /* depend.c: named by the request at hand */
	bool depend_reached;  /* depend.c: a dependent of another one in this walk */
	bool ran_once;	/* a process of it has exec'd (critical: else exit code 1) */
	bool completed; /* ended with a success code and was not restarted (the
			   "completed" condition; EXITED); cleared by a spawn */

	/* reload: a retiring process is stopped, then freed; its successor
	 * (the same name under the new config) starts once it is gone */
	bool retiring;
	bool start_successor;
	struct proc *successor;
};

/* Everything that happens to a process: the columns of the state table
 * in program.c. */
enum proc_event {
	PEV_START,	    /* a start was asked for (ctl, autostart, reload) */
	PEV_STOP,	    /* a stop was asked for (ctl, shutdown, reload) */
	PEV_RESTART,	    /* a restart was asked for */
	PEV_EXIT,	    /* its main process ended */
	PEV_TIMER,	    /* p->timer fired: its meaning depends on the state */
	PEV_READY,	    /* READY=1 */
	PEV_HEARTBEAT_LOST, /* pings stopped, or WATCHDOG=trigger */
	PEV_PARENT_RUNNING, /* a daemon child's parent entered RUNNING */
	PEV_PARENT_GONE,    /* a daemon child's parent left RUNNING */
	PEV_UNHEALTHY,	    /* its health checks failed health_retries times */
	PEV_REQUIRES_MET,   /* WAITING: every requirement holds now */
	PEV_REQUIRES_FAILED,/* WAITING: a requirement failed for good */
	PEV_COUNT
};
const char *proc_event_name(enum proc_event ev);

/* What the state machine tells the owner of the processes, and the two
 * system services it uses (replaceable so the table can be walked in a
 * unit test without forking or signalling anything). */
struct proc_hooks {
	/* after every change of p->state */
	void (*state_changed)(struct proc *p, enum proc_state old);
	/* after p->pid changed: spawned (old 0), MAINPID= moved it, or it
	 * ended (p->pid 0; p->pgid still names its group) */
	void (*pid_changed)(struct proc *p, pid_t old_pid);
	/* starts p's process: see program_spawn.h */
	pid_t (*spawn)(struct proc *p, char *err, size_t errlen, int *errnum);
	/* kill(2) */
	int (*signal)(pid_t target, int signo);
	/* Before p is spawned: whether what it requires holds. It pulls in
	 * (starts) requirements that are neither active nor already in their
	 * condition. REQUIRES_WAIT puts p in WAITING; REQUIRES_FAILED makes
	 * it FATAL with cause dependency. why (when not met) names what it
	 * waits for or what failed, for its status text. Unset: always met. */
	int (*requirements)(struct proc *p, char *why, size_t whylen);
};
enum { REQUIRES_MET, REQUIRES_WAIT, REQUIRES_FAILED };
/* Unset members keep their defaults (no observer; the real spawn and kill). */
void proc_set_hooks(const struct proc_hooks *hooks);

struct proc *proc_new(struct program_config *cfg, int instance);
void proc_free(struct proc *p);

/* Requests from the ctl socket or startup. Return 0, or -EBUSY when the
 * request is not possible in the current state. */
int proc_request_start(struct proc *p);
int proc_request_stop(struct proc *p);
int proc_request_restart(struct proc *p);
int proc_send_signal(struct proc *p, int signo);
/* 0, -EBUSY while vigild shuts down, -EAGAIN for a daemon child whose
 * parent is not RUNNING */
int proc_may_start(const struct proc *p);

/* Its main process ended with this wait status. */
void proc_on_exit(struct proc *p, int wait_status);

/* Notify socket events (daemon/notify.c). */
void proc_on_ping(struct proc *p);
void proc_on_ready(struct proc *p);
void proc_on_status(struct proc *p, const char *text);
void proc_on_watchdog_usec(struct proc *p, int64_t usec);
void proc_on_mainpid(struct proc *p, pid_t pid);
void proc_on_heartbeat_lost(struct proc *p, const char *why);
/* heartbeat.h's lost action: p is a struct proc */
void proc_heartbeat_deadline_passed(void *p, const char *why);

/* A daemon child's parent is retired by a reload (its entering and
 * leaving RUNNING is seen by program.c itself). */
void proc_on_parent_gone(struct proc *child);

/* health.h's verdict changed (p->health.state; it was old): unhealthy
 * with health_action = restart stops it and restarts it per policy */
void proc_on_health_changed(struct proc *p, enum health_state old);
void proc_on_unhealthy(struct proc *p, const char *why);
/* WAITING: the owner found every requirement met, or one failed for good */
void proc_on_requirements(struct proc *p, bool failed, const char *why);

bool proc_is_active(const struct proc *p); /* a process runs or will soon */
const char *exit_cause_name(enum exit_cause cause);

#endif
