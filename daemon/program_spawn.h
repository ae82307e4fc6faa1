/* Starting one process of a program (part of the program module): turns
 * a struct proc into a spawn_request (argv, credentials looked up now,
 * environment, output pipes, cgroup) and runs it with spawn_run. */
#ifndef VIGIL_PROGRAM_SPAWN_H
#define VIGIL_PROGRAM_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "spawn.h" /* SPAWN_CHILD_FAILED */

struct proc;

/* Returns the new pid once the child has exec'd, or with a message naming
 * the step that failed (exec, chdir, setuid, ...) and the errno: -1 when
 * no process was made, SPAWN_CHILD_FAILED when the child was made and
 * exited with code 127 before exec. *errnum is the errno of the failure,
 * 0 when it is not a system error (a bad command line, an unknown user). */
pid_t program_spawn(struct proc *p, char *err, size_t errlen, int *errnum);

/* A health check of p (exec:): argv run with p's user, groups,
 * directory, umask and environment, in a session of its own, stdin
 * /dev/null and stdout and stderr on out_fd. Returns the pid once it has
 * exec'd, or -1 / SPAWN_CHILD_FAILED with err as program_spawn does and
 * errno its errno (EAGAIN, ENOMEM: no process could be made). */
pid_t program_spawn_probe(struct proc *p, char *const *argv, int out_fd, char *err, size_t errlen);

/* A hook of a program (on_failure, on_fatal): argv with envp as vigild's
 * user, in vigild's directory, in a session of its own, stdin /dev/null
 * and stdout and stderr on out_fd. The pid, or < 0 with err set. */
pid_t program_spawn_hook(char *const *argv, char *const *envp, int out_fd, char *err, size_t errlen);

/* The notify socket every child is told about (NOTIFY_SOCKET=); NULL:
 * none. Copied. */
void program_spawn_set_notify_path(const char *path);

#endif
