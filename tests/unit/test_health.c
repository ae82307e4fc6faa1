/* daemon/health.c driven on a real event loop: the checks go to servers
 * this test runs on the same loop (an evhttp server whose answer a test
 * sets, and raw sockets that hang, babble or close), the exec probes
 * run through program_spawn_probe and are reaped by the real reaper.
 * Every wait is a loop run until a condition holds, with a deadline. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "health.h"
#include "program.h"
#include "program_spawn.h"
#include "reaper.h"
#include "vigild.h"

#define DEADLINE_USEC (20 * USEC_PER_SEC)
#define MSEC(n) ((int64_t)(n) * 1000)

/* Runs the loop until cond holds (the tick makes every turn end within
 * 10 ms), then asserts it. */
#define RUN_UNTIL(cond)                                                                \
	do {                                                                           \
		int64_t end_ = now_usec() + DEADLINE_USEC;                             \
		while (!(cond) && now_usec() < end_)                                   \
			event_base_loop(vigil.base, EVLOOP_ONCE);                      \
		assert_true(cond);                                                     \
	} while (0)

static struct event *tick;

/* ---------------------------------------------------------------- the owner */

struct owner {
	struct program_config cfg;
	struct program_config *cfgp;
	struct proc proc; /* what program_spawn_probe runs the probes as */
	struct health h;
	int changes;
	enum health_state old_at_change;
	int failures_at_change;
	int64_t change_time;
	char error_at_change[300];
	bool end_on_unhealthy; /* as the owner does with health_action = restart */
	pid_t last_probe_pid;
	int fail_spawns; /* the first ones fail as fork does without memory */
	int spawn_calls;
};

static pid_t reaped_probe_pid; /* the last pid health_child_exited claimed */
static int reaped_probe_status;

static void on_changed(void *arg, enum health_state old)
{
	struct owner *o = arg;

	o->changes++;
	o->old_at_change = old;
	o->failures_at_change = o->h.failures;
	o->change_time = now_usec();
	snprintf(o->error_at_change, sizeof(o->error_at_change), "%s", o->h.last_error ? o->h.last_error : "");
	if (o->end_on_unhealthy && o->h.state == HEALTH_UNHEALTHY)
		health_end(&o->h);
}

static pid_t on_spawn(void *arg, char *const *argv, int out_fd, char *err, size_t errlen)
{
	struct owner *o = arg;
	pid_t pid;

	if (++o->spawn_calls <= o->fail_spawns) {
		snprintf(err, errlen, "fork: %s", strerror(EAGAIN));
		errno = EAGAIN;
		return -1;
	}
	pid = program_spawn_probe(&o->proc, argv, out_fd, err, errlen);

	if (pid > 0)
		o->last_probe_pid = pid;
	return pid;
}

static void on_exit_reaped(pid_t pid, int status)
{
	if (health_child_exited(pid, status)) {
		reaped_probe_pid = pid;
		reaped_probe_status = status;
	}
}

static struct owner *owner_new(void)
{
	struct owner *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->cfg.name = "probe-test";
	o->cfg.umask = -1;
	o->cfg.health_interval = MSEC(10);
	o->cfg.health_timeout = MSEC(2000);
	o->cfg.health_retries = 100;
	o->cfgp = &o->cfg;
	o->proc.cfg = &o->cfg;
	snprintf(o->proc.name, sizeof(o->proc.name), "probe-test");
	return o;
}

static void owner_free(struct owner *o)
{
	health_free(&o->h);
	free(o);
}

static struct health_target net_target(enum health_kind kind, int port, const char *path)
{
	struct health_target t = { .kind = kind, .port = port, .addrlen = sizeof(struct sockaddr_in) };
	struct sockaddr_in *sin = (struct sockaddr_in *)&t.addr;

	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.host = strdup("127.0.0.1");
	t.path = path ? strdup(path) : NULL;
	return t;
}

static void owner_check(struct owner *o, const struct health_target *t)
{
	health_init_target(&o->h, o, o->proc.name, &o->cfgp, t);
}

static void owner_check_shell(struct owner *o, const char *script)
{
	struct health_target t = { .kind = HEALTH_EXEC };

	t.argv = calloc(4, sizeof(char *));
	assert_non_null(t.argv);
	t.argv[0] = strdup("/bin/sh");
	t.argv[1] = strdup("-c");
	t.argv[2] = strdup(script);
	owner_check(o, &t);
}

static uint64_t checks(const struct owner *o)
{
	return o->h.passed + o->h.failed;
}

/* Runs one more check to its verdict. */
static void next_verdict(struct owner *o)
{
	uint64_t before = checks(o);

	RUN_UNTIL(checks(o) > before);
}

static bool last_error_is(const struct owner *o, const char *text)
{
	return o->h.last_error && strcmp(o->h.last_error, text) == 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------- servers */

struct http_server {
	struct evhttp *http;
	int port;
	int code;
	size_t body_size;
	int requests;
	char host[64], uri[256];
};

static void http_server_answer(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	struct evbuffer *body = evbuffer_new();
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	s->requests++;
	snprintf(s->host, sizeof(s->host), "%s", host ? host : "");
	snprintf(s->uri, sizeof(s->uri), "%s", evhttp_request_get_uri(req));
	for (size_t i = 0; i < s->body_size; i += 4096) {
		char chunk[4096];

		memset(chunk, 'b', sizeof(chunk));
		evbuffer_add(body, chunk, sizeof(chunk));
	}
	evhttp_send_reply(req, s->code, "whatever", body);
	evbuffer_free(body);
}

static void http_server_start(struct http_server *s, int code)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->code = code;
	s->http = evhttp_new(vigil.base);
	assert_non_null(s->http);
	bound = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	evhttp_set_gencb(s->http, http_server_answer, s);
}

/* Raw connections: accepted and read, then answered by mode. */
enum raw_mode { RAW_HANG, RAW_BABBLE, RAW_CLOSE };

struct raw_server {
	int fd, port;
	enum raw_mode mode;
	struct event *accept_event;
	int open, max_open, accepted;
};

struct raw_conn {
	struct raw_server *s;
	struct event *ev;
};

static void raw_conn_close(struct raw_conn *c)
{
	c->s->open--;
	close(event_get_fd(c->ev));
	event_free(c->ev);
	free(c);
}

static void raw_on_data(evutil_socket_t fd, short what, void *arg)
{
	struct raw_conn *c = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)what;
	if (n <= 0 || c->s->mode == RAW_CLOSE)
		return raw_conn_close(c);
	if (c->s->mode == RAW_BABBLE) {
		memset(buf, 'x', sizeof(buf));
		for (int i = 0; i < 4; i++)
			(void)!write(fd, buf, sizeof(buf)); /* no newline anywhere */
	}
}

static void raw_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct raw_server *s = arg;
	int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct raw_conn *c;

	(void)what;
	if (conn < 0)
		return;
	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->s = s;
	c->ev = event_new(vigil.base, conn, EV_READ | EV_PERSIST, raw_on_data, c);
	event_add(c->ev, NULL);
	s->accepted++;
	if (++s->open > s->max_open)
		s->max_open = s->open;
}

static int listen_loopback(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void raw_server_start(struct raw_server *s, enum raw_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->fd = listen_loopback(&s->port);
	s->accept_event = event_new(vigil.base, s->fd, EV_READ | EV_PERSIST, raw_on_accept, s);
	event_add(s->accept_event, NULL);
}

static void raw_server_stop(struct raw_server *s)
{
	RUN_UNTIL(s->open == 0); /* the probes closed their ends */
	event_free(s->accept_event);
	close(s->fd);
}

/* A port nothing listens on (bound, then closed). */
static int closed_port(void)
{
	int port, fd = listen_loopback(&port);

	close(fd);
	return port;
}

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

/* vigild could not make a process (fork's EAGAIN): that says nothing of
 * the program, so no verdict; the check is tried again later and passes
 * once it can run. */
static void test_no_verdict_without_resources(void **state)
{
	struct owner *o = owner_new();

	(void)state;
	o->fail_spawns = 3;
	owner_check_shell(o, "exit 0");
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->spawn_calls == 3);
	assert_int_equal(checks(o), 0);
	assert_null(o->h.probe);
	assert_true(event_pending(o->h.timer, EV_TIMEOUT, NULL));
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	assert_int_equal(o->h.failed, 0);
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

/* ---------------------------------------------------------------- exec */

static void exec_case(const char *script, const char *error)
{
	struct owner *o = owner_new();

	o->cfg.directory = "/tmp";
	owner_check_shell(o, script);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	if (error)
		assert_string_equal(o->h.last_error ? o->h.last_error : "(passed)", error);
	else
		assert_int_equal(o->h.passed, 1);
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid);
	owner_free(o);
}

static void test_exec_verdicts(void **state)
{
	char long_line[300];

	(void)state;
	exec_case("exit 0", NULL);
	exec_case("echo fine; exit 0", NULL);
	exec_case("printf 'first\\n\\nthe last one  \\r\\n\\n \\n'; exit 3", "the last one");
	exec_case("echo on stderr >&2; exit 1", "on stderr");
	exec_case("printf 'no newline at the end'; exit 1", "no newline at the end");
	exec_case("exit 4", "exit 4");
	exec_case("kill -TERM $$", "killed by signal TERM");
	/* run as its program would be, in a session of its own */
	exec_case("echo \"$VIGIL_PROCESS_NAME in $(pwd)\"; exit 1", "probe-test in /tmp");
	exec_case("read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; "
		  "[ $pid = $pgrp ] && [ $pid = $sid ] && echo leader; exit 1",
		  "leader");
	memset(long_line, 'x', 255);
	long_line[255] = '\0';
	exec_case("printf 'x%.0s' $(seq 1000); echo; exit 1", long_line);
}

static void test_exec_cannot_start(void **state)
{
	struct owner *o = owner_new();
	struct health_target t = { .kind = HEALTH_EXEC };

	(void)state;
	t.argv = calloc(2, sizeof(char *));
	assert_non_null(t.argv);
	t.argv[0] = strdup("/nonexistent/probe");
	owner_check(o, &t);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_true(last_error_is(o, "exec /nonexistent/probe: No such file or directory"));
	owner_free(o);
}

static void test_exec_timeout_kills_the_group(void **state)
{
	struct owner *o = owner_new();

	(void)state;
	o->cfg.health_timeout = MSEC(1250);
	owner_check_shell(o, "sleep 30 & sleep 30");
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_true(last_error_is(o, "timeout after 1.25s"));
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid);
	assert_true(WIFSIGNALED(reaped_probe_status) && WTERMSIG(reaped_probe_status) == SIGKILL);
	/* the background sleep too (an orphan this subreaper reaps) */
	RUN_UNTIL(kill(-o->last_probe_pid, 0) < 0 && errno == ESRCH);
	owner_free(o);
}

/* A grandchild that left the probe's group and holds the pipe does not
 * hold the verdict: the exit decides after a short grace. */
static void test_exec_escaped_grandchild(void **state)
{
	char script[256], pid_file[] = "/tmp/vigil-unit-health-XXXXXX";
	struct owner *o = owner_new();
	FILE *f;
	int fd = mkstemp(pid_file), pid = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	o->cfg.health_timeout = MSEC(10000);
	snprintf(script, sizeof(script), "setsid sh -c 'echo $$ > %s; exec sleep 30' & sleep 30 & exit 0", pid_file);
	owner_check_shell(o, script);
	health_begin(&o->h, now_usec());
	next_verdict(o);
	assert_int_equal(o->h.passed, 1);
	RUN_UNTIL((f = fopen(pid_file, "re")) && fscanf(f, "%d", &pid) == 1);
	fclose(f);
	kill(pid, SIGKILL);
	unlink(pid_file);
	owner_free(o);
}

static void test_exec_end_mid_check(void **state)
{
	int fds = count_fds();
	struct owner *o = owner_new();

	(void)state;
	owner_check_shell(o, "sleep 30");
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->last_probe_pid > 0);
	health_end(&o->h);
	assert_null(o->h.probe);
	RUN_UNTIL(reaped_probe_pid == o->last_probe_pid); /* recognised, and discarded */
	assert_int_equal(checks(o), 0);
	/* the same while health_free tears it down */
	o->last_probe_pid = 0;
	health_begin(&o->h, now_usec());
	RUN_UNTIL(o->last_probe_pid > 0);
	owner_free(o);
	RUN_UNTIL(reaped_probe_pid > 0 && kill(reaped_probe_pid, 0) < 0);
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
	t = (struct health_target){ .kind = HEALTH_EXEC, .argv = calloc(2, sizeof(char *)) };
	t.argv[0] = strdup("/bin/true");
	many_checks(&t, 200);
	assert_int_equal(count_fds(), fds);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_check_runs_from_the_loop),
		cmocka_unit_test(test_http_status_codes),
		cmocka_unit_test(test_http_body_is_not_read),
		cmocka_unit_test(test_http_bad_answers),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_http_timeout_one_at_a_time),
		cmocka_unit_test(test_tcp_connects_and_closes),
		cmocka_unit_test(test_init_from_text),
		cmocka_unit_test(test_no_verdict_without_resources),
		cmocka_unit_test(test_retries_then_recovery),
		cmocka_unit_test(test_start_period),
		cmocka_unit_test(test_end_from_the_handler_and_begin_again),
		cmocka_unit_test(test_end_mid_check_leaves_nothing),
		cmocka_unit_test(test_exec_verdicts),
		cmocka_unit_test(test_exec_cannot_start),
		cmocka_unit_test(test_exec_timeout_kills_the_group),
		cmocka_unit_test(test_exec_escaped_grandchild),
		cmocka_unit_test(test_exec_end_mid_check),
		cmocka_unit_test(test_thousands_of_checks),
	};
	struct timeval every = { 0, 10 * 1000 };
	int rc;

	signal(SIGPIPE, SIG_IGN); /* as vigild: a closed peer is an error, not the end */
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* as vigild: a probe's orphans are reaped here */
	vigil.base = vigil_event_base_new();
	vigil.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!vigil.base || vigil.devnull < 0 || reaper_init(on_exit_reaped) < 0)
		return perror("setup"), 1;
	tick = event_new(vigil.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &every);
	health_set_actions(&(struct health_actions){ .changed = on_changed, .spawn = on_spawn });
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	event_free(tick);
	reaper_free();
	event_base_free(vigil.base);
	close(vigil.devnull);
	return rc;
}
