/* The ctl socket's HTTP server: evhttp set-up, and the glue between an
 * evhttp_request and the router (ctl_route.c), which knows no sockets.
 * Who may connect and for how long is ctl_conn.c. */
#define _GNU_SOURCE
#include "ctl_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ctl_conn.h"
#include "ctl_route.h"
#include "ctl_socket.h"
#include "events.h"
#include "log.h"
#include "output_ring.h"
#include "supervisor.h"
#include "vigild.h"

/* libevent answers a body over its own limit with an HTML page and drops
 * the connection mid-upload; reading up to this much lets vigild answer a
 * too-large request with its usual JSON error instead. */
#define CTL_MAX_BUFFERED_BODY (1024 * 1024)
#define CTL_MAX_HEADERS 16384
#define CTL_IDLE_TIMEOUT_S 60
#define CTL_ACCEPT_RETRY_MS 200

static struct evhttp *ctl_http;
static struct evconnlistener *ctl_listener;
static struct event *ctl_accept_retry;
static char *ctl_socket_path; /* NULL when we did not create it */
static bool ctl_has_group;
static gid_t ctl_group;

/* Two markers for the on-complete callback's argument. */
static char ctl_plain_reply, ctl_shutdown_reply;

static void ctl_reply_sent(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);

	if (conn)
		ctl_conn_request_done(conn);
	if (arg == &ctl_shutdown_reply)
		supervisor_begin_shutdown();
}

static void ctl_send_refusal(struct evhttp_request *req, int code, const char *msg)
{
	struct evbuffer *buf = evbuffer_new();
	json_t *obj = json_pack("{s:s}", "error", msg);
	char *text = json_dumps(obj, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evbuffer_add_printf(buf, "%s\n", text ? text : "{}");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(text);
	json_decref(obj);
}

static void ctl_send(struct evhttp_request *req, struct ctl_reply *reply)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", reply->content_type);
	evhttp_request_set_on_complete_cb(req, ctl_reply_sent,
					  reply->shutdown_after ? &ctl_shutdown_reply : &ctl_plain_reply);
	if (!reply->follow) {
		evhttp_send_reply(req, reply->code, NULL, reply->body);
		return;
	}
	/* A follower may hear nothing for hours: no read timeout. A client
	 * that stops reading still times out on writes. */
	struct timeval write_tv = { CTL_IDLE_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)), NULL,
				 &write_tv);
	evhttp_send_reply_start(req, reply->code, "OK");
	evhttp_send_reply_chunk(req, reply->body);
	if (reply->events)
		events_follow(req);
	else if (reply->tagged)
		output_ring_follow_tagged(reply->sources, reply->nsources, req);
	else
		output_ring_follow(reply->sources[0].ring, req);
}

static void ctl_handle_request(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t body_len = evbuffer_get_length(in);
	struct ctl_reply reply = { .body = evbuffer_new() };
	struct ucred cred;
	char msg[128];

	(void)arg;
	ctl_conn_request_begin(conn);
	/* Checked at accept already; again here because group membership
	 * may change while a connection stays open. */
	if (!ctl_peer_allowed(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)), ctl_has_group, ctl_group,
			      &cred)) {
		log_notice("ctl: refused request from uid %d (not root, vigild's user or in socket_group)", (int)cred.uid);
		snprintf(msg, sizeof(msg), "permission denied: uid %d may not control vigild", (int)cred.uid);
		ctl_send_refusal(req, 403, msg);
	} else if (!reply.body) {
		ctl_send_refusal(req, 503, "vigild is out of memory");
	} else {
		const char *body = body_len <= CTL_MAX_BODY ? (const char *)evbuffer_pullup(in, -1) : NULL;
		struct ctl_peer peer = { (long)(int)cred.uid, (long)cred.pid };
		ctl_route_request(evhttp_request_get_command(req), evhttp_request_get_uri(req), body, body_len, &peer,
				  &reply);
		ctl_send(req, &reply);
		free(reply.sources);
	}
	if (reply.body)
		evbuffer_free(reply.body);
}

static void ctl_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	evconnlistener_enable(ctl_listener);
}

/* EMFILE and friends: pause accepting for a moment instead of spinning. */
static void ctl_accept_error(struct evconnlistener *listener, void *arg)
{
	struct timeval tv = { 0, CTL_ACCEPT_RETRY_MS * 1000 };

	(void)arg;
	log_warn("ctl: accept: %s; pausing %dms", strerror(errno), CTL_ACCEPT_RETRY_MS);
	evconnlistener_disable(listener);
	evtimer_add(ctl_accept_retry, &tv);
}

int ctl_server_init(const struct config *config, int listen_fd)
{
	char err[512];
	int fd = listen_fd;

	ctl_has_group = config->socket_group != NULL;
	ctl_group = config->socket_gid;
	if (fd < 0) {
		fd = ctl_socket_open(config->socket, config->socket_mode, config->socket_group, config->socket_gid, err,
				     sizeof(err));
		if (fd < 0) {
			log_err("ctl socket: %s", err);
			return -1;
		}
		ctl_socket_path = strdup(config->socket);
	}
	ctl_http = evhttp_new(vigil.base);
	/* backlog 0: the socket listens already (ours, or systemd's with its
	 * Backlog=); -1 would make libevent listen() again with only 128 */
	ctl_listener = evconnlistener_new(vigil.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
					  0, fd);
	ctl_accept_retry = evtimer_new(vigil.base, ctl_accept_resume, NULL);
	if (!ctl_http || !ctl_listener || !ctl_accept_retry || !evhttp_bind_listener(ctl_http, ctl_listener)) {
		log_err("ctl socket: cannot set up the HTTP server");
		return -1;
	}
	evconnlistener_set_error_cb(ctl_listener, ctl_accept_error);
	ctl_conn_init(ctl_listener, ctl_has_group, ctl_group);
	evhttp_set_bevcb(ctl_http, ctl_conn_new_bev, NULL);
	evhttp_set_max_body_size(ctl_http, CTL_MAX_BUFFERED_BODY);
	evhttp_set_max_headers_size(ctl_http, CTL_MAX_HEADERS);
	evhttp_set_timeout(ctl_http, CTL_IDLE_TIMEOUT_S);
	/* every common method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(ctl_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						     EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(ctl_http, ctl_handle_request, NULL);
	log_info("ctl: listening on %s", config->socket);
	return 0;
}

void ctl_server_free(void)
{
	if (ctl_http)
		evhttp_free(ctl_http); /* frees the bound listener and its fd */
	ctl_http = NULL;
	ctl_listener = NULL;
	if (ctl_accept_retry)
		event_free(ctl_accept_retry);
	ctl_accept_retry = NULL;
	if (ctl_socket_path)
		unlink(ctl_socket_path);
	free(ctl_socket_path);
	ctl_socket_path = NULL;
}
