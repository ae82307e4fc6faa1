/* ignore-term PIDFILE: ignores SIGTERM, writes its pid, sleeps. */
#include <signal.h>

#include "common.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	signal(SIGTERM, SIG_IGN);
	write_pid_file(argv[1], getpid());
	sleep_forever();
}
