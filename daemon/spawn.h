/* fork + exec of one process, and everything that happens in between in
 * the child. */
#ifndef VIGIL_SPAWN_H
#define VIGIL_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct proc;

/* Returns the new pid once the child has exec'd, or with a message naming
 * the step that failed (exec, chdir, setuid, ...) and the errno: -1 when
 * no process was made, SPAWN_CHILD_FAILED when the child was made and
 * exited with code 127 before exec. */
#define SPAWN_CHILD_FAILED (-2)
/* *errnum is the errno of the failure, 0 when it is not a system error
 * (a bad command line, an unknown user). */
pid_t spawn_process(struct proc *p, char *err, size_t errlen, int *errnum);

#endif
