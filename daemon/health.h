/* Active health checks of one process (DESIGN.md "Active health
 * checks"): a probe every health_interval while the process is RUNNING,
 * at most one in flight, all on the event loop (http and tcp through
 * libevent, exec as a child process through the spawn action). After
 * health_retries failures in a row, not counting those within
 * health_start_period of the spawn, the process is unhealthy; one pass
 * makes it healthy again.
 *
 * This module knows nothing of processes: a struct health lives in its
 * owner and names it by an opaque pointer; what a verdict leads to is
 * decided by the owner through the `changed` action. */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "health_target.h"

struct event;
struct program_config;
struct health_probe; /* the check in flight (health.c) */

enum health_state { HEALTH_STARTING, HEALTH_HEALTHY, HEALTH_UNHEALTHY };

struct health {
	bool configured;		    /* the program has a health_check */
	struct health_target target;	    /* this instance's, parsed at init */
	struct program_config *const *cfg; /* interval, timeout, retries, start period */
	enum health_state state;	    /* HEALTH_STARTING for a new process */
	int failures;			    /* failed checks in a row */
	int64_t last_check;		    /* monotonic usec of the last verdict; 0: none yet */
	char *last_error;		    /* "HTTP 500", "timeout after 2s", ...; NULL after a pass */
	uint64_t passed, failed;	    /* checks so far, for /metrics */
	int64_t spawned_at;		    /* of the process being checked */
	bool active;			    /* between health_begin and health_end */
	struct event *timer;
	struct health_probe *probe;	    /* the check in flight; NULL: none */
	struct health_probe *net_probe;	    /* http, tcp: kept from check to check (no allocation each) */
	void *owner;
	const char *name; /* for log lines: "web: health check failed: HTTP 500" */
	char *target_error; /* check_text no longer parses: every check fails with this */
};

struct health_actions {
	/* after h->state changed (old is what it was) */
	void (*changed)(void *owner, enum health_state old);
	/* exec: starts argv as the owner would run (its user, group,
	 * directory, environment), in a process group of its own, with
	 * fd 1 and 2 going to out_fd. Returns the pid, or -1 with err (and
	 * errno EAGAIN, ENOMEM, EMFILE...: vigild lacked the resources, the
	 * check is not counted). */
	pid_t (*spawn)(void *owner, char *const *argv, int out_fd, char *err, size_t errlen);
};
/* Once, before any check runs (unset members: do nothing; no exec). */
void health_set_actions(const struct health_actions *actions);

/* check_text: the health_check of this instance with %(process_num)d
 * expanded, or NULL when the program has none (then everything below
 * does nothing and h->configured is false). cfg points at the owner's
 * config pointer, which a reload may change. */
void health_init(struct health *h, void *owner, const char *name, struct program_config *const *cfg,
		 const char *check_text);
/* The same with the target parsed already (taken over: health_free frees
 * it); NULL: no health_check. */
void health_init_target(struct health *h, void *owner, const char *name, struct program_config *const *cfg,
			const struct health_target *target);
void health_free(struct health *h);
/* The process became RUNNING (spawned at spawned_at): the first check
 * runs at once, then every health_interval. */
void health_begin(struct health *h, int64_t spawned_at);
/* The process left RUNNING: the check in flight is cancelled (an exec
 * probe is killed), no more run. The state is kept for status until the
 * next health_begin, which starts from HEALTH_STARTING. */
void health_end(struct health *h);

/* The reaper's question: was pid an exec probe? Then it is accounted
 * for here and true is returned. */
bool health_child_exited(pid_t pid, int wait_status);

const char *health_state_name(enum health_state state);

#endif
