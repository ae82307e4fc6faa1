/* The process JSON keys of issues 8 and 11 (requires, health, type,
 * completed, cpu_percent, rss_bytes), key by key, besides the reference
 * comparison of test_ctl_json.c. */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ctl_json.h"
#include "parse.h"
#include "proc_stat.h"
#include "program.h"

#include "ctl_json_reference.h"

static void test_no_requires_no_health(void **state)
{
	struct fixture f;
	json_t *j;

	(void)state;
	fixture_init(&f, "web");
	assert_proc_matches(&f.p, 0);
	j = parsed_proc(&f.p, 0);
	assert_true(json_is_array(json_object_get(j, "requires")));
	assert_int_equal(json_array_size(json_object_get(j, "requires")), 0);
	assert_true(json_is_null(json_object_get(j, "health")));
	assert_key_string(j, "type", "simple");
	assert_true(json_is_false(json_object_get(j, "completed")));
	json_decref(j);
}

static void test_requires_list(void **state)
{
	struct requirement reqs[] = { { "db", REQUIRE_HEALTHY }, { "migrate", REQUIRE_RUNNING }, { "q\"x", REQUIRE_COMPLETED } };
	struct proc_requirement bound[3] = { { .condition = REQUIRE_HEALTHY }, { .condition = REQUIRE_COMPLETED },
					     { .condition = REQUIRE_COMPLETED } };
	struct fixture f;
	json_t *j, *list;

	(void)state;
	fixture_init(&f, "web");
	f.pc.requires = reqs;
	f.pc.nrequires = 3;
	assert_proc_matches(&f.p, 0);
	j = parsed_proc(&f.p, 0);
	list = json_object_get(j, "requires");
	assert_int_equal(json_array_size(list), 3);
	assert_key_string(json_array_get(list, 0), "name", "db");
	assert_key_string(json_array_get(list, 0), "condition", "healthy");
	assert_key_string(json_array_get(list, 1), "name", "migrate");
	assert_key_string(json_array_get(list, 1), "condition", "running");
	assert_key_string(json_array_get(list, 2), "name", "q\"x");
	assert_key_string(json_array_get(list, 2), "condition", "completed");
	json_decref(j);
	/* bound: the resolved condition (running on a oneshot is completed) */
	f.p.reqs = bound;
	f.p.nreqs = 3;
	assert_proc_matches(&f.p, 0);
	j = parsed_proc(&f.p, 0);
	assert_key_string(json_array_get(json_object_get(j, "requires"), 1), "condition", "completed");
	json_decref(j);
}

static void test_health_object(void **state)
{
	struct fixture f;
	int64_t now = 100 * USEC_PER_SEC;
	json_t *j, *h;

	(void)state;
	fixture_init(&f, "web");
	f.p.state = STATE_RUNNING;
	f.p.pid = 9;
	f.p.health.configured = true;
	/* before the first verdict */
	assert_proc_matches(&f.p, now);
	j = parsed_proc(&f.p, now);
	h = json_object_get(j, "health");
	assert_true(json_is_object(h));
	assert_int_equal(json_object_size(h), 4);
	assert_key_string(h, "state", "starting");
	assert_int_equal(json_integer_value(json_object_get(h, "failures")), 0);
	assert_true(json_is_null(json_object_get(h, "last_check_age_s")));
	assert_true(json_is_null(json_object_get(h, "last_error")));
	json_decref(j);

	f.p.health.state = HEALTH_UNHEALTHY;
	f.p.health.failures = 3;
	f.p.health.last_check = now - 3200000;
	f.p.health.last_error = "HTTP 500";
	assert_proc_matches(&f.p, now);
	j = parsed_proc(&f.p, now);
	h = json_object_get(j, "health");
	assert_key_string(h, "state", "unhealthy");
	assert_int_equal(json_integer_value(json_object_get(h, "failures")), 3);
	assert_true(json_is_real(json_object_get(h, "last_check_age_s")));
	assert_true(json_real_value(json_object_get(h, "last_check_age_s")) == 3.2);
	assert_key_string(h, "last_error", "HTTP 500");
	json_decref(j);

	f.p.health.state = HEALTH_HEALTHY;
	f.p.health.failures = 0;
	f.p.health.last_error = NULL;
	assert_proc_matches(&f.p, now);
	j = parsed_proc(&f.p, now);
	assert_key_string(json_object_get(j, "health"), "state", "healthy");
	json_decref(j);
}

/* last_error of an exec probe is whatever it printed last: it must stay
 * one string, never close the object or add keys of its own. */
static void test_hostile_last_error(void **state)
{
	static const char *const texts[] = {
		"\"}, \"state\": \"healthy\", \"x\": {\"", "\\\"", "\x01\x1b[31mred\x1b[0m\r",
		"\xff\xfe\xc3 not UTF-8", "line\nbreak\ttab", "</script>", "\xe2\x80\xa8 separator",
	};
	struct fixture f;

	(void)state;
	fixture_init(&f, "web");
	f.p.health.configured = true;
	f.p.health.state = HEALTH_UNHEALTHY;
	f.p.health.last_check = 1;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *j, *h, *expected = text_or_null(texts[i]);
		f.p.health.last_error = (char *)texts[i];
		assert_proc_matches(&f.p, 2);
		j = parsed_proc(&f.p, 2);
		h = json_object_get(j, "health");
		assert_int_equal(json_object_size(h), 4);
		assert_key_string(h, "state", "unhealthy");
		assert_true(json_equal(json_object_get(h, "last_error"), expected));
		if (strcmp(json_string_value(expected), texts[i]) == 0) /* valid UTF-8: the very bytes */
			assert_key_string(h, "last_error", texts[i]);
		else /* not UTF-8: cleaned, never dropped */
			assert_int_equal(json_string_length(json_object_get(h, "last_error")), strlen(texts[i]));
		json_decref(expected);
		json_decref(j);
	}
}

static void test_waiting_and_oneshot(void **state)
{
	struct fixture f;
	json_t *j;

	(void)state;
	fixture_init(&f, "web");
	f.p.state = STATE_WAITING;
	f.p.status_text = "waiting for db (healthy), migrate (completed)";
	assert_proc_matches(&f.p, 0);
	j = parsed_proc(&f.p, 0);
	assert_key_string(j, "state", "WAITING");
	json_decref(j);

	fixture_init(&f, "migrate");
	f.pc.type = PROGRAM_ONESHOT;
	f.p.state = STATE_EXITED;
	f.p.completed = true;
	f.p.last_exit = (struct last_exit){ .set = true, .cause = CAUSE_EXIT, .code = 0 };
	assert_proc_matches(&f.p, 0);
	j = parsed_proc(&f.p, 0);
	assert_key_string(j, "type", "oneshot");
	assert_key_string(j, "state", "EXITED");
	assert_true(json_is_true(json_object_get(j, "completed")));
	json_decref(j);
	f.pc.type = PROGRAM_NOTIFY;
	j = parsed_proc(&f.p, 0);
	assert_key_string(j, "type", "notify");
	json_decref(j);
}

/* A process that runs (this test) has figures; one that does not run,
 * or is gone (no pid above PID_MAX_LIMIT is ever used), has nulls. */
static void test_cpu_and_memory(void **state)
{
	struct fixture f;
	json_t *j;

	(void)state;
	fixture_init(&f, "me");
	f.p.state = STATE_RUNNING;
	f.p.pid = getpid();
	f.p.started_at = 1;
	assert_proc_matches(&f.p, 3 * USEC_PER_SEC);
	j = parsed_proc(&f.p, 3 * USEC_PER_SEC);
	assert_true(json_is_real(json_object_get(j, "cpu_percent")));
	assert_true(json_real_value(json_object_get(j, "cpu_percent")) >= 0);
	assert_true(json_integer_value(json_object_get(j, "rss_bytes")) > 1 << 20);
	json_decref(j);

	f.p.pid = 4194304 + 1;
	assert_proc_matches(&f.p, 3 * USEC_PER_SEC);
	j = parsed_proc(&f.p, 3 * USEC_PER_SEC);
	assert_true(json_is_null(json_object_get(j, "cpu_percent")));
	assert_true(json_is_null(json_object_get(j, "rss_bytes")));
	json_decref(j);

	fixture_init(&f, "stopped");
	j = parsed_proc(&f.p, 3 * USEC_PER_SEC);
	assert_true(json_is_null(json_object_get(j, "cpu_percent")));
	assert_true(json_is_null(json_object_get(j, "rss_bytes")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_requires_no_health),
		cmocka_unit_test(test_requires_list),
		cmocka_unit_test(test_health_object),
		cmocka_unit_test(test_hostile_last_error),
		cmocka_unit_test(test_waiting_and_oneshot),
		cmocka_unit_test(test_cpu_and_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
