/* Restart policy as pure functions: what an exit means, whether it is
 * restarted, how long to wait, when to give up. program.c applies them. */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Delay before the next try after `failures` consecutive failed starts
 * (1 = the first): base, 2*base, 4*base, ... capped at max. */
int64_t backoff_delay(int64_t base, int64_t max, int failures);

/* A wait status counts as success if it is a normal exit with one of the
 * program's success_exit_codes. */
bool exit_is_success(const struct program_config *pc, int wait_status);

bool policy_wants_restart(enum restart_policy policy, bool success);

/* Timestamps of recent failed starts, to apply start_limit_burst within
 * start_limit_interval. */
struct start_limit {
	int64_t *times; /* ring of burst+1 entries */
	int cap, count, head;
};

void start_limit_init(struct start_limit *sl, int burst);
void start_limit_free(struct start_limit *sl);
void start_limit_reset(struct start_limit *sl);
/* Records a failed start at now; true if more than burst failed starts
 * fall within interval. */
bool start_limit_record(struct start_limit *sl, int64_t now, int64_t interval, int burst);

#endif
