#include "heartbeat.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>

#include "parse.h"
#include "notify.h"
#include "program.h"
#include "vigild.h"

/* Thousands of processes share a handful of timeout values. libevent's
 * common timeouts keep each value's deadlines in a FIFO queue, so a ping
 * moves its deadline in O(1) instead of sifting a heap. */
#define COMMON_TIMEOUTS_MAX 64

static struct {
	int64_t usec;
	const struct timeval *tv;
} common_timeouts[COMMON_TIMEOUTS_MAX];
static int common_timeouts_used;
static struct event_base *common_timeouts_base;

static struct timeval heartbeat_timeval(int64_t usec)
{
	struct timeval tv = { .tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC };
	const struct timeval *common;

	if (common_timeouts_base != vigil.base) {
		common_timeouts_base = vigil.base;
		common_timeouts_used = 0;
	}
	for (int i = 0; i < common_timeouts_used; i++)
		if (common_timeouts[i].usec == usec)
			return *common_timeouts[i].tv;
	if (common_timeouts_used == COMMON_TIMEOUTS_MAX)
		return tv;
	common = event_base_init_common_timeout(vigil.base, &tv);
	if (!common)
		return tv;
	common_timeouts[common_timeouts_used].usec = usec;
	common_timeouts[common_timeouts_used++].tv = common;
	return *common;
}

/* Deadlines that passed in this loop turn, judged together once every
 * timer of the turn has run: after a stall of vigild, the most overdue
 * one shows it, and none of them is blamed. */
static struct proc **expired;
static size_t nexpired, expired_cap;
static struct event_base *expired_base; /* a judge is pending on it */

static void heartbeat_judge(evutil_socket_t fd, short what, void *arg)
{
	int64_t earliest = INT64_MAX;

	(void)fd;
	(void)what;
	(void)arg;
	for (size_t i = 0; i < nexpired; i++)
		if (expired[i] && expired[i]->heartbeat_deadline < earliest)
			earliest = expired[i]->heartbeat_deadline;
	if (nexpired)
		vigil_stalled_since(earliest, "heartbeats");
	/* proc_on_heartbeat_lost may stop other processes: take each out
	 * of the list before acting on it */
	for (size_t i = 0; i < nexpired; i++) {
		struct proc *p = expired[i];
		if (!p)
			continue;
		expired[i] = NULL;
		p->heartbeat_judged = false;
		if (p->heartbeat_armed || !p->pid)
			continue; /* a new deadline or a new process came meanwhile */
		/* a ping read after the deadline fired (draining for another
		 * process) still shows it alive */
		if (p->last_ping > p->heartbeat_deadline - p->heartbeat_timeout ||
		    vigil_stalled_since(p->heartbeat_deadline, p->name))
			heartbeat_arm(p);
		else
			proc_on_heartbeat_lost(p, "pings stopped");
	}
	nexpired = 0;
	expired_base = NULL;
}

static void heartbeat_expired(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	int64_t last_ping = p->last_ping;
	static const struct timeval now = { 0, 0 };

	(void)fd;
	(void)what;
	/* After a busy loop turn its ping may be waiting in the socket
	 * queue, behind this timer: read the queue before judging. A ping
	 * found there has re-armed the deadline already. */
	notify_drain();
	if (p->last_ping != last_ping && p->heartbeat_armed)
		return;
	p->heartbeat_armed = false;
	if (p->heartbeat_judged)
		return;
	if (expired_base != vigil.base) /* a new loop (unit tests): none pending */
		nexpired = 0;
	if (nexpired == expired_cap) {
		expired_cap = expired_cap ? 2 * expired_cap : 16;
		expired = realloc(expired, expired_cap * sizeof(*expired));
		if (!expired)
			abort();
	}
	/* a zero-timeout once-event is made active at once, behind the
	 * timers already active in this turn */
	if (nexpired == 0 && event_base_once(vigil.base, -1, EV_TIMEOUT, heartbeat_judge, NULL, &now) < 0) {
		proc_on_heartbeat_lost(p, "pings stopped");
		return;
	}
	expired_base = vigil.base;
	p->heartbeat_judged = true;
	expired[nexpired++] = p;
}

void heartbeat_init(struct proc *p)
{
	p->heartbeat_timer = evtimer_new(vigil.base, heartbeat_expired, p);
	if (!p->heartbeat_timer)
		abort();
}

/* Takes p out of the deadlines waiting to be judged. */
static void heartbeat_unjudge(struct proc *p)
{
	for (size_t i = 0; p->heartbeat_judged && i < nexpired; i++)
		if (expired[i] == p)
			expired[i] = NULL;
	p->heartbeat_judged = false;
}

void heartbeat_free(struct proc *p)
{
	heartbeat_unjudge(p);
	if (p->heartbeat_timer)
		event_free(p->heartbeat_timer);
	p->heartbeat_timer = NULL;
}

void heartbeat_arm(struct proc *p)
{
	struct timeval tv;

	if (p->heartbeat_timeout <= 0 || !p->pid)
		return;
	tv = heartbeat_timeval(p->heartbeat_timeout);
	/* from now, not from the start of this (maybe long) loop turn */
	event_base_update_cache_time(vigil.base);
	p->heartbeat_deadline = now_usec() + p->heartbeat_timeout;
	evtimer_add(p->heartbeat_timer, &tv);
	p->heartbeat_armed = true;
}

void heartbeat_rearm(struct proc *p)
{
	if (!p->heartbeat_armed)
		return;
	/* a ping read long after its deadline, before the timer ran: vigild
	 * was away (the ping waited in the socket queue); say so */
	if (now_usec() > p->heartbeat_deadline + VIGIL_STALL_USEC)
		vigil_stalled_since(p->heartbeat_deadline, p->name);
	heartbeat_arm(p);
}

void heartbeat_disarm(struct proc *p)
{
	evtimer_del(p->heartbeat_timer);
	p->heartbeat_armed = false;
	heartbeat_unjudge(p);
}
