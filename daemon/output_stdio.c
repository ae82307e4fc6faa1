/* `stdout = inherit`: child output copied to vigild's own stdout/stderr.
 * Whoever reads those (a terminal, a container log driver, a pager) may
 * stall; vigild must not stall with it. Each gets its own non-blocking
 * open file description (reopened through /proc/self/fd, so the O_NONBLOCK
 * flag does not leak to the shell sharing the original), and a bounded
 * queue: when it is full, output is dropped and counted, never waited for. */
#define _GNU_SOURCE
#include "output_stdio.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigild.h"

#define STDIO_QUEUE_MAX (4u << 20)

struct stdio_sink {
	int fd;
	bool ready, nonblocking;
	struct evbuffer *queue;
	struct event *ev;
	unsigned long dropped;
};

static struct stdio_sink sinks[2]; /* vigild's fd 1 and fd 2 */
static bool sinks_closed;	   /* at exit: plain writes from now on */

static void stdio_flush(evutil_socket_t fd, short what, void *arg)
{
	struct stdio_sink *s = arg;
	char note[96];

	(void)fd;
	(void)what;
	if (evbuffer_write(s->queue, s->fd) < 0 && errno != EAGAIN && errno != EINTR)
		evbuffer_drain(s->queue, evbuffer_get_length(s->queue)); /* reader gone */
	if (evbuffer_get_length(s->queue) > 0)
		return;
	event_del(s->ev);
	if (s->dropped) {
		snprintf(note, sizeof(note), "[vigil: %lu chunks of output dropped, reader too slow]\n", s->dropped);
		s->dropped = 0;
		evbuffer_add(s->queue, note, strlen(note));
		event_add(s->ev, NULL);
	}
}

static void stdio_open(struct stdio_sink *s, int target)
{
	char path[32];
	struct stat st;
	int flags = O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

	s->ready = true;
	s->fd = target;
	if (fstat(target, &st) == 0 && S_ISREG(st.st_mode))
		flags |= O_APPEND; /* own offset otherwise: it would overwrite */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	s->fd = open(path, flags);
	if (s->fd < 0) { /* a socket (the journal): stays blocking */
		s->fd = target;
		return;
	}
	s->queue = evbuffer_new();
	s->ev = event_new(vigil.base, s->fd, EV_WRITE | EV_PERSIST, stdio_flush, s);
	s->nonblocking = s->queue && s->ev;
}

size_t output_write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a full disk or a gone reader must not stop supervision */
		done += (size_t)n;
	}
	return done;
}

void output_stdio_write(int target, const char *data, size_t len)
{
	struct stdio_sink *s = &sinks[target == 2];
	ssize_t n = 0;

	if (!s->ready && !sinks_closed)
		stdio_open(s, target);
	if (sinks_closed) {
		s->fd = target;
		s->nonblocking = false;
	}
	if (!s->nonblocking) {
		output_write_all(s->fd, data, len);
		return;
	}
	if (evbuffer_get_length(s->queue) == 0) {
		n = write(s->fd, data, len);
		if (n == (ssize_t)len || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
		if (n > 0)
			data += n, len -= (size_t)n;
	}
	if (evbuffer_get_length(s->queue) + len > STDIO_QUEUE_MAX) {
		s->dropped++;
		return;
	}
	evbuffer_add(s->queue, data, len);
	event_add(s->ev, NULL);
}

void output_stdio_free(void)
{
	for (int i = 0; i < 2; i++) {
		struct stdio_sink *s = &sinks[i];
		/* one last non-blocking try: a stalled reader must not keep
		 * vigild from exiting */
		if (s->queue && evbuffer_get_length(s->queue))
			evbuffer_write(s->queue, s->fd);
		if (s->ev)
			event_free(s->ev);
		if (s->queue)
			evbuffer_free(s->queue);
		if (s->nonblocking || (s->ready && s->fd != 1 && s->fd != 2))
			close(s->fd);
		memset(s, 0, sizeof(*s));
	}
	sinks_closed = true;
}
