#define _GNU_SOURCE
#include "reaper.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "program.h"
#include "vigild.h"

/* pid -> proc, chained; sized for tens of thousands of processes. */
#define PID_BUCKETS 8192

/* pgid -> proc beside it, so that a datagram from a process that is not a
 * main pid costs one getpgid() and one lookup, never a walk over every
 * program (a main pid moved by MAINPID= is no longer its group's
 * leader). Nodes are separate: struct proc carries only the pid chain. */
struct reaper_group {
	struct proc *proc;
	struct reaper_group *next;
};

static struct proc *pid_table[PID_BUCKETS];
static struct reaper_group *group_table[PID_BUCKETS];
static struct event *sigchld_event;

static struct proc **pid_slot(int pid)
{
	return &pid_table[(unsigned)pid % PID_BUCKETS];
}

static struct reaper_group **group_slot(int pgid)
{
	return &group_table[(unsigned)pgid % PID_BUCKETS];
}

static void reaper_group_add(struct proc *p)
{
	struct reaper_group **slot = group_slot(p->pgid), *g;

	for (g = *slot; g; g = g->next)
		if (g->proc == p)
			return;
	g = malloc(sizeof(*g));
	if (!g) {
		/* only notify_access = all senders other than the main pid
		 * go unrecognised; supervision itself is unaffected */
		log_warn("%s: out of memory indexing process group %d", p->name, (int)p->pgid);
		return;
	}
	g->proc = p;
	g->next = *slot;
	*slot = g;
}

static void reaper_group_remove(struct proc *p)
{
	for (struct reaper_group **s = group_slot(p->pgid); *s; s = &(*s)->next) {
		if ((*s)->proc == p) {
			struct reaper_group *g = *s;
			*s = g->next;
			free(g);
			return;
		}
	}
}

void reaper_track(struct proc *p)
{
	struct proc **slot = pid_slot(p->pid);

	p->pid_next = *slot;
	*slot = p;
	reaper_group_add(p);
}

void reaper_forget(struct proc *p)
{
	reaper_group_remove(p);
	for (struct proc **s = pid_slot(p->pid); *s; s = &(*s)->pid_next) {
		if (*s == p) {
			*s = p->pid_next;
			p->pid_next = NULL;
			return;
		}
	}
}

struct proc *reaper_find(int pid)
{
	for (struct proc *p = *pid_slot(pid); p; p = p->pid_next)
		if (p->pid == pid)
			return p;
	return NULL;
}

struct proc *reaper_find_group(int pgid)
{
	for (struct reaper_group *g = *group_slot(pgid); g; g = g->next)
		if (g->proc->pgid == pgid && g->proc->pid)
			return g->proc;
	return NULL;
}

void reaper_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc *p = reaper_find(pid);
		if (p)
			proc_on_exit(p, status);
		else
			log_debug("reaped orphan pid %d (status 0x%x)", (int)pid, status);
	}
	if (pid < 0 && errno != ECHILD)
		log_warn("waitpid: %s", strerror(errno));
}

int reaper_kill_leftovers(void)
{
	char path[64];
	FILE *f;
	int pid, n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1) {
		if (kill(pid, SIGKILL) == 0)
			n++;
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		if (waitpid(-1, NULL, 0) < 0)
			break;
	return n;
}

static void reaper_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	reaper_reap();
}

int reaper_init(void)
{
	sigchld_event = evsignal_new(vigil.base, SIGCHLD, reaper_on_sigchld, NULL);
	if (!sigchld_event || evsignal_add(sigchld_event, NULL) < 0)
		return -1;
	return 0;
}

void reaper_free(void)
{
	if (sigchld_event)
		event_free(sigchld_event);
	sigchld_event = NULL;
}
