/* SIGCHLD -> waitpid loop -> proc_on_exit(), or a debug line for an
 * orphan that landed on vigild (it is a child subreaper). */
#ifndef VIGIL_REAPER_H
#define VIGIL_REAPER_H

struct proc;

int reaper_init(void);
void reaper_free(void);
/* Indexes p by p->pid and by its process group p->pgid: after a spawn,
 * and again after MAINPID= moved p->pid (forget, change pid, track). */
void reaper_track(struct proc *p);
void reaper_forget(struct proc *p); /* before p->pid is cleared */
struct proc *reaper_find(int pid);
/* The running process whose process group is pgid, or NULL. O(1). */
struct proc *reaper_find_group(int pgid);
/* Reaps whatever has ended; also called once at shutdown. */
void reaper_reap(void);
/* At exit, after every program stopped: SIGKILL and reap what is left
 * below vigild (orphans that escaped their process group with setsid),
 * so nothing outlives it. Returns how many there were. */
int reaper_kill_leftovers(void);

#endif
