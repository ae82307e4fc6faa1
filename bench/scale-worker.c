/* The idle worker of bench/scale.
 *
 *   scale-worker [RECORD_FILE]
 *
 * First thing in main(): take CLOCK_MONOTONIC and append "start <ns> <pid>"
 * to RECORD_FILE (argv[1], else $SCALE_RECORDS), then pause() until a
 * signal ends it. RECORD_FILE may come from the environment because runit's
 * runsv and daemontools' supervise exec ./run with no arguments: the bench
 * makes ./run a symlink to this binary, so all three supervisors exec the
 * same file directly, no shell in between. One write(2) on an O_APPEND fd
 * per record, so the records of N workers never interleave. The bench script
 * compiles this itself with `cc`; it needs nothing but libc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	const char *path;
	char buf[80];
	int fd, n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	path = argc > 1 ? argv[1] : getenv("SCALE_RECORDS");
	if (!path)
		return 2;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return 4;
	n = snprintf(buf, sizeof(buf), "start %lld %d\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		     (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		return 3;
	close(fd);
	for (;;)
		pause();
}
