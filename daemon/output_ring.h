/* Recent output lines of one process stream, and the `vigilctl log -f`
 * readers following it. Bounded in lines and bytes; a reader too slow to
 * keep up skips lines (and is told how many) instead of growing memory.
 *
 * One reader may follow several rings at once (`vigilctl log all -f`):
 * then every line goes out as a JSON line tagged with its process,
 * {"name":"web:0","stream":"stdout","line":"..."}, and a skip as
 * {"skipped":N}; the bound is the reader's connection, whatever the
 * number of rings it follows. */
#ifndef VIGIL_OUTPUT_RING_H
#define VIGIL_OUTPUT_RING_H

#include <stddef.h>

struct evbuffer;
struct evhttp_request;
struct output_ring;

/* A ring with the tag its lines get in a several-process reply. */
struct output_ring_source {
	struct output_ring *ring;
	const char *name;   /* the process's name, e.g. "web:0" */
	const char *stream; /* "stdout" or "stderr" */
};

struct output_ring *output_ring_new(void);
/* Ends the replies of its followers (of a several-ring follower, once
 * the last of its rings is gone). */
void output_ring_free(struct output_ring *ring);
void output_ring_add(struct output_ring *ring, const char *line, size_t len);
/* The last n lines (all if fewer), each with its newline. */
void output_ring_tail(const struct output_ring *ring, size_t n, struct evbuffer *out);
/* The last n lines of the sources together, in the order they came, as
 * tagged JSON lines. */
void output_ring_tail_tagged(const struct output_ring_source *src, size_t nsrc, size_t n, struct evbuffer *out);
/* Streams every new line to req as a chunk until the client leaves. */
void output_ring_follow(struct output_ring *ring, struct evhttp_request *req);
/* The same for several rings, each line a tagged JSON line. */
void output_ring_follow_tagged(const struct output_ring_source *src, size_t nsrc, struct evhttp_request *req);

#endif
