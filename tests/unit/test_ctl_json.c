/* The process JSON writer (daemon/ctl_json.c) against the encoding it
 * replaced: a jansson tree built with json_pack, kept here as the
 * reference (reference_proc). For every process, tricky or random, the
 * writer's text must parse (strictly) to an object equal to the
 * reference's, with the same keys in the same order and the same types.
 * The text is the reference's byte for byte but for the seconds, which
 * are exact decimals instead of %.17g (test_seconds_*), and measured
 * times rounded to the millisecond (test_ages_*). A field added to
 * the writer belongs in reference_proc too; the fields of issue 8
 * (requires, health, type, completed) are also checked key by key, in
 * test_ctl_json_keys.c; the reference is ctl_json_reference.c.
 * cpu_percent and rss_bytes are read from /proc (proc_stat.c): the
 * reference reads them first, and the writer, asking at the same `now`,
 * gets that very reading (one serves the requests of half a second). */
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

/* ---- tests */

static void test_stopped_process(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f, "web");
	assert_proc_matches(&f.p, 5 * USEC_PER_SEC);
}

static void test_running_process_every_field_set(void **state)
{
	struct fixture f;
	int64_t now = 1000 * USEC_PER_SEC + 123457;

	(void)state;
	fixture_init(&f, "web:3");
	f.pc.name = "web";
	f.pc.daemon = true;
	f.pc.bind_to = "db";
	f.pc.heartbeat_timeout = 3 * USEC_PER_SEC;
	f.p.instance = 3;
	f.p.state = STATE_RUNNING;
	f.p.pid = 4242;
	f.p.started_at = now - 12500000;
	f.p.restarts = 3;
	f.p.last_exit = (struct last_exit){ .set = true, .cause = CAUSE_EXIT, .code = 1, .signo = 0 };
	f.p.hb.timeout = 2500000;
	f.p.hb.last_ping = now - 410000;
	f.p.status_text = "serving 12 clients";
	f.p.output.lost_bytes = 77;
	assert_proc_matches(&f.p, now);
}

static void test_last_exit_and_heartbeat_shapes(void **state)
{
	struct fixture f;
	int64_t now = 10 * USEC_PER_SEC;

	(void)state;
	fixture_init(&f, "w");
	f.p.last_exit = (struct last_exit){ .set = true, .cause = CAUSE_SIGNAL, .code = -1, .signo = 9 };
	f.pc.heartbeat_timeout = 1; /* not running: the config's, and no age */
	f.p.hb.last_ping = 5;
	assert_proc_matches(&f.p, now);
	f.p.pid = 7;
	f.p.hb.timeout = 0; /* running without a heartbeat */
	assert_proc_matches(&f.p, now);
	f.p.hb.timeout = 1000000;
	f.p.hb.last_ping = 0; /* before the first ping */
	assert_proc_matches(&f.p, now);
	for (int cause = 0; cause < CAUSE_COUNT; cause++) {
		f.p.last_exit.cause = (enum exit_cause)cause;
		assert_proc_matches(&f.p, now);
	}
}

static void test_status_texts_that_need_escaping(void **state)
{
	static const char *const texts[] = {
		"", "plain", "quote \" and backslash \\ and slash /", "\"\\\"\\\\",
		"\x01\x02\x1f control \b\f\n\r\t", "del \x7f", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
		"\xff\xfe not UTF-8", "cut \xc3", "overlong \xc0\xaf", "surrogate \xed\xa0\x80",
		"mixed \xc3\xa9 and \xff", "\n", "\\",
	};
	struct fixture f;

	(void)state;
	fixture_init(&f, "w");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		f.p.status_text = (char *)texts[i];
		assert_proc_matches(&f.p, 0);
	}
}

static void test_long_texts_cross_the_writer_buffer(void **state)
{
	struct fixture f;
	size_t sizes[] = { 4000, 4096, 4097, 20000 };

	(void)state;
	fixture_init(&f, "w");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *text = malloc(sizes[i] + 1);
		assert_non_null(text);
		memset(text, 'a', sizes[i]);
		text[sizes[i]] = '\0';
		f.p.status_text = text;
		assert_proc_matches(&f.p, 0);
		text[sizes[i] / 2] = '"'; /* the escaped path */
		assert_proc_matches(&f.p, 0);
		free(text);
	}
}

static void test_huge_numbers(void **state)
{
	static const unsigned long long lost[] = { 0, 1, (1ULL << 53) + 1, LLONG_MAX, 1ULL << 63, ULLONG_MAX };
	static const int64_t ages[] = { 0, 1, 999999, 1000000, 59999999, INT64_C(1) << 53, INT64_MAX / 2, INT64_MAX };
	struct fixture f;

	(void)state;
	fixture_init(&f, "w");
	f.p.pid = INT_MAX;
	f.p.instance = INT_MAX;
	f.p.restarts = UINT_MAX;
	f.p.last_exit = (struct last_exit){ .set = true, .cause = CAUSE_EXIT, .code = INT_MAX, .signo = INT_MIN };
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
		f.p.output.lost_bytes = lost[i];
		assert_proc_matches(&f.p, 0);
	}
	f.p.hb.timeout = INT64_MAX;
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		f.p.started_at = -ages[i];
		f.p.hb.last_ping = -ages[i] + (ages[i] > 0); /* never 0: 0 means no ping */
		assert_proc_matches(&f.p, 0);
		f.p.started_at = ages[i];
		assert_proc_matches(&f.p, 0); /* negative seconds */
	}
}

/* The writer's text parsed (strictly); the caller decrefs it. */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
	/* xorshift64*: deterministic, so a failure replays */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static struct requirement random_requires[] = { { "db", REQUIRE_RUNNING }, { "cache", REQUIRE_HEALTHY },
						{ "migrate", REQUIRE_COMPLETED } };

static void random_proc(struct fixture *f, char *status, size_t status_max)
{
	size_t len = rng_next() % status_max;

	fixture_init(f, "r");
	f->p.instance = (int)(rng_next() % 100);
	f->p.state = (enum proc_state)(rng_next() % STATE_COUNT);
	f->p.pid = rng_next() % 3 ? (pid_t)(rng_next() % 4194304) + 1 : 0;
	f->p.started_at = (int64_t)(rng_next() % (UINT64_C(1) << (rng_next() % 60)));
	f->p.restarts = (unsigned)rng_next();
	f->p.last_exit = (struct last_exit){ .set = rng_next() % 2, .cause = (enum exit_cause)(rng_next() % CAUSE_COUNT),
					     .code = (int)(rng_next() % 300) - 1, .signo = (int)(rng_next() % 3 ? 0 : rng_next() % 65) };
	f->pc.heartbeat_timeout = rng_next() % 2 ? (int64_t)(rng_next() % (60 * USEC_PER_SEC)) : 0;
	f->p.hb.timeout = rng_next() % 2 ? (int64_t)(rng_next() % (60 * USEC_PER_SEC)) : 0;
	f->p.hb.last_ping = (int64_t)(rng_next() % (UINT64_C(1) << 40));
	f->pc.daemon = rng_next() % 2;
	f->pc.bind_to = rng_next() % 2 ? "parent" : NULL;
	f->p.output.lost_bytes = rng_next() >> (rng_next() % 64);
	for (size_t i = 0; i < len; i++) {
		/* mostly printable ASCII, some of everything else */
		uint64_t r = rng_next();
		status[i] = (char)(r % 4 ? 0x20 + r / 4 % 0x5f : 1 + r / 4 % 255);
	}
	status[len] = '\0';
	f->p.status_text = rng_next() % 8 ? status : NULL;
	f->pc.type = (enum program_type)(rng_next() % 3);
	f->p.completed = rng_next() % 2;
	f->p.health.configured = rng_next() % 2;
	f->p.health.state = (enum health_state)(rng_next() % 3);
	f->p.health.failures = (int)(rng_next() % 10);
	f->p.health.last_check = rng_next() % 2 ? (int64_t)(rng_next() % (UINT64_C(1) << 40)) : 0;
	f->p.health.last_error = rng_next() % 2 ? status + len / 2 : NULL;
	f->pc.nrequires = rng_next() % (sizeof(random_requires) / sizeof(random_requires[0]) + 1);
	f->pc.requires = random_requires;
}

static void test_random_processes(void **state)
{
	char status[64];
	struct fixture f;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		random_proc(&f, status, sizeof(status));
		assert_proc_matches(&f.p, (int64_t)(rng_next() % (UINT64_C(1) << 42)));
	}
}

/* The list: {"programs": [A, B, ...]}\n with ", " between the objects,
 * as before, for none, one and enough to flush the writer many times. */
static void test_process_list(void **state)
{
	static const size_t counts[] = { 0, 1, 2, 300 };
	char status[300][64];
	struct fixture f[300];
	struct proc *procs[300];

	(void)state;
	for (size_t i = 0; i < 300; i++) {
		random_proc(&f[i], status[i], sizeof(status[i]));
		procs[i] = &f[i].p;
	}
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct evbuffer *buf = evbuffer_new();
		json_t *list = json_array(), *doc;
		size_t len, separators = 0;
		char *text;
		assert_non_null(buf);
		for (size_t i = 0; i < counts[c]; i++)
			json_array_append_new(list, reference_proc(procs[i], 77 * USEC_PER_SEC));
		doc = json_pack("{s:o}", "programs", list);
		procs_write_json(buf, procs, counts[c], 77 * USEC_PER_SEC);
		text = buffer_text(buf);
		assert_same_json(text, doc);
		len = strlen(text);
		assert_true(strncmp(text, "{\"programs\": [", 14) == 0);
		assert_string_equal(text + len - 3, "]}\n");
		for (const char *sep = text; (sep = strstr(sep, "}, {\"name\":")); sep++)
			separators++;
		assert_int_equal(separators, counts[c] ? counts[c] - 1 : 0);
		json_decref(doc);
		free(text);
		evbuffer_free(buf);
	}
}

/* The text of key (a seconds field) in the JSON of p. */
static void field_text(const struct proc *p, const char *key, char *out, size_t outlen)
{
	char *text = writer_text_of(p, 0), *start, *end;
	char quoted[64];

	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	start = strstr(text, quoted);
	assert_non_null(start);
	start += strlen(quoted);
	end = start + strcspn(start, ",}");
	assert_non_null(end);
	assert_true((size_t)(end - start) < outlen);
	snprintf(out, outlen, "%.*s", (int)(end - start), start);
	free(text);
}

/* The text of a configured duration of usec: "timeout_s" of a heartbeat
 * (0 has no heartbeat object: the uptime of a process just started). */
static void uptime_text(int64_t usec, char *out, size_t outlen)
{
	struct fixture f;

	fixture_init(&f, "w");
	f.p.pid = 1;
	f.p.hb.timeout = usec;
	field_text(&f.p, usec ? "timeout_s" : "uptime_s", out, outlen);
}

/* Uptimes and ages go to the millisecond: 4.620755 s is "4.621". */
static void test_ages_are_rounded_to_the_millisecond(void **state)
{
	static const struct {
		int64_t usec;
		const char *text;
	} cases[] = {
		{ 4620755, "4.621" }, { 1, "0.0" },	   { 499, "0.0" },	   { 500, "0.001" },
		{ 12500000, "12.5" }, { 999999, "1.0" }, { 59999499, "59.999" }, { 3600000400, "3600.0" },
	};
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		fixture_init(&f, "w");
		f.p.pid = 1;
		f.p.started_at = -cases[i].usec;
		f.p.hb.timeout = 1;
		f.p.hb.last_ping = -cases[i].usec;
		field_text(&f.p, "uptime_s", text, sizeof(text));
		assert_string_equal(text, cases[i].text);
		field_text(&f.p, "last_ping_age_s", text, sizeof(text));
		assert_string_equal(text, cases[i].text);
	}
}

static void test_seconds_are_exact_decimals(void **state)
{
	static const struct {
		int64_t usec;
		const char *text;
	} cases[] = {
		{ 0, "0.0" },
		{ 1, "0.000001" },
		{ 10, "0.00001" },
		{ 999999, "0.999999" },
		{ 1000000, "1.0" },
		{ 3000000, "3.0" },
		{ 12500000, "12.5" },
		{ 20890640, "20.89064" },
		{ -1, "-0.000001" },
		{ -12500000, "-12.5" },
		{ (INT64_C(1) << 53), "9007199254.740992" },
		{ -(INT64_C(1) << 53), "-9007199254.740992" },
		/* past 2^53 (NULL): as jansson prints (double)usec / 10^6 */
		{ (INT64_C(1) << 53) + 1, NULL },
		{ (INT64_C(1) << 53) + 3, NULL },
		{ INT64_C(10000000000000000), NULL }, /* 1e10 s: %.17g has no '.' */
		{ INT64_MAX, NULL },
		{ INT64_MIN + 1, NULL },
	};
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *real = json_real((double)cases[i].usec / USEC_PER_SEC);
		char *jansson = json_dumps(real, JSON_ENCODE_ANY);
		uptime_text(cases[i].usec, text, sizeof(text));
		assert_string_equal(text, cases[i].text ? cases[i].text : jansson);
		free(jansson);
		json_decref(real);
	}
}

/* Over every magnitude up to 2^53 and past it: the text reads back as
 * the very double the reference sent, (double)usec / 10^6. */
static void test_seconds_read_back_as_the_same_double(void **state)
{
	char text[64];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		int64_t usec = (int64_t)(rng_next() % (UINT64_C(1) << (1 + i % 63)));
		double expected = (double)usec / USEC_PER_SEC;
		uptime_text(i % 5 ? usec : -usec, text, sizeof(text));
		assert_true(strchr(text, '.') || strchr(text, 'e')); /* a real, not an integer */
		if (i % 5 == 0)
			expected = -expected;
		if (strtod(text, NULL) != expected)
			fail_msg("usec %lld: \"%s\" reads as %.17g, not %.17g", (long long)usec, text, strtod(text, NULL),
				 expected);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stopped_process),
		cmocka_unit_test(test_running_process_every_field_set),
		cmocka_unit_test(test_last_exit_and_heartbeat_shapes),
		cmocka_unit_test(test_status_texts_that_need_escaping),
		cmocka_unit_test(test_long_texts_cross_the_writer_buffer),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_random_processes),
		cmocka_unit_test(test_process_list),
		cmocka_unit_test(test_seconds_are_exact_decimals),
		cmocka_unit_test(test_ages_are_rounded_to_the_millisecond),
		cmocka_unit_test(test_seconds_read_back_as_the_same_double),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
