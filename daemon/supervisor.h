/* The set of processes as a whole: building it from the config, start
 * order, name lookup, and the ordered shutdown. */
#ifndef VIGIL_SUPERVISOR_H
#define VIGIL_SUPERVISOR_H

#include <stddef.h>

#include "state.h"

struct config;
struct proc;

int supervisor_init(struct config *config);
void supervisor_free(void);
/* Starts every autostart program, in ascending priority, a batch per
 * loop turn; tells systemd READY=1 once the last has been started. */
void supervisor_start_autostart(void);
/* Stops everything in descending priority, daemon children first, then
 * leaves the event loop. */
void supervisor_begin_shutdown(void);
/* SIGKILL to every process group still running, retiring ones too
 * (a second SIGTERM/SIGINT during shutdown). */
void supervisor_kill_all(void);
/* Called by program.c after every state change. */
void supervisor_on_state_change(struct proc *p, enum proc_state old);

/* "all", a program name (all its instances) or "prog:N". Returns a
 * malloc'd array (free it) and its length, or NULL if nothing matches. */
struct proc **supervisor_match(const char *name, size_t *count);

/* After vigil.procs changed (reload): sort it again and bind daemon
 * children to their parents anew. */
void supervisor_reindex(void);

#endif
