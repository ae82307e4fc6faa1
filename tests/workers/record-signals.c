/* record-signals FILE: writes "ready PID" to FILE, then appends
 * "signal N" for each of HUP, INT, USR1, USR2, TERM it receives;
 * exits 0 after TERM. */
#include <signal.h>

#include "common.h"

int main(int argc, char **argv)
{
	const int sigs[] = { SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGTERM };
	sigset_t set;
	int sig;

	if (argc < 2)
		return 2;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	append_line(argv[1], "ready %d\n", (int)getpid());
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		append_line(argv[1], "signal %d\n", sig);
		if (sig == SIGTERM)
			return 0;
	}
}
