/* Recent output lines of one process stream, and the `vigilctl log -f`
 * readers following it. Bounded in lines and bytes; a reader too slow to
 * keep up skips lines (and is told how many) instead of growing memory. */
#ifndef VIGIL_OUTPUT_RING_H
#define VIGIL_OUTPUT_RING_H

#include <stddef.h>

struct evbuffer;
struct evhttp_request;
struct output_ring;

struct output_ring *output_ring_new(void);
/* Ends the replies of its followers. */
void output_ring_free(struct output_ring *ring);
void output_ring_add(struct output_ring *ring, const char *line, size_t len);
/* The last n lines (all if fewer), each with its newline. */
void output_ring_tail(const struct output_ring *ring, size_t n, struct evbuffer *out);
/* Streams every new line to req as a chunk until the client leaves. */
void output_ring_follow(struct output_ring *ring, struct evhttp_request *req);

#endif
