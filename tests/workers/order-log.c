/* order-log FILE NAME: appends "start NAME PID" to FILE, sleeps; on
 * SIGTERM appends "stop NAME PID" and exits 0. */
#include <signal.h>

#include "common.h"

int main(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (argc < 3)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	append_line(argv[1], "start %s %d\n", argv[2], (int)getpid());
	while (sigwait(&set, &sig) != 0)
		;
	append_line(argv[1], "stop %s %d\n", argv[2], (int)getpid());
	return 0;
}
