/* One probe at a time per process, on vigild's loop. A check is a
 * struct health_probe with a deadline (health_timeout): http and tcp
 * connect a new non-blocking socket each time (health_net.c: http then sends a GET and
 * reads the status line alone, never the body) with one event of the
 * probe, which the process keeps from check to check: thousands of
 * checks a second cost no allocation; exec runs the command through the
 * spawn action with its output on a pipe, a probe allocated per check.
 * Every end of a check goes through health_verdict, which releases the
 * probe, counts, schedules the next check health_interval later and
 * tells the owner last, since the owner may end the checks from there.
 *
 * An exec probe outlives its check when the check ends first (timeout,
 * health_end): its process group is SIGKILLed and the probe stays in
 * exec_probes, without its health, until the reaper reports its pid,
 * so health_child_exited still recognises it. */
#define _GNU_SOURCE
#include "health.h"
#include "health_impl.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <poll.h>
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

static struct health_actions actions;

/* An exec probe's (a net probe's lives as long as its health) */
static void probe_free(struct health_probe *probe)
{
	free(probe->line);
	free(probe);
}

static struct pidmap exec_probes; /* pid -> probe, from spawn until reaped */


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
void format_duration(int64_t usec, char *buf, size_t len)
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

/* Thousands of checks share a handful of intervals and timeouts:
 * libevent keeps the timers of a common timeout in a FIFO queue of their
 * own (O(1) to add and delete) instead of sifting its heap. A base holds
 * 256 of them (heartbeat.c takes some): past HEALTH_COMMON_TIMEOUTS
 * distinct durations, plain timers. The base is asked each time (it
 * looks the duration up in its short list), so nothing here outlives a
 * base. */
#define HEALTH_COMMON_TIMEOUTS 64

static struct timeval health_timeval(int64_t usec)
{
	static int64_t seen[HEALTH_COMMON_TIMEOUTS];
	static int nseen;
	struct timeval tv = { .tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC };
	const struct timeval *common;
	int i;

	if (usec <= 0)
		return tv;
	for (i = 0; i < nseen && seen[i] != usec; i++)
		;
	if (i == nseen) {
		if (nseen == HEALTH_COMMON_TIMEOUTS)
			return tv;
		seen[nseen++] = usec;
	}
	common = event_base_init_common_timeout(vigil.base, &tv);
	return common ? *common : tv;
}

void health_timed_out(struct health *h)
{
	char msg[64], when[32];

	format_duration((*h->cfg)->health_timeout, when, sizeof(when));
	snprintf(msg, sizeof(msg), "timeout after %s", when);
	health_verdict(h, false, msg);
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
		probe_free(probe); /* abandoned: its check ended already */
		return true;
	}
	probe->exited = true;
	probe->wait_status = wait_status;
	if (probe->eof) {
		exec_verdict(probe);
	} else {
		struct timeval grace = { 0, HEALTH_EXIT_GRACE_USEC };

		evtimer_add(&probe->deadline, &grace);
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

void probe_arm_deadline(struct health_probe *probe)
{
	struct timeval tv = health_timeval((*probe->h->cfg)->health_timeout);

	if (evtimer_add(&probe->deadline, &tv) < 0)
		abort();
}

/* The check is over. A net probe is kept for the process's next check;
 * an exec probe still running is killed and left for the reaper (see
 * health_child_exited); any other is freed. */
static void probe_release(struct health_probe *probe)
{
	event_del(&probe->deadline);
	if (!probe->exec) {
		if (probe->io_what)
			event_del(&probe->io);
		probe->io_what = 0;
		if (probe->fd >= 0)
			close(probe->fd);
		probe->fd = -1;
		return;
	}
	exec_close_pipe(probe);
	if (probe->pid > 0 && !probe->exited) {
		kill(-probe->pid, SIGKILL);
		probe->h = NULL;
		return;
	}
	probe_free(probe);
}

static struct health_probe *probe_new(struct health *h, bool exec)
{
	struct health_probe *probe = calloc(1, sizeof(*probe));

	if (!probe)
		abort();
	probe->h = h;
	probe->exec = exec;
	evtimer_assign(&probe->deadline, vigil.base, probe_on_deadline, probe);
	if (!exec) {
		probe->fd = -1;
		return probe;
	}
	probe->pipe_fd = -1;
	/* apart: the net probes, kept by thousands, need not hold them */
	if (!(probe->line = calloc(2, HEALTH_LINE_MAX)))
		abort();
	probe->last = probe->line + HEALTH_LINE_MAX;
	return probe;
}

static void health_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;

	(void)fd;
	(void)what;
	log_debug("%s: health check", h->name);
	if (h->target_error || h->target.kind == HEALTH_EXEC) {
		h->probe = probe_new(h, true);
		probe_arm_deadline(h->probe);
		if (h->target_error)
			health_verdict(h, false, h->target_error);
		else
			exec_probe_start(h->probe);
		return;
	}
	if (!h->net_probe)
		h->net_probe = probe_new(h, false);
	h->probe = h->net_probe;
	h->probe->connected = false;
	h->probe->sent = h->probe->got = 0;
	/* the deadline is armed only if the check has to wait */
	net_probe_start(h->probe);
}

static void health_schedule(struct health *h, int64_t usec)
{
	struct timeval tv = health_timeval(usec);

	evtimer_add(h->timer, &tv);
}

/* vigild lacks descriptors, memory, processes or local ports: that says
 * nothing of the program, so no verdict; the check is tried again a
 * health_interval later. Returns false for any other error. */
bool health_skip(struct health *h, const char *during, int err)
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
void health_verdict(struct health *h, bool pass, const char *error)
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
	if (h->net_probe) {
		free(h->net_probe->request);
		free(h->net_probe->partial);
		free(h->net_probe);
	}
	h->net_probe = NULL;
}
