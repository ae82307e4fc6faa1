/* alive-pinger: the daemon child of the 监控报活 demo. Once a second it
 * tells vigild "i am ok" (sd_notify WATCHDOG=1) on behalf of the worker
 * it is bound to, as long as the worker keeps making progress. When the
 * worker's progress file stops changing, it stops vouching for it; vigild
 * then counts the worker as hung and restarts both. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define STALE_AFTER_S 2.0

static double file_age_s(const char *path)
{
	struct stat st;
	struct timespec now;

	if (stat(path, &st) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	return (double)(now.tv_sec - st.st_mtim.tv_sec) + (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
}

static void read_progress(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *progress = argc > 1 ? argv[1] : "/tmp/vigil-demo.progress";
	uint64_t watchdog_usec = 0;
	char line[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		printf("[%d] no WATCHDOG_USEC from vigild; pinging anyway\n", (int)getpid());
	else
		printf("[%d] vigild expects a ping every %.1fs\n", (int)getpid(), watchdog_usec / 1e6);
	for (;;) {
		double age = file_age_s(progress);
		read_progress(progress, line, sizeof(line));
		if (age >= 0 && age < STALE_AFTER_S) {
			printf("[%d] 给监控服务器发消息: i am ok ~ (worker at %s)\n", (int)getpid(), line);
			sd_notifyf(0, "WATCHDOG=1\nSTATUS=worker at %s", line);
		} else {
			printf("[%d] worker made no progress for %.1fs: not reporting ok\n", (int)getpid(),
			       age);
		}
		sleep(1);
	}
}
