#define _GNU_SOURCE
#include "fd_closer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* close() needs next to no stack; ASan builds want some headroom. */
#define FD_CLOSER_STACK (256 << 10)
/* The ring starts this big and doubles past it (see fd_closer.h: the
 * caller bounds how far). */
#define FD_CLOSER_RING_MIN 256

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a descriptor was queued, or stopping */
	pthread_cond_t gone; /* a thread ended (exit path) */
	int *ring;
	size_t cap, head, count; /* count: queued, not taken by a thread yet */
	unsigned nthreads;	 /* started */
	unsigned nidle;		 /* waiting for work */
	unsigned nbusy;		 /* inside close() */
	unsigned nexited;
	bool stopping;
	bool spawn_failed; /* the last thread start failed: warn once per streak */
	pthread_t threads[FD_CLOSER_THREADS_MAX];
} closer = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *fd_closer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&closer.lock);
	for (;;) {
		int fd;

		while (closer.count == 0 && !closer.stopping) {
			closer.nidle++;
			pthread_cond_wait(&closer.work, &closer.lock);
			closer.nidle--;
		}
		if (closer.count == 0)
			break; /* stopping, and the queue is drained */
		fd = closer.ring[closer.head];
		closer.head = (closer.head + 1) % closer.cap;
		closer.count--;
		closer.nbusy++;
		pthread_mutex_unlock(&closer.lock);
		/* the one call that may block for as long as the file wants;
		 * EINTR still closes the fd on Linux: never retried */
		close(fd);
		pthread_mutex_lock(&closer.lock);
		closer.nbusy--;
	}
	closer.nexited++;
	pthread_cond_broadcast(&closer.gone);
	pthread_mutex_unlock(&closer.lock);
	return NULL;
}

/* Called with the lock held. Threads block every signal, so SIGCHLD,
 * SIGTERM and the rest keep going to the event loop's thread. */
static int fd_closer_spawn_locked(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if (closer.nthreads >= FD_CLOSER_THREADS_MAX)
		return -EAGAIN;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, FD_CLOSER_STACK);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&closer.threads[closer.nthreads], &attr, fd_closer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		if (!closer.spawn_failed)
			log_warn("notify: cannot start another descriptor closer thread: %s", strerror(rc));
		closer.spawn_failed = true;
		return -rc;
	}
	closer.spawn_failed = false;
	closer.nthreads++;
	return 0;
}

int fd_closer_init(void)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&closer.work, NULL);
	pthread_cond_init(&closer.gone, &ca);
	pthread_condattr_destroy(&ca);
	closer.ring = malloc(FD_CLOSER_RING_MIN * sizeof(int));
	if (!closer.ring)
		return -ENOMEM;
	closer.cap = FD_CLOSER_RING_MIN;
	pthread_mutex_lock(&closer.lock);
	rc = fd_closer_spawn_locked();
	pthread_mutex_unlock(&closer.lock);
	return rc;
}

/* Doubles the ring, unrolled so that head is 0 again. */
static int fd_closer_grow_locked(void)
{
	size_t cap = closer.cap * 2;
	int *ring = malloc(cap * sizeof(int));

	if (!ring)
		return -ENOMEM;
	for (size_t i = 0; i < closer.count; i++)
		ring[i] = closer.ring[(closer.head + i) % closer.cap];
	free(closer.ring);
	closer.ring = ring;
	closer.cap = cap;
	closer.head = 0;
	return 0;
}

int fd_closer_submit(int fd)
{
	int rc = 0;

	pthread_mutex_lock(&closer.lock);
	if (closer.count == closer.cap)
		rc = fd_closer_grow_locked();
	if (rc == 0) {
		closer.ring[(closer.head + closer.count) % closer.cap] = fd;
		closer.count++;
		/* each waiting thread takes one: more queued than waiting
		 * means every thread is busy (maybe stuck), so add one */
		if (closer.count > closer.nidle)
			fd_closer_spawn_locked();
		pthread_cond_signal(&closer.work);
	}
	pthread_mutex_unlock(&closer.lock);
	return rc;
}

size_t fd_closer_pending(void)
{
	size_t n;

	pthread_mutex_lock(&closer.lock);
	n = closer.count + closer.nbusy;
	pthread_mutex_unlock(&closer.lock);
	return n;
}

unsigned fd_closer_threads(unsigned *busy)
{
	unsigned n;

	pthread_mutex_lock(&closer.lock);
	n = closer.nthreads;
	if (busy)
		*busy = closer.nbusy;
	pthread_mutex_unlock(&closer.lock);
	return n;
}

size_t fd_closer_free(int64_t wait_usec)
{
	struct timespec deadline;
	bool all_gone;
	size_t left;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_usec / 1000000;
	deadline.tv_nsec += (wait_usec % 1000000) * 1000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&closer.lock);
	closer.stopping = true;
	pthread_cond_broadcast(&closer.work);
	while (closer.nexited < closer.nthreads)
		if (pthread_cond_timedwait(&closer.gone, &closer.lock, &deadline) == ETIMEDOUT)
			break;
	left = closer.count + closer.nbusy;
	all_gone = closer.nexited == closer.nthreads;
	pthread_mutex_unlock(&closer.lock);
	if (!all_gone)
		return left; /* a thread is stuck in close(): free nothing under it */
	for (unsigned i = 0; i < closer.nthreads; i++)
		pthread_join(closer.threads[i], NULL);
	free(closer.ring);
	closer.ring = NULL;
	closer.cap = closer.head = closer.count = 0;
	closer.nthreads = closer.nidle = closer.nexited = 0;
	closer.stopping = false;
	pthread_cond_destroy(&closer.work);
	pthread_cond_destroy(&closer.gone);
	return left;
}
