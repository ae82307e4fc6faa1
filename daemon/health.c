/* Placeholder until the probes land: no program has a check yet (the
 * config does not take health_check). */
#include "health.h"

#include <stdlib.h>
#include <string.h>

void health_set_actions(const struct health_actions *actions)
{
	(void)actions;
}

void health_init(struct health *h, void *owner, const char *name, struct program_config *const *cfg,
		 const char *check_text)
{
	memset(h, 0, sizeof(*h));
	h->owner = owner;
	h->name = name;
	h->cfg = cfg;
	h->configured = check_text != NULL;
}

void health_free(struct health *h)
{
	free(h->last_error);
	h->last_error = NULL;
}

void health_begin(struct health *h, int64_t spawned_at)
{
	h->spawned_at = spawned_at;
	h->state = HEALTH_STARTING;
}

void health_end(struct health *h)
{
	h->active = false;
}

bool health_child_exited(pid_t pid, int wait_status)
{
	(void)pid;
	(void)wait_status;
	return false;
}

const char *health_state_name(enum health_state state)
{
	switch (state) {
	case HEALTH_STARTING: return "starting";
	case HEALTH_HEALTHY: return "healthy";
	case HEALTH_UNHEALTHY: return "unhealthy";
	}
	return "?";
}
