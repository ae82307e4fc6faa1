#include "output_ring.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
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
	uint64_t seq; /* of all rings' lines: merges several rings in order */
};

struct follow;

/* One follow's subscription to one ring, linked in the ring's list. */
struct follower {
	struct follower *next;
	struct output_ring *ring; /* NULL once the ring is gone */
	struct follow *follow;
	char *name;
	const char *stream;
};

/* One reader: a request streaming new lines of one ring (plain text)
 * or of several (tagged JSON lines). */
struct follow {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	unsigned long skipped;
	bool tagged;
	size_t nsubs, linked;
	struct follower subs[];
};

/* The line array grows on demand up to RING_LINES: most of 10,000
 * quiet processes never need more than a few slots. */
struct output_ring {
	struct ring_line *lines;
	size_t cap, head, count, bytes; /* head: index of the oldest line */
	struct follower *followers;
};

static uint64_t next_seq;

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
			break;
		}
	f->ring = NULL;
	f->follow->linked--;
}

static void follow_free(struct follow *fo)
{
	for (size_t i = 0; i < fo->nsubs; i++)
		free(fo->subs[i].name);
	free(fo);
}

static void follow_closed(struct evhttp_connection *conn, void *arg)
{
	struct follow *fo = arg;

	(void)conn;
	for (size_t i = 0; i < fo->nsubs; i++)
		if (fo->subs[i].ring)
			follower_unlink(&fo->subs[i]);
	/* A client that left mid-reply leaves the request detached from its
	 * connection (libevent will not free it): ending it frees it. */
	if (!evhttp_request_get_connection(fo->req))
		evhttp_send_reply_end(fo->req);
	follow_free(fo);
}

void output_ring_free(struct output_ring *ring)
{
	if (!ring)
		return;
	while (ring->followers) {
		struct follower *f = ring->followers;
		struct follow *fo = f->follow;
		follower_unlink(f);
		if (fo->linked)
			continue; /* its other rings go on */
		ctl_conn_set_closecb(fo->conn, NULL, NULL);
		evhttp_send_reply_end(fo->req);
		follow_free(fo);
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

/* A line as JSON wants it: UTF-8. Bytes that are not are shown as '?'. */
static json_t *line_to_json(const char *line, size_t len)
{
	json_t *j = json_stringn(line, len);
	char *copy;

	if (j || !(copy = malloc(len + 1)))
		return j;
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)line[i] >= 0x80 ? '?' : line[i];
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

static void add_tagged_line(struct evbuffer *out, const char *name, const char *stream, const char *line, size_t len)
{
	json_t *obj = json_pack("{s:s, s:s, s:o*}", "name", name, "stream", stream, "line", line_to_json(line, len));
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (text)
		evbuffer_add_printf(out, "%s\n", text);
	free(text);
	json_decref(obj);
}

static void follower_send(struct follower *f, const char *line, size_t len)
{
	struct follow *fo = f->follow;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(fo->conn);
	struct evbuffer *chunk;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > FOLLOW_BACKLOG_MAX) {
		fo->skipped++;
		return;
	}
	chunk = evbuffer_new();
	if (!chunk)
		return;
	if (fo->skipped && fo->tagged)
		evbuffer_add_printf(chunk, "{\"skipped\":%lu}\n", fo->skipped);
	else if (fo->skipped)
		evbuffer_add_printf(chunk, "[vigil: %lu lines skipped, reader too slow]\n", fo->skipped);
	fo->skipped = 0;
	if (fo->tagged) {
		add_tagged_line(chunk, f->name, f->stream, line, len);
	} else {
		evbuffer_add(chunk, line, len);
		evbuffer_add(chunk, "\n", 1);
	}
	evhttp_send_reply_chunk(fo->req, chunk);
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
	slot->seq = next_seq++;
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

/* A line of a tagged tail: which source, and the line. */
struct tail_entry {
	const struct ring_line *line;
	size_t src;
};

static int tail_entry_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct tail_entry *)a)->line->seq, y = ((const struct tail_entry *)b)->line->seq;

	return x < y ? -1 : x > y;
}

void output_ring_tail_tagged(const struct output_ring_source *src, size_t nsrc, size_t n, struct evbuffer *out)
{
	struct tail_entry *all;
	size_t total = 0, k = 0;

	for (size_t s = 0; s < nsrc; s++)
		total += src[s].ring->count < n ? src[s].ring->count : n;
	if (!total || !(all = malloc(total * sizeof(*all))))
		return;
	for (size_t s = 0; s < nsrc; s++) {
		const struct output_ring *ring = src[s].ring;
		for (size_t i = ring->count > n ? ring->count - n : 0; i < ring->count; i++)
			all[k++] = (struct tail_entry){ &ring->lines[(ring->head + i) % ring->cap], s };
	}
	qsort(all, total, sizeof(*all), tail_entry_cmp);
	for (size_t i = total > n ? total - n : 0; i < total; i++)
		add_tagged_line(out, src[all[i].src].name, src[all[i].src].stream, all[i].line->text, all[i].line->len);
	free(all);
}

static void follow_start(const struct output_ring_source *src, size_t nsrc, struct evhttp_request *req, bool tagged)
{
	struct follow *fo = calloc(1, sizeof(*fo) + nsrc * sizeof(fo->subs[0]));

	if (!fo)
		abort();
	fo->req = req;
	fo->conn = evhttp_request_get_connection(req);
	fo->tagged = tagged;
	fo->nsubs = fo->linked = nsrc;
	for (size_t i = 0; i < nsrc; i++) {
		struct follower *f = &fo->subs[i];
		f->ring = src[i].ring;
		f->follow = fo;
		f->stream = src[i].stream;
		if (!(f->name = strdup(src[i].name ? src[i].name : "")))
			abort();
		f->next = f->ring->followers;
		f->ring->followers = f;
	}
	ctl_conn_set_closecb(fo->conn, follow_closed, fo);
}

void output_ring_follow(struct output_ring *ring, struct evhttp_request *req)
{
	struct output_ring_source src = { ring, "", "stdout" };

	follow_start(&src, 1, req, false);
}

void output_ring_follow_tagged(const struct output_ring_source *src, size_t nsrc, struct evhttp_request *req)
{
	follow_start(src, nsrc, req, true);
}
