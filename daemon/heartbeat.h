/* Heartbeat deadlines. Each WATCHDOG=1 pushes a process's deadline its
 * timeout into the future; when one passes, it is judged at the end of
 * that loop turn (after the pings still queued were read) and, if no
 * ping came, reported through the `lost` action given at setup.
 *
 * vigild never blames a program for its own slowness: a deadline that
 * passed during a stall of vigild's loop starts again, and one that
 * passes while the ping source is behind (its senders wait for room in
 * the notify socket's queue, so a ping may be among them) is judged only
 * once the source has caught up.
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
	int64_t deadline;  /* monotonic usec: the last ping (or arming) + timeout */
	int64_t fires_at;  /* when the timer is due: the deadline, or a later re-check */
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

/* The ping source found its queue full: senders wait for room, and a
 * ping may be among them. The source counts as behind until none of its
 * reads has found the queue full for a few milliseconds. */
void heartbeat_source_full(void);
/* The drain action: reads what the ping source has queued (pings,
 * READY=1). False if this read found the queue full. */
bool heartbeat_drain(void);
/* Before another deadline of the same kind (ready_timeout) is judged:
 * drains, then returns 0 if it may be judged now, else how long to wait
 * first: `period` again after a stall of vigild (its timer was due at
 * fires_at); while the source is behind, a re-check, growing with how
 * long ago `due` (the original deadline) passed, until it is a period
 * overdue: then it is judged whatever the source says. */
int64_t heartbeat_verdict_wait(int64_t due, int64_t fires_at, int64_t period, const char *name);

#endif
