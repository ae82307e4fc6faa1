/* Collected config errors; see config_report.h. */
#define _GNU_SOURCE
#include "config_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config_report_error {
	size_t file; /* index in files */
	int line;
	size_t seq; /* order found: keeps qsort stable */
	char *text;
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static size_t file_index(struct config_report *r, const char *file)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i], file) == 0)
			return i;
	r->files = realloc(r->files, (r->nfiles + 1) * sizeof(*r->files));
	if (!r->files)
		abort();
	r->files[r->nfiles] = xstrdup(file);
	return r->nfiles++;
}

void config_report_file(struct config_report *r, const char *file)
{
	file_index(r, file);
}

void config_report_vadd(struct config_report *r, const char *file, int line, const char *fmt, va_list ap)
{
	struct config_report_error *e;
	char *msg, *text;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if ((line > 0 ? asprintf(&text, "%s:%d: %s", file, line, msg) : asprintf(&text, "%s: %s", file, msg)) < 0)
		abort();
	free(msg);
	if (r->nerrors == r->errors_cap) {
		r->errors_cap = r->errors_cap ? 2 * r->errors_cap : 16;
		r->errors = realloc(r->errors, r->errors_cap * sizeof(*r->errors));
		if (!r->errors)
			abort();
	}
	e = &r->errors[r->nerrors];
	*e = (struct config_report_error){ file_index(r, file), line, r->nerrors, text };
	r->nerrors++;
}

void config_report_add(struct config_report *r, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_report_vadd(r, file, line, fmt, ap);
	va_end(ap);
}

void config_report_unread(struct config_report *r, const char *program)
{
	if (config_report_is_unread(r, program))
		return;
	r->unread = realloc(r->unread, (r->nunread + 1) * sizeof(*r->unread));
	if (!r->unread)
		abort();
	r->unread[r->nunread++] = xstrdup(program);
}

bool config_report_is_unread(const struct config_report *r, const char *program)
{
	for (size_t i = 0; i < r->nunread; i++)
		if (strcmp(r->unread[i], program) == 0)
			return true;
	return false;
}

static int error_order(const void *a, const void *b)
{
	const struct config_report_error *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

char *config_report_text(struct config_report *r)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		abort();
	if (r->nerrors)
		qsort(r->errors, r->nerrors, sizeof(*r->errors), error_order);
	for (size_t i = 0; i < r->nerrors; i++)
		fprintf(out, "%s\n", r->errors[i].text);
	if (fclose(out) != 0 || !text)
		abort();
	return text;
}

void config_report_free(struct config_report *r)
{
	for (size_t i = 0; i < r->nerrors; i++)
		free(r->errors[i].text);
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	for (size_t i = 0; i < r->nunread; i++)
		free(r->unread[i]);
	free(r->errors);
	free(r->files);
	free(r->unread);
	*r = (struct config_report){ 0 };
}
