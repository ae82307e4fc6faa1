#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify_msg.h"
#include "program.h"
#include "reaper.h"
#include "vigild.h"

/* systemd's own limit for one notify datagram */
#define NOTIFY_DATAGRAM_MAX 4096
#define NOTIFY_MAX_FDS 768
#define NOTIFY_RCVBUF (8 << 20)
/* How many datagrams one wakeup handles before yielding to the loop:
 * enough for 10,000 pinging programs after a busy turn. */
#define NOTIFY_BATCH 4096

static int notify_fd = -1;
static struct event *notify_event;
static char *notify_path;
static uint64_t notify_dropped;

const char *notify_socket_path(void)
{
	return notify_path;
}

uint64_t notify_dropped_count(void)
{
	return notify_dropped;
}

/* The process whose messages these are: its main pid, or with
 * notify_access = all any member of its process group. */
static struct proc *notify_find_sender(pid_t pid)
{
	struct proc *p = reaper_find(pid);
	pid_t pgid;

	if (p)
		return p;
	pgid = getpgid(pid);
	if (pgid <= 0)
		return NULL;
	/* the group leader is usually still the main pid: no scan needed */
	p = reaper_find(pgid);
	if (p && p->pgid == pgid)
		return p->cfg->notify_access == NOTIFY_ACCESS_ALL ? p : NULL;
	/* only a MAINPID= move leaves a group without its leader in the
	 * table; without one, a flood from strangers costs no scan */
	if (proc_moved_mainpids == 0)
		return NULL;
	for (size_t i = 0; i < vigil.nprocs; i++) {
		p = vigil.procs[i];
		if (p->pid && p->pgid == pgid && p->cfg->notify_access == NOTIFY_ACCESS_ALL)
			return p;
	}
	return NULL;
}

static void notify_drop(const char *why, pid_t pid)
{
	notify_dropped++;
	log_debug("notify: dropped a message from pid %d: %s (%llu dropped so far)", (int)pid, why,
		  (unsigned long long)notify_dropped);
}

/* Closes passed fds (systemd-notify --barrier sends one and waits for
 * it to be closed) and finds the sender's credentials. */
static bool notify_take_cmsgs(struct msghdr *mh, struct ucred *cred)
{
	bool have_cred = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < n; i++)
				close(fds[i]);
		} else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			have_cred = true;
		}
	}
	return have_cred;
}

static void notify_dispatch(struct proc *p, pid_t sender, const struct notify_msg *msg)
{
	if (msg->has_mainpid) {
		if (sender == p->pid)
			proc_on_mainpid(p, msg->mainpid);
		else
			notify_drop("MAINPID= from a process that is not the main pid", sender);
	}
	if (msg->has_status)
		proc_on_status(p, msg->status);
	if (msg->has_watchdog_usec)
		proc_on_watchdog_usec(p, (int64_t)msg->watchdog_usec);
	if (msg->watchdog)
		proc_on_ping(p);
	if (msg->ready)
		proc_on_ready(p);
	if (msg->stopping)
		log_info("%s: says it is stopping (STOPPING=1)", p->name);
	if (msg->watchdog_trigger)
		proc_on_heartbeat_lost(p, "asked for it with WATCHDOG=trigger");
}

static bool notify_receive_one(void)
{
	char buf[NOTIFY_DATAGRAM_MAX + 1];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
	} control;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
			     .msg_controllen = sizeof(control) };
	struct ucred cred = { 0 };
	struct notify_msg msg;
	struct proc *p;
	ssize_t n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("notify: recvmsg: %s", strerror(errno));
		return false;
	}
	if (!notify_take_cmsgs(&mh, &cred) || cred.pid <= 0)
		notify_drop("no sender credentials", 0);
	else if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || n > NOTIFY_DATAGRAM_MAX)
		notify_drop("oversized datagram", cred.pid);
	else if (notify_msg_parse(buf, (size_t)n, &msg) < 0)
		notify_drop("malformed message", cred.pid);
	else if (!(p = notify_find_sender(cred.pid)))
		notify_drop("not the main pid of any program (see notify_access)", cred.pid);
	else
		notify_dispatch(p, cred.pid, &msg);
	return true;
}

static void notify_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (int i = 0; i < NOTIFY_BATCH && notify_receive_one(); i++)
		;
}

void notify_drain(void)
{
	/* bounded: a flood of senders cannot keep vigild here for ever */
	for (int i = 0; notify_fd >= 0 && i < 4 * NOTIFY_BATCH && notify_receive_one(); i++)
		;
}

int notify_init(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, rcvbuf = NOTIFY_RCVBUF;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("notify socket path too long: %s (shorten [vigil] socket)", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify_fd < 0) {
		log_err("notify socket: %s", strerror(errno));
		return -1;
	}
	unlink(path); /* only ever ours: it sits beside the ctl socket we own */
	if (bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		log_err("notify socket %s: %s", path, strerror(errno));
		return -1;
	}
	/* Programs running as other users must be able to send; the
	 * credentials check decides whom to believe. */
	chmod(path, 0666);
	if (setsockopt(notify_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(notify_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	notify_event = event_new(vigil.base, notify_fd, EV_READ | EV_PERSIST, notify_readable, NULL);
	if (!notify_event || event_add(notify_event, NULL) < 0)
		return -1;
	notify_path = strdup(path);
	return 0;
}

void notify_free(void)
{
	if (notify_event)
		event_free(notify_event);
	notify_event = NULL;
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	if (notify_path)
		unlink(notify_path);
	free(notify_path);
	notify_path = NULL;
}
