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

#include "parse.h"
#include "fd_closer.h"
#include "heartbeat.h"
#include "log.h"
#include "notify_msg.h"
#include "program.h"
#include "supervisor.h"
#include "vigild.h"

/* systemd's own limit for one notify datagram */
#define NOTIFY_DATAGRAM_MAX 4096
#define NOTIFY_MAX_FDS 768
#define NOTIFY_RCVBUF (8 << 20)
/* How many datagrams one wakeup handles before yielding to the loop:
 * enough for 10,000 pinging programs after a busy turn. */
#define NOTIFY_BATCH 4096
/* Passed descriptors not closed yet beyond which the socket refuses new
 * ones (normally each is closed within microseconds: this many means the
 * closers are stuck), and the level at which it accepts them again. */
#define NOTIFY_FDS_PENDING_MAX 256
#define NOTIFY_FDS_PENDING_RESUME (NOTIFY_FDS_PENDING_MAX / 2)
#define NOTIFY_WARN_INTERVAL (10 * USEC_PER_SEC)
/* At exit, how long the closers may take for what is still queued. */
#define NOTIFY_CLOSE_WAIT_AT_EXIT USEC_PER_SEC
/* Linux 6.16: 0 makes the kernel refuse SCM_RIGHTS to this socket at the
 * sender (sendmsg fails with EPERM); older kernels say ENOPROTOOPT. */
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

static int notify_fd = -1;
static struct event *notify_event;
static char *notify_path;
static uint64_t notify_dropped;
static uint64_t notify_passed_fds;
static bool notify_refusing_fds;      /* SO_PASSRIGHTS is 0 right now */
static bool notify_cannot_refuse_fds; /* the kernel has no SO_PASSRIGHTS */
static struct event *notify_watch_timer; /* while passed fds are pending */
static int64_t notify_stuck_warned_at;
static bool notify_closers; /* fd_closer_init() succeeded */

const char *notify_socket_path(void)
{
	return notify_path;
}

uint64_t notify_dropped_count(void)
{
	return notify_dropped;
}

uint64_t notify_passed_fds_total(void)
{
	return notify_passed_fds;
}

size_t notify_passed_fds_pending(void)
{
	return notify_closers ? fd_closer_pending() : 0;
}

/* The process whose messages these are: its main pid, or with
 * notify_access = all any member of its process group. Two hash lookups
 * and a getpgid(), however many programs there are: a stranger's flood
 * costs O(1) per datagram. */
static struct proc *notify_find_sender(pid_t pid)
{
	struct proc *p = supervisor_find_pid(pid);
	pid_t pgid;

	if (p)
		return p;
	pgid = getpgid(pid);
	if (pgid <= 0)
		return NULL;
	p = supervisor_find_group(pgid);
	return p && p->cfg->notify_access == NOTIFY_ACCESS_ALL ? p : NULL;
}

static void notify_drop(const char *why, pid_t pid)
{
	notify_dropped++;
	log_debug("notify: dropped a message from pid %d: %s (%llu dropped so far)", (int)pid, why,
		  (unsigned long long)notify_dropped);
}

static void notify_set_passrights(bool accept)
{
	int on = accept;

	if (notify_cannot_refuse_fds || notify_refusing_fds == !accept)
		return;
	if (setsockopt(notify_fd, SOL_SOCKET, SO_PASSRIGHTS, &on, sizeof(on)) < 0) {
		notify_cannot_refuse_fds = true;
		log_warn("notify: %zu passed descriptors wait to be closed and this kernel cannot refuse more "
			 "(SO_PASSRIGHTS: %s, needs Linux 6.16): they are held until a closer thread is free",
			 fd_closer_pending(), strerror(errno));
		return;
	}
	notify_refusing_fds = !accept;
	if (accept)
		log_notice("notify: passed descriptors are closed again: accepting them again");
	else
		log_warn("notify: %zu passed descriptors wait to be closed: refusing more (senders get EPERM) "
			 "until no more than %d wait",
			 fd_closer_pending(), NOTIFY_FDS_PENDING_RESUME);
}

/* Every second while passed fds are not closed yet: warn (rate-limited)
 * when some wait behind closer threads that are all stuck (the pool is at
 * its size, or cannot grow), and accept fds again once they caught up. */
static void notify_watch_closers(evutil_socket_t fd, short what, void *arg)
{
	struct timeval second = { 1, 0 };
	size_t pending = fd_closer_pending();
	unsigned busy, threads = fd_closer_threads(&busy);
	int64_t now = now_usec();

	(void)fd;
	(void)what;
	(void)arg;
	if (notify_refusing_fds && pending <= NOTIFY_FDS_PENDING_RESUME)
		notify_set_passrights(true);
	if (busy == threads && pending > busy &&
	    (!notify_stuck_warned_at || now - notify_stuck_warned_at >= NOTIFY_WARN_INTERVAL)) {
		notify_stuck_warned_at = now;
		log_warn("notify: %zu passed descriptors wait to be closed: all %u closer threads are stuck in "
			 "close() (a socket lingering, a hung network or FUSE file system?)",
			 pending, threads);
	}
	if (pending || notify_refusing_fds)
		evtimer_add(notify_watch_timer, &second);
}

/* After passed fds were queued: refuse more at once when too many wait,
 * and watch the closers while any wait. */
static void notify_after_passed_fds(void)
{
	struct timeval second = { 1, 0 };

	if (fd_closer_pending() >= NOTIFY_FDS_PENDING_MAX)
		notify_set_passrights(false);
	if (!evtimer_pending(notify_watch_timer, NULL))
		evtimer_add(notify_watch_timer, &second);
}

/* Hands passed fds to the closer threads (systemd-notify --barrier sends
 * one and waits for its close; close() of a stranger's fd may block for
 * as long as the stranger wants, so never here) and finds the sender's
 * credentials. */
static bool notify_take_cmsgs(struct msghdr *mh, struct ucred *cred)
{
	bool have_cred = false, passed = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (fd_closer_submit(fd) < 0)
					log_warn("notify: out of memory: passed fd %d stays open", fd);
			}
			notify_passed_fds += n;
			passed = passed || n;
		} else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			have_cred = true;
		}
	}
	if (passed)
		notify_after_passed_fds();
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

/* One recvmmsg() takes up to this many datagrams: a batch shorter than
 * this means the queue is empty, so a wakeup costs one system call. */
#define NOTIFY_RECV_VLEN 16

static struct notify_slot {
	char data[NOTIFY_DATAGRAM_MAX + 1];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
	} control;
} notify_slots[NOTIFY_RECV_VLEN];
static struct mmsghdr notify_mmsg[NOTIFY_RECV_VLEN];
static struct iovec notify_iov[NOTIFY_RECV_VLEN];

static void notify_handle(struct msghdr *mh, size_t len)
{
	struct ucred cred = { 0 };
	struct notify_msg msg;
	struct proc *p;

	if (!notify_take_cmsgs(mh, &cred) || cred.pid <= 0)
		notify_drop("no sender credentials", 0);
	else if (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC) || len > NOTIFY_DATAGRAM_MAX)
		notify_drop("oversized datagram", cred.pid);
	else if (notify_msg_parse(mh->msg_iov->iov_base, len, &msg) < 0)
		notify_drop("malformed message", cred.pid);
	else if (!(p = notify_find_sender(cred.pid)))
		notify_drop("not the main pid of any program (see notify_access)", cred.pid);
	else
		notify_dispatch(p, cred.pid, &msg);
}

/* Reads and handles what is queued, at most NOTIFY_RECV_VLEN datagrams.
 * Returns how many; fewer than NOTIFY_RECV_VLEN: the queue is empty. */
static int notify_receive_batch(void)
{
	int n;

	for (int i = 0; i < NOTIFY_RECV_VLEN; i++) {
		notify_iov[i] = (struct iovec){ notify_slots[i].data, sizeof(notify_slots[i].data) };
		notify_mmsg[i].msg_hdr = (struct msghdr){ .msg_iov = &notify_iov[i], .msg_iovlen = 1,
							  .msg_control = &notify_slots[i].control,
							  .msg_controllen = sizeof(notify_slots[i].control) };
	}
	n = recvmmsg(notify_fd, notify_mmsg, NOTIFY_RECV_VLEN, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("notify: recvmmsg: %s", strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++)
		notify_handle(&notify_mmsg[i].msg_hdr, notify_mmsg[i].msg_len);
	return n;
}

/* Reads until the queue is empty or max datagrams were read; returns
 * how many were. */
static int notify_receive(int max)
{
	int total = 0, n;

	do {
		n = notify_receive_batch();
		total += n;
	} while (n == NOTIFY_RECV_VLEN && total < max);
	return total;
}

/* -- pacing ---------------------------------------------------------------
 * Each wakeup of vigild costs more than the datagram it reads (a context
 * switch, epoll_wait, libevent's timerfd_settime): at 1,000 pings a second
 * that is nearly all of the cost. While datagrams come that fast, the
 * socket is read on a short timer instead of on readability, so a wakeup
 * takes several. The delay keeps the expected arrivals at half the
 * kernel's queue (net.unix.max_dgram_qlen datagrams, whatever SO_RCVBUF
 * says), so senders do not wait for room; a read that finds the queue
 * full goes back to reading on readability at once. A ping or READY=1 is
 * read at most NOTIFY_PACE_MAX_USEC later, so a heartbeat deadline may
 * run that much later than the ping was sent; a deadline that passes
 * drains the queue before it is judged. */
#define NOTIFY_PACE_MAX_USEC 4000
/* pacing pays when a wakeup takes at least this many datagrams */
#define NOTIFY_PACE_MIN_BATCH 2
#define NOTIFY_RATE_WINDOW_USEC (100 * 1000)

static struct event *notify_pace_timer;
static bool notify_paced; /* reading on notify_pace_timer, not on notify_event */
static int notify_qlen = 10;
static int64_t notify_rate_since;
static unsigned notify_rate_count;
static double notify_rate; /* datagrams per usec over the last window */

/* The queue limit the kernel gave the socket at its creation. */
static void notify_read_qlen(void)
{
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
	int v;

	if (f && fscanf(f, "%d", &v) == 1 && v > 0)
		notify_qlen = v;
	if (f)
		fclose(f);
}

/* A read that takes more datagrams than the queue holds found it full:
 * senders were waiting for room, and more may be (heartbeat.c decides
 * what that means for deadlines). */
static bool notify_note_read(int n)
{
	if (n <= notify_qlen)
		return false;
	heartbeat_source_full();
	return true;
}

/* After a read of n datagrams: how to read next. */
static void notify_pace(int n)
{
	int64_t now = now_usec(), delay = NOTIFY_PACE_MAX_USEC;
	bool queue_was_full = notify_note_read(n);
	struct timeval tv;

	notify_rate_count += (unsigned)n;
	if (now - notify_rate_since >= NOTIFY_RATE_WINDOW_USEC) {
		notify_rate = (double)notify_rate_count / (double)(now - notify_rate_since);
		notify_rate_count = 0;
		notify_rate_since = now;
	}
	if (notify_rate * NOTIFY_PACE_MAX_USEC > notify_qlen / 2.0)
		delay = (int64_t)(notify_qlen / 2.0 / notify_rate);
	if (queue_was_full || notify_rate * (double)delay < NOTIFY_PACE_MIN_BATCH) {
		if (notify_paced && event_add(notify_event, NULL) == 0)
			notify_paced = false;
		return;
	}
	if (!notify_paced && event_del(notify_event) == 0)
		notify_paced = true;
	tv = (struct timeval){ 0, (suseconds_t)delay };
	evtimer_add(notify_pace_timer, &tv);
}

static void notify_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_pace(notify_receive(NOTIFY_BATCH));
}

void notify_drain(void)
{
	/* bounded: a flood of senders cannot keep vigild here for ever */
	if (notify_fd >= 0)
		notify_note_read(notify_receive(4 * NOTIFY_BATCH));
}

int notify_init(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, rcvbuf = NOTIFY_RCVBUF, rc;

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
	rc = fd_closer_init();
	if (rc < 0) {
		log_err("notify: cannot start a descriptor closer thread: %s", strerror(-rc));
		return -1;
	}
	notify_closers = true;
	notify_read_qlen();
	notify_event = event_new(vigil.base, notify_fd, EV_READ | EV_PERSIST, notify_readable, NULL);
	notify_pace_timer = evtimer_new(vigil.base, notify_readable, NULL);
	notify_watch_timer = evtimer_new(vigil.base, notify_watch_closers, NULL);
	if (!notify_event || !notify_pace_timer || !notify_watch_timer || event_add(notify_event, NULL) < 0)
		return -1;
	notify_path = strdup(path);
	return 0;
}

void notify_free(void)
{
	size_t left;

	if (notify_event)
		event_free(notify_event);
	notify_event = NULL;
	if (notify_pace_timer)
		event_free(notify_pace_timer);
	notify_pace_timer = NULL;
	notify_paced = false;
	if (notify_watch_timer)
		event_free(notify_watch_timer);
	notify_watch_timer = NULL;
	/* The socket too: closing it drops the fds still queued in it, and
	 * the last reference to a lingering socket blocks whoever drops it. */
	if (notify_fd >= 0 && (!notify_closers || fd_closer_submit(notify_fd) < 0))
		close(notify_fd);
	notify_fd = -1;
	if (notify_closers) {
		left = fd_closer_free(NOTIFY_CLOSE_WAIT_AT_EXIT);
		if (left)
			log_warn("notify: %zu passed descriptors still not closed at exit: left to the kernel", left);
		notify_closers = false;
	}
	if (notify_path)
		unlink(notify_path);
	free(notify_path);
	notify_path = NULL;
}
