/* resource-worker MODE [MB] READYFILE: uses CPU or memory, says so in
 * READYFILE (one line, "ready PID"), then keeps at it until killed.
 *   spin        loops on the CPU without a pause
 *   idle        sleeps
 *   alloc MB    allocates MB megabytes, touches every page, sleeps
 *   child MB    forks a child that does "alloc MB" and sleeps itself:
 *               its memory is a descendant's */
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"

static void touch_megabytes(long mb)
{
	size_t len = (size_t)mb << 20;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		exit(92);
	/* a non-zero byte per page: the kernel must back every one */
	for (size_t off = 0; off < len; off += 4096)
		mem[off] = 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *ready = argv[argc - 1];
	long mb = argc > 3 ? atol(argv[2]) : 0;
	volatile unsigned long spins = 0;

	if (argc < 3)
		exit(2);
	if (strcmp(mode, "alloc") == 0) {
		touch_megabytes(mb);
	} else if (strcmp(mode, "child") == 0) {
		pid_t child = fork();
		if (child == 0) {
			touch_megabytes(mb);
			append_line(ready, "ready %d\n", (int)getppid());
			sleep_forever();
		}
		if (child < 0)
			exit(93);
		sleep_forever();
	}
	append_line(ready, "ready %d\n", (int)getpid());
	if (strcmp(mode, "spin") == 0)
		for (;;)
			spins++;
	sleep_forever();
}
