#include "heartbeat.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "parse.h"
#include "stall.h"
#include "vigild.h"

static struct heartbeat_actions actions;

void heartbeat_set_actions(const struct heartbeat_actions *a)
{
	actions = *a;
}

static void heartbeat_report_lost(struct heartbeat *hb, const char *why)
{
	if (actions.lost)
		actions.lost(hb->owner, why);
}

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

/* How long after a read that found the ping source's queue full it
 * still counts as behind: the senders woken by the reads get this long to
 * send. */
#define HEARTBEAT_CAUGHT_UP_USEC 5000
/* While the ping source is behind, a verdict waits this long at first,
 * then as long as the deadline is overdue (so a long overload costs a
 * re-check now and then, not a timer storm), until it is a period
 * overdue. */
#define VERDICT_RECHECK_MIN_USEC (10 * 1000)
/* "vigild is behind its senders" is logged at most this often. */
#define BEHIND_LOG_INTERVAL (10 * USEC_PER_SEC)

static int64_t source_full_at; /* the ping source last found its queue full */
static int64_t behind_logged_at;

void heartbeat_source_full(void)
{
	source_full_at = now_usec();
}

static bool heartbeat_source_behind(void)
{
	return source_full_at && now_usec() - source_full_at < HEARTBEAT_CAUGHT_UP_USEC;
}

bool heartbeat_drain(void)
{
	int64_t full_before = source_full_at;

	if (actions.drain)
		actions.drain();
	return source_full_at == full_before;
}

/* A re-check while the source is behind, logged once in a while; 0 once
 * the verdict has waited a whole period: a flood of the notify socket
 * delays verdicts, never prevents them. */
static int64_t heartbeat_recheck_delay(int64_t due, int64_t period, const char *name)
{
	int64_t now = now_usec(), overdue = now - due, delay;

	if (overdue >= period)
		return 0;
	if (!behind_logged_at || now - behind_logged_at >= BEHIND_LOG_INTERVAL) {
		behind_logged_at = now;
		log_warn("vigild reads the notify socket slower than its programs send (they wait for room in "
			 "its queue): deadlines that pass meanwhile are judged once it has caught up (first: %s)",
			 name);
	}
	delay = overdue > VERDICT_RECHECK_MIN_USEC ? overdue : VERDICT_RECHECK_MIN_USEC;
	return delay < period - overdue ? delay : period - overdue;
}

int64_t heartbeat_verdict_wait(int64_t due, int64_t fires_at, int64_t period, const char *name)
{
	heartbeat_drain();
	if (vigil_stalled_since(fires_at, name))
		return period;
	return heartbeat_source_behind() ? heartbeat_recheck_delay(due, period, name) : 0;
}

/* Deadlines that passed in this loop turn, judged together once every
 * timer of the turn has run: after a stall of vigild, the most overdue
 * one shows it, and none of them is blamed. */
static struct heartbeat **expired;
static size_t nexpired, expired_cap;
static struct event_base *expired_base; /* a judge is pending on it */

/* Fires the timer again after usec, for the same deadline. */
static void heartbeat_recheck(struct heartbeat *hb, int64_t usec)
{
	struct timeval tv = { .tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC };

	event_base_update_cache_time(vigil.base);
	hb->fires_at = now_usec() + usec;
	evtimer_add(hb->timer, &tv);
	hb->armed = true;
}

static void heartbeat_judge_one(struct heartbeat *hb, bool behind)
{
	/* a ping read after the deadline fired (draining for another
	 * process) still shows it alive */
	int64_t recheck;

	if (hb->last_ping > hb->deadline - hb->timeout || vigil_stalled_since(hb->fires_at, hb->name))
		heartbeat_arm(hb);
	else if (behind && (recheck = heartbeat_recheck_delay(hb->deadline, hb->timeout, hb->name)))
		heartbeat_recheck(hb, recheck);
	else
		heartbeat_report_lost(hb, "pings stopped");
}

static void heartbeat_judge(evutil_socket_t fd, short what, void *arg)
{
	int64_t earliest = INT64_MAX;
	bool behind = heartbeat_source_behind();

	(void)fd;
	(void)what;
	(void)arg;
	for (size_t i = 0; i < nexpired; i++)
		if (expired[i] && expired[i]->fires_at < earliest)
			earliest = expired[i]->fires_at;
	if (nexpired)
		vigil_stalled_since(earliest, "heartbeats");
	/* the lost action may stop other processes: take each out of the
	 * list before acting on it */
	for (size_t i = 0; i < nexpired; i++) {
		struct heartbeat *hb = expired[i];
		if (!hb)
			continue;
		expired[i] = NULL;
		hb->judged = false;
		if (!hb->armed) /* else a new deadline came meanwhile */
			heartbeat_judge_one(hb, behind);
	}
	nexpired = 0;
	expired_base = NULL;
}

static void heartbeat_expired(evutil_socket_t fd, short what, void *arg)
{
	struct heartbeat *hb = arg;
	int64_t last_ping = hb->last_ping;
	static const struct timeval now = { 0, 0 };

	(void)fd;
	(void)what;
	/* After a busy loop turn its ping may be waiting in the socket
	 * queue, behind this timer: read the queue before judging. A ping
	 * found there has re-armed the deadline already. */
	heartbeat_drain();
	if (hb->last_ping != last_ping && hb->armed)
		return;
	hb->armed = false;
	if (hb->judged)
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
		heartbeat_judge_one(hb, heartbeat_source_behind());
		return;
	}
	expired_base = vigil.base;
	hb->judged = true;
	expired[nexpired++] = hb;
}

void heartbeat_init(struct heartbeat *hb, void *owner, const char *name)
{
	*hb = (struct heartbeat){ .owner = owner, .name = name };
	hb->timer = evtimer_new(vigil.base, heartbeat_expired, hb);
	if (!hb->timer)
		abort();
}

/* Takes hb out of the deadlines waiting to be judged. */
static void heartbeat_unjudge(struct heartbeat *hb)
{
	for (size_t i = 0; hb->judged && i < nexpired; i++)
		if (expired[i] == hb)
			expired[i] = NULL;
	hb->judged = false;
}

void heartbeat_free(struct heartbeat *hb)
{
	heartbeat_unjudge(hb);
	if (hb->timer)
		event_free(hb->timer);
	hb->timer = NULL;
}

void heartbeat_arm(struct heartbeat *hb)
{
	struct timeval tv;

	if (hb->timeout <= 0)
		return;
	tv = heartbeat_timeval(hb->timeout);
	/* from now, not from the start of this (maybe long) loop turn */
	event_base_update_cache_time(vigil.base);
	hb->deadline = hb->fires_at = now_usec() + hb->timeout;
	evtimer_add(hb->timer, &tv);
	hb->armed = true;
}

void heartbeat_ping(struct heartbeat *hb)
{
	hb->last_ping = now_usec();
	if (!hb->armed)
		return;
	/* a ping read long after its deadline, before the timer ran: vigild
	 * was away (the ping waited in the socket queue); say so */
	if (hb->last_ping > hb->fires_at + VIGIL_STALL_USEC)
		vigil_stalled_since(hb->fires_at, hb->name);
	heartbeat_arm(hb);
}

void heartbeat_disarm(struct heartbeat *hb)
{
	evtimer_del(hb->timer);
	hb->armed = false;
	heartbeat_unjudge(hb);
}
