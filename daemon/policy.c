#include "policy.h"

#include <errno.h>
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

int64_t policy_restart_delay_after_run(const struct program_config *pc, int64_t ran_usec, int *quick_runs)
{
	int64_t delay;

	if (ran_usec >= POLICY_QUICK_RUN_USEC) {
		*quick_runs = 0;
		return 0;
	}
	if (++*quick_runs <= pc->start_limit_burst)
		return 0;
	delay = backoff_delay(pc->restart_delay, pc->restart_delay_max, *quick_runs - pc->start_limit_burst);
	return delay > POLICY_MIN_RUN_USEC ? delay : POLICY_MIN_RUN_USEC; /* even with restart_delay = 0 */
}

bool policy_spawn_error_is_transient(int err)
{
	return err == EMFILE || err == ENFILE || err == EAGAIN || err == ENOMEM || err == ENOBUFS;
}

/* Capped at 5 s: the programs come back soon after the resources do. */
#define SPAWN_RETRY_MAX_USEC (5 * 1000000LL)

int64_t policy_spawn_retry_delay(const struct program_config *pc, int tries)
{
	const int64_t floor = 100 * 1000; /* never a busy loop, whatever the config */
	int64_t cap = pc->restart_delay_max < SPAWN_RETRY_MAX_USEC ? pc->restart_delay_max : SPAWN_RETRY_MAX_USEC;
	int64_t base = pc->restart_delay;

	if (cap < floor)
		cap = floor;
	if (base < floor)
		base = floor;
	return backoff_delay(base < cap ? base : cap, cap, tries);
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
