/* The floor of bench/restart-latency: the least a supervisor can do.
 *
 *   restart-floor WORKER [ARGS...]
 *
 * fork, exec WORKER ARGS in the child, waitpid it in the parent, and
 * again, until SIGTERM. No event loop, no signal handler for SIGCHLD, no
 * bookkeeping: the parent sleeps in waitpid(2) while the worker lives, as
 * an idle supervisor sleeps in epoll_wait(2), and forks the successor the
 * moment waitpid returns. The same worker's records measure it (exit
 * record -> successor's start record), so the gap is the kernel's exit,
 * wake-up, fork, exec and the dynamic loader of the worker: what any
 * supervisor's restart latency is made of, with nothing of its own.
 *
 * On SIGTERM the parent kills the running worker, reaps it and exits 0,
 * so it leaves nothing behind. The bench script compiles this with `cc`. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc < 2) {
		fprintf(stderr, "usage: %s WORKER [ARGS...]\n", argv[0]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: SIGTERM cuts waitpid short */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	while (!stopping) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[1], argv + 1); /* exec resets the caught SIGTERM */
			_exit(127);
		}
		while (waitpid(pid, NULL, 0) < 0) {
			if (errno != EINTR)
				return 1;
			if (stopping) {
				kill(pid, SIGKILL);
				return waitpid(pid, NULL, 0) == pid ? 0 : 1;
			}
		}
	}
	return 0;
}
