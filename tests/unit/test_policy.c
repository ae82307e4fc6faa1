/* Unit tests for daemon/policy.c: restart backoff, restart policy, what
 * counts as a successful exit, and the start-limit window. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "policy.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

/* Wait statuses as the kernel builds them (glibc's W_EXITCODE and friends). */
#define EXITED(code) (((code) & 0xff) << 8)
#define KILLED(sig) ((sig) & 0x7f)
#define KILLED_CORE(sig) (((sig) & 0x7f) | 0x80)
#define STOPPED(sig) ((((sig) & 0xff) << 8) | 0x7f)

/* ---- backoff ------------------------------------------------------------ */

static void test_backoff_schedule(void **state)
{
	static const int64_t want[] = {
		100 * MS, 200 * MS, 400 * MS, 800 * MS, 1600 * MS, 3200 * MS,
		6400 * MS, 12800 * MS, 25600 * MS, 30 * SEC, 30 * SEC, 30 * SEC,
	};

	(void)state;
	for (int f = 1; f <= (int)(sizeof(want) / sizeof(want[0])); f++) {
		int64_t got = backoff_delay(100 * MS, 30 * SEC, f);
		if (got != want[f - 1])
			fail_msg("backoff_delay(100ms, 30s, %d) = %lld, want %lld", f, (long long)got,
				 (long long)want[f - 1]);
	}
}

static void test_backoff_edges(void **state)
{
	(void)state;
	/* base equal to the cap, base above the cap */
	assert_int_equal(backoff_delay(5 * SEC, 5 * SEC, 1), 5 * SEC);
	assert_int_equal(backoff_delay(5 * SEC, 5 * SEC, 10), 5 * SEC);
	assert_int_equal(backoff_delay(10 * SEC, 5 * SEC, 1), 5 * SEC);
	/* zero base stays zero */
	assert_int_equal(backoff_delay(0, 30 * SEC, 1), 0);
	assert_int_equal(backoff_delay(0, 30 * SEC, 50), 0);
	/* zero or negative failure counts give the base */
	assert_int_equal(backoff_delay(100 * MS, 30 * SEC, 0), 100 * MS);
	assert_int_equal(backoff_delay(100 * MS, 30 * SEC, -3), 100 * MS);
	/* capping right on a power of two */
	assert_int_equal(backoff_delay(1 * SEC, 8 * SEC, 4), 8 * SEC);
	assert_int_equal(backoff_delay(1 * SEC, 8 * SEC, 5), 8 * SEC);
	assert_int_equal(backoff_delay(1 * SEC, 8 * SEC, 3), 4 * SEC);
}

static void test_backoff_no_overflow(void **state)
{
	int64_t prev = 0;

	(void)state;
	assert_int_equal(backoff_delay(100 * MS, 30 * SEC, 1000), 30 * SEC);
	assert_int_equal(backoff_delay(100 * MS, 30 * SEC, 1000000), 30 * SEC);
	assert_int_equal(backoff_delay(100 * MS, 30 * SEC, INT_MAX), 30 * SEC);
	/* a cap near INT64_MAX: doubling must saturate, never wrap negative */
	for (int f = 1; f <= 200; f++) {
		int64_t d = backoff_delay(1, INT64_MAX, f);
		if (d < prev || d <= 0)
			fail_msg("backoff_delay(1, INT64_MAX, %d) = %lld after %lld", f, (long long)d,
				 (long long)prev);
		prev = d;
	}
	assert_int_equal(backoff_delay(1, INT64_MAX, 63), INT64_C(1) << 62);
	assert_int_equal(backoff_delay(1, INT64_MAX, 64), INT64_MAX);
	assert_int_equal(backoff_delay(1, INT64_MAX, INT_MAX), INT64_MAX);
	assert_int_equal(backoff_delay(INT64_MAX / 3, INT64_MAX, 3), INT64_MAX);
	/* monotonic and capped for a realistic config */
	prev = 0;
	for (int f = 1; f <= 100; f++) {
		int64_t d = backoff_delay(250 * MS, 1 * SEC * 60, f);
		assert_true(d >= prev);
		assert_true(d <= 60 * SEC);
		prev = d;
	}
}

/* ---- restart policy ----------------------------------------------------- */

static void test_policy_wants_restart(void **state)
{
	(void)state;
	assert_true(policy_wants_restart(RESTART_ALWAYS, true));
	assert_true(policy_wants_restart(RESTART_ALWAYS, false));
	assert_false(policy_wants_restart(RESTART_ON_FAILURE, true));
	assert_true(policy_wants_restart(RESTART_ON_FAILURE, false));
	assert_false(policy_wants_restart(RESTART_NEVER, true));
	assert_false(policy_wants_restart(RESTART_NEVER, false));
	assert_string_equal(restart_policy_name(RESTART_ALWAYS), "always");
	assert_string_equal(restart_policy_name(RESTART_ON_FAILURE), "on-failure");
	assert_string_equal(restart_policy_name(RESTART_NEVER), "never");
}

static void test_exit_is_success(void **state)
{
	struct program_config pc;

	(void)state;
	/* sanity of the status builders against libc's macros */
	assert_true(WIFEXITED(EXITED(3)) && WEXITSTATUS(EXITED(3)) == 3);
	assert_true(WIFSIGNALED(KILLED(SIGTERM)) && WTERMSIG(KILLED(SIGTERM)) == SIGTERM);
	assert_true(WIFSIGNALED(KILLED_CORE(SIGSEGV)) && WCOREDUMP(KILLED_CORE(SIGSEGV)));
	assert_true(WIFSTOPPED(STOPPED(SIGSTOP)));

	memset(&pc, 0, sizeof(pc));
	exit_code_set_add(&pc.success_exit_codes, 0);
	assert_true(exit_is_success(&pc, EXITED(0)));
	assert_false(exit_is_success(&pc, EXITED(1)));
	assert_false(exit_is_success(&pc, EXITED(255)));
	assert_false(exit_is_success(&pc, KILLED(SIGTERM)));
	assert_false(exit_is_success(&pc, KILLED(SIGKILL)));
	assert_false(exit_is_success(&pc, KILLED_CORE(SIGABRT)));
	assert_false(exit_is_success(&pc, STOPPED(SIGSTOP)));

	/* success_exit_codes = 0, 2 3, 143 */
	exit_code_set_add(&pc.success_exit_codes, 2);
	exit_code_set_add(&pc.success_exit_codes, 3);
	exit_code_set_add(&pc.success_exit_codes, 143);
	exit_code_set_add(&pc.success_exit_codes, SIGTERM);
	assert_true(exit_is_success(&pc, EXITED(2)));
	assert_true(exit_is_success(&pc, EXITED(3)));
	assert_true(exit_is_success(&pc, EXITED(143)));
	assert_false(exit_is_success(&pc, EXITED(4)));
	/* a signal is never an exit code, even if its number is in the set */
	assert_false(exit_is_success(&pc, KILLED(SIGTERM)));
	assert_false(exit_is_success(&pc, KILLED_CORE(SIGTERM)));

	/* success_exit_codes without 0 */
	memset(&pc, 0, sizeof(pc));
	exit_code_set_add(&pc.success_exit_codes, 7);
	assert_false(exit_is_success(&pc, EXITED(0)));
	assert_true(exit_is_success(&pc, EXITED(7)));
}

/* ---- start limit -------------------------------------------------------- */

static void test_start_limit_burst(void **state)
{
	const int64_t interval = 60 * SEC;

	(void)state;
	for (int burst = 1; burst <= 6; burst++) {
		struct start_limit sl;
		start_limit_init(&sl, burst);
		/* burst failures within the window are tolerated ... */
		for (int i = 0; i < burst; i++)
			if (start_limit_record(&sl, 1000 * SEC + i * SEC, interval, burst))
				fail_msg("burst %d: failure %d of %d hit the limit", burst, i + 1, burst);
		/* ... the next one hits it */
		if (!start_limit_record(&sl, 1000 * SEC + burst * SEC, interval, burst))
			fail_msg("burst %d: failure %d did not hit the limit", burst, burst + 1);
		/* and so does every further one in the window */
		assert_true(start_limit_record(&sl, 1000 * SEC + (burst + 1) * SEC, interval, burst));
		start_limit_free(&sl);
		assert_null(sl.times);
	}
}

static void test_start_limit_same_instant(void **state)
{
	struct start_limit sl;

	(void)state;
	start_limit_init(&sl, 5);
	for (int i = 0; i < 5; i++)
		assert_false(start_limit_record(&sl, 0, 60 * SEC, 5));
	assert_true(start_limit_record(&sl, 0, 60 * SEC, 5));
	start_limit_free(&sl);
}

static void test_start_limit_spread_out(void **state)
{
	struct start_limit sl;

	(void)state;
	/* failures further apart than the interval never add up, however many */
	start_limit_init(&sl, 5);
	for (int i = 0; i < 10000; i++)
		if (start_limit_record(&sl, (int64_t)i * 61 * SEC, 60 * SEC, 5))
			fail_msg("failure %d, 61s after the previous one, hit the limit", i + 1);
	start_limit_free(&sl);

	/* burst per window: 5 failures every 61 s never hit burst 5 */
	start_limit_init(&sl, 5);
	for (int w = 0; w < 100; w++)
		for (int i = 0; i < 5; i++) {
			int64_t t = (int64_t)w * 200 * SEC + i * SEC;
			if (start_limit_record(&sl, t, 60 * SEC, 5))
				fail_msg("window %d failure %d hit the limit", w, i + 1);
		}
	start_limit_free(&sl);
}

static void test_start_limit_sliding(void **state)
{
	struct start_limit sl;
	const int64_t iv = 60 * SEC;

	(void)state;
	start_limit_init(&sl, 3);
	assert_false(start_limit_record(&sl, 0 * SEC, iv, 3));
	assert_false(start_limit_record(&sl, 10 * SEC, iv, 3));
	assert_false(start_limit_record(&sl, 20 * SEC, iv, 3));
	/* 0 and 10 have left the window at 75: only 20, 75 */
	assert_false(start_limit_record(&sl, 75 * SEC, iv, 3));
	/* 20, 75, 76 */
	assert_false(start_limit_record(&sl, 76 * SEC, iv, 3));
	/* 20 has left at 81: 75, 76, 81 */
	assert_false(start_limit_record(&sl, 81 * SEC, iv, 3));
	/* 75, 76, 81, 82: four within 60 s */
	assert_true(start_limit_record(&sl, 82 * SEC, iv, 3));
	start_limit_free(&sl);
}

static void test_start_limit_reset(void **state)
{
	struct start_limit sl;
	const int64_t iv = 60 * SEC;

	(void)state;
	start_limit_init(&sl, 2);
	assert_false(start_limit_record(&sl, 1 * SEC, iv, 2));
	assert_false(start_limit_record(&sl, 2 * SEC, iv, 2));
	assert_true(start_limit_record(&sl, 3 * SEC, iv, 2));
	/* after a reset (vigilctl start out of FATAL, or a good start) the
	 * count starts over even within the same window */
	start_limit_reset(&sl);
	assert_false(start_limit_record(&sl, 4 * SEC, iv, 2));
	assert_false(start_limit_record(&sl, 5 * SEC, iv, 2));
	assert_true(start_limit_record(&sl, 6 * SEC, iv, 2));
	/* reset twice in a row, and on a fresh one */
	start_limit_reset(&sl);
	start_limit_reset(&sl);
	assert_false(start_limit_record(&sl, 7 * SEC, iv, 2));
	start_limit_free(&sl);

	start_limit_init(&sl, 1);
	start_limit_reset(&sl);
	assert_false(start_limit_record(&sl, 0, iv, 1));
	assert_true(start_limit_record(&sl, 1, iv, 1));
	start_limit_free(&sl);
}

static void test_quick_runs(void **state)
{
	struct program_config pc;
	int quick = 0;

	(void)state;
	memset(&pc, 0, sizeof(pc));
	pc.start_limit_burst = 2;
	pc.restart_delay = 0; /* even then: never a busy loop */
	pc.restart_delay_max = 0;
	assert_int_equal(policy_restart_delay_after_run(&pc, SEC / 2, &quick), 0);
	assert_int_equal(policy_restart_delay_after_run(&pc, SEC / 2, &quick), 0);
	assert_int_equal(policy_restart_delay_after_run(&pc, SEC / 2, &quick), POLICY_MIN_RUN_USEC);
	assert_int_equal(quick, 3);
	/* one process that lived a second: at once again, count reset */
	assert_int_equal(policy_restart_delay_after_run(&pc, SEC, &quick), 0);
	assert_int_equal(quick, 0);
	pc.restart_delay = SEC / 10;
	pc.restart_delay_max = SEC;
	quick = 2;
	assert_int_equal(policy_restart_delay_after_run(&pc, 1, &quick), SEC / 10);
	assert_int_equal(policy_restart_delay_after_run(&pc, 1, &quick), SEC / 5);
}

static void test_spawn_retry(void **state)
{
	struct program_config pc;

	(void)state;
	memset(&pc, 0, sizeof(pc));
	assert_true(policy_spawn_error_is_transient(EMFILE));
	assert_true(policy_spawn_error_is_transient(ENFILE));
	assert_true(policy_spawn_error_is_transient(EAGAIN));
	assert_true(policy_spawn_error_is_transient(ENOMEM));
	assert_false(policy_spawn_error_is_transient(ENOENT));
	assert_false(policy_spawn_error_is_transient(EACCES));
	assert_false(policy_spawn_error_is_transient(0));
	/* zero delays in the config still wait 100 ms */
	assert_int_equal(policy_spawn_retry_delay(&pc, 1), SEC / 10);
	assert_int_equal(policy_spawn_retry_delay(&pc, 50), SEC / 10);
	pc.restart_delay = SEC / 2;
	pc.restart_delay_max = 60 * SEC; /* capped at 5 s */
	assert_int_equal(policy_spawn_retry_delay(&pc, 1), SEC / 2);
	assert_int_equal(policy_spawn_retry_delay(&pc, 2), SEC);
	assert_int_equal(policy_spawn_retry_delay(&pc, 30), 5 * SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_backoff_edges),
		cmocka_unit_test(test_backoff_no_overflow),
		cmocka_unit_test(test_policy_wants_restart),
		cmocka_unit_test(test_exit_is_success),
		cmocka_unit_test(test_start_limit_burst),
		cmocka_unit_test(test_start_limit_same_instant),
		cmocka_unit_test(test_start_limit_spread_out),
		cmocka_unit_test(test_start_limit_sliding),
		cmocka_unit_test(test_start_limit_reset),
		cmocka_unit_test(test_quick_runs),
		cmocka_unit_test(test_spawn_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
