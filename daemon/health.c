/* One probe at a time per process, on vigild's loop. A check is a
 * struct health_probe with a deadline (health_timeout): http and tcp
 * connect a non-blocking socket through a bufferevent (http then sends
 * a GET and reads the status line alone, never the body); exec runs
 * the command through the spawn action with its output on a pipe.
 * Every end of a check goes through health_verdict, which frees the
 * probe, counts, schedules the next check health_interval later and
 * tells the owner last, since the owner may end the checks from there.
 *
 * An exec probe outlives its check when the check ends first (timeout,
 * health_end): its process group is SIGKILLed and the probe stays in
 * exec_probes, without its health, until the reaper reports its pid,
 * so health_child_exited still recognises it. */
#define _GNU_SOURCE
#include "health.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "parse.h"
#include "pidmap.h"
#include "vigild.h"

/* http: a status line longer than this is not one; nothing more is read */
#define HEALTH_STATUS_LINE_MAX 1024
/* exec: the last non-empty line is kept, cut at this many bytes */
#define HEALTH_LINE_MAX 256
/* exec: bytes read from the pipe per wakeup, so a chatty probe cannot
 * hold the loop */
#define HEALTH_PIPE_READ_MAX (64 * 1024)
/* exec: how long the pipe may stay open after the probe exited (a
 * grandchild that escaped its process group may hold it) */
#define HEALTH_EXIT_GRACE_USEC (100 * 1000)

struct health_probe {
	struct health *h;	 /* NULL once abandoned (an exec probe not reaped yet) */
	struct event *deadline;	 /* health_timeout; exec after the exit: the grace */
	struct bufferevent *bev; /* http and tcp */
	bool connected;
	pid_t pid; /* exec */
	int pipe_fd;
	struct event *pipe_event;
	bool exited, eof;
	int wait_status;
	size_t line_len;
	char line[HEALTH_LINE_MAX]; /* the line being read */
	char last[HEALTH_LINE_MAX]; /* the last non-empty one */
};

static struct health_actions actions;
static struct pidmap exec_probes; /* pid -> probe, from spawn until reaped */

static void health_verdict(struct health *h, bool pass, const char *error);
static bool health_skip(struct health *h, const char *during, int err);

void health_set_actions(const struct health_actions *set)
{
	actions = *set;
}

const char *health_state_name(enum health_state state)
{
	switch (state) {
	case HEALTH_STARTING: return "starting";
	case HEALTH_HEALTHY: return "healthy";
	case HEALTH_UNHEALTHY: return "unhealthy";
	}
	return "?";
}

/* 2s, 1.5s, 250ms: as a duration is written in the config */
static void format_duration(int64_t usec, char *buf, size_t len)
{
	int n;

	if (usec >= USEC_PER_SEC && usec % USEC_PER_SEC == 0)
		n = snprintf(buf, len, "%llds", (long long)(usec / USEC_PER_SEC));
	else if (usec >= USEC_PER_SEC)
		n = snprintf(buf, len, "%.3f", (double)usec / USEC_PER_SEC);
	else if (usec % 1000 == 0)
		n = snprintf(buf, len, "%lldms", (long long)(usec / 1000));
	else
		n = snprintf(buf, len, "%.3f", (double)usec / 1000);
	if (n < 0 || (size_t)n >= len || buf[n - 1] == 's')
		return;
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	snprintf(buf + n, len - (size_t)n, usec >= USEC_PER_SEC ? "s" : "ms");
}

static void health_timed_out(struct health *h)
{
	char msg[64], when[32];

	format_duration((*h->cfg)->health_timeout, when, sizeof(when));
	snprintf(msg, sizeof(msg), "timeout after %s", when);
	health_verdict(h, false, msg);
}

/* ---------------------------------------------------------------- http and tcp */

static void net_fail_errno(struct health *h, const char *during, int err)
{
	char msg[128];

	if (health_skip(h, during, err))
		return;
	if (err == ECONNREFUSED)
		snprintf(msg, sizeof(msg), "connection refused");
	else if (err == ECONNRESET)
		snprintf(msg, sizeof(msg), "connection reset");
	else
		snprintf(msg, sizeof(msg), "%s: %s", during, strerror(err));
	health_verdict(h, false, msg);
}

/* "HTTP/1.1 200 OK" -> 200; -1 when it is not a status line */
static int http_status_code(const char *line)
{
	const char *p = line;

	if (strncmp(p, "HTTP/", 5) != 0)
		return -1;
	p += strcspn(p, " ");
	if (*p != ' ' || p[1] < '1' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9')
		return -1;
	if (p[4] != '\0' && p[4] != ' ')
		return -1;
	return (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
}

static void http_on_read(struct bufferevent *bev, void *arg)
{
	struct health_probe *probe = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char msg[64];
	char *line;
	int code;

	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	if (!line) {
		/* the read watermark stops reading here: nothing more is taken */
		if (evbuffer_get_length(in) >= HEALTH_STATUS_LINE_MAX)
			health_verdict(probe->h, false, "bad response: no HTTP status line");
		return;
	}
	code = http_status_code(line);
	free(line);
	if (code < 0)
		return health_verdict(probe->h, false, "bad response: no HTTP status line");
	if (code >= 200 && code < 400)
		return health_verdict(probe->h, true, NULL);
	snprintf(msg, sizeof(msg), "HTTP %d", code);
	health_verdict(probe->h, false, msg);
}

/* The Host: header names the port unless it is HTTP's own */
static void http_send_request(struct health_probe *probe)
{
	const struct health_target *t = &probe->h->target;
	const char *host = t->host ? t->host : "localhost";
	bool bracket = strchr(host, ':') && host[0] != '[';
	char port[16] = "";

	if (t->port != 80)
		snprintf(port, sizeof(port), ":%d", t->port);
	evbuffer_add_printf(bufferevent_get_output(probe->bev),
			    "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: vigild-health-check\r\n"
			    "Accept: */*\r\nConnection: close\r\n\r\n",
			    t->path ? t->path : "/", bracket ? "[" : "", host, bracket ? "]" : "", port);
	bufferevent_setwatermark(probe->bev, EV_READ, 0, HEALTH_STATUS_LINE_MAX);
	bufferevent_enable(probe->bev, EV_READ);
}

static void net_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct health_probe *probe = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		probe->connected = true;
		if (probe->h->target.kind == HEALTH_TCP)
			return health_verdict(probe->h, true, NULL);
		return http_send_request(probe);
	}
	if (what & BEV_EVENT_ERROR)
		return net_fail_errno(probe->h, probe->connected ? "read" : "connect", err);
	health_verdict(probe->h, false, "connection closed without a response");
}

static void net_probe_start(struct health_probe *probe)
{
	const struct health_target *t = &probe->h->target;
	int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return net_fail_errno(probe->h, "socket", errno);
	/* connect here, not in bufferevent_socket_connect, to see its errno
	 * when it fails at once (a refusal on a local address may) */
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		return net_fail_errno(probe->h, "connect", err);
	}
	probe->bev = bufferevent_socket_new(vigil.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!probe->bev) {
		close(fd);
		return health_verdict(probe->h, false, "out of memory");
	}
	bufferevent_setcb(probe->bev, http_on_read, NULL, net_on_event, probe);
	/* no address: the socket is connecting, the bufferevent waits for it */
	if (bufferevent_socket_connect(probe->bev, NULL, 0) < 0)
		net_fail_errno(probe->h, "connect", errno);
}

/* ---------------------------------------------------------------- exec */

/* The line ends: kept when something but spaces was on it */
static void exec_end_line(struct health_probe *probe)
{
	size_t n = probe->line_len;

	while (n > 0 && (probe->line[n - 1] == '\r' || probe->line[n - 1] == ' ' || probe->line[n - 1] == '\t'))
		n--;
	if (n > 0) {
		memcpy(probe->last, probe->line, n);
		probe->last[n] = '\0';
	}
	probe->line_len = 0;
}

static void exec_take_output(struct health_probe *probe, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n')
			exec_end_line(probe);
		else if (probe->line_len < HEALTH_LINE_MAX - 1)
			probe->line[probe->line_len++] = buf[i];
	}
}

static void exec_verdict(struct health_probe *probe)
{
	int status = probe->wait_status;
	char msg[HEALTH_LINE_MAX + 32], buf[16];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return health_verdict(probe->h, true, NULL);
	if (probe->last[0])
		snprintf(msg, sizeof(msg), "%s", probe->last);
	else if (WIFEXITED(status))
		snprintf(msg, sizeof(msg), "exit %d", WEXITSTATUS(status));
	else
		snprintf(msg, sizeof(msg), "killed by signal %s", signal_name(WTERMSIG(status), buf, sizeof(buf)));
	health_verdict(probe->h, false, msg);
}

static void exec_close_pipe(struct health_probe *probe)
{
	if (probe->pipe_event)
		event_free(probe->pipe_event);
	probe->pipe_event = NULL;
	if (probe->pipe_fd >= 0)
		close(probe->pipe_fd);
	probe->pipe_fd = -1;
}

static void exec_on_output(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *probe = arg;
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	(void)what;
	while (total < HEALTH_PIPE_READ_MAX) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break; /* EOF, or an error that ends the output all the same */
		exec_take_output(probe, buf, (size_t)n);
		total += (size_t)n;
	}
	if (total >= HEALTH_PIPE_READ_MAX)
		return; /* more next time round */
	exec_end_line(probe);
	exec_close_pipe(probe);
	probe->eof = true;
	if (probe->exited)
		exec_verdict(probe);
}

static void exec_fail(struct health_probe *probe, const char *what, int err)
{
	char msg[128];

	if (health_skip(probe->h, what, err))
		return;
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	health_verdict(probe->h, false, msg);
}

static void exec_probe_start(struct health_probe *probe)
{
	char err[256] = "";
	int fds[2], spawn_errno;
	pid_t pid;

	if (!actions.spawn)
		return health_verdict(probe->h, false, "exec checks cannot run here");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return exec_fail(probe, "pipe", errno);
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		return exec_fail(probe, "pipe", e);
	}
	errno = 0;
	pid = actions.spawn(probe->h->owner, probe->h->target.argv, fds[1], err, sizeof(err));
	spawn_errno = errno;
	close(fds[1]); /* the probe's: EOF once it (and what it started) is gone */
	if (pid <= 0) {
		close(fds[0]);
		if (pid == -1 && health_skip(probe->h, "spawn", spawn_errno))
			return;
		return health_verdict(probe->h, false, err[0] ? err : "cannot start the check");
	}
	probe->pid = pid;
	pidmap_put(&exec_probes, pid, probe);
	probe->pipe_fd = fds[0];
	probe->pipe_event = event_new(vigil.base, fds[0], EV_READ | EV_PERSIST, exec_on_output, probe);
	if (!probe->pipe_event || event_add(probe->pipe_event, NULL) < 0)
		abort();
}

bool health_child_exited(pid_t pid, int wait_status)
{
	struct health_probe *probe = pidmap_get(&exec_probes, pid);

	if (!probe)
		return false;
	pidmap_remove(&exec_probes, pid, probe);
	/* what it left in its group dies with it, and lets go of the pipe */
	kill(-pid, SIGKILL);
	if (!probe->h) {
		free(probe); /* abandoned: its check ended already */
		return true;
	}
	probe->exited = true;
	probe->wait_status = wait_status;
	if (probe->eof) {
		exec_verdict(probe);
	} else {
		struct timeval grace = { 0, HEALTH_EXIT_GRACE_USEC };

		evtimer_add(probe->deadline, &grace);
	}
	return true;
}

/* ---------------------------------------------------------------- one check */

static void probe_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *probe = arg;

	(void)fd;
	(void)what;
	if (probe->exited)
		exec_verdict(probe); /* the grace for the pipe is over */
	else
		health_timed_out(probe->h);
}

/* The check is over: a probe still running is killed and left for the
 * reaper (see health_child_exited); anything else is freed. */
static void probe_release(struct health_probe *probe)
{
	if (probe->bev)
		bufferevent_free(probe->bev);
	event_free(probe->deadline);
	exec_close_pipe(probe);
	if (probe->pid > 0 && !probe->exited) {
		kill(-probe->pid, SIGKILL);
		probe->h = NULL;
		return;
	}
	free(probe);
}

static void health_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	struct health_probe *probe;
	int64_t timeout = (*h->cfg)->health_timeout;
	struct timeval tv = { .tv_sec = timeout / USEC_PER_SEC, .tv_usec = timeout % USEC_PER_SEC };

	(void)fd;
	(void)what;
	if (!(probe = calloc(1, sizeof(*probe))))
		abort();
	probe->h = h;
	probe->pipe_fd = -1;
	probe->deadline = evtimer_new(vigil.base, probe_on_deadline, probe);
	if (!probe->deadline || evtimer_add(probe->deadline, &tv) < 0)
		abort();
	h->probe = probe;
	log_debug("%s: health check", h->name);
	if (h->target_error)
		health_verdict(h, false, h->target_error);
	else if (h->target.kind == HEALTH_EXEC)
		exec_probe_start(probe);
	else
		net_probe_start(probe);
}

static void health_schedule(struct health *h, int64_t usec)
{
	struct timeval tv = { .tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC };

	evtimer_add(h->timer, &tv);
}

/* vigild lacks descriptors, memory, processes or local ports: that says
 * nothing of the program, so no verdict; the check is tried again a
 * health_interval later. Returns false for any other error. */
static bool health_skip(struct health *h, const char *during, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM && err != EAGAIN &&
	    err != EADDRNOTAVAIL)
		return false;
	log_warn("%s: health check not run (%s: %s); trying again in health_interval", h->name, during,
		 strerror(err));
	probe_release(h->probe);
	h->probe = NULL;
	health_schedule(h, (*h->cfg)->health_interval);
	return true;
}

static void health_count_failure(struct health *h, const char *error, int64_t now)
{
	const struct program_config *cfg = *h->cfg;

	h->failed++;
	free(h->last_error);
	if (!(h->last_error = strdup(error)))
		abort();
	if (now - h->spawned_at < cfg->health_start_period) {
		log_info("%s: health check failed (within health_start_period, not counted): %s", h->name, error);
		return;
	}
	h->failures++;
	log_info("%s: health check failed (%d/%d): %s", h->name, h->failures, cfg->health_retries, error);
	if (h->failures >= cfg->health_retries)
		h->state = HEALTH_UNHEALTHY;
}

/* The end of every check. The owner hears of a change last: it may end
 * the checks (health_end) from its handler. */
static void health_verdict(struct health *h, bool pass, const char *error)
{
	enum health_state old = h->state;
	int64_t now = now_usec();

	probe_release(h->probe);
	h->probe = NULL;
	h->last_check = now;
	if (pass) {
		log_debug("%s: health check passed", h->name);
		h->passed++;
		h->failures = 0;
		free(h->last_error);
		h->last_error = NULL;
		h->state = HEALTH_HEALTHY;
	} else {
		health_count_failure(h, error, now);
	}
	health_schedule(h, (*h->cfg)->health_interval);
	if (h->state != old && actions.changed)
		actions.changed(h->owner, old);
}

/* ---------------------------------------------------------------- lifetime */

void health_init_target(struct health *h, void *owner, const char *name, struct program_config *const *cfg,
			const struct health_target *target)
{
	memset(h, 0, sizeof(*h));
	h->owner = owner;
	h->name = name;
	h->cfg = cfg;
	if (!target)
		return;
	h->configured = true;
	h->target = *target;
}

void health_init(struct health *h, void *owner, const char *name, struct program_config *const *cfg,
		 const char *check_text)
{
	struct health_target target;
	char err[256];

	if (!check_text)
		return health_init_target(h, owner, name, cfg, NULL);
	if (health_target_parse(check_text, &target, err, sizeof(err)) < 0) {
		/* config_check refused it already; should it fail now (a name
		 * no longer resolves), every check fails with the reason */
		memset(&target, 0, sizeof(target));
		health_init_target(h, owner, name, cfg, &target);
		if (asprintf(&h->target_error, "health_check: %s", err) < 0)
			abort();
		log_err("%s: %s", name, h->target_error);
		return;
	}
	health_init_target(h, owner, name, cfg, &target);
}

void health_begin(struct health *h, int64_t spawned_at)
{
	if (!h->configured)
		return;
	health_end(h);
	h->state = HEALTH_STARTING;
	h->failures = 0;
	h->last_check = 0;
	free(h->last_error);
	h->last_error = NULL;
	h->spawned_at = spawned_at;
	h->active = true;
	if (!h->timer && !(h->timer = evtimer_new(vigil.base, health_on_timer, h)))
		abort();
	/* from the loop, never inside the caller's state change */
	health_schedule(h, 0);
}

void health_end(struct health *h)
{
	if (!h->active)
		return;
	h->active = false;
	evtimer_del(h->timer);
	if (h->probe)
		probe_release(h->probe);
	h->probe = NULL;
}

void health_free(struct health *h)
{
	health_end(h);
	if (h->timer)
		event_free(h->timer);
	h->timer = NULL;
	if (h->configured)
		health_target_free(&h->target);
	free(h->last_error);
	h->last_error = NULL;
	free(h->target_error);
	h->target_error = NULL;
}
