#include "output_ring.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_conn.h"

#define RING_LINES 1000
#define RING_BYTES (1024 * 1024)
/* Unsent bytes one follower may have queued before lines are skipped. */
#define FOLLOW_BACKLOG_MAX (1024 * 1024)

struct ring_line {
	char *text;
	size_t len;
};

struct follower {
	struct follower *next;
	struct output_ring *ring;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	unsigned long skipped;
};

/* The line array grows on demand up to RING_LINES: most of 10,000
 * quiet processes never need more than a few slots. */
struct output_ring {
	struct ring_line *lines;
	size_t cap, head, count, bytes; /* head: index of the oldest line */
	struct follower *followers;
};

struct output_ring *output_ring_new(void)
{
	struct output_ring *ring = calloc(1, sizeof(*ring));

	if (!ring)
		abort();
	return ring;
}

static void follower_unlink(struct follower *f)
{
	for (struct follower **l = &f->ring->followers; *l; l = &(*l)->next)
		if (*l == f) {
			*l = f->next;
			return;
		}
}

static void follower_closed(struct evhttp_connection *conn, void *arg)
{
	struct follower *f = arg;

	(void)conn;
	follower_unlink(f);
	/* A client that left mid-reply leaves the request detached from its
	 * connection (libevent will not free it): ending it frees it. */
	if (!evhttp_request_get_connection(f->req))
		evhttp_send_reply_end(f->req);
	free(f);
}

void output_ring_free(struct output_ring *ring)
{
	if (!ring)
		return;
	while (ring->followers) {
		struct follower *f = ring->followers;
		ring->followers = f->next;
		ctl_conn_set_closecb(f->conn, NULL, NULL);
		evhttp_send_reply_end(f->req);
		free(f);
	}
	for (size_t i = 0; i < ring->count; i++)
		free(ring->lines[(ring->head + i) % ring->cap].text);
	free(ring->lines);
	free(ring);
}

static void ring_drop_oldest(struct output_ring *ring)
{
	struct ring_line *old = &ring->lines[ring->head];

	ring->bytes -= old->len;
	free(old->text);
	old->text = NULL;
	ring->head = (ring->head + 1) % ring->cap;
	ring->count--;
}

/* Doubles the line array (up to RING_LINES), oldest line first again. */
static void ring_grow(struct output_ring *ring)
{
	size_t cap = ring->cap ? ring->cap * 2 : 8;
	struct ring_line *lines;

	if (cap > RING_LINES)
		cap = RING_LINES;
	lines = calloc(cap, sizeof(*lines));
	if (!lines)
		abort();
	for (size_t i = 0; i < ring->count; i++)
		lines[i] = ring->lines[(ring->head + i) % ring->cap];
	free(ring->lines);
	ring->lines = lines;
	ring->cap = cap;
	ring->head = 0;
}

static void follower_send(struct follower *f, const char *line, size_t len)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(f->conn);
	struct evbuffer *chunk;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > FOLLOW_BACKLOG_MAX) {
		f->skipped++;
		return;
	}
	chunk = evbuffer_new();
	if (!chunk)
		return;
	if (f->skipped) {
		evbuffer_add_printf(chunk, "[vigil: %lu lines skipped, reader too slow]\n", f->skipped);
		f->skipped = 0;
	}
	evbuffer_add(chunk, line, len);
	evbuffer_add(chunk, "\n", 1);
	evhttp_send_reply_chunk(f->req, chunk);
	evbuffer_free(chunk);
}

void output_ring_add(struct output_ring *ring, const char *line, size_t len)
{
	struct ring_line *slot;

	while (ring->count && (ring->count == RING_LINES || ring->bytes + len > RING_BYTES))
		ring_drop_oldest(ring);
	if (ring->count == ring->cap)
		ring_grow(ring);
	slot = &ring->lines[(ring->head + ring->count) % ring->cap];
	slot->text = malloc(len ? len : 1);
	if (!slot->text)
		abort();
	memcpy(slot->text, line, len);
	slot->len = len;
	ring->count++;
	ring->bytes += len;
	for (struct follower *f = ring->followers; f; f = f->next)
		follower_send(f, line, len);
}

void output_ring_tail(const struct output_ring *ring, size_t n, struct evbuffer *out)
{
	size_t first = ring->count > n ? ring->count - n : 0;

	for (size_t i = first; i < ring->count; i++) {
		const struct ring_line *l = &ring->lines[(ring->head + i) % ring->cap];
		evbuffer_add(out, l->text, l->len);
		evbuffer_add(out, "\n", 1);
	}
}

void output_ring_follow(struct output_ring *ring, struct evhttp_request *req)
{
	struct follower *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->ring = ring;
	f->req = req;
	f->conn = evhttp_request_get_connection(req);
	f->next = ring->followers;
	ring->followers = f;
	ctl_conn_set_closecb(f->conn, follower_closed, f);
}
