/* vigilctl events [NAME...] [-f] [--json]: vigild's recent events (GET
 * /v1/events), one readable line each, in local time:
 *   2024-12-01 20:47:14.123  web:0  RUNNING -> BACKOFF  exit code 1
 *   2024-12-01 20:47:15.001  db     health healthy -> unhealthy  HTTP 500
 * NAME (a program, prog:N or all) keeps the events of those processes,
 * and the reloads that added, removed or changed one of them; the
 * filtering is done here, so vigild serves every follower the same
 * lines. A {"event":"lost"} line is always shown: it says events are
 * missing. --json prints vigild's lines as they came. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigilctl.h"

struct events_out {
	const struct ctl *c;
	int width; /* of the name column */
};

/* Whether an event's process (or, for a reload, one of the programs it
 * touched) is one the command line names; true without names. */
static bool event_wanted(const struct ctl *c, json_t *ev)
{
	static const char *const lists[] = { "added", "removed", "changed" };
	json_t *who = json_pack("{s:O?, s:O?}", "name", json_object_get(ev, "name"), "program",
				json_object_get(ev, "program"));
	bool wanted = c->nargs == 0;

	for (int i = 0; i < c->nargs && !wanted; i++) {
		if (json_is_string(json_object_get(who, "name")))
			wanted = ctl_names_process(c->args[i], who);
		for (size_t l = 0; l < 3 && !wanted && !json_is_string(json_object_get(who, "name")); l++) {
			size_t k;
			json_t *name;
			json_array_foreach(json_object_get(ev, lists[l]), k, name)
				wanted |= json_is_string(name) && (strcmp(c->args[i], "all") == 0 ||
								   strcmp(json_string_value(name), c->args[i]) == 0);
		}
	}
	json_decref(who);
	return wanted;
}

static void format_time(json_t *ev, char *buf, size_t len)
{
	double t = json_number_value(json_object_get(ev, "time"));
	time_t secs = (time_t)t;
	struct tm tm;
	size_t n;

	if (!localtime_r(&secs, &tm) || !(n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))) {
		snprintf(buf, len, "%.3f", t);
		return;
	}
	snprintf(buf + n, len - n, ".%03d", (int)((t - (double)secs) * 1000 + 0.5) % 1000);
}

/* What ended the process, as `status` says it. */
static void format_exit(json_t *le, char *buf, size_t len)
{
	const char *cause = json_string_value(json_object_get(le, "cause"));
	json_t *code = json_object_get(le, "code"), *sig = json_object_get(le, "signal");
	const char *signame = json_is_integer(sig) ? sigabbrev_np((int)json_integer_value(sig)) : NULL;

	buf[0] = '\0';
	if (!cause)
		return;
	if (strcmp(cause, "exit") == 0 && json_is_integer(code))
		snprintf(buf, len, "exit code %lld", json_integer_value(code));
	else if (strcmp(cause, "signal") == 0 && json_is_integer(sig))
		snprintf(buf, len, "killed by SIG%s", signame ? signame : "?");
	else if (strcmp(cause, "heartbeat") == 0)
		snprintf(buf, len, "heartbeat lost");
	else if (strcmp(cause, "ready_timeout") == 0)
		snprintf(buf, len, "no READY=1 in time");
	else if (strcmp(cause, "health") == 0)
		snprintf(buf, len, "unhealthy");
	else if (strcmp(cause, "dependency") == 0)
		snprintf(buf, len, "a requirement failed");
	else
		snprintf(buf, len, "%s", cause);
}

/* A state change says why when a process ended, or it gave up. */
static void describe_state(json_t *ev, char *buf, size_t len)
{
	const char *from = json_string_value(json_object_get(ev, "from"));
	const char *to = json_string_value(json_object_get(ev, "to"));
	bool was_alive = from && (!strcmp(from, "STARTING") || !strcmp(from, "RUNNING") || !strcmp(from, "STOPPING"));
	bool ended = to && strcmp(to, "RUNNING") != 0 && strcmp(to, "STOPPING") != 0;
	char why[128] = "";

	if ((was_alive && ended) || (to && strcmp(to, "FATAL") == 0))
		format_exit(json_object_get(ev, "last_exit"), why, sizeof(why));
	snprintf(buf, len, "%s -> %s%s%s", from ? from : "?", to ? to : "?", *why ? "  " : "", why);
}

static void describe_list(json_t *ev, const char *key, char *buf, size_t len)
{
	json_t *list = json_object_get(ev, key), *name;
	size_t n = strlen(buf), k;

	if (!json_array_size(list))
		return;
	n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s:", n ? "; " : "", key);
	json_array_foreach(list, k, name)
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, " %s", json_string_value(name) ? json_string_value(name) : "?");
}

static const char *text_of(json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(ev, key));

	return s ? s : "?";
}

static void describe_event(json_t *ev, char *buf, size_t len)
{
	const char *kind = json_string_value(json_object_get(ev, "event"));
	const char *error = json_string_value(json_object_get(ev, "last_error"));

	buf[0] = '\0';
	if (!kind) {
		snprintf(buf, len, "?");
	} else if (strcmp(kind, "state") == 0) {
		describe_state(ev, buf, len);
	} else if (strcmp(kind, "health") == 0) {
		snprintf(buf, len, "health %s -> %s%s%s", text_of(ev, "from"), text_of(ev, "to"), error ? "  " : "",
			 error ? error : "");
	} else if (strcmp(kind, "heartbeat") == 0) {
		snprintf(buf, len, "heartbeat lost: no ping for %gs", json_number_value(json_object_get(ev, "timeout_s")));
	} else if (strcmp(kind, "reload") == 0) {
		describe_list(ev, "added", buf, len);
		describe_list(ev, "removed", buf, len);
		describe_list(ev, "changed", buf, len);
		if (!buf[0])
			snprintf(buf, len, "nothing changed");
	} else {
		snprintf(buf, len, "%s", kind);
	}
}

static void print_event(struct events_out *o, const char *text, size_t len)
{
	json_t *ev = json_loadb(text, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(ev, "event"));
	const char *name = json_string_value(json_object_get(ev, "name"));
	char when[64], what[1024];

	if (!ev)
		return;
	if (kind && strcmp(kind, "lost") == 0) {
		if (o->c->json)
			printf("%.*s\n", (int)len, text);
		else
			printf("[vigil: %lld events lost: this reader fell behind]\n",
			       json_integer_value(json_object_get(ev, "count")));
	} else if (event_wanted(o->c, ev)) {
		if (o->c->json) {
			printf("%.*s\n", (int)len, text);
		} else {
			format_time(ev, when, sizeof(when));
			describe_event(ev, what, sizeof(what));
			printf("%s  %-*s  %s\n", when, o->width, name ? name : "(reload)", what);
		}
	}
	json_decref(ev);
}

static void on_line(void *arg, const char *text, size_t len, bool tagged)
{
	struct events_out *o = arg;

	(void)tagged;
	print_event(o, text, len);
	if (o->c->follow)
		fflush(stdout);
}

/* The names are checked (an unknown one is exit 1), and the name column
 * fits every process vigild has. */
static int events_prepare(struct events_out *o)
{
	json_t *procs = NULL, *p;
	size_t i;
	int rc = o->c->nargs ? ctl_check_names(o->c, o->c->args, o->c->nargs, &procs) : EXIT_OK;

	if (rc != EXIT_OK)
		return rc;
	if (!procs && !(procs = ctl_fetch_procs(o->c, NULL, &rc)))
		return rc;
	o->width = (int)strlen("(reload)");
	json_array_foreach(procs, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		if (name && (int)strlen(name) > o->width)
			o->width = (int)strlen(name);
	}
	json_decref(procs);
	return EXIT_OK;
}

int cmd_events(struct ctl *c)
{
	struct events_out o = { .c = c };
	struct ctl_reply r;
	int rc;

	if ((rc = events_prepare(&o)) != EXIT_OK)
		return rc;
	if ((rc = ctl_stream_request(c, c->follow ? "/v1/events?follow=1" : "/v1/events", on_line, &o, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: events: %s\n", ctl_reply_error(&r));
		ctl_reply_free(&r);
		return EXIT_FAILED;
	}
	ctl_reply_free(&r);
	return EXIT_OK;
}
