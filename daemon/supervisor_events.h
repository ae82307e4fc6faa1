/* What supervisor.c's observers tell the events ring (events.c) and the
 * hooks (hooks.c): which change is an event, and which is a failure.
 * Apart from supervisor.c, which calls these from the one place where
 * states change (its proc_hooks observers). */
#ifndef VIGIL_SUPERVISOR_EVENTS_H
#define VIGIL_SUPERVISOR_EVENTS_H

#include <stddef.h>
#include <sys/types.h>

#include "health.h"
#include "state.h"

struct proc;

int supervisor_events_init(void);
void supervisor_events_free(void);
/* proc_hooks.pid_changed: p->pid was old_pid */
void supervisor_events_pid_changed(struct proc *p, pid_t old_pid);
/* proc_hooks.state_changed: p->state was old */
void supervisor_events_state_changed(struct proc *p, enum proc_state old);
/* health.h's verdict changed: p->health.state was old */
void supervisor_events_health_changed(struct proc *p, enum health_state old);
/* proc_hooks.spawn: program_spawn, and a failed start is a failure */
pid_t supervisor_events_spawn(struct proc *p, char *err, size_t errlen, int *errnum);
/* p is about to be freed */
void supervisor_events_forget(const struct proc *p);

#endif
