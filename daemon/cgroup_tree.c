#define _GNU_SOURCE
#include "cgroup_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_MAX_DEPTH 16   /* programs may nest cgroups of their own */
#define CGROUP_KILL_PASSES 4  /* without cgroup.kill: forks racing the kill */

void cgroup_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_at(int dir_fd, const char *file, const char *text)
{
	int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Calls fn(pid) for every pid in cgroup.procs; returns how many. */
static int for_each_pid(int dir_fd, void (*fn)(pid_t))
{
	int fd = openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	char buf[4096];
	long value = 0;
	bool digits = false;
	int count = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				value = value * 10 + (buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits && value > 0 && value <= INT_MAX) {
				if (fn)
					fn((pid_t)value);
				count++;
			}
			value = 0;
			digits = false;
		}
	}
	close(fd);
	return count;
}

/* Calls fn(child_fd, depth + 1) for every child cgroup, then
 * after(dir_fd, name) if given. */
static void for_each_child(int dir_fd, int depth, void (*fn)(int, int), void (*after)(int, const char *))
{
	/* a fresh open, not dup(): a dup shares the offset of the last walk */
	int fd = depth < CGROUP_MAX_DEPTH ? openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		int child;
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (child < 0)
			continue;
		fn(child, depth + 1);
		close(child);
		if (after)
			after(dir_fd, e->d_name);
	}
	closedir(d);
}

static int count_acc;

static void count_at(int dir_fd, int depth)
{
	count_acc += for_each_pid(dir_fd, NULL);
	for_each_child(dir_fd, depth, count_at, NULL);
}

int cgroup_count_tree(int dir_fd)
{
	count_acc = 0;
	count_at(dir_fd, 0);
	return count_acc;
}

static void sigkill_pid(pid_t pid)
{
	kill(pid, SIGKILL);
}

static int kill_pass_acc;

static void kill_pass_at(int dir_fd, int depth)
{
	kill_pass_acc += for_each_pid(dir_fd, sigkill_pid);
	for_each_child(dir_fd, depth, kill_pass_at, NULL);
}

void cgroup_kill_tree(int dir_fd)
{
	if (write_at(dir_fd, "cgroup.kill", "1") == 0)
		return;
	/* Before 5.14: pids one by one. A process forking meanwhile puts its
	 * child in the list, which the next pass finds. */
	for (int pass = 0; pass < CGROUP_KILL_PASSES; pass++) {
		kill_pass_acc = 0;
		kill_pass_at(dir_fd, 0);
		if (!kill_pass_acc)
			break;
	}
}

int cgroup_populated(int dir_fd)
{
	int fd = openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	char buf[256];
	ssize_t n;
	const char *p;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	return p ? p[10] == '1' : -1;
}

bool cgroup_wait_empty(int dir_fd, int timeout_ms)
{
	int waited = 0, step = 1;

	while (cgroup_populated(dir_fd) != 0) {
		if (waited >= timeout_ms)
			return false;
		cgroup_sleep_ms(step);
		waited += step;
		if (step < 10)
			step++;
	}
	return true;
}

static void rmdir_child(int dir_fd, const char *name)
{
	unlinkat(dir_fd, name, AT_REMOVEDIR);
}

static void remove_at(int dir_fd, int depth)
{
	for_each_child(dir_fd, depth, remove_at, rmdir_child);
}

void cgroup_remove_tree(int dir_fd)
{
	remove_at(dir_fd, 0);
}
