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

#include "output_file.h"

struct output_pipe;
struct program_config;
struct output_ring;

enum { OUTPUT_STDOUT_STREAM, OUTPUT_STDERR_STREAM, OUTPUT_STREAMS };

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
	/* its process's name and instance, and its config section through
	 * the process's own pointer (a reload replaces the section) */
	const char *name;
	int instance;
	struct program_config *const *cfg;
	struct proc_output *next, *prev; /* every one, for SIGUSR1 */
};

void output_init(struct proc_output *o, const char *name, int instance, struct program_config *const *cfg);
void output_free(struct proc_output *o);

/* Before fork: opens files and pipes. child_fd[] are then what the child
 * must dup2 onto 1 and 2 (-1: leave as is, -2: /dev/null). */
int output_prepare(struct proc_output *o, char *err, size_t errlen);
/* After fork (pid > 0) or a failed fork (pid < 0): closes the child's
 * ends here and, on success, starts draining. */
void output_after_fork(struct proc_output *o, int pid);

/* At exit: close pipes whose process is gone but which are still open. */
void output_free_detached(void);

/* A reload installed vigil.config anew: process names may be longer. */
void output_config_changed(void);

/* SIGUSR1: reopen every destination file (after an external rotation). */
void output_reopen_files(void);

#endif
