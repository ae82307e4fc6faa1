/* Every supervised process in a cgroup v2 of its own, when vigild can
 * make them (under systemd with Delegate=yes, in a container that owns
 * its cgroup, or on any writable cgroup2 mount):
 *
 *   <vigild's own cgroup>/vigil-<hash>/prog-<name>
 *
 * <hash> is 12 hex digits of a hash of the ctl socket path: vigild
 * instances on one machine never share a subtree, and a vigild started
 * again on the same socket finds what its predecessor left and kills it
 * before it spawns anything. vigild holds an flock on the subtree for
 * its lifetime (shared with its guard, see guard.h), so a new vigild
 * waits until the guard of a dead one has finished cleaning up.
 *
 * A stop kills a program's whole cgroup (cgroup.kill; on kernels before
 * 5.14 every pid listed, a few passes); an empty cgroup is removed once
 * the kernel says so (inotify on cgroup.events), never by polling.
 * Without a usable cgroup2 hierarchy, or with VIGIL_CGROUP=off in
 * vigild's environment, cgroup_init says why once and every other
 * function is a no-op: cleanup falls back to process groups.
 * Functions return 0 / -1, or a count. */
#ifndef VIGIL_CGROUP_H
#define VIGIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

/* Finds the hierarchy, makes and locks the subtree, kills and removes
 * what a previous vigild left there, and checks that a process can join
 * a cgroup. 0 with cgroups, -1 without (logged at notice). */
int cgroup_init(const char *ctl_socket);
bool cgroup_enabled(void);
int cgroup_subtree_fd(void);	      /* -1 without cgroups */
const char *cgroup_subtree_path(void); /* "" without cgroups */

/* An fd of the process's cgroup directory (made if needed), for clone3's
 * CLONE_INTO_CGROUP (or for the child to write "0" into its cgroup.procs
 * between fork and exec); -1 without cgroups, or -1 with a message when
 * the cgroup cannot be made. *fresh: clone3 may put the child in: made
 * now, or kept from a process that ended without a kill. A cgroup that
 * was killed since it was made (leftovers of its last process) must not
 * be cloned into: the kernel kills such a child (seen on 6.18); joining
 * it by a write to cgroup.procs works. */
int cgroup_open_dir(const char *name, bool *fresh, char *err, size_t errlen);
/* SIGKILLs everything in the process's cgroup (and below), if anything
 * is left in it. */
void cgroup_kill(const char *name);
/* Removes the process's cgroup at the end of this loop turn (unless a
 * process starts in it first: a restart reuses it) or, if it still has
 * processes then, the moment it is empty. A spawn after that simply
 * makes it again. */
void cgroup_release(const char *name);
/* vigild exits: kill what is left, remove every cgroup, unlock. */
void cgroup_free(void);


#endif
