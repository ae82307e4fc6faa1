/* Heartbeat pinger for bench/heartbeat, compiled by that script with
 * `cc -O2 ... -lsystemd`. It pings vigild the way any systemd-style
 * program does: sd_notify(0, "WATCHDOG=1") to $NOTIFY_SOCKET.
 *
 *   heartbeat-pinger miss RECORDS DELAY_MS
 *	Waits DELAY_MS (so vigild has tracked our pid before the ping
 *	arrives), pings once, then stops pinging and waits. On the
 *	heartbeat_signal (SIGUSR1) it appends one line to RECORDS and exits:
 *	  miss <pid> <send_ns> <sent_ns> <signal_ns> <watchdog_usec>
 *	send_ns / sent_ns: CLOCK_MONOTONIC just before / just after
 *	sd_notify(); signal_ns: CLOCK_MONOTONIC on entering the handler.
 *	A failed ping appends "fail <pid> <errno>" and exits 3.
 *
 *   heartbeat-pinger scale INTERVAL_MS
 *	Pings every INTERVAL_MS forever (absolute-time sleeps, no drift),
 *	starting at a phase spread by pid so N pingers do not ping in step.
 *	Exits 3 if a ping fails. Nothing else: small and sleeping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static int records_fd = -1;
static volatile int64_t send_ns, sent_ns;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void on_heartbeat_signal(int sig)
{
	int64_t t = now_ns();
	char line[160];
	const char *wd = getenv("WATCHDOG_USEC");
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "miss %d %lld %lld %lld %s\n", (int)getpid(), (long long)send_ns,
		     (long long)sent_ns, (long long)t, wd ? wd : "-");
	if (write(records_fd, line, (size_t)n) < 0)
		_exit(4);
	_exit(0);
}

static int run_miss(const char *records, long delay_ms)
{
	struct sigaction sa;
	int r;

	records_fd = open(records, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (records_fd < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_heartbeat_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sleep_ns((int64_t)delay_ms * 1000000);
	send_ns = now_ns();
	r = sd_notify(0, "WATCHDOG=1");
	sent_ns = now_ns();
	if (r <= 0) {
		dprintf(records_fd, "fail %d %d\n", (int)getpid(), r);
		return 3;
	}
	for (;;)
		pause();
}

static int run_scale(long interval_ms)
{
	int64_t interval = (int64_t)interval_ms * 1000000;
	struct timespec next;
	int64_t t;

	/* Spread the phases: pids are sequential-ish, a multiplicative hash
	 * scatters them over the interval. */
	t = now_ns() + (int64_t)(((uint32_t)getpid() * 2654435761u) % (uint32_t)interval_ms) * 1000000;
	for (;;) {
		next.tv_sec = t / 1000000000;
		next.tv_nsec = t % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (sd_notify(0, "WATCHDOG=1") <= 0)
			return 3;
		t += interval;
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "miss") == 0)
		return run_miss(argv[2], atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "scale") == 0 && atol(argv[2]) > 0)
		return run_scale(atol(argv[2]));
	fprintf(stderr, "usage: %s miss RECORDS DELAY_MS | scale INTERVAL_MS\n", argv[0]);
	return 2;
}
