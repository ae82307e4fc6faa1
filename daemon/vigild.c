/* The runtime singleton and the clock every deadline uses. */
#include "vigild.h"

#include <time.h>

#include "../common/parse.h"

struct vigil vigil = { .devnull = -1 };

int64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}
