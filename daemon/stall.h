/* vigild's own stalls: a timer that fires long after its deadline
 * means vigild's loop did not run meanwhile, and nobody may be blamed
 * for a deadline that passed then. */
#ifndef VIGIL_STALL_H
#define VIGIL_STALL_H

#include <stdbool.h>
#include <stdint.h>

/* A timer that fires this much after its deadline means vigild's loop
 * did not run meanwhile (vigild stopped, starved or frozen with its
 * cgroup): nobody may be blamed for a deadline that passed then. */
#define VIGIL_STALL_USEC (250 * 1000)
/* True if a deadline that passed at `deadline` fell in a stall of
 * vigild's own loop (it fires late, or before the end of a stall already
 * noticed); logs each stall once. `what` names what is given more time. */
bool vigil_stalled_since(int64_t deadline, const char *what);

#endif
