/* CPU and memory of a running process, read from its cgroup or /proc
 * when a status request asks (never polled in the background):
 *
 *   CPU  with a cgroup: its cpu.stat usage_usec (the process and all its
 *        descendants); else /proc/PID/stat (the process and the children
 *        it waited for). The first sample of a process is its lifetime
 *        figure from /proc/PID/stat: a cgroup outlives a process that is
 *        restarted at once (cgroup.c reuses it), so its counter holds the
 *        predecessors' time too; later samples add the cgroup's growth.
 *   RSS  the cgroup's memory.current (needs the memory controller), else
 *        the resident pages of every pid in its cgroup.procs, else of
 *        every process in its session (vigild setsid()s each child, so
 *        the session id is the first pid, p->pgid), from one scan of
 *        /proc per request.
 *
 * cpu_percent (100 = one core busy) is over the time since the previous
 * sample that advanced it, or over the process's life for the first.
 * The previous sample of each process is kept here, keyed by pid and
 * checked against the process's start time. A reading serves the
 * requests of the next half second (see PROC_STAT_REUSE_USEC). */
#ifndef VIGIL_PROC_STAT_H
#define VIGIL_PROC_STAT_H

#include <stdbool.h>
#include <stdint.h>

struct proc;

struct proc_usage {
	bool cpu_known;	    /* cpu_percent and cpu_usec hold figures */
	double cpu_percent;
	uint64_t cpu_usec;  /* CPU time of the process (and descendants) since it started */
	bool rss_known;
	uint64_t rss_bytes;
};

/* The samples of one request: a /proc scan is shared between them. */
struct proc_stat_batch {
	int memory_current; /* -1 not tried yet, 0 not there, 1 readable */
	struct proc_tree *tree; /* /proc by session, scanned on first need */
};

void proc_stat_batch_begin(struct proc_stat_batch *b);
/* every_process: the batch sampled every running process, so a pid it
 * did not see is gone and its sample is forgotten. */
void proc_stat_batch_end(struct proc_stat_batch *b, bool every_process);

/* p's usage; both unknown when no process runs or it cannot be read.
 * advance: this is a status request, the next cpu_percent is measured
 * from now (a /metrics scrape reads the counter and leaves it). */
void proc_stat_sample(struct proc_stat_batch *b, const struct proc *p, int64_t now, bool advance,
		      struct proc_usage *u);

#endif
