/* Child stdout/stderr. Each stream (except `null`) is a pipe that vigild
 * drains with libevent, line by line, into the destination (file with size
 * rotation, journal, or vigild's own stdout/stderr for `inherit`) and into
 * an in-memory ring of recent lines for `vigilctl log`. */
#ifndef VIGIL_OUTPUT_H
#define VIGIL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc;
struct output_pipe;
struct output_ring;

enum { OUTPUT_STDOUT_STREAM, OUTPUT_STDERR_STREAM, OUTPUT_STREAMS };

/* A destination file kept open across restarts, reopened on SIGUSR1
 * (daemon/output_file.h opens, rotates and writes it). */
struct output_file {
	char *path;
	char *name;	  /* its name in dirfd (after root's symlinks) */
	int fd;		  /* -1: closed (not opened yet, or opening failed) */
	int dirfd;	  /* the folder holding it: rotation renames there */
	unsigned long long size; /* bytes really in the file */
	bool rotatable; /* a regular file: /dev/stdout or a FIFO is never rotated */
	/* output that could not be written (disk full, refused file) */
	bool failing;
	unsigned long long lost_outage;	    /* since the last successful write */
	unsigned long long lost_unreported; /* since the last warning */
	char why[256];			    /* the reason of the last failure */
	int64_t retry_at;		    /* closed: when to try opening again */
	int64_t rotate_retry_at;	    /* a rename failed: not before then */
};

struct proc_output {
	struct output_file file[OUTPUT_STREAMS];
	struct output_pipe *pipes; /* every open pipe, also those of earlier
				      processes that grandchildren still hold */
	int read_fd[OUTPUT_STREAMS];  /* pipes made for the next child */
	struct output_ring *ring[OUTPUT_STREAMS];
	int child_fd[OUTPUT_STREAMS]; /* write ends for the next child; -1: none */
	bool merged; /* stderr = stdout: one pipe, one ring */
	uid_t uid;   /* the program's user: may own its log folder and files */
	unsigned long long lost_bytes; /* never written, both streams */
	int64_t lost_warned_at;	       /* the last lost-output warning */
};

void output_proc_init(struct proc *p);
void output_proc_free(struct proc *p);

/* Before fork: opens files and pipes. child_fd[] are then what the child
 * must dup2 onto 1 and 2 (-1: leave as is, -2: /dev/null). */
int output_prepare(struct proc *p, char *err, size_t errlen);
/* After fork (pid > 0) or a failed fork (pid < 0): closes the child's
 * ends here and, on success, starts draining. */
void output_after_fork(struct proc *p, int pid);

/* At exit: close pipes whose process is gone but which are still open. */
void output_free_detached(void);

/* SIGUSR1: reopen every destination file (after an external rotation). */
void output_reopen_files(void);

#endif
