/* Per-process heartbeat deadlines. Each WATCHDOG=1 pushes the deadline
 * heartbeat_timeout into the future; when it passes, the timer reports
 * proc_on_heartbeat_lost() to the state machine. */
#ifndef VIGIL_HEARTBEAT_H
#define VIGIL_HEARTBEAT_H

struct proc;

void heartbeat_init(struct proc *p);
void heartbeat_free(struct proc *p);
/* Starts the deadline from now, if the process has a heartbeat timeout. */
void heartbeat_arm(struct proc *p);
/* A ping: moves an armed deadline; does nothing when not armed. */
void heartbeat_rearm(struct proc *p);
void heartbeat_disarm(struct proc *p);

#endif
