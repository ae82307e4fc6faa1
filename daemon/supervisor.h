/* The set of processes as a whole, and their owner: building it from the
 * config, start order, the name and pid indexes, the processes retiring
 * after a reload, the observer of every state change, and the ordered
 * shutdown. Event sources (the reaper's exits, the notify socket's
 * senders, ctl requests) find processes here and report to program.c. */
#ifndef VIGIL_SUPERVISOR_H
#define VIGIL_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "health.h"
#include "state.h"

struct config;
struct program_config;
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

/* health.h's changed action: the owner is a struct proc. */
void supervisor_health_changed(void *owner, enum health_state old);

/* The reaper's callback: a child of vigild ended. */
void supervisor_child_exited(pid_t pid, int wait_status);
/* The process whose main pid is pid, or NULL. O(1). */
struct proc *supervisor_find_pid(pid_t pid);
/* The running process whose process group is pgid, or NULL. O(1). */
struct proc *supervisor_find_group(pid_t pgid);
/* Calls fn with the process group of every process that runs (current
 * and retiring): the guard's resync. */
void supervisor_for_each_group(void (*fn)(pid_t pgid));

/* "all", a program name (all its instances) or "prog:N". Returns a
 * malloc'd array (free it) and its length, or NULL if nothing matches. */
struct proc **supervisor_match(const char *name, size_t *count);
/* The processes of a program section in vigil.procs, instance 0 first
 * (they stand together), or NULL. */
struct proc **supervisor_instances(const char *program);

/* Reload, through these only. A retired process is stopped, then freed
 * once it has ended; successor (may be NULL) starts then if p was running
 * or the successor starts by itself. */
void supervisor_retire(struct proc *p, struct proc *successor);
/* A config section no current process uses any more: freed once no
 * retiring process uses it either. */
void supervisor_release_config(struct program_config *pc);
/* The new set of processes (malloc'd, taken over) and its config (the
 * old one is freed): sorted, indexed and daemon children bound. */
void supervisor_install(struct proc **procs, size_t n, struct config *config);
/* Every process still retiring, for an orderly shutdown. */
size_t supervisor_retiring(struct proc ***procs);

#endif
