/* The requests every vigilctl command makes, and how their failures are
 * told: one message on stderr, one exit code. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"
#include "vigilctl.h"

int64_t ctl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

bool ctl_use_colour(int fd)
{
	const char *no_colour = getenv("NO_COLOR");

	return (!no_colour || !*no_colour) && isatty(fd);
}

int ctl_request(const struct ctl *c, const char *method, const char *path, struct ctl_reply *reply)
{
	char err[1024];

	if (ctl_call(c->socket, method, path, reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return EXIT_UNREACHABLE;
	}
	if (reply->status == 403) { /* refused at accept: cannot reach it either */
		ctl_permission_message(c->socket, err, sizeof(err));
		fprintf(stderr, "vigilctl: %s (vigild says: %s)\n", err, ctl_reply_error(reply));
		ctl_reply_free(reply);
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

/* 403 or unreachable: the message, and exit 4 */
int ctl_stream_request(const struct ctl *c, const char *path, ctl_line_fn *on_line, void *arg,
		       struct ctl_reply *reply)
{
	char err[1024];

	if (ctl_stream(c->socket, path, on_line, arg, reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return EXIT_UNREACHABLE;
	}
	if (reply->status == 403) {
		ctl_permission_message(c->socket, err, sizeof(err));
		fprintf(stderr, "vigilctl: %s\n", err);
		ctl_reply_free(reply);
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

json_t *ctl_fetch_procs(const struct ctl *c, const char *name, int *rc)
{
	struct ctl_reply r;
	char path[512];
	json_t *out;

	snprintf(path, sizeof(path), "/v1/programs%s%s", name ? "/" : "", name ? name : "");
	if ((*rc = ctl_request(c, "GET", path, &r)) != EXIT_OK)
		return NULL;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: %s\n", ctl_reply_error(&r));
		*rc = EXIT_FAILED;
		ctl_reply_free(&r);
		return NULL;
	}
	out = reply_processes(r.json);
	if (!out) {
		fprintf(stderr, "vigilctl: unexpected reply from vigild\n");
		*rc = EXIT_FAILED;
	}
	ctl_reply_free(&r);
	return out;
}

bool ctl_names_process(const char *name, json_t *p)
{
	const char *program = json_string_value(json_object_get(p, "program"));

	return strcmp(name, "all") == 0 || strcmp(json_string_value(json_object_get(p, "name")), name) == 0 ||
	       (program && strcmp(program, name) == 0);
}

int ctl_check_names(const struct ctl *c, char **names, int n, json_t **procs_out)
{
	int rc, unknown = 0;
	json_t *procs = ctl_fetch_procs(c, NULL, &rc);

	if (!procs)
		return rc;
	for (int i = 0; i < n; i++) {
		size_t k;
		json_t *p;
		bool found = false;
		json_array_foreach(procs, k, p)
			if ((found = ctl_names_process(names[i], p)))
				break;
		if (!found && !unknown++)
			fprintf(stderr, "vigilctl: no such program: %s", names[i]);
		else if (!found)
			fprintf(stderr, ", %s", names[i]);
	}
	if (unknown) {
		fprintf(stderr, "; nothing was done (see 'vigilctl status' for the names)\n");
		json_decref(procs);
		return EXIT_FAILED;
	}
	if (procs_out)
		*procs_out = procs;
	else
		json_decref(procs);
	return EXIT_OK;
}

void ctl_print_json(json_t *doc)
{
	/* into memory, then one write: json_dumpf makes a stdio call per
	 * token, tens of thousands at 1000 programs. Precision 15: vigild
	 * sends seconds to the millisecond ("4.621"), which %.17g would
	 * print as 4.6210000000000004. */
	size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(15);
	char *text = json_dumps(doc, flags);

	if (text)
		fputs(text, stdout);
	else
		json_dumpf(doc, stdout, flags);
	fputc('\n', stdout);
	free(text);
}
