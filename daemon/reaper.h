/* SIGCHLD -> waitpid loop -> proc_on_exit(), or a debug line for an
 * orphan that landed on vigild (it is a child subreaper). */
#ifndef VIGIL_REAPER_H
#define VIGIL_REAPER_H

struct proc;

int reaper_init(void);
void reaper_free(void);
void reaper_track(struct proc *p);  /* p->pid was just spawned */
void reaper_forget(struct proc *p); /* before p->pid is cleared */
struct proc *reaper_find(int pid);
/* Reaps whatever has ended; also called once at shutdown. */
void reaper_reap(void);
/* At exit, after every program stopped: SIGKILL and reap what is left
 * below vigild (orphans that escaped their process group with setsid),
 * so nothing outlives it. Returns how many there were. */
int reaper_kill_leftovers(void);

#endif
