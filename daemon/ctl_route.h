/* The ctl router: one request (method, raw URI, body) -> one reply, with
 * no socket involved. The server (ctl_server.c) feeds it what evhttp
 * parsed and sends what it returns; the fuzz target drives it directly,
 * so path decoding, query checks and the route table are the same code. */
#ifndef VIGIL_CTL_ROUTE_H
#define VIGIL_CTL_ROUTE_H

#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct output_ring_source;

/* Largest request body vigild reads; more is 413. */
#define CTL_MAX_BODY 65536
/* ?lines= of GET .../log: 0 up to this many (the ring holds fewer). */
#define CTL_MAX_LOG_LINES 100000

struct ctl_reply {
	int code;			     /* HTTP status */
	const char *content_type;	     /* a static string */
	struct evbuffer *body;		     /* owned by the caller, filled by the router */
	struct output_ring_source *sources; /* the rings of a log reply (malloc'd: the caller frees it) */
	size_t nsources;
	bool tagged;	     /* the log names several processes: tagged JSON lines */
	bool follow;	     /* set: after body, stream new lines of the sources */
	bool events;	     /* with follow: stream new events instead (events.h) */
	bool shutdown_after; /* set: begin shutdown once the reply is sent */
};

/* Who sent a request (SO_PEERCRED of its connection), for the log line
 * of an operator action; -1: unknown. */
struct ctl_peer {
	long uid, pid;
};

/* Routes one request. raw_uri is the request target as sent
 * ("/v1/programs/web%3A0/log?lines=5"); reply->body must be an empty
 * evbuffer; peer may be NULL (unknown). Nothing is sent and no shutdown
 * begins here: the caller acts on follow and shutdown_after, and frees
 * reply->sources. Returns reply->code. */
int ctl_route_request(enum evhttp_cmd_type method, const char *raw_uri, const char *body, size_t body_len,
		      const struct ctl_peer *peer, struct ctl_reply *reply);

/* GET /healthz's body ({"status": "ok"|"degraded", "states": {...}}
 * and a newline) appended to out, for the ctl socket and the
 * http_listen listener alike; returns 200, or 503 when a process is
 * FATAL or a critical program ended for good. */
int ctl_route_healthz(struct evbuffer *out);

#endif
