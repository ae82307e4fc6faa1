/* The runtime singleton and the clock every deadline uses. */
#include "vigild.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "parse.h"

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

void *grow_array(void *array, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return array;
	*cap = *cap ? 2 * *cap : 16;
	array = realloc(array, *cap * size);
	if (!array)
		abort();
	return array;
}
