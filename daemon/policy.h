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

/* Restart storms are bounded whatever start_secs says. A process that
 * ends sooner than this after its spawn never started, even if start_secs
 * is shorter or it sent READY=1: a failed start. */
#define POLICY_MIN_RUN_USEC (100 * 1000)
/* A process that ran well is restarted at once; but after more than
 * start_limit_burst such restarts in a row of processes that each lived
 * less than this, the next ones wait the backoff delay (not counted
 * towards FATAL) until one lives this long. */
#define POLICY_QUICK_RUN_USEC (1000 * 1000)
int64_t policy_restart_delay_after_run(const struct program_config *pc, int64_t ran_usec, int *quick_runs);

/* A spawn that failed for lack of descriptors, processes or memory
 * (EMFILE, ENFILE, EAGAIN, ENOMEM): not the program's fault. It is
 * retried after this delay (tries = 1 for the first) and never counts
 * as a failed start. */
bool policy_spawn_error_is_transient(int err);
int64_t policy_spawn_retry_delay(const struct program_config *pc, int tries);

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
