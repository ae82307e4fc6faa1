/* The http_listen TCP listener: see http_listen.h. New connections are
 * counted the way ctl_conn.c counts the ctl socket's (libevent 2.1 shows
 * a connection first in the bufferevent callback, and its evhttp
 * connection one loop turn later), without the peer credentials that TCP
 * does not have. */
#define _GNU_SOURCE
#include "http_listen.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ctl_metrics.h"
#include "ctl_route.h"
#include "http_page.h"
#include "log.h"
#include "vigild.h"

/* A body up to this much is read and answered 413 in JSON; a larger one
 * gets libevent's own 413 and a closed connection. */
#define HTTP_LISTEN_MAX_BUFFERED_BODY 4096
#define HTTP_LISTEN_ACCEPT_RETRY_MS 200
#define HTTP_LISTEN_BACKLOG 128

static struct evhttp *http;
static struct evconnlistener *listener;
static struct event *accept_retry;
static size_t nconns, pending;
static bool paused, bound; /* bound: evhttp owns the listener */

/* Headers every reply carries: nothing is cached, nothing is sniffed, and
 * the page may load nothing (it has no script; its style is inline). */
static void http_add_headers(struct evhttp_request *req, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

static void http_send_error(struct evhttp_request *req, int code, const char *msg)
{
	struct evbuffer *buf = evbuffer_new();
	json_t *obj = json_pack("{s:s}", "error", msg);
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	http_add_headers(req, "application/json");
	if (code == 405)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
	if (buf)
		evbuffer_add_printf(buf, "%s\n", text ? text : "{}");
	evhttp_send_reply(req, code, NULL, buf);
	if (buf)
		evbuffer_free(buf);
	free(text);
	json_decref(obj);
}

static int http_get_healthz(struct evbuffer *body, const char **type)
{
	*type = "application/json";
	return ctl_route_healthz(body);
}

static int http_get_metrics(struct evbuffer *body, const char **type)
{
	*type = "text/plain; version=0.0.4";
	ctl_metrics_write(body, now_usec());
	return HTTP_OK;
}

static int http_get_page(struct evbuffer *body, const char **type)
{
	*type = "text/html; charset=utf-8";
	http_page_write(body, now_usec());
	return HTTP_OK;
}

static const struct http_route {
	const char *path;
	int (*handler)(struct evbuffer *body, const char **type); /* returns the status */
} http_routes[] = {
	{ "/healthz", http_get_healthz },
	{ "/metrics", http_get_metrics },
	{ "/", http_get_page },
};

/* The path alone: a query string changes nothing here (a scraper or a
 * browser may add one), and the paths served need no decoding. */
static const struct http_route *http_find_route(const char *raw_uri)
{
	struct evhttp_uri *uri = raw_uri ? evhttp_uri_parse_with_flags(raw_uri, EVHTTP_URI_NONCONFORMANT) : NULL;
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct http_route *found = NULL;

	for (size_t i = 0; path && i < sizeof(http_routes) / sizeof(http_routes[0]); i++)
		if (strcmp(path, http_routes[i].path) == 0)
			found = &http_routes[i];
	if (uri) /* evhttp_uri_free(NULL) crashes in libevent 2.1 */
		evhttp_uri_free(uri);
	return found;
}

static void http_handle_request(struct evhttp_request *req, void *arg)
{
	const struct http_route *route = http_find_route(evhttp_request_get_uri(req));
	struct evbuffer *body;
	const char *type = "application/json";
	int code;

	(void)arg;
	if (!route) {
		http_send_error(req, HTTP_NOTFOUND, "no such page: this listener serves GET /healthz, /metrics and / only");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "method not allowed: this listener is read-only (GET only)");
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
		http_send_error(req, 413, "this listener takes no request body");
		return;
	}
	if (!(body = evbuffer_new())) {
		http_send_error(req, 503, "vigild is out of memory");
		return;
	}
	code = route->handler(body, &type);
	http_add_headers(req, type);
	evhttp_send_reply(req, code, NULL, body);
	evbuffer_free(body);
}

static void http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	(void)arg;
	nconns--;
}

/* Over the cap: a short reply written straight to the socket, best
 * effort and never blocking, then the connection goes. */
static void http_refuse(struct evhttp_connection *evcon, int fd)
{
	static const char reply[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
				    "Content-Length: 49\r\nConnection: close\r\n\r\n"
				    "{\"error\":\"too many connections; try again later\"}";

	if (send(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("http: cannot send a refusal: %s", strerror(errno));
	evhttp_connection_free(evcon);
}

/* One loop turn after the bufferevent callback (see ctl_conn_check for
 * why the extra reference keeps bev valid and how a connection evhttp
 * gave up on meanwhile shows). */
static void http_conn_check(evutil_socket_t unused, short what, void *arg)
{
	struct bufferevent *bev = arg;
	struct evhttp_connection *evcon;
	void *cbarg = NULL;

	(void)unused;
	(void)what;
	bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
	evcon = cbarg;
	if (evcon && evhttp_connection_get_bufferevent(evcon) == bev && bufferevent_getfd(bev) >= 0) {
		if (nconns >= HTTP_LISTEN_MAX_CONNS) {
			log_debug("http: refused a connection: %zu open already", nconns);
			http_refuse(evcon, bufferevent_getfd(bev));
		} else {
			nconns++;
			evhttp_connection_set_closecb(evcon, http_conn_closed, NULL);
		}
	}
	bufferevent_decref(bev);
	if (--pending == 0 && paused) {
		paused = false;
		evconnlistener_enable(listener);
	}
}

static struct bufferevent *http_new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	const struct timeval now = { 0, 0 };

	(void)arg;
	if (!bev)
		return NULL;
	bufferevent_incref(bev);
	if (event_base_once(base, -1, EV_TIMEOUT, http_conn_check, bev, &now) < 0) {
		bufferevent_decref(bev);
		return bev; /* uncounted: only when vigild is out of memory */
	}
	/* the listener accepts until EAGAIN before any check runs: a burst
	 * stops at the cap instead of taking the descriptors spawns need */
	if (++pending + nconns > HTTP_LISTEN_MAX_CONNS && !paused) {
		paused = true;
		evconnlistener_disable(listener);
	}
	return bev;
}

static void http_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!paused)
		evconnlistener_enable(listener);
}

/* EMFILE and friends: pause accepting for a moment instead of spinning. */
static void http_accept_error(struct evconnlistener *lev, void *arg)
{
	struct timeval tv = { 0, HTTP_LISTEN_ACCEPT_RETRY_MS * 1000 };

	(void)arg;
	log_warn("http: accept: %s; pausing %dms", strerror(errno), HTTP_LISTEN_ACCEPT_RETRY_MS);
	evconnlistener_disable(lev);
	evtimer_add(accept_retry, &tv);
}

/* A listening socket on the address, or -1 after logging at file:line. */
static int http_listen_open(const struct config *config)
{
	const struct inet_address *a = &config->http_address;
	int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->addr, a->addrlen) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0) {
		int saved = errno;
		log_err("%s:%d: [vigil] http_listen: cannot listen on %s: %s%s", config->http_listen_file,
			config->http_listen_line, config->http_listen, strerror(saved),
			saved == EADDRINUSE	? " (another program has that port)"
			: saved == EADDRNOTAVAIL ? " (no interface of this host has that address)"
						 : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int http_listen_init(const struct config *config)
{
	char where[96];
	int fd;

	if (!config->http_listen)
		return 0;
	if ((fd = http_listen_open(config)) < 0)
		return -1;
	http = evhttp_new(vigil.base);
	/* backlog 0: listening already */
	listener = evconnlistener_new(vigil.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	accept_retry = evtimer_new(vigil.base, http_accept_resume, NULL);
	if (!listener)
		close(fd);
	if (!http || !listener || !accept_retry || !(bound = evhttp_bind_listener(http, listener) != NULL)) {
		log_err("http_listen: cannot set up the HTTP server");
		return -1;
	}
	evconnlistener_set_error_cb(listener, http_accept_error);
	evhttp_set_bevcb(http, http_new_bev, NULL);
	evhttp_set_max_headers_size(http, HTTP_LISTEN_MAX_HEADERS);
	evhttp_set_max_body_size(http, HTTP_LISTEN_MAX_BUFFERED_BODY);
	evhttp_set_timeout(http, HTTP_LISTEN_IDLE_TIMEOUT_S);
	/* every common method reaches the handler, which answers 405 in JSON */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(http, http_handle_request, NULL);
	inet_address_format(&config->http_address, where, sizeof(where));
	log_info("http: listening on %s (GET /healthz, /metrics and the status page /)", where);
	return 0;
}

void http_listen_free(void)
{
	if (listener && !bound)
		evconnlistener_free(listener);
	if (http)
		evhttp_free(http); /* frees the bound listener and its fd */
	bound = false;
	http = NULL;
	listener = NULL;
	if (accept_retry)
		event_free(accept_retry);
	accept_retry = NULL;
}
