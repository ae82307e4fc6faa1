/* Inside the state machine: the steps program.c provides and the table
 * in program_table.c combines. Not for other modules. */
#ifndef VIGIL_PROGRAM_IMPL_H
#define VIGIL_PROGRAM_IMPL_H

#include "program.h"

/* The one place proc->state changes (then daemon children react, then
 * the observer hears). */
void proc_set_state(struct proc *p, enum proc_state state);
void proc_set_pid(struct proc *p, pid_t pid);
void proc_arm_timer(struct proc *p, int64_t usec);
void proc_kill(struct proc *p, int signo);
/* its process group and cgroup killed and released after its exit */
void proc_clean_up_after_exit(struct proc *p);
/* signo now, SIGKILL after stop_timeout; STOPPING */
void proc_begin_kill(struct proc *p, enum kill_reason reason, int signo);
void proc_reset_failures(struct proc *p);
/* RUNNING: started long enough, or READY=1 */
void proc_mark_started(struct proc *p);
/* WAITING while what p requires does not hold (FATAL if it failed for
 * good), else proc_spawn_now */
void proc_spawn(struct proc *p);
/* fork/exec, then STARTING (or RUNNING at once), or the failure path */
void proc_spawn_now(struct proc *p);
/* FATAL with cause dependency; why names the requirement */
void proc_fail_requirement(struct proc *p, const char *why);
/* BACKOFF with a growing delay, FATAL past the start limit, or EXITED/
 * FATAL when the policy does not restart */
void proc_failed_start(struct proc *p, bool wants_restart);
/* last_exit and the log line of an ended process */
void proc_record_exit(struct proc *p, int status);
void proc_after_failure_or_exit(struct proc *p, enum proc_state from, int64_t ran, bool success);

/* Runs the cell proc_table[p->state][ev]. wait_status: PEV_EXIT only;
 * why: PEV_HEARTBEAT_LOST only. Returns the cell's 0 or -errno. */
int proc_dispatch(struct proc *p, enum proc_event ev, int wait_status, const char *why);

#endif
