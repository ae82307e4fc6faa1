/* Making one process and what happens in it until exec: nothing else.
 * The caller prepares everything (argv, environment, descriptors,
 * credentials, cgroup) and describes it in a spawn_request.
 *
 * The child shares vigild's memory (clone with CLONE_VM | CLONE_VFORK
 * on a small stack of its own, the technique of glibc's posix_spawn):
 * the cost of a spawn does not grow with vigild's memory, and vigild is
 * suspended until the child has exec'd or failed, so a failed step is
 * reported through memory, without a pipe. The child makes only system
 * calls; no allocation, no lock, no stdio. */
#ifndef VIGIL_SPAWN_H
#define VIGIL_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct spawn_request {
	char *const *argv; /* argv[0] without a slash is searched in envp's PATH, as execvp does */
	char *const *envp;
	/* Where the child writes its pid in decimal (the digits of a
	 * reserved WATCHDOG_PID= slot, room for 20 and a NUL); NULL: none. */
	char *pid_slot;
	int fd[3];		 /* what becomes fd 0, 1, 2; -1: keep vigild's */
	bool stderr_to_stdout;	 /* then fd 2 is a copy of the new fd 1 */
	bool set_ids;		 /* change to uid, gid and groups */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	int umask;		     /* -1: keep vigild's */
	const char *directory;	     /* NULL: keep vigild's */
	const struct rlimit *nofile; /* RLIMIT_NOFILE to restore; NULL: keep */
	int death_signal;	     /* PR_SET_PDEATHSIG */
	pid_t parent;		     /* vigild's pid, to see whether it died already */
	int cgroup_fd;		     /* the cgroup to run in; -1: vigild's */
	bool cgroup_fresh;	     /* made for this spawn: it may be cloned into */
};

enum spawn_step {
	SPAWN_STEP_NONE,
	SPAWN_STEP_FORK, /* no process was made */
	SPAWN_STEP_CGROUP,
	SPAWN_STEP_FDS,
	SPAWN_STEP_SETGROUPS,
	SPAWN_STEP_SETGID,
	SPAWN_STEP_SETUID,
	SPAWN_STEP_CHDIR,
	SPAWN_STEP_EXEC,
};

struct spawn_failure {
	enum spawn_step step;
	int err; /* its errno */
};

/* Returns the pid once the child has exec'd. Else *failure says which
 * step failed with which errno, and it returns -1 when no process was
 * made or SPAWN_CHILD_FAILED when the child was made and exited with
 * code 127 before exec (reaped here: nobody else ever sees its pid). */
#define SPAWN_CHILD_FAILED (-2)
/* Not reentrant (one stack for every child): vigild spawns from its
 * event loop's thread only. Every signal handler must exist before the
 * first call (the child resets those it found then). */
pid_t spawn_run(const struct spawn_request *req, struct spawn_failure *failure);

/* "exec", "chdir", "setuid", ... */
const char *spawn_step_name(enum spawn_step step);

#endif
