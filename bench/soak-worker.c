/* The crashing program of bench/soak.
 *
 *   soak-worker RECORD_FILE MIN_MS MAX_MS ENDING [OPTION...]
 *
 * Appends "start <pid>" to RECORD_FILE (one write(2) on an O_APPEND fd),
 * lives a random time between MIN_MS and MAX_MS, then ends as ENDING says:
 *   exit:N      _exit(N)
 *   signal:N    killed by signal N (default disposition, no core dump)
 * Options:
 *   grandchild  fork a child in our process group that would sleep 30 s:
 *               it outlives us until vigild kills the group
 *   escapee     fork a child that calls setsid() and lives 0.2-1.5 s longer
 *               than us: an orphan vigild must reap as subreaper
 *   output:N    write about N bytes of lines to stdout over our life
 * The bench script compiles this itself with `cc`; it needs only libc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static long rand_between(long lo, long hi)
{
	return hi > lo ? lo + random() % (hi - lo + 1) : lo;
}

static void fork_grandchild(int escape, long parent_life_us)
{
	pid_t pid = fork();

	if (pid != 0)
		return; /* parent, or fork failed: the soak goes on without it */
	if (escape) {
		setsid();
		sleep_us(parent_life_us + rand_between(200000, 1500000));
	} else {
		sleep_us(30 * 1000000L);
	}
	_exit(0);
}

/* Writes about `bytes` in lines spread over `life_us`, then the rest of
 * the life is slept away. */
static void live_writing(long life_us, long bytes)
{
	char line[96];
	long lines = bytes / 64 > 0 ? bytes / 64 : 1, step = life_us / lines;

	for (long i = 0; i < lines; i++) {
		int n = snprintf(line, sizeof(line), "%d line %06ld of a soak worker's output, padded to 64 b\n",
				 (int)getpid(), i);
		if (write(1, line, (size_t)n) < 0)
			break;
		sleep_us(step);
	}
}

int main(int argc, char **argv)
{
	struct timespec ts;
	long min_ms, max_ms, life_us, output = 0;
	int fd, grandchild = 0, escapee = 0, code = 1, signo = 0;
	char rec[32];

	if (argc < 5) {
		fprintf(stderr, "usage: %s RECORD_FILE MIN_MS MAX_MS exit:N|signal:N [grandchild] [escapee] [output:N]\n",
			argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	srandom((unsigned)getpid() ^ (unsigned)ts.tv_nsec);
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(4);
	snprintf(rec, sizeof(rec), "start %d\n", (int)getpid());
	if (write(fd, rec, strlen(rec)) < 0)
		_exit(3);
	close(fd);
	min_ms = strtol(argv[2], NULL, 10);
	max_ms = strtol(argv[3], NULL, 10);
	if (strncmp(argv[4], "signal:", 7) == 0)
		signo = atoi(argv[4] + 7);
	else if (strncmp(argv[4], "exit:", 5) == 0)
		code = atoi(argv[4] + 5);
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "grandchild") == 0)
			grandchild = 1;
		else if (strcmp(argv[i], "escapee") == 0)
			escapee = 1;
		else if (strncmp(argv[i], "output:", 7) == 0)
			output = strtol(argv[i] + 7, NULL, 10);
	}
	life_us = rand_between(min_ms, max_ms) * 1000;
	if (grandchild)
		fork_grandchild(0, life_us);
	if (escapee)
		fork_grandchild(1, life_us);
	if (output > 0)
		live_writing(life_us, output);
	else
		sleep_us(life_us);
	if (signo) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(signo, SIG_DFL);
		kill(getpid(), signo);
		if (signo == SIGKILL || signo == SIGSTOP)
			sleep_us(1000000);
	}
	_exit(code);
}
