/* daemon/health.c driven on a real event loop, http and tcp: the checks
 * go to servers this test runs on the same loop; the verdicts, retries,
 * start period and recovery, and health_end at any point. Every wait is
 * a loop run until a condition holds, with a deadline. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health_helpers.h"

/* ---------------------------------------------------------------- http and tcp */

static void test_first_check_runs_from_the_loop(void **state)
{
	struct owner *o = owner_new();
	struct http_server s;
	struct health_target t;

	(void)state;
	http_server_start(&s, 200);
	t = net_target(HEALTH_HTTP, s.port, "/healthz?full=1");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	/* nothing inside health_begin: the owner is changing state there */
	assert_null(o->h.probe);
	assert_int_equal(checks(o), 0);
	assert_true(event_pending(o->h.timer, EV_TIMEOUT, NULL));
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	assert_int_equal(o->h.state, HEALTH_HEALTHY);
	assert_true(o->h.last_check > 0);
	assert_int_equal(o->changes, 1);
	assert_int_equal(o->old_at_change, HEALTH_STARTING);
	assert_string_equal(s.uri, "/healthz?full=1");
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	assert_string_equal(s.host, host);
	owner_free(o);
	evhttp_free(s.http);
}

static void test_http_status_codes(void **state)
{
	static const struct {
		int code;
		const char *error; /* NULL: passes */
	} cases[] = { { 200, NULL }, { 204, NULL }, { 301, NULL }, { 399, NULL }, { 404, "HTTP 404" },
		      { 500, "HTTP 500" }, { 503, "HTTP 503" }, { 101, "HTTP 101" } };
	struct owner *o = owner_new();
	struct http_server s;
	struct health_target t;

	(void)state;
	http_server_start(&s, 200);
	t = net_target(HEALTH_HTTP, s.port, "/");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.code = cases[i].code;
		next_verdict(o); /* it may have been asked before the switch */
		next_verdict(o);
		if (cases[i].error)
			assert_true(last_error_is(o, cases[i].error));
		else
			assert_null(o->h.last_error);
	}
	owner_free(o);
	evhttp_free(s.http);
}

/* The status line is all that is read: a 4 MB body is never taken in. */
static void test_http_body_is_not_read(void **state)
{
	struct owner *o = owner_new();
	struct http_server s;
	struct health_target t;

	(void)state;
	http_server_start(&s, 200);
	s.body_size = 4 << 20;
	t = net_target(HEALTH_HTTP, s.port, "/big");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	next_verdict(o);
	assert_int_equal(o->h.passed, 2);
	owner_free(o);
	evhttp_free(s.http);
}

static void test_http_bad_answers(void **state)
{
	static const struct {
		enum raw_mode mode;
		const char *error;
	} cases[] = { { RAW_BABBLE, "bad response: no HTTP status line" },
		      { RAW_CLOSE, "connection closed without a response" } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct owner *o = owner_new();
		struct raw_server s;
		struct health_target t;

		raw_server_start(&s, cases[i].mode);
		t = net_target(HEALTH_HTTP, s.port, "/");
		owner_check(o, &t);
		health_begin(&o->h, now_usec());
		next_verdict(o);
		assert_true(last_error_is(o, cases[i].error));
		owner_free(o);
		raw_server_stop(&s);
	}
}

/* A status line that comes a byte at a time is put together (and one
 * longer than the limit still fails when it comes in parts). */
static void test_http_status_line_in_parts(void **state)
{
	static char long_line[1100];
	static const struct {
		const char *answer, *error;
	} cases[] = { { "HTTP/1.1 204 No Content\r\n\r\n", NULL },
		      { "HTTP/1.0 503 Busy\nRetry-After: 1\n\n", "HTTP 503" },
		      { long_line, "bad response: no HTTP status line" } };

	(void)state;
	memset(long_line, 'x', sizeof(long_line) - 1);
	memcpy(long_line, "HTTP/1.1 200 ", 13);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct owner *o = owner_new();
		struct raw_server s;
		struct health_target t;

		raw_server_start(&s, RAW_DRIP);
		s.drip = cases[i].answer;
		t = net_target(HEALTH_HTTP, s.port, "/");
		owner_check(o, &t);
		health_begin(&o->h, now_usec());
		next_verdict(o);
		if (cases[i].error)
			assert_true(last_error_is(o, cases[i].error));
		else
			assert_int_equal(o->h.passed, 1);
		owner_free(o);
		raw_server_stop(&s);
	}
}

/* A connect the listener does not finish at once (its accept queue is
 * full: the SYN is dropped and sent again a second later) is waited for
 * on the loop, for tcp as for http, which then sends its request. */
static void test_connect_finished_later(void **state)
{
	static const enum health_kind kinds[] = { HEALTH_TCP, HEALTH_HTTP };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct owner *o = owner_new();
		struct raw_server s;
		struct health_target t;
		int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		raw_server_start(&s, RAW_DRIP);
		s.drip = "HTTP/1.1 200 OK\r\n\r\n";
		event_del(s.accept_event);
		assert_int_equal(listen(s.fd, 0), 0); /* room for one: the filler */
		sin.sin_port = htons(s.port);
		assert_int_equal(connect(filler, (struct sockaddr *)&sin, sizeof(sin)), 0);
		o->cfg.health_timeout = MSEC(5000);
		t = net_target(kinds[i], s.port, "/");
		owner_check(o, &t);
		health_begin(&o->h, now_usec());
		RUN_UNTIL(o->h.probe != NULL);
		assert_int_equal(checks(o), 0); /* waiting for the connect */
		event_add(s.accept_event, NULL);
		close(filler);
		next_verdict(o);
		assert_int_equal(o->h.passed, 1);
		owner_free(o);
		raw_server_stop(&s);
	}
}

static void test_refused(void **state)
{
	static const enum health_kind kinds[] = { HEALTH_HTTP, HEALTH_TCP };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct owner *o = owner_new();
		struct health_target t = net_target(kinds[i], closed_port(), "/");

		owner_check(o, &t);
		health_begin(&o->h, now_usec());
		next_verdict(o);
		assert_true(last_error_is(o, "connection refused"));
		assert_int_equal(o->h.failed, 1);
		owner_free(o);
	}
}

/* A server that never answers is cut at the timeout; the next check
 * starts only after that one ended, health_interval later. */
static void test_http_timeout_one_at_a_time(void **state)
{
	struct owner *o = owner_new();
	struct raw_server s;
	struct health_target t;

	(void)state;
	raw_server_start(&s, RAW_HANG);
	o->cfg.health_timeout = MSEC(200);
	o->cfg.health_interval = MSEC(1);
	t = net_target(HEALTH_HTTP, s.port, "/");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->h.failed == 3);
	assert_true(last_error_is(o, "timeout after 200ms"));
	assert_int_equal(s.max_open, 1);
	owner_free(o);
	raw_server_stop(&s);
}

static void test_tcp_connects_and_closes(void **state)
{
	struct owner *o = owner_new();
	struct raw_server s;
	struct health_target t;

	(void)state;
	raw_server_start(&s, RAW_HANG);
	o->cfg.health_interval = MSEC(1000);
	t = net_target(HEALTH_TCP, s.port, NULL);
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	assert_int_equal(o->h.state, HEALTH_HEALTHY);
	RUN_UNTIL(s.accepted == 1 && s.open == 0); /* closed at once */
	owner_free(o);
	raw_server_stop(&s);
}

/* health_init parses the text; one that no longer parses fails every
 * check with the reason rather than silently checking nothing. */
static void test_init_from_text(void **state)
{
	struct owner *o = owner_new();
	struct raw_server s;
	char text[64];

	(void)state;
	raw_server_start(&s, RAW_HANG);
	snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", s.port);
	health_init(&o->h, o, o->proc.name, &o->cfgp, text);
	assert_true(o->h.configured);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	owner_free(o);
	raw_server_stop(&s);

	o = owner_new();
	health_init(&o->h, o, o->proc.name, &o->cfgp, NULL);
	assert_false(o->h.configured);
	health_begin(&o->h, now_usec());
	assert_null(o->h.timer);
	owner_free(o);

	o = owner_new();
	health_init(&o->h, o, o->proc.name, &o->cfgp, "tcp://127.0.0.1");
	assert_true(o->h.configured);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_non_null(o->h.last_error);
	assert_true(strncmp(o->h.last_error, "health_check: ", 14) == 0);
	owner_free(o);
}


/* ---------------------------------------------------------------- verdicts */

static void test_retries_then_recovery(void **state)
{
	struct owner *o = owner_new();
	struct http_server s;
	struct health_target t;

	(void)state;
	http_server_start(&s, 200);
	o->cfg.health_retries = 3;
	t = net_target(HEALTH_HTTP, s.port, "/");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->h.state == HEALTH_HEALTHY);
	s.code = 500;
	RUN_UNTIL(o->h.state == HEALTH_UNHEALTHY);
	assert_int_equal(o->changes, 2); /* healthy through the first two failures */
	assert_int_equal(o->old_at_change, HEALTH_HEALTHY);
	assert_int_equal(o->failures_at_change, 3);
	assert_string_equal(o->error_at_change, "HTTP 500");
	next_verdict(o); /* still checked while unhealthy */
	assert_int_equal(o->h.failures, 4);
	assert_int_equal(o->changes, 2);
	s.code = 200;
	RUN_UNTIL(o->h.state == HEALTH_HEALTHY);
	assert_int_equal(o->changes, 3);
	assert_int_equal(o->old_at_change, HEALTH_UNHEALTHY);
	assert_int_equal(o->h.failures, 0);
	assert_null(o->h.last_error);
	owner_free(o);
	evhttp_free(s.http);
}

static void test_start_period(void **state)
{
	struct owner *o = owner_new();
	struct health_target t = net_target(HEALTH_TCP, closed_port(), NULL);
	int64_t spawned = now_usec();

	(void)state;
	o->cfg.health_retries = 1;
	o->cfg.health_start_period = MSEC(300);
	owner_check(o, &t);
	health_begin(&o->h, spawned);
	RUN_UNTIL(o->h.state == HEALTH_UNHEALTHY);
	assert_true(o->h.failed > 1); /* those of the first 300 ms did not count */
	assert_int_equal(o->h.failures, 1);
	assert_true(o->change_time - spawned >= MSEC(300));
	/* a process spawned long ago: its first failure counts */
	health_end(&o->h);
	health_begin(&o->h, now_usec() - MSEC(1000));
	assert_int_equal(o->h.state, HEALTH_STARTING);
	next_verdict(o);
	assert_int_equal(o->h.state, HEALTH_UNHEALTHY);
	owner_free(o);
}

/* The owner ends the checks from its handler (health_action = restart);
 * a later begin starts afresh. */
static void test_end_from_the_handler_and_begin_again(void **state)
{
	struct owner *o = owner_new();
	struct health_target t = net_target(HEALTH_HTTP, closed_port(), "/");

	(void)state;
	o->cfg.health_retries = 2;
	o->end_on_unhealthy = true;
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->h.state == HEALTH_UNHEALTHY);
	assert_false(o->h.active);
	assert_null(o->h.probe);
	assert_false(event_pending(o->h.timer, EV_TIMEOUT, NULL));
	assert_true(last_error_is(o, "connection refused")); /* kept for status */
	health_begin(&o->h, now_usec());
	assert_int_equal(o->h.state, HEALTH_STARTING);
	assert_int_equal(o->h.failures, 0);
	assert_null(o->h.last_error);
	assert_int_equal(o->h.last_check, 0);
	assert_int_equal(o->h.failed, 2); /* counters are for /metrics: they go on */
	owner_free(o);
}

static void test_end_mid_check_leaves_nothing(void **state)
{
	int fds = count_fds();
	struct owner *o = owner_new();
	struct raw_server s;
	struct health_target t;

	(void)state;
	raw_server_start(&s, RAW_HANG);
	t = net_target(HEALTH_HTTP, s.port, "/");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(s.open == 1);
	health_end(&o->h);
	assert_null(o->h.probe);
	assert_false(event_pending(o->h.timer, EV_TIMEOUT, NULL));
	RUN_UNTIL(s.open == 0);
	assert_int_equal(checks(o), 0);
	owner_free(o);
	raw_server_stop(&s);
	assert_int_equal(count_fds(), fds);
}

/* ---------------------------------------------------------------- many */

static void many_checks(struct health_target *t, uint64_t n)
{
	struct owner *o = owner_new();

	o->cfg.health_interval = 0;
	owner_check(o, t);
	health_begin(&o->h, now_usec());
	RUN_UNTIL(checks(o) >= n);
	assert_int_equal(o->h.failed, 0);
	owner_free(o);
}

static void test_thousands_of_checks(void **state)
{
	int fds = count_fds();
	struct http_server s;
	struct raw_server raw;
	struct health_target t;

	(void)state;
	http_server_start(&s, 200);
	t = net_target(HEALTH_HTTP, s.port, "/");
	many_checks(&t, 2000);
	evhttp_free(s.http);
	raw_server_start(&raw, RAW_HANG);
	t = net_target(HEALTH_TCP, raw.port, NULL);
	many_checks(&t, 2000);
	raw_server_stop(&raw);
	assert_int_equal(count_fds(), fds);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_check_runs_from_the_loop),
		cmocka_unit_test(test_http_status_codes),
		cmocka_unit_test(test_http_body_is_not_read),
		cmocka_unit_test(test_http_bad_answers),
		cmocka_unit_test(test_http_status_line_in_parts),
		cmocka_unit_test(test_connect_finished_later),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_http_timeout_one_at_a_time),
		cmocka_unit_test(test_tcp_connects_and_closes),
		cmocka_unit_test(test_init_from_text),
		cmocka_unit_test(test_retries_then_recovery),
		cmocka_unit_test(test_start_period),
		cmocka_unit_test(test_end_from_the_handler_and_begin_again),
		cmocka_unit_test(test_end_mid_check_leaves_nothing),
		cmocka_unit_test(test_thousands_of_checks),
	};

	return health_tests_run("health", tests, sizeof(tests) / sizeof(tests[0]));
}
