/* ctl connection accounting: peer check at accept, caps, request deadline. */
#define _GNU_SOURCE
#include "ctl_conn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_socket.h"
#include "log.h"
#include "vigild.h"

/* Descriptors kept free beside each process's own (two output pipes and
 * its cgroup directory while it spawns) for spawns, log reopening, health
 * checks and hooks (a quarter of the limit when that is less). */
#define CTL_FD_HEADROOM 32
#define CTL_FDS_PER_PROC 3
#define CTL_LOG_INTERVAL_USEC 1000000LL
/* A refused peer's socket stays half-open (no more writes) this long, at
 * most this many at a time, so its request still goes in and the refusal
 * is read: closed at once, curl reports "Couldn't connect" instead. */
#define CTL_LINGER_MAX 16
#define CTL_LINGER_MS 1000

struct ctl_conn {
	struct ctl_conn *next, **prevp;
	struct evhttp_connection *evcon;
	struct event *deadline;
	uid_t uid;
	void (*closecb)(struct evhttp_connection *, void *);
	void *closecb_arg;
};

/* A connection between bevcb and its check one loop turn later. */
struct ctl_pending {
	struct bufferevent *bev;
};

static struct ctl_conn *conns;
static size_t nconns;
static size_t total_cap = CTL_CONN_MAX;
static size_t limits_nprocs = (size_t)-1;
static bool has_group;
static gid_t group;
static unsigned long long refused;
static long long last_log_usec;
static unsigned long suppressed;
static unsigned lingering;
static size_t pending;
static struct evconnlistener *listener;
static bool paused;

void ctl_conn_init(struct evconnlistener *lev, bool group_set, gid_t gid)
{
	listener = lev;
	has_group = group_set;
	group = gid;
	/* a first estimate, so even the first burst is bounded; redone once
	 * the processes exist (ctl_conn_judge sees their count change) */
	ctl_conn_update_limits();
}

static size_t count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 64; /* no /proc: a guess on the safe side */
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

void ctl_conn_update_limits(void)
{
	struct rlimit rl;
	size_t soft, needed, open_fds, ctl_fds;

	limits_nprocs = vigil.nprocs;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 30))
		soft = 1u << 30;
	else
		soft = (size_t)rl.rlim_cur;
	/* What is open now but ctl connections, plus what each process may
	 * still need (a stopped one opens its pipes when it starts). */
	open_fds = count_open_fds();
	ctl_fds = nconns + pending + lingering; /* a burst being accepted is not supervision */
	needed = (open_fds > ctl_fds ? open_fds - ctl_fds : 0) + vigil.nprocs * CTL_FDS_PER_PROC +
		 (soft / 4 < CTL_FD_HEADROOM ? soft / 4 : CTL_FD_HEADROOM);
	total_cap = soft > needed ? (soft - needed) / 2 : 0;
	if (total_cap > CTL_CONN_MAX)
		total_cap = CTL_CONN_MAX;
	if (total_cap == 0)
		log_warn("ctl: the open-files limit (%zu) leaves no room for ctl connections but root's %d", soft,
			 CTL_CONN_ROOT_RESERVE);
	log_debug("ctl: at most %zu connections (open-files limit %zu, %zu kept for supervision)", total_cap, soft,
		  needed);
}

/* One line a second at most: a hostile client must not flood the log. */
static void ctl_conn_log_refusal(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ctl_conn_log_refusal(int level, const char *fmt, ...)
{
	long long now = now_usec();
	char msg[256];
	va_list ap;

	refused++;
	if (now - last_log_usec < CTL_LOG_INTERVAL_USEC) {
		suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed)
		log_msg(level, "%s (and %lu more refusals in the last %.1fs)", msg, suppressed,
			(double)(now - last_log_usec) / 1e6);
	else
		log_msg(level, "%s", msg);
	suppressed = 0;
	last_log_usec = now;
}

/* The refusal as a complete HTTP reply, written before anything is read:
 * best effort, never blocking (the socket is non-blocking). */
static void ctl_conn_send_refusal(int fd, int code, const char *msg)
{
	json_t *obj = json_pack("{s:s}", "error", msg);
	char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	char head[768];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     code, code == 403 ? "Forbidden" : "Service Unavailable", body ? strlen(body) + 1 : 3,
		     body ? body : "{}");
	if (n > 0 && (size_t)n < sizeof(head) && send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("ctl: cannot send refusal: %s", strerror(errno));
	free(body);
	json_decref(obj);
}

struct ctl_linger {
	struct event *ev;
	int64_t until; /* monotonic usec */
};

/* Reads and discards what the refused peer sends until it leaves, or
 * until its time is up however much it keeps sending. */
static void ctl_conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_linger *l = arg;
	int64_t left = l->until - now_usec();
	char buf[4096];
	ssize_t n = -1;

	for (int i = 0; (what & EV_READ) && i < 16 && (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0; i++)
		;
	if ((what & EV_TIMEOUT) || left <= 0 || n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		event_free(l->ev);
		free(l);
		close(fd);
		lingering--;
		return;
	}
	struct timeval tv = { (time_t)(left / 1000000), (suseconds_t)(left % 1000000) };
	event_add(l->ev, &tv);
}

static void ctl_conn_linger(int fd)
{
	struct timeval tv = { 0, CTL_LINGER_MS * 1000 };
	struct ctl_linger *l;
	int copy;

	if (lingering >= CTL_LINGER_MAX || lingering > total_cap / 8 || !(l = calloc(1, sizeof(*l))))
		return;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(l);
		return;
	}
	l->until = now_usec() + CTL_LINGER_MS * 1000LL;
	l->ev = event_new(vigil.base, copy, EV_READ, ctl_conn_linger_cb, l);
	if (!l->ev || event_add(l->ev, &tv) < 0) {
		if (l->ev)
			event_free(l->ev);
		free(l);
		close(copy);
		return;
	}
	lingering++;
}

static size_t ctl_conn_count_uid(uid_t uid)
{
	size_t n = 0;

	for (struct ctl_conn *c = conns; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* 0: admitted; else the HTTP status of the refusal, with msg set. */
static int ctl_conn_judge(int fd, uid_t *uid, pid_t *pid, char *msg, size_t msglen)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	bool privileged;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	*uid = cred.uid;
	*pid = cred.pid;
	if (!ctl_peer_allowed_cred(&cred, has_group, group)) {
		snprintf(msg, msglen, "permission denied: uid %d may not control vigild (root, vigild's user or socket_group only)",
			 (int)cred.uid);
		return 403;
	}
	if (limits_nprocs != vigil.nprocs)
		ctl_conn_update_limits();
	privileged = cred.uid == 0 || cred.uid == geteuid();
	if (nconns >= total_cap + (privileged ? CTL_CONN_ROOT_RESERVE : 0)) {
		snprintf(msg, msglen, "too many connections to vigild (%zu open); try again later", nconns);
		return 503;
	}
	if (!privileged && ctl_conn_count_uid(cred.uid) >= CTL_CONN_PER_UID) {
		snprintf(msg, msglen, "too many connections from uid %d (at most %d); close some and try again",
			 (int)cred.uid, CTL_CONN_PER_UID);
		return 503;
	}
	return 0;
}

static void ctl_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->closecb)
		c->closecb(evcon, c->closecb_arg);
	if (c->next)
		c->next->prevp = c->prevp;
	*c->prevp = c->next;
	nconns--;
	event_free(c->deadline);
	free(c);
}

static void ctl_conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;

	(void)fd;
	(void)what;
	log_debug("ctl: closing a connection from uid %d: no complete request within %ds", (int)c->uid,
		 CTL_CONN_REQUEST_TIMEOUT_S);
	evhttp_connection_free(c->evcon); /* calls ctl_conn_closed */
}

static void ctl_conn_arm(struct ctl_conn *c)
{
	struct timeval tv = { CTL_CONN_REQUEST_TIMEOUT_S, 0 };

	evtimer_add(c->deadline, &tv);
}

static void ctl_conn_admit(struct evhttp_connection *evcon, int fd)
{
	struct ctl_conn *c = NULL;
	char msg[256];
	uid_t uid;
	pid_t pid;
	int code = ctl_conn_judge(fd, &uid, &pid, msg, sizeof(msg));

	if (code == 0 && (c = calloc(1, sizeof(*c))) && (c->deadline = evtimer_new(vigil.base, ctl_conn_deadline, c))) {
		c->evcon = evcon;
		c->uid = uid;
		c->next = conns;
		c->prevp = &conns;
		if (conns)
			conns->prevp = &c->next;
		conns = c;
		nconns++;
		evhttp_connection_set_closecb(evcon, ctl_conn_closed, c);
		ctl_conn_arm(c);
		return;
	}
	if (code == 0) {
		free(c);
		code = 503;
		snprintf(msg, sizeof(msg), "vigild is out of memory");
	}
	if (code == 403)
		ctl_conn_log_refusal(LOG_NOTICE, "ctl: refused a connection from uid %d pid %d (not root, vigild's user or in socket_group)",
				     (int)uid, (int)pid);
	else
		ctl_conn_log_refusal(LOG_WARNING, "ctl: refused a connection from uid %d pid %d: %s", (int)uid, (int)pid, msg);
	ctl_conn_send_refusal(fd, code, msg);
	ctl_conn_linger(fd);
	evhttp_connection_free(evcon); /* shuts down writing, closes its fd */
}

/* One loop turn after bevcb: evhttp_get_request() has attached the fd and
 * made the bufferevent's callbacks point at the connection. The extra
 * reference taken in ctl_conn_new_bev keeps bev valid even if evhttp gave
 * up on the connection meanwhile; bufferevent_free() clears its callbacks,
 * which is how that case shows. */
static void ctl_conn_check(evutil_socket_t unused, short what, void *arg)
{
	struct ctl_pending *p = arg;
	void *cbarg = NULL;
	struct evhttp_connection *evcon;

	(void)unused;
	(void)what;
	bufferevent_getcb(p->bev, NULL, NULL, NULL, &cbarg);
	evcon = cbarg;
	if (evcon && evhttp_connection_get_bufferevent(evcon) == p->bev && bufferevent_getfd(p->bev) >= 0)
		ctl_conn_admit(evcon, bufferevent_getfd(p->bev));
	bufferevent_decref(p->bev); /* closes the fd if the connection is gone */
	free(p);
	if (--pending == 0 && paused) {
		paused = false;
		evconnlistener_enable(listener);
	}
}

struct bufferevent *ctl_conn_new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct ctl_pending *p = bev ? calloc(1, sizeof(*p)) : NULL;
	const struct timeval now = { 0, 0 };

	(void)arg;
	if (!p)
		return bev; /* ctl_server still checks the peer of each request */
	p->bev = bev;
	bufferevent_incref(bev);
	if (event_base_once(base, -1, EV_TIMEOUT, ctl_conn_check, p, &now) < 0) {
		bufferevent_decref(bev);
		free(p);
		return bev;
	}
	/* The listener accepts in a loop until EAGAIN, all before any check
	 * runs: stop it at the cap, or a burst of connections would take the
	 * descriptors the cap keeps for spawns. ctl_conn_check resumes it. */
	if (++pending + nconns > total_cap + CTL_CONN_ROOT_RESERVE && listener && !paused) {
		paused = true;
		evconnlistener_disable(listener);
	}
	return bev;
}

static struct ctl_conn *ctl_conn_find(struct evhttp_connection *evcon)
{
	for (struct ctl_conn *c = conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

void ctl_conn_request_begin(struct evhttp_connection *evcon)
{
	struct ctl_conn *c = ctl_conn_find(evcon);

	if (c)
		evtimer_del(c->deadline);
}

void ctl_conn_request_done(struct evhttp_connection *evcon)
{
	struct ctl_conn *c = ctl_conn_find(evcon);

	if (c)
		ctl_conn_arm(c);
}

void ctl_conn_set_closecb(struct evhttp_connection *evcon, void (*cb)(struct evhttp_connection *, void *), void *arg)
{
	struct ctl_conn *c = ctl_conn_find(evcon);

	if (!c) {
		evhttp_connection_set_closecb(evcon, cb, arg);
		return;
	}
	c->closecb = cb;
	c->closecb_arg = arg;
}

size_t ctl_conn_count(void)
{
	return nconns;
}

size_t ctl_conn_cap(void)
{
	return total_cap;
}

unsigned long long ctl_conn_refused_count(void)
{
	return refused;
}
