#define _GNU_SOURCE
#include "proc_stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "parse.h"
#include "pidmap.h"
#include "program.h"

/* A reading of a process's figures serves every request for this long:
 * reading them costs 10-15 us a process (three files opened, read and
 * closed in the cgroup and /proc), 10-15 ms of vigild's time for a list
 * of 1000, and `vigilctl start all` polls that list every 20 ms while it
 * waits. A CPU share over less than this would be mostly noise anyway
 * (/proc/PID/stat counts in 10 ms ticks). */
#define PROC_STAT_REUSE_USEC (USEC_PER_SEC / 2)

/* The previous sample of a process. */
struct sample {
	pid_t pid;
	int64_t started_at;	/* p->started_at: a reused pid is a new process */
	bool cgroup;		/* cpu from the cgroup's counter */
	uint64_t base_usec;	/* the lifetime CPU of the first sample */
	uint64_t cgroup_base;	/* the cgroup's usage_usec then */
	bool percent_started;	/* a status request sampled it */
	uint64_t prev_usec;	/* CPU at the status request before */
	int64_t prev_at;
	double prev_percent;	/* for a request in the same microsecond */
	unsigned seen;		/* the batch that last sampled it */
	int64_t read_at;	/* when last read: within PROC_STAT_REUSE_USEC */
	struct proc_usage last; /* that reading serves a request */
	struct sample *next;
};

/* Resident pages by session id, from one pass over /proc. */
struct proc_tree {
	struct pidmap by_session; /* session -> (void *)(uintptr_t)pages */
};

static struct {
	struct pidmap samples; /* pid -> struct sample */
	struct sample *all;
	unsigned batch;
	int proc_fd; /* /proc, opened once */
	long ticks_per_sec, page_size;
} ps = { .proc_fd = -1 };

/* The file's first len - 1 bytes, NUL-terminated: its length, or -1. */
static ssize_t read_text_at(int dir_fd, const char *path, char *buf, size_t len)
{
	int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0)
		return -1;
	buf[got] = '\0';
	return (ssize_t)got;
}

static int proc_fd(void)
{
	if (ps.proc_fd < 0) {
		ps.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ps.ticks_per_sec = sysconf(_SC_CLK_TCK);
		ps.page_size = sysconf(_SC_PAGESIZE);
		if (ps.ticks_per_sec <= 0)
			ps.ticks_per_sec = 100;
		if (ps.page_size <= 0)
			ps.page_size = 4096;
	}
	return ps.proc_fd;
}

/* What the status line of /proc/PID/stat gives. */
struct stat_fields {
	pid_t session;
	uint64_t cpu_usec; /* utime + stime + cutime + cstime */
	uint64_t rss_pages;
};

/* Fields are counted from after the last ')': comm may hold anything. */
static int read_proc_stat(pid_t pid, struct stat_fields *f)
{
	char path[32], text[1024], *rest;
	unsigned long long utime, stime;
	long long cutime, cstime, rss;
	int session;

	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	if (read_text_at(proc_fd(), path, text, sizeof(text)) < 0 || !(rest = strrchr(text, ')')))
		return -1;
	if (sscanf(rest + 1, " %*c %*d %*d %d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %*d %*d %*u %*u %lld",
		   &session, &utime, &stime, &cutime, &cstime, &rss) != 6)
		return -1;
	f->session = session;
	f->cpu_usec = (utime + stime + (unsigned long long)(cutime > 0 ? cutime : 0) +
		       (unsigned long long)(cstime > 0 ? cstime : 0)) * (USEC_PER_SEC / (uint64_t)ps.ticks_per_sec);
	f->rss_pages = rss > 0 ? (uint64_t)rss : 0;
	return 0;
}

/* "prog-NAME/FILE" under vigild's subtree: cgroup.c's naming. */
static ssize_t read_cgroup_file(const struct proc *p, const char *file, char *buf, size_t len)
{
	char path[160];

	if (cgroup_subtree_fd() < 0)
		return -1;
	snprintf(path, sizeof(path), "prog-%s/%s", p->name, file);
	return read_text_at(cgroup_subtree_fd(), path, buf, len);
}

static int cgroup_cpu_usec(const struct proc *p, uint64_t *usec)
{
	char text[512];
	unsigned long long v;

	if (read_cgroup_file(p, "cpu.stat", text, sizeof(text)) < 0 || sscanf(text, "usage_usec %llu", &v) != 1)
		return -1;
	*usec = v;
	return 0;
}

static int statm_resident_bytes(pid_t pid, uint64_t *bytes)
{
	char path[32], text[256];
	unsigned long long size, resident;

	snprintf(path, sizeof(path), "%d/statm", (int)pid);
	if (read_text_at(proc_fd(), path, text, sizeof(text)) < 0 || sscanf(text, "%llu %llu", &size, &resident) != 2)
		return -1;
	*bytes = resident * (uint64_t)ps.page_size;
	return 0;
}

/* The resident memory of every pid in the cgroup.procs (read a chunk at
 * a time: a program may run thousands of processes); -1 without one. */
static int cgroup_procs_rss(const struct proc *p, uint64_t *bytes)
{
	char path[160], buf[4096];
	int fd;
	ssize_t n;
	size_t have = 0;

	snprintf(path, sizeof(path), "prog-%s/cgroup.procs", p->name);
	if (cgroup_subtree_fd() < 0 || (fd = openat(cgroup_subtree_fd(), path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	*bytes = 0;
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n'))) {
			uint64_t one;
			*nl = '\0';
			if (statm_resident_bytes((pid_t)atoi(line), &one) == 0) /* a pid gone meanwhile counts 0 */
				*bytes += one;
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

/* memory.current is there only with the memory controller: whether it
 * is is found once per batch, not by a failed open per process. */
static int cgroup_memory_current(struct proc_stat_batch *b, const struct proc *p, uint64_t *bytes)
{
	char text[64];
	unsigned long long v;

	if (b->memory_current == 0)
		return -1;
	if (read_cgroup_file(p, "memory.current", text, sizeof(text)) < 0 || sscanf(text, "%llu", &v) != 1) {
		if (b->memory_current < 0 && errno == ENOENT)
			b->memory_current = 0;
		return -1;
	}
	b->memory_current = 1;
	*bytes = v;
	return 0;
}

static struct proc_tree *tree_scan(void)
{
	struct proc_tree *t = calloc(1, sizeof(*t));
	int dup_fd = t ? openat(proc_fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (dup_fd >= 0)
			close(dup_fd);
		return t;
	}
	while ((de = readdir(dir))) {
		struct stat_fields f;
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0 || read_proc_stat(pid, &f) < 0 || f.session <= 0 || !f.rss_pages)
			continue;
		uintptr_t pages = (uintptr_t)pidmap_get(&t->by_session, f.session);
		pidmap_put(&t->by_session, f.session, (void *)(pages + (uintptr_t)f.rss_pages));
	}
	closedir(dir);
	return t;
}

static uint64_t session_rss(struct proc_stat_batch *b, pid_t session)
{
	if (!b->tree)
		b->tree = tree_scan();
	if (!b->tree || session <= 0)
		return 0;
	return (uint64_t)(uintptr_t)pidmap_get(&b->tree->by_session, session) * (uint64_t)ps.page_size;
}

static void sample_forget(struct sample *s)
{
	pidmap_remove(&ps.samples, s->pid, s);
	free(s);
}

/* The sample of p's process; *fresh when made now, with the lifetime
 * figure in *cpu_usec. */
static struct sample *sample_of(const struct proc *p, bool *fresh, uint64_t *cpu_usec)
{
	struct sample *s = pidmap_get(&ps.samples, p->pid);
	struct stat_fields f;

	*fresh = false;
	if (s && s->started_at == p->started_at)
		return s;
	if (read_proc_stat(p->pid, &f) < 0)
		return NULL;
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return NULL;
		s->next = ps.all;
		ps.all = s;
		pidmap_put(&ps.samples, p->pid, s);
	}
	*s = (struct sample){ .pid = p->pid, .started_at = p->started_at, .base_usec = f.cpu_usec, .next = s->next };
	s->cgroup = cgroup_cpu_usec(p, &s->cgroup_base) == 0;
	*fresh = true;
	*cpu_usec = f.cpu_usec;
	return s;
}

static int sample_cpu(const struct sample *s, const struct proc *p, uint64_t *cpu_usec)
{
	struct stat_fields f;
	uint64_t usage;

	if (s->cgroup && cgroup_cpu_usec(p, &usage) == 0) {
		*cpu_usec = s->base_usec + (usage > s->cgroup_base ? usage - s->cgroup_base : 0);
		return 0;
	}
	if (read_proc_stat(p->pid, &f) < 0)
		return -1;
	*cpu_usec = f.cpu_usec;
	return 0;
}

static double percent_of(uint64_t usec, int64_t elapsed)
{
	return elapsed > 0 ? 100.0 * (double)usec / (double)elapsed : 0.0;
}

static void usage_cpu(struct sample *s, const struct proc *p, int64_t now, bool advance, uint64_t usec,
		      struct proc_usage *u)
{
	u->cpu_known = true;
	u->cpu_usec = usec;
	if (!s->percent_started)
		u->cpu_percent = percent_of(usec, now - p->started_at);
	else if (now > s->prev_at)
		u->cpu_percent = percent_of(usec > s->prev_usec ? usec - s->prev_usec : 0, now - s->prev_at);
	else
		u->cpu_percent = s->prev_percent;
	if (advance) {
		s->percent_started = true;
		s->prev_usec = usec;
		s->prev_at = now;
		s->prev_percent = u->cpu_percent;
	}
}

static void usage_rss(struct proc_stat_batch *b, const struct proc *p, struct proc_usage *u)
{
	if (cgroup_memory_current(b, p, &u->rss_bytes) == 0 || cgroup_procs_rss(p, &u->rss_bytes) == 0)
		u->rss_known = true;
	else if ((u->rss_bytes = session_rss(b, p->pgid ? p->pgid : p->pid)) > 0)
		u->rss_known = true;
	else /* not a session leader (it was not spawned by vigild): itself */
		u->rss_known = statm_resident_bytes(p->pid, &u->rss_bytes) == 0;
}

void proc_stat_sample(struct proc_stat_batch *b, const struct proc *p, int64_t now, bool advance,
		      struct proc_usage *u)
{
	struct sample *s;
	uint64_t usec = 0;
	bool fresh;

	*u = (struct proc_usage){ 0 };
	if (!p->pid || proc_fd() < 0 || !(s = sample_of(p, &fresh, &usec)))
		return;
	s->seen = ps.batch;
	if (!fresh && now >= s->read_at && now - s->read_at < PROC_STAT_REUSE_USEC) {
		*u = s->last;
		return;
	}
	if (!fresh && sample_cpu(s, p, &usec) < 0)
		return; /* it ended: no figures */
	usage_cpu(s, p, now, advance, usec, u);
	usage_rss(b, p, u);
	s->read_at = now;
	s->last = *u;
}

void proc_stat_batch_begin(struct proc_stat_batch *b)
{
	*b = (struct proc_stat_batch){ .memory_current = -1 };
	if (++ps.batch == 0) /* 0 marks a sample not taken yet */
		ps.batch = 1;
}

void proc_stat_batch_end(struct proc_stat_batch *b, bool every_process)
{
	if (b->tree) {
		pidmap_free(&b->tree->by_session);
		free(b->tree);
		b->tree = NULL;
	}
	if (!every_process)
		return;
	for (struct sample **link = &ps.all; *link;) {
		struct sample *s = *link;
		if (s->seen == ps.batch) {
			link = &s->next;
			continue;
		}
		*link = s->next;
		sample_forget(s);
	}
}
