/* fork-grandchild PIDFILE: forks a child that writes "CHILD_PID PARENT_PID"
 * to PIDFILE; both sleep until killed. */
#include <signal.h>

#include "common.h"

int main(int argc, char **argv)
{
	char buf[64];
	pid_t pid;
	int n;

	if (argc < 2)
		return 2;
	pid = fork();
	if (pid < 0)
		return 3;
	if (pid == 0) {
		n = snprintf(buf, sizeof(buf), "%d %d\n", (int)getpid(), (int)getppid());
		write_file_atomic(argv[1], buf, (size_t)n);
	}
	sleep_forever();
}
