/* See health_helpers.h. */
#define _GNU_SOURCE
#include "health_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "program_spawn.h"
#include "reaper.h"

static struct event *tick;

/* ---------------------------------------------------------------- the owner */

pid_t reaped_probe_pid;
int reaped_probe_status;

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

struct owner *owner_new(void)
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

void owner_free(struct owner *o)
{
	health_free(&o->h);
	free(o);
}

struct health_target net_target(enum health_kind kind, int port, const char *path)
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

void owner_check(struct owner *o, const struct health_target *t)
{
	health_init_target(&o->h, o, o->proc.name, &o->cfgp, t);
}

void owner_check_shell(struct owner *o, const char *script)
{
	struct health_target t = { .kind = HEALTH_EXEC };

	t.argv = calloc(4, sizeof(char *));
	assert_non_null(t.argv);
	t.argv[0] = strdup("/bin/sh");
	t.argv[1] = strdup("-c");
	t.argv[2] = strdup(script);
	owner_check(o, &t);
}

uint64_t checks(const struct owner *o)
{
	return o->h.passed + o->h.failed;
}

/* Runs one more check to its verdict. */
void next_verdict(struct owner *o)
{
	uint64_t before = checks(o);

	RUN_UNTIL(checks(o) > before);
}

bool last_error_is(const struct owner *o, const char *text)
{
	return o->h.last_error && strcmp(o->h.last_error, text) == 0;
}

int count_fds(void)
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

void http_server_start(struct http_server *s, int code)
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



struct raw_conn {
	struct raw_server *s;
	struct event *ev;
	size_t dripped;
};

static void raw_conn_close(struct raw_conn *c)
{
	c->s->open--;
	close(event_get_fd(c->ev));
	event_free(c->ev);
	free(c);
}

/* One byte per loop turn: the client sees the answer in parts */
static void raw_on_drip(evutil_socket_t fd, short what, void *arg)
{
	struct raw_conn *c = arg;

	(void)what;
	if (!c->s->drip[c->dripped] || send(fd, c->s->drip + c->dripped, 1, MSG_NOSIGNAL) != 1)
		return raw_conn_close(c);
	c->dripped++;
}

static void raw_on_data(evutil_socket_t fd, short what, void *arg)
{
	struct raw_conn *c = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)what;
	if (n > 0 && c->s->mode == RAW_DRIP) {
		event_free(c->ev);
		c->ev = event_new(vigil.base, fd, EV_WRITE | EV_PERSIST, raw_on_drip, c);
		event_add(c->ev, NULL);
		return;
	}
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

void raw_server_start(struct raw_server *s, enum raw_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->fd = listen_loopback(&s->port);
	s->accept_event = event_new(vigil.base, s->fd, EV_READ | EV_PERSIST, raw_on_accept, s);
	event_add(s->accept_event, NULL);
}

void raw_server_stop(struct raw_server *s)
{
	RUN_UNTIL(s->open == 0); /* the probes closed their ends */
	event_free(s->accept_event);
	close(s->fd);
}

/* A port nothing listens on (bound, then closed). */
int closed_port(void)
{
	int port, fd = listen_loopback(&port);

	close(fd);
	return port;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int health_tests_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
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
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	event_free(tick);
	reaper_free();
	event_base_free(vigil.base);
	close(vigil.devnull);
	return rc;
}
