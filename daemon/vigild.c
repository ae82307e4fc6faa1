/* The runtime singleton and the clock every deadline uses. */
#include "vigild.h"

#include <event2/event.h>
#include <time.h>

#include "parse.h"
#include "log.h"

struct vigil vigil = { .devnull = -1 };

struct event_base *vigil_event_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (!ec)
		return NULL;
	/* A precise monotonic clock (libevent otherwise reads the coarse one,
	 * a few ms behind) and timerfd-backed timers (epoll_wait rounds to
	 * ms): heartbeat deadlines are judged within a millisecond. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

int64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* When the last stall was noticed: a deadline before it passed while
 * vigild was away, even if its timer runs only a little late. */
static int64_t stall_noticed_at;

bool vigil_stalled_since(int64_t deadline, const char *what)
{
	int64_t now = now_usec();

	if (deadline < stall_noticed_at)
		return true;
	if (now - deadline <= VIGIL_STALL_USEC)
		return false;
	/* one line per stall, however many deadlines it moves */
	if (now - stall_noticed_at > VIGIL_STALL_USEC)
		log_warn("vigild's loop did not run for %.1fs (vigild stopped, starved or frozen): "
			 "deadlines that passed meanwhile start again from now (first: %s)",
			 (double)(now - deadline) / USEC_PER_SEC, what);
	stall_noticed_at = now;
	return true;
}
