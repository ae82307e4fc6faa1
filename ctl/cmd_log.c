/* vigilctl log NAME... [-f] [-n N] [--stderr] [--json]: one process's
 * output as it was written; several processes' (all, a program with
 * instances, several names) interleaved as vigild got them, each line
 * after its process's name, like `docker compose logs`:
 *   web:0 | listening on :8080
 *   db    | ready
 * vigild sends a one-process log as plain text and anything else as
 * JSON lines {"name","stream","line"}; --json always prints JSON lines. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigilctl.h"

struct log_out {
	const struct ctl *c;
	const char *stream;
	size_t width; /* of the name column */
	bool colour;
};

static const char *name_colour(const char *name)
{
	static const char *const colours[] = { "\033[36m", "\033[33m", "\033[32m", "\033[35m", "\033[34m", "\033[31m" };
	unsigned h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return colours[h % (sizeof(colours) / sizeof(colours[0]))];
}

static void print_tagged(struct log_out *o, const char *text, size_t len)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	const char *name = json_string_value(json_object_get(doc, "name"));
	const char *line = json_string_value(json_object_get(doc, "line"));

	if (o->c->json)
		printf("%.*s\n", (int)len, text);
	else if (json_is_integer(json_object_get(doc, "skipped")))
		printf("[vigil: %lld lines skipped, reader too slow]\n",
		       json_integer_value(json_object_get(doc, "skipped")));
	else if (name && line)
		printf("%s%-*s |%s %s\n", o->colour ? name_colour(name) : "", (int)o->width, name,
		       o->colour ? "\033[0m" : "", line);
	json_decref(doc);
}

/* A plain line under --json becomes the JSON line vigild would send. */
static void print_plain(struct log_out *o, const char *text, size_t len)
{
	json_t *doc;

	if (!o->c->json) {
		fwrite(text, 1, len, stdout);
		fputc('\n', stdout);
		return;
	}
	doc = json_pack("{s:s, s:s, s:s%}", "name", o->c->args[0], "stream", o->stream, "line", text, len);
	if (!doc) /* not UTF-8: as vigild shows such bytes */
		doc = json_pack("{s:s, s:s, s:s}", "name", o->c->args[0], "stream", o->stream, "line", "?");
	char *s = json_dumps(doc, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(doc);
}

static void on_line(void *arg, const char *text, size_t len, bool tagged)
{
	struct log_out *o = arg;

	if (tagged)
		print_tagged(o, text, len);
	else
		print_plain(o, text, len);
	if (o->c->follow)
		fflush(stdout);
}

/* The name column fits every process the names name: one request. */
static int name_width(const struct ctl *c, size_t *width)
{
	json_t *procs, *p;
	size_t i;
	int rc = ctl_check_names(c, c->args, c->nargs, &procs);

	if (rc != EXIT_OK)
		return rc;
	json_array_foreach(procs, i, p)
		for (int k = 0; k < c->nargs; k++)
			if (ctl_names_process(c->args[k], p)) {
				size_t len = strlen(json_string_value(json_object_get(p, "name")));
				*width = len > *width ? len : *width;
				break;
			}
	json_decref(procs);
	return EXIT_OK;
}

/* The names joined by commas: vigild takes "web,db:1" as both. */
static void log_path(const struct ctl *c, char *path, size_t len)
{
	size_t n = (size_t)snprintf(path, len, "/v1/programs/");

	for (int i = 0; i < c->nargs && n < len; i++)
		n += (size_t)snprintf(path + n, len - n, "%s%s", i ? "," : "", c->args[i]);
	if (n < len)
		snprintf(path + n, len - n, "/log?stream=%s&lines=%ld%s", c->use_stderr ? "stderr" : "stdout", c->lines,
			 c->follow ? "&follow=1" : "");
}

static int log_failed(const struct ctl *c, struct ctl_reply *r)
{
	fprintf(stderr, "vigilctl: log %s%s: %s\n", c->args[0], c->nargs > 1 ? " ..." : "", ctl_reply_error(r));
	ctl_reply_free(r);
	return EXIT_FAILED;
}

int cmd_log(struct ctl *c)
{
	struct log_out o = { .c = c, .stream = c->use_stderr ? "stderr" : "stdout" };
	struct ctl_reply r;
	char path[4096];
	int rc;

	o.colour = !c->json && ctl_use_colour(STDOUT_FILENO);
	log_path(c, path, sizeof(path));
	if (strlen(path) >= sizeof(path) - 1)
		return fprintf(stderr, "vigilctl: log: too many names\n"), EXIT_USAGE;
	if (c->follow) {
		if (!c->json && (rc = name_width(c, &o.width)) != EXIT_OK)
			return rc;
		if ((rc = ctl_stream_request(c, path, on_line, &o, &r)) != EXIT_OK)
			return rc;
		if (r.status != 200)
			return log_failed(c, &r);
		ctl_reply_free(&r);
		return EXIT_OK;
	}
	if ((rc = ctl_request(c, "GET", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200)
		return log_failed(c, &r);
	for (int pass = r.tagged ? 0 : 1; pass < 2; pass++) /* a tagged log: widths first */
		for (char *line = r.body, *nl; *line; line = nl + 1) {
			size_t len = (nl = strchr(line, '\n')) ? (size_t)(nl - line) : strlen(line);
			json_t *doc = pass ? NULL : json_loadb(line, len, 0, NULL);
			const char *name = json_string_value(json_object_get(doc, "name"));
			if (pass)
				on_line(&o, line, len, r.tagged);
			else if (name && strlen(name) > o.width)
				o.width = strlen(name);
			json_decref(doc);
			if (!nl)
				break;
		}
	ctl_reply_free(&r);
	return EXIT_OK;
}
