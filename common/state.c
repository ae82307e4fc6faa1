#include "state.h"

#include <string.h>

static const char *const state_names[STATE_COUNT] = {
	[STATE_STOPPED] = "STOPPED",   [STATE_STARTING] = "STARTING",
	[STATE_RUNNING] = "RUNNING",   [STATE_BACKOFF] = "BACKOFF",
	[STATE_STOPPING] = "STOPPING", [STATE_EXITED] = "EXITED",
	[STATE_FATAL] = "FATAL",       [STATE_WAITING] = "WAITING",
};

const char *state_name(enum proc_state state)
{
	if ((unsigned)state >= STATE_COUNT)
		return "UNKNOWN";
	return state_names[state];
}

int state_from_name(const char *name)
{
	for (int i = 0; name && i < STATE_COUNT; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}
