/* Events: every state change, heartbeat loss, health verdict change and
 * reload, as one JSON line each with a sequence number growing by one
 * (DESIGN.md "Events and hooks"). The last EVENTS_RING of them are kept
 * for GET /v1/events?since=SEQ, and followers (follow=1) get new ones as
 * they happen.
 *
 * A follower never slows vigild: its connection may hold at most
 * EVENTS_FOLLOW_BACKLOG_MAX unsent bytes; events past that are counted,
 * and the next one that fits goes out after {"event":"lost","count":N}.
 * Nothing is dropped without saying how much. */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "health.h"
#include "state.h"

#define EVENTS_RING 1000
#define EVENTS_FOLLOW_BACKLOG_MAX (64 * 1024)

struct evbuffer;
struct evhttp_request;
struct proc;

/* p went from -> p->state; pid is the process the change is about (the
 * one that just ended when p->pid is 0 now), 0: none. */
void events_state(const struct proc *p, enum proc_state from, pid_t pid);
/* p's health verdict went from -> p->health.state */
void events_health(const struct proc *p, enum health_state from);
/* p's pings stopped (or WATCHDOG=trigger): it is being killed */
void events_heartbeat(const struct proc *p);
/* a reload applied: arrays of program names */
void events_reload(json_t *added, json_t *removed, json_t *changed);

/* The seq of the newest event (0: none yet). */
uint64_t events_last_seq(void);
/* The events after since still kept, as JSON lines; since_given and
 * older than the ring: first {"event":"lost","count":N}. -1 (nothing
 * written) when since is past the newest event: a consumer from before
 * vigild restarted. */
int events_write_since(struct evbuffer *out, uint64_t since, bool since_given);
/* Streams every new event to req as a chunk until the client leaves. */
void events_follow(struct evhttp_request *req);

/* Ends followers' replies and forgets every event. */
void events_free(void);

#endif
