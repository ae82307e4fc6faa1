/* Process states, shared by vigild (which assigns them) and vigilctl
 * (which waits for them). */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H

enum proc_state {
	STATE_STOPPED,
	STATE_STARTING,
	STATE_RUNNING,
	STATE_BACKOFF,
	STATE_STOPPING,
	STATE_EXITED,
	STATE_FATAL,
	STATE_WAITING, /* asked to start, waiting for what it requires */
	STATE_COUNT
};

const char *state_name(enum proc_state state);
/* Returns -1 for an unknown name or NULL. */
int state_from_name(const char *name);

#endif
