/* The tree under an open cgroup directory: count, kill, wait for empty,
 * remove. Plain system calls and short sleeps, no event loop and no
 * allocation, so vigild (at start and exit) and its guard (after vigild
 * died) share them. */
#ifndef VIGIL_CGROUP_TREE_H
#define VIGIL_CGROUP_TREE_H

#include <stdbool.h>

int cgroup_count_tree(int dir_fd);		 /* processes in it */
void cgroup_kill_tree(int dir_fd);		 /* cgroup.kill, else pid by pid */
bool cgroup_wait_empty(int dir_fd, int timeout_ms); /* blocks: startup, exit, guard */
void cgroup_remove_tree(int dir_fd);		 /* its child cgroups, not itself */
/* 1 while processes are in it or below, 0 when empty or gone, -1 unknown */
int cgroup_populated(int dir_fd);
void cgroup_sleep_ms(int ms);

#endif
