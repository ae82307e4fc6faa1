/* dep-worker LOG NAME [MS CODE [GATE]]
 * For the dependency tests, which assert order from what the workers
 * record rather than from when the test happened to look. Appends to LOG
 * (one write per line, O_APPEND):
 *   "start NAME PID T" when it begins,
 *   "stop NAME PID T" on SIGTERM, then exits 0,
 *   "exit NAME PID T CODE" after MS milliseconds (only with MS CODE given),
 *      then exits CODE (a oneshot task, or a program that ends alone);
 *      with GATE, the MS count only begins once the file GATE exists, so
 *      the test decides when the task ends.
 * T is CLOCK_MONOTONIC in seconds with nanoseconds, comparable with
 * Python's time.monotonic(). Without MS it runs until SIGTERM.
 * DEP_STOP_DELAY_MS=N in the environment: it takes N ms to exit after
 * the "stop" line (a program slow to stop). */
#include <signal.h>

#include "common.h"

static void now_text(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, len, "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
}

/* Waits for SIGTERM, at most ms milliseconds (ms < 0: for ever); returns
 * whether SIGTERM came. */
static int wait_term(const sigset_t *set, long ms)
{
	struct timespec left = { ms / 1000, (ms % 1000) * 1000000L };
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += left.tv_sec;
	end.tv_nsec += left.tv_nsec;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		int sig = ms < 0 ? sigwaitinfo(set, NULL) : sigtimedwait(set, NULL, &left);

		if (sig == SIGTERM)
			return 1;
		if (sig < 0 && errno == EAGAIN)
			return 0;
		if (ms < 0)
			continue;
		/* interrupted: wait for what is left of the delay */
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return 0;
	}
}

static void record_stop(const char *log, const char *name)
{
	char t[64];

	const char *delay = getenv("DEP_STOP_DELAY_MS");

	now_text(t, sizeof(t));
	append_line(log, "stop %s %d %s\n", name, (int)getpid(), t);
	if (delay)
		sleep_ms(atol(delay));
}

int main(int argc, char **argv)
{
	char t[64];
	sigset_t set;
	long ms = -1;
	int code = 0;

	if (argc < 3 || argc == 4 || argc > 6) {
		fprintf(stderr, "usage: dep-worker LOG NAME [MS CODE [GATE]]\n");
		return 2;
	}
	if (argc >= 5) {
		ms = atol(argv[3]);
		code = atoi(argv[4]);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	now_text(t, sizeof(t));
	append_line(argv[1], "start %s %d %s\n", argv[2], (int)getpid(), t);
	/* polling the gate is fine here: it only delays the task's end */
	while (argc == 6 && access(argv[5], F_OK) != 0) {
		if (wait_term(&set, 10)) {
			record_stop(argv[1], argv[2]);
			return 0;
		}
	}
	if (wait_term(&set, ms)) {
		record_stop(argv[1], argv[2]);
		return 0;
	}
	now_text(t, sizeof(t));
	append_line(argv[1], "exit %s %d %s %d\n", argv[2], (int)getpid(), t, code);
	return code;
}
