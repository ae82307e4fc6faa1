/* SIGCHLD -> waitpid loop -> the on_exit callback given at init, for
 * every child that ended (the owner of the processes decides what each
 * pid was; vigild is a child subreaper, so orphans land here too). */
#ifndef VIGIL_REAPER_H
#define VIGIL_REAPER_H

#include <sys/types.h>

typedef void (*reaper_exit_fn)(pid_t pid, int wait_status);

int reaper_init(reaper_exit_fn on_exit);
void reaper_free(void);
/* Reaps whatever has ended; also called once at shutdown. */
void reaper_reap(void);
/* At exit, after every program stopped: SIGKILL and reap what is left
 * below vigild (orphans that escaped their process group with setsid),
 * so nothing outlives it. Returns how many there were. */
int reaper_kill_leftovers(void);

#endif
