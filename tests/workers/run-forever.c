/* run-forever [PIDFILE]: writes its pid to PIDFILE, prints a line on
 * stdout and one on stderr, then sleeps until killed. */
#include "common.h"

int main(int argc, char **argv)
{
	printf("run-forever %d says hello on stdout\n", (int)getpid());
	fflush(stdout);
	fprintf(stderr, "run-forever %d says hello on stderr\n", (int)getpid());
	if (argc > 1)
		write_pid_file(argv[1], getpid());
	sleep_forever();
}
