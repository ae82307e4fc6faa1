/* report-worker: the worker of the 监控报活 demo. It compiles "finance
 * reports" in steps, records its progress in a file the alive-pinger
 * watches, and tells vigild its status with sd_notify(STATUS=...).
 * On purpose it misbehaves in turn, one incarnation after another:
 * run 0 crashes during its second report, run 1 hangs, run 2 aborts
 * after two reports, and so on. The run counter lives in a state file. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define STEPS_PER_REPORT 8
#define STEP_MS 500

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reads, increments and writes back the run counter. */
static int next_run(const char *state_path)
{
	FILE *f = fopen(state_path, "re");
	int run = 0;

	if (f) {
		if (fscanf(f, "%d", &run) != 1)
			run = 0;
		fclose(f);
	}
	f = fopen(state_path, "we");
	if (f) {
		fprintf(f, "%d\n", run + 1);
		fclose(f);
	}
	return run;
}

static void record_progress(const char *progress_path, int report, int step)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", progress_path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "report #%d, step %d/%d\n", report, step, STEPS_PER_REPORT);
	fclose(f);
	rename(tmp, progress_path); /* the pinger sees a whole line or the old one */
}

int main(int argc, char **argv)
{
	const char *progress = argc > 1 ? argv[1] : "/tmp/vigil-demo.progress";
	const char *state = argc > 2 ? argv[2] : "/tmp/vigil-demo.state";
	int run = next_run(state);

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("[%d] run %d starting (run %% 3: 0 crashes, 1 hangs, 2 aborts)\n", (int)getpid(), run);
	for (int report = 1;; report++) {
		for (int step = 1; step <= STEPS_PER_REPORT; step++) {
			record_progress(progress, report, step);
			sd_notifyf(0, "STATUS=report #%d, step %d/%d", report, step, STEPS_PER_REPORT);
			printf("[%d] 统计财务报表 report #%d step %d/%d\n", (int)getpid(), report, step,
			       STEPS_PER_REPORT);
			if (run % 3 == 0 && report == 2 && step == 3) {
				printf("[%d] the books don't balance: exiting with code 3\n", (int)getpid());
				return 3;
			}
			if (run % 3 == 1 && report == 1 && step == 5) {
				printf("[%d] stuck waiting for a lock that never comes (hang)\n", (int)getpid());
				for (;;)
					pause();
			}
			if (run % 3 == 2 && report == 3 && step == 2) {
				printf("[%d] corrupted ledger: abort()\n", (int)getpid());
				abort();
			}
			sleep_ms(STEP_MS);
		}
		printf("[%d] report #%d done\n", (int)getpid(), report);
	}
}
