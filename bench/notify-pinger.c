/* The type = notify program of bench/heartbeat's notify-start case.
 *
 *   notify-pinger [INTERVAL_MS]
 *
 * Sends READY=1 to $NOTIFY_SOCKET at once, then WATCHDOG=1 every
 * INTERVAL_MS (default 1000, absolute-time sleeps from the READY=1, so no
 * drift), forever. Plain sendto(2) on a blocking AF_UNIX datagram socket,
 * as sd_notify() does: when the notify socket's queue is full the send
 * waits until the supervisor has read enough, it does not fail. A failed
 * send (or no NOTIFY_SOCKET) exits 3, which the supervisor sees as a crash.
 * NOTIFY_SOCKET may be a path or an abstract name ("@name"). The bench
 * script compiles this itself with `cc`; it needs nothing but libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

static int notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (!path || !*path || (len = strlen(path)) >= sizeof(notify_addr.sun_path))
		return -1;
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] != '@'));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return notify_fd < 0 ? -1 : 0;
}

static void notify_send(const char *msg)
{
	size_t len = strlen(msg);

	while (sendto(notify_fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&notify_addr, notify_addr_len) !=
	       (ssize_t)len)
		if (errno != EINTR)
			exit(3);
}

int main(int argc, char **argv)
{
	long interval_ms = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec next;

	if (interval_ms <= 0 || notify_open() < 0)
		return 3;
	notify_send("READY=1");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_sec += interval_ms / 1000;
		next.tv_nsec += (interval_ms % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		notify_send("WATCHDOG=1");
	}
}
