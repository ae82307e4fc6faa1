/* Requirements between processes (DESIGN.md "Dependencies and one-shot
 * tasks"): which conditions hold, pulling requirements in when a
 * dependent starts, waking WAITING processes the moment everything they
 * require holds (or failing them when a requirement failed for good),
 * and stops and restarts that take the dependents along, dependents
 * first.
 *
 * It works on the pointers the owner binds (struct proc's reqs and
 * dependents), never on names: supervisor.c binds them after every
 * change of the set of processes, and tells this module when a state or
 * a health verdict changed. */
#ifndef VIGIL_DEPEND_H
#define VIGIL_DEPEND_H

#include <stdbool.h>
#include <stddef.h>

struct proc;

/* Resolves every process's requires into reqs and dependents. lookup
 * returns a program's instances (instance 0 first) or NULL. */
void depend_bind(struct proc **procs, size_t n, struct proc **(*lookup)(const char *program));
/* A retired process no longer requires or is required by anything bound. */
void depend_unbind(struct proc *p);
/* A retiring process is freed: others retiring forget it. */
void depend_forget(struct proc *gone, struct proc **others, size_t n);

/* proc_hooks.requirements: REQUIRES_MET, _WAIT or _FAILED (program.h). */
int depend_check(struct proc *p, char *why, size_t whylen);

/* q's state or health changed: its dependents are looked at again at the
 * end of this loop turn. */
void depend_changed(struct proc *q);

/* Stops procs and, first, every process that requires them, transitively.
 * Returns the processes touched, dependents first (malloc'd), and their
 * number in *count. */
struct proc **depend_stop(struct proc **procs, size_t n, size_t *count);
/* Stops the dependents of procs, restarts procs once they are down, and
 * starts the dependents again once what they require holds. Returns the
 * processes touched like depend_stop; *refused: procs that may not start
 * now (their -errno, counted). */
struct proc **depend_restart(struct proc **procs, size_t n, size_t *count);
/* A reload retires p: what requires it is stopped first, then p; with
 * resume (p has a successor) the dependents start again once what they
 * require holds. */
void depend_retire(struct proc *p, bool resume);
/* Stop p once none of its dependents runs (retire, shutdown): true if it
 * had to wait, false if it was stopped at once. */
bool depend_stop_after_dependents(struct proc *p);
/* Whether a process that requires p still runs. */
bool depend_has_active_dependent(const struct proc *p);

/* The set of processes the pending work is looked up in (vigil.procs
 * and the retiring ones): given by the owner. */
void depend_init(size_t (*retiring)(struct proc ***procs));
void depend_free(void);

#endif
