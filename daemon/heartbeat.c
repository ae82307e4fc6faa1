#include "heartbeat.h"

#include <event2/event.h>
#include <stdlib.h>

#include "../common/parse.h"
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

static void heartbeat_expired(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	int64_t last_ping = p->last_ping;

	(void)fd;
	(void)what;
	/* After a busy loop turn its ping may be waiting in the socket
	 * queue, behind this timer: read the queue before judging. A ping
	 * found there has re-armed the deadline already. */
	notify_drain();
	if (p->last_ping != last_ping && p->heartbeat_armed)
		return;
	p->heartbeat_armed = false;
	proc_on_heartbeat_lost(p, "pings stopped");
}

void heartbeat_init(struct proc *p)
{
	p->heartbeat_timer = evtimer_new(vigil.base, heartbeat_expired, p);
	if (!p->heartbeat_timer)
		abort();
}

void heartbeat_free(struct proc *p)
{
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
	evtimer_add(p->heartbeat_timer, &tv);
	p->heartbeat_armed = true;
}

void heartbeat_rearm(struct proc *p)
{
	if (p->heartbeat_armed)
		heartbeat_arm(p);
}

void heartbeat_disarm(struct proc *p)
{
	evtimer_del(p->heartbeat_timer);
	p->heartbeat_armed = false;
}
