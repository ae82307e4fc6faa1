#include "policy.h"

#include <stdlib.h>
#include <sys/wait.h>

int64_t backoff_delay(int64_t base, int64_t max, int failures)
{
	int64_t delay = base;

	for (int i = 1; i < failures && delay < max; i++)
		delay = delay > max / 2 ? max : delay * 2;
	return delay < max ? delay : max;
}

bool exit_is_success(const struct program_config *pc, int wait_status)
{
	return WIFEXITED(wait_status) && exit_code_set_has(&pc->success_exit_codes, WEXITSTATUS(wait_status));
}

bool policy_wants_restart(enum restart_policy policy, bool success)
{
	switch (policy) {
	case RESTART_ALWAYS:
		return true;
	case RESTART_ON_FAILURE:
		return !success;
	case RESTART_NEVER:
		return false;
	}
	return false;
}

void start_limit_init(struct start_limit *sl, int burst)
{
	sl->cap = burst + 1;
	sl->times = calloc((size_t)sl->cap, sizeof(*sl->times));
	if (!sl->times)
		abort();
	sl->count = sl->head = 0;
}

void start_limit_free(struct start_limit *sl)
{
	free(sl->times);
	sl->times = NULL;
}

void start_limit_reset(struct start_limit *sl)
{
	sl->count = sl->head = 0;
}

bool start_limit_record(struct start_limit *sl, int64_t now, int64_t interval, int burst)
{
	int within = 0;

	sl->times[sl->head] = now;
	sl->head = (sl->head + 1) % sl->cap;
	if (sl->count < sl->cap)
		sl->count++;
	for (int i = 0; i < sl->count; i++)
		if (now - sl->times[i] <= interval)
			within++;
	return within > burst;
}
