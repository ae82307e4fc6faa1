/* on_failure and on_fatal: a program's commands run when it fails and
 * when it gives up (DESIGN.md "Events and hooks").
 *
 * A hook runs as vigild's user, in its own session, with vigild's
 * environment and VIGIL_NAME, VIGIL_PROGRAM, VIGIL_EVENT, VIGIL_STATE,
 * VIGIL_CAUSE, VIGIL_EXIT_CODE, VIGIL_EXIT_SIGNAL and VIGIL_RESTARTS
 * (each present, empty when it does not apply). What it prints goes to
 * vigild's log line by line, after "PROGRAM: on_failure: ". It may run
 * HOOKS_LIMIT_USEC; then its process group is SIGKILLed.
 *
 * At most one hook per program runs at a time. An on_failure asked for
 * while one runs is skipped (counted and logged). An on_fatal is never
 * skipped: it waits for the running hook, in the program's one pending
 * slot (a program enters FATAL again only after it left it, so one
 * slot is enough). Nothing here blocks the event loop. */
#ifndef VIGIL_HOOKS_H
#define VIGIL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOOKS_LIMIT_USEC (30 * 1000000LL)

struct proc;

struct hooks_actions {
	/* starts argv with envp, stdout and stderr on out_fd, in a session
	 * of its own; the pid, or < 0 with err set. Unset: program_spawn_hook */
	pid_t (*spawn)(char *const *argv, char *const *envp, int out_fd, char *err, size_t errlen);
	int64_t limit_usec; /* 0: HOOKS_LIMIT_USEC */
	/* the last running hook ended (vigild's shutdown waits for hooks) */
	void (*idle)(void);
};
void hooks_set_actions(const struct hooks_actions *actions);

/* p failed (a failed start, a crash, a heartbeat or health loss); cause
 * NULL: VIGIL_CAUSE is p's last_exit cause. Runs on_failure if set. */
void hooks_failure(const struct proc *p, const char *cause);
/* p entered FATAL: runs on_fatal if set. */
void hooks_fatal(const struct proc *p);

/* The reaper's pid: true if it was a hook's (then it is handled). */
bool hooks_child_exited(pid_t pid, int wait_status);

size_t hooks_running(void);
/* Hooks of program skipped so far because one was running. */
unsigned long hooks_skipped(const char *program);

/* Kills the running hooks and forgets every program's. */
void hooks_free(void);

#endif
