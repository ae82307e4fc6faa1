/* Events: see events.h. Each event is encoded once, when it happens, and
 * kept as its JSON line; followers get that same line. */
#define _GNU_SOURCE
#include "events.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_conn.h"
#include "ctl_json.h"
#include "log.h"
#include "program.h"

/* Unix seconds with milliseconds need 13 significant digits until 2286;
 * more would show the binary fraction's noise (….1229999). */
#define EVENTS_TIME_PRECISION 13

struct event_line {
	uint64_t seq;
	char *text; /* the JSON object and its newline */
	size_t len;
};

/* One GET /v1/events?follow=1 reply being streamed. */
struct events_follower {
	struct events_follower *next, **prevp;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	unsigned long lost; /* events not sent since the last one that was */
};

static struct event_line ring[EVENTS_RING];
static size_t ring_head, ring_count; /* head: index of the oldest */
static uint64_t last_seq;
static struct events_follower *followers;

static double wall_time_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) / 1000.0;
}

static void follower_send(struct events_follower *f, const struct event_line *line)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(f->conn);
	struct evbuffer *chunk;

	/* the connection's own queue is the bound: a reader that stopped
	 * reading costs at most this much memory, and is told what it missed */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > EVENTS_FOLLOW_BACKLOG_MAX) {
		f->lost++;
		return;
	}
	if (!(chunk = evbuffer_new())) {
		f->lost++;
		return;
	}
	if (f->lost)
		evbuffer_add_printf(chunk, "{\"event\":\"lost\",\"count\":%lu}\n", f->lost);
	f->lost = 0;
	evbuffer_add(chunk, line->text, line->len);
	evhttp_send_reply_chunk(f->req, chunk);
	evbuffer_free(chunk);
}

/* Stamps ev with the next seq and the time, keeps it and sends it. */
static void events_add(json_t *ev)
{
	struct event_line *slot;
	char *text;

	if (!ev)
		return;
	json_object_set_new(ev, "seq", json_integer((json_int_t)(last_seq + 1)));
	json_object_set_new(ev, "time", json_real(wall_time_ms()));
	text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(EVENTS_TIME_PRECISION));
	json_decref(ev);
	if (!text)
		return;
	if (ring_count == EVENTS_RING) {
		free(ring[ring_head].text);
		ring_head = (ring_head + 1) % EVENTS_RING;
		ring_count--;
	}
	slot = &ring[(ring_head + ring_count) % EVENTS_RING];
	slot->seq = ++last_seq;
	slot->len = strlen(text) + 1;
	if (!(slot->text = realloc(text, slot->len + 1)))
		abort();
	memcpy(slot->text + slot->len - 1, "\n", 2);
	ring_count++;
	for (struct events_follower *f = followers, *next; f; f = next) {
		next = f->next;
		follower_send(f, slot);
	}
}

/* seq and time first, as DESIGN.md shows an event; then who it is about. */
static json_t *event_new(const char *kind, const char *name, const char *program)
{
	return json_pack("{s:n, s:n, s:o, s:o, s:s}", "seq", "time", "name", text_or_null(name), "program",
			 text_or_null(program), "event", kind);
}

static json_t *last_exit_json(const struct last_exit *le)
{
	if (!le->set)
		return json_null();
	return json_pack("{s:s, s:o, s:o}", "cause", exit_cause_name(le->cause), "code",
			 le->code >= 0 ? json_integer(le->code) : json_null(), "signal",
			 le->signo ? json_integer(le->signo) : json_null());
}

static json_t *pid_json(pid_t pid)
{
	return pid > 0 ? json_integer(pid) : json_null();
}

void events_state(const struct proc *p, enum proc_state from, pid_t pid)
{
	json_t *ev = event_new("state", p->name, p->cfg->name);

	json_object_set_new(ev, "from", json_string(state_name(from)));
	json_object_set_new(ev, "to", json_string(state_name(p->state)));
	json_object_set_new(ev, "pid", pid_json(pid));
	json_object_set_new(ev, "last_exit", last_exit_json(&p->last_exit));
	events_add(ev);
}

void events_health(const struct proc *p, enum health_state from)
{
	json_t *ev = event_new("health", p->name, p->cfg->name);

	json_object_set_new(ev, "from", json_string(health_state_name(from)));
	json_object_set_new(ev, "to", json_string(health_state_name(p->health.state)));
	json_object_set_new(ev, "pid", pid_json(p->pid));
	json_object_set_new(ev, "failures", json_integer(p->health.failures));
	json_object_set_new(ev, "last_error", text_or_null(p->health.last_error));
	events_add(ev);
}

void events_heartbeat(const struct proc *p)
{
	json_t *ev = event_new("heartbeat", p->name, p->cfg->name);

	json_object_set_new(ev, "pid", pid_json(p->pid));
	json_object_set_new(ev, "timeout_s", json_real((double)p->hb.timeout / 1e6));
	events_add(ev);
}

void events_reload(json_t *added, json_t *removed, json_t *changed)
{
	json_t *ev = event_new("reload", NULL, NULL);

	json_object_set_new(ev, "added", added ? json_deep_copy(added) : json_array());
	json_object_set_new(ev, "removed", removed ? json_deep_copy(removed) : json_array());
	json_object_set_new(ev, "changed", changed ? json_deep_copy(changed) : json_array());
	events_add(ev);
}

uint64_t events_last_seq(void)
{
	return last_seq;
}

int events_write_since(struct evbuffer *out, uint64_t since, bool since_given)
{
	uint64_t oldest = ring_count ? ring[ring_head].seq : last_seq + 1;

	if (since > last_seq)
		return -1;
	/* the events since+1 .. oldest-1 are gone */
	if (since_given && since + 1 < oldest)
		evbuffer_add_printf(out, "{\"event\":\"lost\",\"count\":%llu}\n",
				    (unsigned long long)(oldest - since - 1));
	for (size_t i = 0; i < ring_count; i++) {
		const struct event_line *l = &ring[(ring_head + i) % EVENTS_RING];
		if (l->seq > since)
			evbuffer_add(out, l->text, l->len);
	}
	return 0;
}

static void follower_unlink(struct events_follower *f)
{
	if (f->next)
		f->next->prevp = f->prevp;
	*f->prevp = f->next;
}

static void follower_closed(struct evhttp_connection *conn, void *arg)
{
	struct events_follower *f = arg;

	(void)conn;
	follower_unlink(f);
	/* a client that left mid-reply leaves the request detached from its
	 * connection (libevent will not free it): ending it frees it */
	if (!evhttp_request_get_connection(f->req))
		evhttp_send_reply_end(f->req);
	free(f);
}

void events_follow(struct evhttp_request *req)
{
	struct events_follower *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->req = req;
	f->conn = evhttp_request_get_connection(req);
	f->next = followers;
	f->prevp = &followers;
	if (followers)
		followers->prevp = &f->next;
	followers = f;
	ctl_conn_set_closecb(f->conn, follower_closed, f);
}

void events_free(void)
{
	while (followers) {
		struct events_follower *f = followers;
		follower_unlink(f);
		ctl_conn_set_closecb(f->conn, NULL, NULL);
		evhttp_send_reply_end(f->req);
		free(f);
	}
	for (size_t i = 0; i < ring_count; i++)
		free(ring[(ring_head + i) % EVENTS_RING].text);
	ring_head = ring_count = 0;
	last_seq = 0;
}
