/* ctl connections: who is let in, how many, and how long a request may
 * take to arrive.
 *
 * libevent 2.1 tells evhttp's users nothing at accept (evhttp_set_newreqcb
 * is 2.2), only when it creates a connection's bufferevent (bevcb). So
 * ctl_conn_new_bev() makes that bufferevent and checks the peer
 * (SO_PEERCRED) one event-loop turn later, once evhttp has attached the fd
 * and the connection: before a single byte is read. A peer that is not
 * root, vigild's user or in socket_group, or that is over its limit, gets
 * a short JSON reply written straight to the socket (so vigilctl can say
 * "permission denied") and is closed.
 *
 * Limits: CTL_CONN_PER_UID per non-root uid; a total derived from
 * RLIMIT_NOFILE (ctl_conn_update_limits), which root and vigild's own uid
 * may pass by CTL_CONN_ROOT_RESERVE so they always get through.
 * A request's headers and body must be complete within
 * CTL_CONN_REQUEST_TIMEOUT_S of the accept, or of the end of the previous
 * reply on a kept-alive connection (evhttp's own timeout is an idle
 * timeout that every byte resets). */
#ifndef VIGIL_CTL_CONN_H
#define VIGIL_CTL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bufferevent;
struct event_base;
struct evhttp_connection;

#define CTL_CONN_PER_UID 64
#define CTL_CONN_MAX 1024
#define CTL_CONN_ROOT_RESERVE 8
#define CTL_CONN_REQUEST_TIMEOUT_S 5

struct evconnlistener;
/* listener: paused while a burst of new connections waits for its check. */
void ctl_conn_init(struct evconnlistener *listener, bool has_group, gid_t group);
/* Recomputes the total cap from RLIMIT_NOFILE and the descriptors
 * supervision needs; also done by itself when the process count changes
 * (start, reload). */
void ctl_conn_update_limits(void);
/* For evhttp_set_bevcb. */
struct bufferevent *ctl_conn_new_bev(struct event_base *base, void *arg);
/* The request is complete: its clock stops. */
void ctl_conn_request_begin(struct evhttp_connection *conn);
/* Its reply is sent: the next request's clock starts. */
void ctl_conn_request_done(struct evhttp_connection *conn);
/* Use instead of evhttp_connection_set_closecb on a ctl connection:
 * vigild counts connections by their close callback. cb NULL: none. */
void ctl_conn_set_closecb(struct evhttp_connection *conn, void (*cb)(struct evhttp_connection *, void *), void *arg);

size_t ctl_conn_count(void);
size_t ctl_conn_cap(void);
unsigned long long ctl_conn_refused_count(void);

#endif
