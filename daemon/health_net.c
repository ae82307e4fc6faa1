/* http and tcp checks: a plain non-blocking socket per check, with the
 * events of the process's one probe (no allocation per check). A local
 * connect has usually finished when connect() returns: tcp then has its
 * verdict, http sends its request at once. http reads the status line
 * alone, bounded; the body is never read. */
#define _GNU_SOURCE
#include "health.h"
#include "health_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "vigild.h"

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

/* The GET, built once per process (the target does not change); the
 * Host: header names the port unless it is HTTP's own */
static void http_build_request(struct health_probe *probe)
{
	const struct health_target *t = &probe->h->target;
	const char *host = t->host ? t->host : "localhost";
	bool bracket = strchr(host, ':') && host[0] != '[';
	char port[16] = "";
	int n;

	if (t->port != 80)
		snprintf(port, sizeof(port), ":%d", t->port);
	n = asprintf(&probe->request,
		     "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: vigild-health-check\r\n"
		     "Accept: */*\r\nConnection: close\r\n\r\n",
		     t->path ? t->path : "/", bracket ? "[" : "", host, bracket ? "]" : "", port);
	if (n < 0)
		abort();
	probe->request_len = (size_t)n;
}

/* Waits for the socket to become ready for what (EV_WRITE: the connect
 * or the request; EV_READ: the status line), within health_timeout. */
static void net_wait(struct health_probe *probe, short what)
{
	if (probe->io_what == what)
		return;
	if (probe->io_what)
		event_del(&probe->io);
	event_assign(&probe->io, vigil.base, probe->fd, what | EV_PERSIST, net_on_ready, probe);
	if (event_add(&probe->io, NULL) < 0)
		abort();
	probe->io_what = what;
	if (!evtimer_pending(&probe->deadline, NULL))
		probe_arm_deadline(probe);
}

/* Sends what is left of the request: true when all of it went. A
 * connect that failed shows here (connected false) with its own errno. */
static bool http_send_request(struct health_probe *probe)
{
	ssize_t n;

	while (probe->sent < probe->request_len) {
		n = send(probe->fd, probe->request + probe->sent, probe->request_len - probe->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			net_wait(probe, EV_WRITE);
			return false;
		}
		if (n < 0) {
			net_fail_errno(probe->h, probe->connected ? "read" : "connect", errno);
			return false;
		}
		probe->connected = true;
		probe->sent += (size_t)n;
	}
	return true;
}

/* A status line that came in parts is kept until its end comes (the
 * buffer for it is allocated the first time one does: the whole line
 * usually comes at once, and thousands of probes need not hold one). */
static void http_keep_partial(struct health_probe *probe, const char *buf, size_t n)
{
	if (!probe->partial && !(probe->partial = malloc(HEALTH_STATUS_LINE_MAX)))
		abort();
	memcpy(probe->partial, buf, n);
	probe->got = n;
}

/* The status line, once it is all in: bounded by the buffer, the rest
 * (headers, body) is never read. */
static void http_read_status(struct health_probe *probe)
{
	char buf[HEALTH_STATUS_LINE_MAX + 1], msg[64], *eol;
	size_t have = probe->got;
	ssize_t n;
	int code;

	if (have)
		memcpy(buf, probe->partial, have);
	do
		n = recv(probe->fd, buf + have, HEALTH_STATUS_LINE_MAX - have, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0)
		return net_fail_errno(probe->h, "read", errno);
	if (n == 0)
		return health_verdict(probe->h, false, "connection closed without a response");
	eol = memchr(buf + have, '\n', (size_t)n);
	have += (size_t)n;
	if (!eol) {
		if (have >= HEALTH_STATUS_LINE_MAX)
			return health_verdict(probe->h, false, "bad response: no HTTP status line");
		return http_keep_partial(probe, buf, have);
	}
	if (eol > buf && eol[-1] == '\r')
		eol--;
	*eol = '\0';
	code = http_status_code(buf);
	if (code < 0)
		return health_verdict(probe->h, false, "bad response: no HTTP status line");
	if (code >= 200 && code < 400)
		return health_verdict(probe->h, true, NULL);
	snprintf(msg, sizeof(msg), "HTTP %d", code);
	health_verdict(probe->h, false, msg);
}

/* The connect is done (ok) or failed (err): tcp has its verdict, http
 * sends its request and waits for the answer */
static void net_connected(struct health_probe *probe, int err)
{
	if (err)
		return net_fail_errno(probe->h, "connect", err);
	probe->connected = true;
	if (probe->h->target.kind == HEALTH_TCP)
		return health_verdict(probe->h, true, NULL);
	if (http_send_request(probe))
		net_wait(probe, EV_READ);
}

static int socket_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

void net_on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *probe = arg;

	(void)what;
	if (probe->io_what == EV_READ)
		return http_read_status(probe);
	if (!probe->connected)
		return net_connected(probe, socket_error(fd));
	if (http_send_request(probe))
		net_wait(probe, EV_READ);
}

/* A connect to a local listener is done by the time connect() returns
 * (the handshake runs in this call): then the check goes on without the
 * event loop, in a few system calls (no epoll_ctl, no getsockopt). An
 * http check sends its request at once: the send says whether the
 * connect is done (EAGAIN: not yet). */
void net_probe_start(struct health_probe *probe)
{
	const struct health_target *t = &probe->h->target;
	struct pollfd pfd;
	int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return net_fail_errno(probe->h, "socket", errno);
	probe->fd = fd;
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS)
		return net_fail_errno(probe->h, "connect", errno);
	if (t->kind == HEALTH_HTTP) {
		if (!probe->request)
			http_build_request(probe);
		if (http_send_request(probe))
			net_wait(probe, EV_READ);
		return;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, 0) <= 0)
		return net_wait(probe, EV_WRITE);
	net_connected(probe, pfd.revents & (POLLERR | POLLHUP) ? socket_error(fd) : 0);
}
