/* Heartbeat deadlines. Each WATCHDOG=1 pushes a process's deadline its
 * timeout into the future; when one passes, it is judged at the end of
 * that loop turn (after the pings still queued were read) and, if no
 * ping came, reported through the `lost` action given at setup.
 *
 * This module knows nothing of processes: a struct heartbeat lives in
 * its owner and names it by an opaque pointer. */
#ifndef VIGIL_HEARTBEAT_H
#define VIGIL_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

struct event;

struct heartbeat {
	struct event *timer;
	int64_t timeout;   /* 0: none */
	int64_t deadline;  /* monotonic usec */
	int64_t last_ping; /* monotonic usec, 0 before the first */
	bool armed;
	bool judged; /* its deadline passed; judged at the end of the turn */
	void *owner;
	const char *name; /* for the stall message */
};

struct heartbeat_actions {
	/* reads the pings already queued, before a deadline is judged */
	void (*drain)(void);
	/* owner's deadline passed without a ping */
	void (*lost)(void *owner, const char *why);
};
/* Once, before any deadline can pass (unset members: do nothing). */
void heartbeat_set_actions(const struct heartbeat_actions *actions);

void heartbeat_init(struct heartbeat *hb, void *owner, const char *name);
void heartbeat_free(struct heartbeat *hb);
/* Starts the deadline from now, if hb has a timeout. */
void heartbeat_arm(struct heartbeat *hb);
/* A ping: records it and moves an armed deadline. */
void heartbeat_ping(struct heartbeat *hb);
void heartbeat_disarm(struct heartbeat *hb);

#endif
