/* `file:PATH` destinations: opening, rotation and writing.
 *
 * vigild opens log files as itself, usually root, in folders a program's
 * user may be able to write. When vigild runs as root:
 * - a folder that someone other than root or the program's user can
 *   write (owned by another user, or group/other-writable without the
 *   sticky bit; group root is fine) is refused;
 * - the path is walked one folder at a time, and a symlink (as a folder
 *   or as the file) is followed only in a folder that root alone can
 *   write, so never one a program's user planted, and its target is
 *   walked by the same rules (on /proc the kernel follows its own links);
 * - a regular file owned by another user than root or the program's
 *   user, or with more than one hard link, is refused; in a folder the
 *   program's user can write only a regular file is accepted;
 * - rotation renames inside the folder found then (renameat), so the
 *   file a symlink points to is rotated, not the link.
 * Any refusal is an error with a message that says which rule. As
 * another user vigild follows the path as given (it can only write where
 * that user can). Opening never blocks (O_NONBLOCK: a FIFO without a
 * reader is an error), and a FIFO or device stays non-blocking.
 * Functions return 0, or -1 with a message in err (also kept in f->why). */
#ifndef VIGIL_OUTPUT_FILE_H
#define VIGIL_OUTPUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A destination file kept open across restarts, reopened on SIGUSR1. */
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

/* Sets f->path (taking the string) with fds closed. */
void output_file_init(struct output_file *f, char *path);
/* Opens f->path afresh, walking its folders again (first open, SIGUSR1). */
int output_file_open(struct output_file *f, uid_t uid, char *err, size_t errlen);
/* Opens f->name again in the folder held since the last output_file_open. */
int output_file_reopen(struct output_file *f, uid_t uid, char *err, size_t errlen);
/* Closes the file; output_file_free also the folder and the path. */
void output_file_close(struct output_file *f);
void output_file_free(struct output_file *f);

/* PATH -> PATH.1 -> ... -> PATH.N, then a fresh PATH; with no backups
 * the file is truncated. When renaming PATH fails it is reopened by name
 * all the same (after an external rotation). -1: not rotated or not
 * reopened (then f->fd is -1). */
int output_file_rotate(struct output_file *f, int backups, uid_t uid, char *err, size_t errlen);

/* Appends whole lines; returns how many bytes are now in the file (all
 * of len, or less with errno set: disk full, I/O error, EAGAIN on a
 * FIFO). A regular file is trimmed back to its last whole line. */
size_t output_file_write(struct output_file *f, const char *data, size_t len);

#endif
