/* The sd_notify wire format: newline-separated KEY=VALUE assignments in
 * one datagram. A pure parser, unit tested on its own. */
#ifndef VIGIL_NOTIFY_MSG_H
#define VIGIL_NOTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NOTIFY_STATUS_MAX 256

struct notify_msg {
	bool ready, stopping, watchdog, watchdog_trigger;
	bool has_watchdog_usec, has_status, has_mainpid;
	uint64_t watchdog_usec;
	pid_t mainpid;
	char status[NOTIFY_STATUS_MAX]; /* control characters replaced by spaces */
};

/* Returns 0, or -1 for a datagram to drop whole (embedded NUL, or a value
 * of a known key that does not parse). Unknown keys are ignored, as
 * systemd does. */
int notify_msg_parse(const char *buf, size_t len, struct notify_msg *msg);

#endif
