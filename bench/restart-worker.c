/* The crashing worker of bench/restart-latency.
 *
 *   restart-worker RECORD_FILE [LIFETIME_US]
 *
 * First thing in main(): take CLOCK_MONOTONIC and append "start <ns> <pid>"
 * to RECORD_FILE. Then stay alive LIFETIME_US microseconds (default 0),
 * take the clock again, append "exit <ns> <pid>" and _exit(1) at once.
 * One write(2) per record on an O_APPEND fd, so records of successive
 * children never interleave. The bench script compiles this itself with
 * `cc`; it needs nothing but libc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void record(int fd, const char *what, long long ns)
{
	char buf[80];
	int n = snprintf(buf, sizeof(buf), "%s %lld %d\n", what, ns, (int)getpid());

	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

int main(int argc, char **argv)
{
	long long started = now_ns();
	long lifetime_us;
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s RECORD_FILE [LIFETIME_US]\n", argv[0]);
		return 2;
	}
	lifetime_us = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(4);
	record(fd, "start", started);
	if (lifetime_us > 0) {
		struct timespec ts = { lifetime_us / 1000000, (lifetime_us % 1000000) * 1000 };
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	record(fd, "exit", now_ns());
	_exit(1);
}
