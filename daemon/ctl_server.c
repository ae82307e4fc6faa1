/* Routes table -> handlers. Every reply is JSON built by ctl_json.c,
 * except /metrics (Prometheus text). */
#define _GNU_SOURCE
#include "ctl_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl_json.h"
#include "ctl_metrics.h"
#include "ctl_socket.h"
#include "log.h"
#include "output.h"
#include "output_ring.h"
#include "program.h"
#include "reload.h"
#include "supervisor.h"
#include "vigild.h"

#define CTL_MAX_BODY 65536
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

static void ctl_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evbuffer_add_printf(buf, "%s\n", text ? text : "{}");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(text);
	json_decref(body);
}

static void ctl_reply_procs(struct evhttp_request *req, struct proc *const *procs, size_t n)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	procs_write_json(buf, procs, n, now_usec());
	evhttp_send_reply(req, HTTP_OK, NULL, buf);
	evbuffer_free(buf);
}

static void ctl_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctl_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* msg may echo the request's bytes: keep the reply valid JSON */
	ctl_reply_json(req, code, json_pack("{s:o}", "error", text_or_null(msg)));
}

static void ctl_get_programs(struct evhttp_request *req, const char *name, const char *action)
{
	(void)name;
	(void)action;
	ctl_reply_procs(req, vigil.procs, vigil.nprocs);
}

static void ctl_get_program(struct evhttp_request *req, const char *name, const char *action)
{
	size_t n;
	struct proc **procs = supervisor_match(name, &n);

	(void)action;
	if (!procs) {
		ctl_reply_error(req, HTTP_NOTFOUND, "no such program: %s", name);
		return;
	}
	/* One process: the object itself; a program with instances: the list. */
	if (n == 1 && strcmp(name, "all") != 0 && strcmp(procs[0]->name, name) == 0)
		ctl_reply_json(req, HTTP_OK, proc_to_json(procs[0], now_usec()));
	else
		ctl_reply_procs(req, procs, n);
	free(procs);
}

static int ctl_query_signal(struct evhttp_request *req, int *signo, char *err, size_t errlen)
{
	struct evkeyvalq params;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *sig;
	int rc = -1;

	TAILQ_INIT(&params);
	if (query && evhttp_parse_query_str(query, &params) == 0 && (sig = evhttp_find_header(&params, "sig")))
		rc = parse_signal(sig, signo, err, errlen);
	else
		snprintf(err, errlen, "missing ?sig=NAME (e.g. ?sig=HUP)");
	evhttp_clear_headers(&params);
	return rc;
}

static void ctl_post_action(struct evhttp_request *req, const char *name, const char *action)
{
	char err[PARSE_ERR_MAX];
	int signo = 0, busy = 0, not_running = 0, no_parent = 0;
	size_t n;
	struct proc **procs;

	if (strcmp(action, "signal") == 0 && ctl_query_signal(req, &signo, err, sizeof(err)) < 0) {
		ctl_reply_error(req, HTTP_BADREQUEST, "%s", err);
		return;
	}
	if (!(procs = supervisor_match(name, &n))) {
		ctl_reply_error(req, HTTP_NOTFOUND, "no such program: %s", name);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int rc;
		if (strcmp(action, "start") == 0)
			rc = proc_request_start(procs[i]);
		else if (strcmp(action, "stop") == 0)
			rc = proc_request_stop(procs[i]);
		else if (strcmp(action, "restart") == 0)
			rc = proc_request_restart(procs[i]);
		else
			rc = proc_send_signal(procs[i], signo);
		busy += rc == -EBUSY;
		no_parent += rc == -EAGAIN;
		not_running += rc == -ESRCH;
	}
	if (busy)
		ctl_reply_error(req, 409, "cannot %s %s now: vigild is shutting down", action, name);
	else if (no_parent && n == 1) /* in a group, it simply follows its parent */
		ctl_reply_error(req, 409, "cannot %s %s: it is a daemon child and its parent is not RUNNING", action, name);
	else if (not_running == (int)n)
		ctl_reply_error(req, 409, "cannot signal %s: not running", name);
	else
		ctl_reply_procs(req, procs, n);
	free(procs);
}

/* Query parameter as a whole number within bounds, or def when absent. */
static long ctl_query_long(const struct evkeyvalq *params, const char *key, long def, long max)
{
	const char *v = evhttp_find_header(params, key);
	long n;

	if (!v || parse_int_range(v, 0, max, &n, NULL, 0) < 0)
		return def;
	return n;
}

static void ctl_get_log(struct evhttp_request *req, const char *name, const char *action)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), *stream_name;
	struct evkeyvalq params;
	struct evbuffer *buf;
	struct proc **procs, *p;
	size_t n;
	int stream;

	(void)action;
	TAILQ_INIT(&params);
	if (query && evhttp_parse_query_str(query, &params) < 0) {
		ctl_reply_error(req, HTTP_BADREQUEST, "bad query string");
		return;
	}
	stream_name = evhttp_find_header(&params, "stream");
	if (stream_name && strcmp(stream_name, "stdout") != 0 && strcmp(stream_name, "stderr") != 0) {
		ctl_reply_error(req, HTTP_BADREQUEST, "stream must be stdout or stderr");
	} else if (!(procs = supervisor_match(name, &n))) {
		ctl_reply_error(req, HTTP_NOTFOUND, "no such program: %s", name);
	} else if (n != 1 || strcmp(name, "all") == 0) {
		ctl_reply_error(req, HTTP_BADREQUEST, "%s has %zu processes: name one, e.g. %s", name, n, procs[0]->name);
		free(procs);
	} else {
		p = procs[0];
		free(procs);
		stream = stream_name && strcmp(stream_name, "stderr") == 0 && !p->output.merged ? OUTPUT_STDERR_STREAM
											       : OUTPUT_STDOUT_STREAM;
		buf = evbuffer_new();
		output_ring_tail(p->output.ring[stream], (size_t)ctl_query_long(&params, "lines", 100, 100000), buf);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
		if (ctl_query_long(&params, "follow", 0, 1)) {
			/* A follower may hear nothing for hours: no read timeout.
			 * A client that stops reading still times out on writes. */
			struct timeval write_tv = { CTL_IDLE_TIMEOUT_S, 0 };
			bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)),
						 NULL, &write_tv);
			evhttp_send_reply_start(req, HTTP_OK, "OK");
			evhttp_send_reply_chunk(req, buf);
			output_ring_follow(p->output.ring[stream], req);
		} else {
			evhttp_send_reply(req, HTTP_OK, NULL, buf);
		}
		evbuffer_free(buf);
	}
	evhttp_clear_headers(&params);
}

static void ctl_shutdown_after_reply(struct evhttp_request *req, void *arg)
{
	(void)req;
	(void)arg;
	supervisor_begin_shutdown();
}

static void ctl_post_shutdown(struct evhttp_request *req, const char *name, const char *action)
{
	(void)name;
	(void)action;
	/* Begin once the reply is on its way, so the caller hears back. */
	evhttp_request_set_on_complete_cb(req, ctl_shutdown_after_reply, NULL);
	ctl_reply_json(req, HTTP_OK, json_pack("{s:s}", "status", "shutting down"));
}

static void ctl_post_reload(struct evhttp_request *req, const char *name, const char *action)
{
	char *error = NULL;
	json_t *result = reload_run(&error);

	(void)name;
	(void)action;
	if (result)
		ctl_reply_json(req, HTTP_OK, result);
	else
		ctl_reply_error(req, HTTP_BADREQUEST, "%s", error ? error : "reload failed");
	free(error);
}

static void ctl_get_healthz(struct evhttp_request *req, const char *name, const char *action)
{
	json_t *counts = json_object();
	int fatal = 0;

	(void)name;
	(void)action;
	for (int s = 0; s < STATE_COUNT; s++)
		json_object_set_new(counts, state_name(s), json_integer(0));
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const char *st = state_name(vigil.procs[i]->state);
		json_object_set_new(counts, st, json_integer(json_integer_value(json_object_get(counts, st)) + 1));
		fatal += vigil.procs[i]->state == STATE_FATAL;
	}
	ctl_reply_json(req, fatal ? 503 : HTTP_OK,
		       json_pack("{s:s, s:o}", "status", fatal ? "degraded" : "ok", "states", counts));
}

static void ctl_get_metrics(struct evhttp_request *req, const char *name, const char *action)
{
	struct evbuffer *buf = evbuffer_new();

	(void)name;
	(void)action;
	ctl_metrics_write(buf, now_usec());
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, NULL, buf);
	evbuffer_free(buf);
}

typedef void ctl_handler(struct evhttp_request *req, const char *name, const char *action);

/* path kinds: "/v1/programs" exact; NAME = "/v1/programs/NAME"; ACTION = ".../NAME/ACTION" */
enum route_shape { ROUTE_EXACT, ROUTE_NAME, ROUTE_ACTION };

static const struct route {
	enum evhttp_cmd_type method;
	enum route_shape shape;
	const char *path;   /* exact path, or the action name */
	ctl_handler *handler;
} routes[] = {
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/v1/programs", ctl_get_programs },
	{ EVHTTP_REQ_GET, ROUTE_NAME, NULL, ctl_get_program },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "start", ctl_post_action },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "stop", ctl_post_action },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "restart", ctl_post_action },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "signal", ctl_post_action },
	{ EVHTTP_REQ_GET, ROUTE_ACTION, "log", ctl_get_log },
	{ EVHTTP_REQ_POST, ROUTE_EXACT, "/v1/shutdown", ctl_post_shutdown },
	{ EVHTTP_REQ_POST, ROUTE_EXACT, "/v1/reload", ctl_post_reload },
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/healthz", ctl_get_healthz },
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/metrics", ctl_get_metrics },
};

/* Splits "/v1/programs/NAME[/ACTION]" into its parts; returns the shape or -1. */
static int ctl_split_path(const char *path, char *name, size_t namelen, char *action, size_t actlen)
{
	const char *prefix = "/v1/programs/", *rest, *slash;

	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return -1;
	rest = path + strlen(prefix);
	slash = strchr(rest, '/');
	if (!*rest || (size_t)(slash ? slash - rest : (ptrdiff_t)strlen(rest)) >= namelen)
		return -1;
	snprintf(name, namelen, "%.*s", (int)(slash ? slash - rest : (ptrdiff_t)strlen(rest)), rest);
	if (!slash)
		return ROUTE_NAME;
	if (!slash[1] || strchr(slash + 1, '/') || strlen(slash + 1) >= actlen)
		return -1;
	snprintf(action, actlen, "%s", slash + 1);
	return ROUTE_ACTION;
}

static void ctl_route(struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char name[128] = "", action[32] = "";
	int shape = ctl_split_path(path, name, sizeof(name), action, sizeof(action));
	bool path_known = false;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		bool match = r->shape == ROUTE_EXACT ? strcmp(r->path, path) == 0
			   : r->shape == ROUTE_NAME  ? shape == ROUTE_NAME
						     : shape == ROUTE_ACTION && strcmp(r->path, action) == 0;
		if (!match)
			continue;
		path_known = true;
		if (r->method == method) {
			r->handler(req, name, action);
			return;
		}
	}
	if (path_known)
		ctl_reply_error(req, 405, "method not allowed for %s", path);
	else
		ctl_reply_error(req, HTTP_NOTFOUND, "no such endpoint: %s", path);
}

static void ctl_handle_request(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
	const char *raw = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char *path;
	uid_t uid = (uid_t)-1;

	(void)arg;
	if (!ctl_peer_allowed(fd, ctl_has_group, ctl_group, &uid)) {
		log_notice("ctl: refused request from uid %d (not root, vigild's user or in socket_group)", (int)uid);
		ctl_reply_error(req, 403, "permission denied: uid %d may not control vigild", (int)uid);
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > CTL_MAX_BODY) {
		ctl_reply_error(req, 413, "request body larger than %d bytes", CTL_MAX_BODY);
		return;
	}
	path = evhttp_uridecode(raw ? raw : "/", 0, NULL);
	if (!path) {
		ctl_reply_error(req, HTTP_BADREQUEST, "bad path");
		return;
	}
	ctl_route(req, path);
	free(path);
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
	ctl_listener = evconnlistener_new(vigil.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
					  -1, fd);
	ctl_accept_retry = evtimer_new(vigil.base, ctl_accept_resume, NULL);
	if (!ctl_http || !ctl_listener || !ctl_accept_retry || !evhttp_bind_listener(ctl_http, ctl_listener)) {
		log_err("ctl socket: cannot set up the HTTP server");
		return -1;
	}
	evconnlistener_set_error_cb(ctl_listener, ctl_accept_error);
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
