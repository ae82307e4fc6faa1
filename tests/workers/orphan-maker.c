/* orphan-maker FILE: forks a child that forks a grandchild and exits at
 * once, so the grandchild is orphaned onto the nearest subreaper. The
 * grandchild waits until it has been re-parented, writes
 * "GRANDCHILD_PID NEW_PARENT_PID" to FILE and exits (and must then be
 * reaped by its new parent). The main process reaps its child and sleeps. */
#include <sys/wait.h>

#include "common.h"

int main(int argc, char **argv)
{
	pid_t child, first_parent;
	char buf[64];
	int n;

	if (argc < 2)
		return 2;
	child = fork();
	if (child < 0)
		return 3;
	if (child == 0) {
		first_parent = getpid();
		if (fork() == 0) {
			while (getppid() == first_parent)
				sleep_ms(5);
			n = snprintf(buf, sizeof(buf), "%d %d\n", (int)getpid(), (int)getppid());
			write_file_atomic(argv[1], buf, (size_t)n);
			_exit(0);
		}
		_exit(0);
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	sleep_forever();
}
