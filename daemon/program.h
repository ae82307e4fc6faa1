/* A supervised process ("web", or "web:2" with numprocs) and THE state
 * machine. Only program.c assigns proc->state; other modules report
 * events (exit, start/stop requests, pings) through the functions here. */
#ifndef VIGIL_PROGRAM_H
#define VIGIL_PROGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/state.h"
#include "config.h"
#include "policy.h"

enum exit_cause { CAUSE_EXIT, CAUSE_SIGNAL, CAUSE_HEARTBEAT, CAUSE_READY_TIMEOUT, CAUSE_STOPPED };

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
	unsigned restarts;   /* automatic restarts so far */
	struct last_exit last_exit;
	char *spawn_error;   /* why the last spawn failed, until one succeeds */

	int failed_starts;   /* consecutive, drives the backoff delay */
	struct start_limit start_limit;
	struct event *timer; /* start_secs, backoff, or stop_timeout: by state */

	bool stop_requested;   /* the coming exit was asked for: cause "stopped" */
	bool start_after_stop; /* restart: start again once stopped */
	bool killed;	       /* SIGKILL already sent for this process */

	struct proc *pid_next; /* reaper's pid table chain */
};

struct proc *proc_new(struct program_config *cfg, int instance);
void proc_free(struct proc *p);

/* Requests from the ctl socket or startup. Return 0, or -EBUSY when the
 * request is not possible in the current state. */
int proc_request_start(struct proc *p);
int proc_request_stop(struct proc *p);
int proc_request_restart(struct proc *p);
int proc_send_signal(struct proc *p, int signo);

/* The reaper saw the main process end with this wait status. */
void proc_on_exit(struct proc *p, int wait_status);

bool proc_is_active(const struct proc *p); /* a process runs or will soon */
const char *exit_cause_name(enum exit_cause cause);

#endif
