/* Stalls of vigild's own loop (see stall.h). */
#include "stall.h"

#include "log.h"
#include "parse.h"
#include "vigild.h"

/* When the last stall was noticed: a deadline before it passed while
 * vigild was away, even if its timer runs only a little late. */
static int64_t stall_noticed_at;

bool vigil_stalled_since(int64_t deadline, const char *what)
{
	int64_t now = now_usec();

	if (deadline < stall_noticed_at)
		return true;
	if (now - deadline <= VIGIL_STALL_USEC)
		return false;
	/* one line per stall, however many deadlines it moves */
	if (now - stall_noticed_at > VIGIL_STALL_USEC)
		log_warn("vigild's loop did not run for %.1fs (vigild stopped, starved or frozen): "
			 "deadlines that passed meanwhile start again from now (first: %s)",
			 (double)(now - deadline) / USEC_PER_SEC, what);
	stall_noticed_at = now;
	return true;
}
