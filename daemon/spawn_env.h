/* The environment a child starts with. */
#ifndef VIGIL_SPAWN_ENV_H
#define VIGIL_SPAWN_ENV_H

#include <stddef.h>

struct proc;

/* Reserved as "WATCHDOG_PID=" plus 20 spaces; the child fills in its pid. */
#define SPAWN_WATCHDOG_PID "WATCHDOG_PID="

/* vigild's environment without what belongs to vigild's own supervisor
 * (NOTIFY_SOCKET, LISTEN_FDS, ...), plus VIGIL_* names, the notify
 * contract for this child, and the program's `environment`, which wins.
 * Returns a NULL-terminated malloc'd array, or NULL with err set. */
char **spawn_env_build(const struct proc *p, char *err, size_t errlen);

#endif
