#include "sd.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "parse.h"
#include "log.h"
#include "program.h"
#include "vigild.h"

/* The STATUS= summary counts every process: at most this often, not on
 * every loop turn that changed a state (10,000 starting programs change
 * states thousands of times a second). */
#define SD_STATUS_INTERVAL USEC_PER_SEC

static struct event *status_event, *watchdog_event;
static bool sd_active;
static char last_status[128];
static int64_t status_counted_at;

static void sd_send_status(evutil_socket_t fd, short what, void *arg)
{
	int running = 0, backoff = 0, fatal = 0;
	char status[128];

	(void)fd;
	(void)what;
	(void)arg;
	status_counted_at = now_usec();
	for (size_t i = 0; i < vigil.nprocs; i++) {
		running += vigil.procs[i]->state == STATE_RUNNING;
		backoff += vigil.procs[i]->state == STATE_BACKOFF;
		fatal += vigil.procs[i]->state == STATE_FATAL;
	}
	snprintf(status, sizeof(status), "%d running, %d backoff, %d fatal", running, backoff, fatal);
	if (strcmp(status, last_status) == 0)
		return;
	snprintf(last_status, sizeof(last_status), "%s", status);
	sd_notifyf(0, "STATUS=%s", status);
}

static void sd_send_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

int sd_glue_init(void)
{
	uint64_t watchdog_usec = 0;

	sd_active = getenv("NOTIFY_SOCKET") != NULL;
	if (!sd_active)
		return 0;
	status_event = event_new(vigil.base, -1, 0, sd_send_status, NULL);
	if (!status_event)
		return -1;
	/* sd_watchdog_enabled() checks WATCHDOG_PID is us; ping at half the
	 * period so one slow loop turn never costs a restart. */
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
		struct timeval tv = { .tv_sec = (time_t)(watchdog_usec / 2 / USEC_PER_SEC),
				      .tv_usec = (suseconds_t)(watchdog_usec / 2 % USEC_PER_SEC) };
		watchdog_event = event_new(vigil.base, -1, EV_PERSIST, sd_send_watchdog, NULL);
		if (!watchdog_event || event_add(watchdog_event, &tv) < 0)
			return -1;
		log_info("systemd watchdog: pinging every %.3fs", (double)watchdog_usec / 2 / USEC_PER_SEC);
		sd_notify(0, "WATCHDOG=1");
	}
	return 0;
}

void sd_glue_free(void)
{
	if (status_event)
		event_free(status_event);
	if (watchdog_event)
		event_free(watchdog_event);
	status_event = watchdog_event = NULL;
}

void sd_glue_ready(void)
{
	if (!sd_active)
		return;
	sd_send_status(-1, 0, NULL);
	sd_notify(0, "READY=1");
}

void sd_glue_reloading(void)
{
	if (!sd_active)
		return;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)now_usec());
}

void sd_glue_stopping(void)
{
	if (sd_active)
		sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void sd_glue_states_changed(void)
{
	int64_t wait;
	struct timeval tv;

	if (!status_event || evtimer_pending(status_event, NULL))
		return;
	wait = status_counted_at + SD_STATUS_INTERVAL - now_usec();
	if (wait < 0)
		wait = 0;
	tv = (struct timeval){ .tv_sec = wait / USEC_PER_SEC, .tv_usec = wait % USEC_PER_SEC };
	evtimer_add(status_event, &tv);
}
