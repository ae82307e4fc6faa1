/* vigild's runtime: the one event loop, the loaded config, and every
 * supervised process in start order (priority, then name). */
#ifndef VIGIL_VIGILD_H
#define VIGIL_VIGILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

struct event_base;
struct config;
struct proc;

struct vigil {
	struct event_base *base;
	struct config *config;
	struct proc **procs;
	size_t nprocs;
	bool shutting_down;
	int exit_code; /* vigild's, once the loop ends: a critical program's (Container mode) */
	bool critical_failed; /* a critical program ended for good: /healthz says 503 */
	int devnull; /* children's stdin */
	struct rlimit nofile; /* the open-files limit vigild was given: children get it back */
};

extern struct vigil vigil;

int64_t now_usec(void); /* CLOCK_MONOTONIC */
/* array with room for at least n + 1 elements of size bytes (capacity
 * *cap, doubled when full); aborts when out of memory. */
void *grow_array(void *array, size_t n, size_t *cap, size_t size);

/* The event loop as vigild needs it (precise timers). */
struct event_base *vigil_event_base_new(void);

#endif
