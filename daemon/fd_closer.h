/* Closing descriptors that strangers hand us, off the event loop.
 *
 * close() can block for as long as the file's owner likes: a TCP socket
 * with SO_LINGER {1, N} and unsent data waits N seconds, a file on a hung
 * NFS or FUSE mount waits for the server. The notify socket receives such
 * descriptors from anyone (SCM_RIGHTS), so the loop hands them here and
 * never calls close() on them itself.
 *
 * A small pool of closer threads takes descriptors from a queue. The pool
 * grows (up to FD_CLOSER_THREADS_MAX) whenever a descriptor arrives and no
 * thread is free, so one stuck close never holds up the others; in the
 * normal case a descriptor is closed within microseconds, which is what
 * `systemd-notify --barrier` waits for. Threads block every signal and
 * touch nothing but the queue and close().
 *
 * The queue itself never refuses: a descriptor the loop could not queue
 * would have to be closed by the loop. Bounding it is the caller's job
 * (see fd_closer_pending() and notify.c, which stops accepting fds). */
#ifndef VIGIL_FD_CLOSER_H
#define VIGIL_FD_CLOSER_H

#include <stddef.h>
#include <stdint.h>

#define FD_CLOSER_THREADS_MAX 8

/* Starts the first closer thread. 0 or -errno. */
int fd_closer_init(void);
/* Queues fd to be closed by a closer thread; starts another thread when
 * all are busy. Never blocks, never closes fd in the caller's thread.
 * 0, or -ENOMEM when the queue could not grow (fd stays open). */
int fd_closer_submit(int fd);
/* Descriptors not closed yet: queued plus being closed right now. */
size_t fd_closer_pending(void);
/* Closer threads running, and how many of them are inside close(). */
unsigned fd_closer_threads(unsigned *busy);
/* At exit: lets the threads close what is queued, waiting at most
 * wait_usec. Threads still stuck after that are left to the process's
 * exit (the kernel closes an exiting process's sockets without lingering)
 * and their state is kept, so nothing is freed under them. Returns how
 * many descriptors were still open. */
size_t fd_closer_free(int64_t wait_usec);

#endif
