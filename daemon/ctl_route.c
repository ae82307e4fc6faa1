/* Routes table -> handlers. Every reply is JSON built by ctl_json.c,
 * except /metrics (Prometheus text) and log text. Handlers see no
 * evhttp_request: they fill a struct ctl_reply that the server sends. */
#define _GNU_SOURCE
#include "ctl_route.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "ctl_json.h"
#include "ctl_metrics.h"
#include "depend.h"
#include "events.h"
#include "log.h"
#include "output.h"
#include "output_ring.h"
#include "program.h"
#include "reload.h"
#include "supervisor.h"
#include "vigild.h"

struct ctl_call {
	enum evhttp_cmd_type method;
	const char *path; /* decoded */
	char name[128], action[32];
	struct evkeyvalq params;
	const struct ctl_peer *peer;
	struct ctl_reply *reply;
};

/* An operator's action, at info with who asked: "restart web requested
 * by uid 1000 (pid 4321)". */
static void ctl_log_request(const struct ctl_call *call, const char *what)
{
	if (call->peer && call->peer->uid >= 0)
		log_info("%s requested by uid %ld (pid %ld)", what, call->peer->uid, call->peer->pid);
	else
		log_info("%s requested over the ctl socket", what);
}

static void ctl_reply_json(struct ctl_call *call, int code, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	call->reply->code = code;
	call->reply->content_type = "application/json";
	evbuffer_add_printf(call->reply->body, "%s\n", text ? text : "{}");
	free(text);
	json_decref(body);
}

static void ctl_reply_procs(struct ctl_call *call, struct proc *const *procs, size_t n)
{
	call->reply->code = HTTP_OK;
	call->reply->content_type = "application/json";
	procs_write_json(call->reply->body, procs, n, now_usec());
}

static void ctl_reply_proc(struct ctl_call *call, const struct proc *p)
{
	call->reply->code = HTTP_OK;
	call->reply->content_type = "application/json";
	proc_write_json(call->reply->body, p, now_usec());
	evbuffer_add(call->reply->body, "\n", 1);
}

static void ctl_reply_error(struct ctl_call *call, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ctl_reply_error(struct ctl_call *call, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* msg may echo the request's bytes: keep the reply valid JSON */
	ctl_reply_json(call, code, json_pack("{s:o}", "error", text_or_null(msg)));
}

static void ctl_get_programs(struct ctl_call *call)
{
	ctl_reply_procs(call, vigil.procs, vigil.nprocs);
}

static void ctl_get_program(struct ctl_call *call)
{
	size_t n;
	struct proc **procs = supervisor_match(call->name, &n);

	if (!procs) {
		ctl_reply_error(call, HTTP_NOTFOUND, "no such program: %s", call->name);
		return;
	}
	/* One process: the object itself; a program with instances: the list. */
	if (n == 1 && strcmp(call->name, "all") != 0 && strcmp(procs[0]->name, call->name) == 0)
		ctl_reply_proc(call, procs[0]);
	else
		ctl_reply_procs(call, procs, n);
	free(procs);
}

/* Digits only: strtol would also take " 5", "+5" and "-0". */
static int ctl_query_number(struct ctl_call *call, const char *key, long def, long max, long *out)
{
	const char *v = evhttp_find_header(&call->params, key);

	*out = def;
	if (!v)
		return 0;
	if (!*v || strspn(v, "0123456789") != strlen(v) || parse_int_range(v, 0, max, out, NULL, 0) < 0) {
		ctl_reply_error(call, HTTP_BADREQUEST, "%s=%s: must be a whole number from 0 to %ld", key, v, max);
		return -1;
	}
	return 0;
}

/* start all leaves a completed oneshot alone; naming it runs it again */
static bool ctl_skips(const char *name, const char *action, const struct proc *p)
{
	return strcmp(name, "all") == 0 && strcmp(action, "signal") != 0 && p->cfg->type == PROGRAM_ONESHOT &&
	       p->completed;
}

/* Start, stop, restart or signal each process; stop and restart take the
 * dependents along, and then procs becomes every process changed (it has
 * room for all). Processes refused are counted, and stay in the reply. */
static void ctl_act(struct ctl_call *call, struct proc **procs, size_t *n, int signo, int counts[3])
{
	const char *action = call->action;
	bool starts = strcmp(action, "start") == 0 || strcmp(action, "restart") == 0;
	struct proc **todo = malloc((*n + 1) * sizeof(*todo)), **touched;
	size_t ntodo = 0;

	if (!todo)
		abort();
	for (size_t i = 0; i < *n; i++) {
		int rc = starts ? proc_may_start(procs[i]) : 0;
		counts[0] += rc == -EBUSY;
		counts[1] += rc == -EAGAIN;
		if (rc == 0 && !ctl_skips(call->name, action, procs[i]))
			todo[ntodo++] = procs[i];
	}
	if (strcmp(action, "stop") == 0 || strcmp(action, "restart") == 0) {
		touched = strcmp(action, "stop") == 0 ? depend_stop(todo, ntodo, n) : depend_restart(todo, ntodo, n);
		if (*n)
			memcpy(procs, touched, *n * sizeof(*procs));
		free(touched);
	} else {
		for (size_t i = 0; i < ntodo; i++) {
			int rc = strcmp(action, "start") == 0 ? proc_request_start(todo[i]) : proc_send_signal(todo[i], signo);
			counts[2] += rc == -ESRCH;
		}
	}
	free(todo);
}

static void ctl_post_action(struct ctl_call *call)
{
	const char *name = call->name, *action = call->action, *sig;
	char err[PARSE_ERR_MAX], what[192], signame[16];
	int signo = 0, counts[3] = { 0, 0, 0 }; /* busy, no parent, not running */
	size_t n, named;
	struct proc **procs, **grown;

	if (strcmp(action, "signal") == 0) {
		if (!(sig = evhttp_find_header(&call->params, "sig"))) {
			ctl_reply_error(call, HTTP_BADREQUEST, "missing ?sig=NAME (e.g. ?sig=HUP)");
			return;
		}
		if (parse_signal(sig, &signo, err, sizeof(err)) < 0) {
			ctl_reply_error(call, HTTP_BADREQUEST, "sig=%s", err);
			return;
		}
	}
	if (!(procs = supervisor_match(name, &n))) {
		ctl_reply_error(call, HTTP_NOTFOUND, "no such program: %s", name);
		return;
	}
	if (signo)
		snprintf(what, sizeof(what), "signal %s %s", signal_name(signo, signame, sizeof(signame)), name);
	else
		snprintf(what, sizeof(what), "%s %s", action, name);
	ctl_log_request(call, what);
	/* room for the dependents a stop or restart takes along */
	if (!(grown = realloc(procs, (vigil.nprocs + 1) * sizeof(*procs))))
		abort();
	procs = grown;
	named = n;
	ctl_act(call, procs, &n, signo, counts);
	if (counts[0])
		ctl_reply_error(call, 409, "cannot %s %s now: vigild is shutting down", action, name);
	else if (counts[1] && named == 1) /* in a group, it simply follows its parent */
		ctl_reply_error(call, 409, "cannot %s %s: it is a daemon child and its parent is not RUNNING", action, name);
	else if (strcmp(action, "signal") == 0 && counts[2] == (int)n)
		ctl_reply_error(call, 409, "cannot signal %s: not running", name);
	else
		ctl_reply_procs(call, procs, n);
	free(procs);
}

/* The processes of "a,b:1,c" (each a program, prog:N or all), each
 * once; NULL after a 404 reply when one name matches nothing. */
static struct proc **ctl_match_list(struct ctl_call *call, size_t *count)
{
	struct proc **out = malloc((vigil.nprocs + 1) * sizeof(*out));
	char *names = strdup(call->name), *save = NULL;
	size_t n = 0;

	if (!out || !names)
		abort();
	for (char *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		size_t k;
		struct proc **procs = supervisor_match(name, &k);
		if (!procs) {
			ctl_reply_error(call, HTTP_NOTFOUND, "no such program: %s", name);
			free(out);
			out = NULL;
			break;
		}
		for (size_t i = 0; i < k; i++) {
			size_t j = 0;
			while (j < n && out[j] != procs[i])
				j++;
			if (j == n)
				out[n++] = procs[i];
		}
		free(procs);
	}
	if (out && n == 0) { /* "," alone */
		ctl_reply_error(call, HTTP_NOTFOUND, "no such program: %s", call->name);
		free(out);
		out = NULL;
	}
	free(names);
	*count = n;
	return out;
}

/* One process named by its own name: plain text, as it always was.
 * Anything else (all, a program with instances, a list "web,db"): JSON
 * lines tagged with each line's process. */
static void ctl_get_log(struct ctl_call *call)
{
	const char *stream_name = evhttp_find_header(&call->params, "stream");
	bool want_stderr = stream_name && strcmp(stream_name, "stderr") == 0;
	struct ctl_reply *reply = call->reply;
	struct proc **procs;
	long lines, follow;
	size_t n;

	if (stream_name && strcmp(stream_name, "stdout") != 0 && !want_stderr) {
		ctl_reply_error(call, HTTP_BADREQUEST, "stream=%s: must be stdout or stderr", stream_name);
		return;
	}
	if (ctl_query_number(call, "lines", 100, CTL_MAX_LOG_LINES, &lines) < 0 ||
	    ctl_query_number(call, "follow", 0, 1, &follow) < 0)
		return;
	if (!(procs = strchr(call->name, ',') ? ctl_match_list(call, &n) : supervisor_match(call->name, &n))) {
		if (reply->code != HTTP_NOTFOUND)
			ctl_reply_error(call, HTTP_NOTFOUND, "no such program: %s", call->name);
		return;
	}
	if (!(reply->sources = malloc(n * sizeof(*reply->sources))))
		abort();
	for (size_t i = 0; i < n; i++) {
		/* a merged stderr went into the stdout ring */
		bool err = want_stderr && !procs[i]->output.merged;
		reply->sources[i] = (struct output_ring_source){ procs[i]->output.ring[err ? OUTPUT_STDERR_STREAM
											       : OUTPUT_STDOUT_STREAM],
								 procs[i]->name, err ? "stderr" : "stdout" };
	}
	reply->nsources = n;
	reply->tagged = n != 1 || strcmp(procs[0]->name, call->name) != 0;
	free(procs);
	if (reply->tagged)
		output_ring_tail_tagged(reply->sources, n, (size_t)lines, reply->body);
	else
		output_ring_tail(reply->sources[0].ring, (size_t)lines, reply->body);
	reply->code = HTTP_OK;
	reply->content_type = reply->tagged ? "application/x-ndjson" : "text/plain; charset=utf-8";
	reply->follow = follow;
}

/* The events after ?since= (all kept without it) as JSON lines; with
 * follow=1 new ones are streamed after them. */
static void ctl_get_events(struct ctl_call *call)
{
	long since, follow;
	bool since_given = evhttp_find_header(&call->params, "since") != NULL;

	if (ctl_query_number(call, "since", 0, LONG_MAX, &since) < 0 ||
	    ctl_query_number(call, "follow", 0, 1, &follow) < 0)
		return;
	if (events_write_since(call->reply->body, (uint64_t)since, since_given) < 0) {
		ctl_reply_error(call, HTTP_BADREQUEST,
				"since=%ld: the newest event is %llu (vigild restarted since?); ask with since=0", since,
				(unsigned long long)events_last_seq());
		return;
	}
	call->reply->code = HTTP_OK;
	call->reply->content_type = "application/x-ndjson";
	call->reply->follow = call->reply->events = follow;
}

static void ctl_post_shutdown(struct ctl_call *call)
{
	/* Begins once the reply is on its way, so the caller hears back. */
	ctl_log_request(call, "shutdown");
	call->reply->shutdown_after = true;
	ctl_reply_json(call, HTTP_OK, json_pack("{s:s}", "status", "shutting down"));
}

static void ctl_post_reload(struct ctl_call *call)
{
	char *error = NULL;
	json_t *result;

	ctl_log_request(call, "reload");
	result = reload_run(&error);

	if (result)
		ctl_reply_json(call, HTTP_OK, result);
	else
		ctl_reply_error(call, HTTP_BADREQUEST, "%s", error ? error : "reload failed");
	free(error);
}

int ctl_route_healthz(struct evbuffer *out)
{
	json_t *counts = json_object(), *body;
	char *text;
	int fatal = 0;

	for (int s = 0; s < STATE_COUNT; s++)
		json_object_set_new(counts, state_name(s), json_integer(0));
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const char *st = state_name(vigil.procs[i]->state);
		json_object_set_new(counts, st, json_integer(json_integer_value(json_object_get(counts, st)) + 1));
		fatal += vigil.procs[i]->state == STATE_FATAL;
	}
	fatal += vigil.critical_failed;
	body = json_pack("{s:s, s:o}", "status", fatal ? "degraded" : "ok", "states", counts);
	text = json_dumps(body, JSON_COMPACT);
	evbuffer_add_printf(out, "%s\n", text ? text : "{}");
	free(text);
	json_decref(body);
	return fatal ? 503 : HTTP_OK;
}

static void ctl_get_healthz(struct ctl_call *call)
{
	call->reply->code = ctl_route_healthz(call->reply->body);
	call->reply->content_type = "application/json";
}

static void ctl_get_metrics(struct ctl_call *call)
{
	ctl_metrics_write(call->reply->body, now_usec());
	call->reply->code = HTTP_OK;
	call->reply->content_type = "text/plain; version=0.0.4";
}

typedef void ctl_handler(struct ctl_call *call);

/* path kinds: "/v1/programs" exact; NAME = "/v1/programs/NAME"; ACTION = ".../NAME/ACTION" */
enum route_shape { ROUTE_EXACT, ROUTE_NAME, ROUTE_ACTION };

static const char *const no_params[] = { NULL };
static const char *const signal_params[] = { "sig", NULL };
static const char *const log_params[] = { "stream", "lines", "follow", NULL };
static const char *const events_params[] = { "since", "follow", NULL };

static const struct route {
	enum evhttp_cmd_type method;
	enum route_shape shape;
	const char *path; /* exact path, or the action name */
	ctl_handler *handler;
	const char *const *params; /* the query parameters it takes; any other is 400 */
} routes[] = {
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/v1/programs", ctl_get_programs, no_params },
	{ EVHTTP_REQ_GET, ROUTE_NAME, NULL, ctl_get_program, no_params },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "start", ctl_post_action, no_params },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "stop", ctl_post_action, no_params },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "restart", ctl_post_action, no_params },
	{ EVHTTP_REQ_POST, ROUTE_ACTION, "signal", ctl_post_action, signal_params },
	{ EVHTTP_REQ_GET, ROUTE_ACTION, "log", ctl_get_log, log_params },
	{ EVHTTP_REQ_POST, ROUTE_EXACT, "/v1/shutdown", ctl_post_shutdown, no_params },
	{ EVHTTP_REQ_POST, ROUTE_EXACT, "/v1/reload", ctl_post_reload, no_params },
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/v1/events", ctl_get_events, events_params },
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/healthz", ctl_get_healthz, no_params },
	{ EVHTTP_REQ_GET, ROUTE_EXACT, "/metrics", ctl_get_metrics, no_params },
};

/* Splits "/v1/programs/NAME[/ACTION]" into its parts; returns the shape or -1. */
static int ctl_split_path(const char *path, char *name, size_t namelen, char *action, size_t actlen)
{
	const char *prefix = "/v1/programs/", *rest, *slash;
	size_t len;

	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return -1;
	rest = path + strlen(prefix);
	slash = strchr(rest, '/');
	len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!len || len >= namelen)
		return -1;
	snprintf(name, namelen, "%.*s", (int)len, rest);
	if (!slash)
		return ROUTE_NAME;
	if (!slash[1] || strchr(slash + 1, '/') || strlen(slash + 1) >= actlen)
		return -1;
	snprintf(action, actlen, "%s", slash + 1);
	return ROUTE_ACTION;
}

/* A decoded path or query with a NUL would be cut short where C strings
 * end ("sl%00x" acting on "sl"); other control bytes only ever mean a
 * broken or hostile client. */
static bool ctl_has_control_bytes(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* Every query parameter must be one the route takes, given once. */
static int ctl_check_params(struct ctl_call *call, const char *const *allowed)
{
	const struct evkeyval *kv, *other;

	TAILQ_FOREACH(kv, &call->params, next) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], kv->key) != 0)
			i++;
		if (!allowed[i]) {
			char takes[64] = "";
			for (size_t j = 0; allowed[j]; j++)
				snprintf(takes + strlen(takes), sizeof(takes) - strlen(takes), "%s%s", j ? ", " : "", allowed[j]);
			ctl_reply_error(call, HTTP_BADREQUEST, "unknown query parameter \"%s\" for %s (it takes %s)", kv->key,
					call->path, *takes ? takes : "none");
			return -1;
		}
		for (other = TAILQ_NEXT(kv, next); other; other = TAILQ_NEXT(other, next))
			if (strcmp(other->key, kv->key) == 0) {
				ctl_reply_error(call, HTTP_BADREQUEST, "query parameter \"%s\" given twice", kv->key);
				return -1;
			}
	}
	return 0;
}

static void ctl_dispatch(struct ctl_call *call)
{
	int shape = ctl_split_path(call->path, call->name, sizeof(call->name), call->action, sizeof(call->action));
	bool path_known = false;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		bool match = r->shape == ROUTE_EXACT ? strcmp(r->path, call->path) == 0
			   : r->shape == ROUTE_NAME  ? shape == ROUTE_NAME
						     : shape == ROUTE_ACTION && strcmp(r->path, call->action) == 0;
		if (!match)
			continue;
		path_known = true;
		if (r->method == call->method) {
			if (ctl_check_params(call, r->params) == 0)
				r->handler(call);
			return;
		}
	}
	if (path_known)
		ctl_reply_error(call, 405, "method not allowed for %s", call->path);
	else
		ctl_reply_error(call, HTTP_NOTFOUND, "no such endpoint: %s", call->path);
}

/* Decodes the path and parses the query; 0, or -1 after replying 400. */
static int ctl_parse_target(struct ctl_call *call, const struct evhttp_uri *uri, char **path)
{
	const char *raw_path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	char *decoded;
	size_t len = 0;
	bool bad;

	*path = evhttp_uridecode(raw_path && *raw_path ? raw_path : "/", 0, &len);
	if (!*path || ctl_has_control_bytes(*path, len)) {
		ctl_reply_error(call, HTTP_BADREQUEST, "bad path: it contains a NUL or control character");
		return -1;
	}
	call->path = *path;
	if (!query)
		return 0;
	decoded = evhttp_uridecode(query, 1, &len);
	bad = !decoded || ctl_has_control_bytes(decoded, len);
	free(decoded);
	if (bad) {
		ctl_reply_error(call, HTTP_BADREQUEST, "bad query string: it contains a NUL or control character");
		return -1;
	}
	if (evhttp_parse_query_str(query, &call->params) < 0) {
		ctl_reply_error(call, HTTP_BADREQUEST, "bad query string: use KEY=VALUE pairs joined by &");
		return -1;
	}
	return 0;
}

int ctl_route_request(enum evhttp_cmd_type method, const char *raw_uri, const char *body, size_t body_len,
		      const struct ctl_peer *peer, struct ctl_reply *reply)
{
	struct ctl_call call = { .method = method, .path = "/", .peer = peer, .reply = reply };
	struct evhttp_uri *uri = NULL;
	char *path = NULL;

	(void)body; /* no endpoint takes a body yet */
	TAILQ_INIT(&call.params);
	reply->code = 500;
	reply->content_type = "application/json";
	reply->sources = NULL;
	reply->nsources = 0;
	reply->tagged = reply->follow = reply->events = reply->shutdown_after = false;
	if (body_len > CTL_MAX_BODY)
		ctl_reply_error(&call, 413, "request body larger than %d bytes", CTL_MAX_BODY);
	else if (!raw_uri || !(uri = evhttp_uri_parse_with_flags(raw_uri, EVHTTP_URI_NONCONFORMANT)))
		ctl_reply_error(&call, HTTP_BADREQUEST, "bad request target");
	else if (ctl_parse_target(&call, uri, &path) == 0)
		ctl_dispatch(&call);
	evhttp_clear_headers(&call.params);
	if (uri) /* evhttp_uri_free(NULL) crashes in libevent 2.1 */
		evhttp_uri_free(uri);
	free(path);
	return reply->code;
}
