/* vigilctl status: the table, --json, --names (for shell completion)
 * and --watch (cmd_watch.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "table.h"
#include "vigilctl.h"

int status_watch(struct ctl *c);

/* The processes status is about: all, the one NAME (one request for it
 * alone), or those several names name, each once, after checking every
 * name (one request). NULL with *rc set after saying why. */
json_t *status_fetch(const struct ctl *c, int *rc)
{
	json_t *all, *out, *p;
	size_t i;

	if (c->nargs <= 1)
		return ctl_fetch_procs(c, c->nargs ? c->args[0] : NULL, rc);
	if ((*rc = ctl_check_names(c, c->args, c->nargs, &all)) != EXIT_OK)
		return NULL;
	out = json_array();
	json_array_foreach(all, i, p)
		for (int k = 0; k < c->nargs; k++)
			if (ctl_names_process(c->args[k], p)) {
				json_array_append(out, p);
				break;
			}
	json_decref(all);
	return out;
}

/* Exit 3 when a named process is not RUNNING (or unhealthy). */
static int status_verdict(const struct ctl *c, json_t *procs)
{
	size_t i;
	json_t *p;

	if (c->nargs)
		json_array_foreach(procs, i, p)
			if (!reply_is_fine(p))
				return EXIT_NOT_RUNNING;
	return EXIT_OK;
}

/* One name a line: each process, and before the instances of a program
 * with several its program name, which names them all. */
static void print_names(json_t *procs)
{
	const char *last_program = NULL;
	size_t i;
	json_t *p;

	json_array_foreach(procs, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *program = json_string_value(json_object_get(p, "program"));
		if (program && strcmp(program, name) != 0 && (!last_program || strcmp(program, last_program) != 0))
			printf("%s\n", program);
		last_program = program;
		printf("%s\n", name);
	}
}

int cmd_status(struct ctl *c)
{
	json_t *procs;
	int rc;

	if (c->watch)
		return status_watch(c);
	if (!(procs = status_fetch(c, &rc)))
		return rc;
	rc = status_verdict(c, procs);
	if (c->names) {
		print_names(procs);
	} else if (c->json) {
		json_t *doc = json_pack("{s:O}", "programs", procs);
		ctl_print_json(doc);
		json_decref(doc);
	} else {
		table_print(stdout, procs);
	}
	json_decref(procs);
	return rc;
}
