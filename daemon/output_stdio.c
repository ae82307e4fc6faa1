/* vigild's own stdout/stderr: where its log lines, `inherit` output and
 * the journal fallback go. Whoever reads those (a terminal, a container
 * log driver, a pager) may stall; vigild must not stall with it.
 *
 * Every writer of one destination shares one sink, so one descriptor and
 * one offset: when fd 1 and fd 2 are the same file, pipe or terminal
 * (`vigild > f 2>&1`, `vigild 2>&1 | less`), both targets map to the sink
 * of fd 2, and lines cannot overwrite or cut each other.
 *
 * A regular file is written through the very descriptor vigild was given:
 * a second open file description would have an offset of its own and
 * overwrite what the first one wrote (a disk write does not stall the way
 * a reader does). Anything else (pipe, terminal) gets its own
 * non-blocking open file description, reopened through /proc/self/fd so
 * the O_NONBLOCK flag does not leak to the shell sharing the original,
 * and a bounded queue: when it is full, output is dropped and counted,
 * never waited for. Callers hand over whole lines; a line is never cut:
 * what a short write leaves is queued whole. */
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
	bool ready, nonblocking, tty;
	struct evbuffer *queue;
	struct event *ev;
	unsigned long dropped;
};

static struct stdio_sink sinks[2]; /* vigild's fd 1 and fd 2 */
static bool sinks_mapped, same_destination;
static bool sinks_closed; /* at exit: plain writes from now on */

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

	s->ready = true;
	s->fd = target;
	s->tty = isatty(target);
	if (fstat(target, &st) < 0 || S_ISREG(st.st_mode))
		return; /* blocking writes through the shared descriptor */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	s->fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (s->fd < 0) { /* a socket (the journal): stays blocking */
		s->fd = target;
		return;
	}
	s->queue = evbuffer_new();
	s->ev = event_new(vigil.base, s->fd, EV_WRITE | EV_PERSIST, stdio_flush, s);
	s->nonblocking = s->queue && s->ev;
}

/* fd 1 and fd 2 are one destination when they are the same file, pipe,
 * socket or terminal. */
static void stdio_map(void)
{
	struct stat out, err;

	sinks_mapped = true;
	same_destination = fstat(1, &out) == 0 && fstat(2, &err) == 0 && out.st_dev == err.st_dev &&
			   out.st_ino == err.st_ino && out.st_rdev == err.st_rdev;
}

/* Before the event loop runs and after output_stdio_free: plain
 * blocking writes to the descriptor itself. */
static struct stdio_sink *stdio_sink(int target)
{
	static struct stdio_sink plain[2];
	struct stdio_sink *s;

	if (!sinks_mapped)
		stdio_map();
	if (same_destination)
		target = 2;
	if (sinks_closed || !vigil.base) {
		s = &plain[target == 2];
		*s = (struct stdio_sink){ .fd = target, .tty = isatty(target) };
		return s;
	}
	s = &sinks[target == 2];
	if (!s->ready)
		stdio_open(s, target);
	return s;
}

bool output_stdio_is_tty(int target)
{
	return stdio_sink(target)->tty;
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
	struct stdio_sink *s = stdio_sink(target);
	ssize_t n = 0;

	if (!s->nonblocking) {
		output_write_all(s->fd, data, len);
		return;
	}
	if (evbuffer_get_length(s->queue) == 0) {
		n = write(s->fd, data, len);
		if (n == (ssize_t)len || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
	if (n > 0) {
		/* the rest of a line already begun: queued past the bound
		 * rather than cut (at most one batch more) */
		data += n, len -= (size_t)n;
	} else if (evbuffer_get_length(s->queue) + len > STDIO_QUEUE_MAX) {
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
