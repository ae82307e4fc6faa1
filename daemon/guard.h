/* The guard: a tiny process that kills what vigild started the moment
 * vigild dies, even by SIGKILL (PR_SET_PDEATHSIG reaches only each
 * program's main process; its children and whatever escaped with setsid
 * would live on).
 *
 * It is a fork of vigild made at start, before any program, that closes
 * every descriptor but its end of a SOCK_SEQPACKET pair and the cgroup
 * subtree, and waits. vigild alone holds the other end (O_CLOEXEC), so
 * EOF means vigild is gone: 50 ms later (the main processes got their
 * stop_signal from PR_SET_PDEATHSIG meanwhile) the guard writes
 * cgroup.kill on the subtree
 * (with cgroups), SIGKILLs every process group vigild told it about
 * ("+pgid" at spawn, "-pgid" at exit; with cgroups too, for a process
 * whose cgroup could not be made), removes the cgroups and exits. An
 * "x" from vigild at a normal exit makes it exit without killing.
 *
 * It is not vigild's child (made with a double fork while vigild is not
 * a subreaper), so vigild's reaping and leftover logic never see it; it
 * is in its own session, so a signal to vigild's process group misses it,
 * and it ignores every signal but SIGKILL. If it dies anyway vigild
 * starts another one. As PID 1 (a container) there is none: the kernel
 * kills the namespace when init dies. */
#ifndef VIGIL_GUARD_H
#define VIGIL_GUARD_H

#include <sys/types.h>

/* source calls its argument with every process group alive (a new
 * guard after the last one died, or after lost records, learns them so).
 * 0, or -1 (logged): then only PDEATHSIG applies. */
typedef void (*guard_group_source)(void (*track)(pid_t pgid));
int guard_start(guard_group_source source);
void guard_track_group(pid_t pgid);
void guard_forget_group(pid_t pgid);
void guard_free(void); /* vigild exits normally */

#endif
