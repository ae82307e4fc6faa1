/* crash-after MS CODE [RECORD [HEALTHY_FILE]]
 * Appends "PID MONOTONIC_SECONDS" to RECORD, sleeps MS milliseconds and
 * exits with CODE. If HEALTHY_FILE exists at start, it runs forever
 * instead (a program that has been "fixed"). RECORD may be "-". */
#include "common.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: crash-after MS CODE [RECORD [HEALTHY_FILE]]\n");
		return 2;
	}
	if (argc > 3 && strcmp(argv[3], "-") != 0)
		append_line(argv[3], "%d %.6f\n", (int)getpid(), mono_now());
	if (argc > 4 && access(argv[4], F_OK) == 0)
		sleep_forever();
	sleep_ms(atol(argv[1]));
	return atoi(argv[2]);
}
