/* The environment a child starts with. */
#ifndef VIGIL_SPAWN_ENV_H
#define VIGIL_SPAWN_ENV_H

#include <stddef.h>
#include <stdint.h>

struct program_config;

/* Reserved as "WATCHDOG_PID=" plus 20 spaces; the child fills in its pid. */
#define SPAWN_WATCHDOG_PID "WATCHDOG_PID="

/* vigild's environment without what belongs to vigild's own supervisor
 * (NOTIFY_SOCKET, LISTEN_FDS, ...), plus VIGIL_* names, the program's
 * `environment`, and the notify contract for this child, which wins:
 * NOTIFY_SOCKET=notify_path (none when NULL) and, with a heartbeat,
 * WATCHDOG_USEC and the WATCHDOG_PID= slot, whose 20 spaces *pid_slot
 * points to (NULL without a heartbeat). name and instance are the
 * process's ("web:2", 2). Returns a NULL-terminated malloc'd array, or
 * NULL with err set. */
struct spawn_env_for {
	const struct program_config *cfg;
	const char *name;
	int instance;
	int64_t watchdog_usec; /* 0: no heartbeat */
	const char *notify_path;
};
char **spawn_env_build(const struct spawn_env_for *who, char **pid_slot, char *err, size_t errlen);

#endif
