#define _GNU_SOURCE
#include "table.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

enum { COL_NAME, COL_STATE, COL_PID, COL_UPTIME, COL_RESTARTS, COL_LAST_EXIT, COL_HEARTBEAT, COL_STATUS, COLS };

static const char *const headers[COLS] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT", "HEARTBEAT",
					   "STATUS" };

static void format_uptime(char *buf, size_t len, json_t *proc)
{
	double s = json_number_value(json_object_get(proc, "uptime_s"));
	long t;

	/* any number may come: keep the cast to long defined */
	if (!(s >= 0 && s < 1e12))
		s = 0;
	t = (long)s;

	if (json_is_null(json_object_get(proc, "pid")))
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

static void format_last_exit(char *buf, size_t len, json_t *proc)
{
	json_t *le = json_object_get(proc, "last_exit");
	const char *cause = json_string_value(json_object_get(le, "cause"));
	json_t *code = json_object_get(le, "code"), *sig = json_object_get(le, "signal");
	char name[16];

	if (!cause)
		snprintf(buf, len, "-");
	else if (strcmp(cause, "exit") == 0)
		snprintf(buf, len, "exit %lld", json_integer_value(code));
	else if (strcmp(cause, "signal") == 0)
		snprintf(buf, len, "signal %s", signal_name((int)json_integer_value(sig), name, sizeof(name)));
	else
		snprintf(buf, len, "%s", cause);
}

static void format_heartbeat(char *buf, size_t len, json_t *proc)
{
	json_t *hb = json_object_get(proc, "heartbeat");
	json_t *age = json_object_get(hb, "last_ping_age_s");
	double timeout = json_number_value(json_object_get(hb, "timeout_s"));

	if (!json_is_object(hb))
		snprintf(buf, len, "-");
	else if (!json_is_number(age))
		snprintf(buf, len, "waiting");
	else if (json_number_value(age) > timeout)
		snprintf(buf, len, "LATE");
	else
		snprintf(buf, len, "ok %.1fs ago", json_number_value(age));
}

static void format_row(char cells[COLS][256], json_t *proc)
{
	json_t *pid = json_object_get(proc, "pid");
	const char *status = json_string_value(json_object_get(proc, "status"));

	snprintf(cells[COL_NAME], 256, "%s", json_string_value(json_object_get(proc, "name")));
	snprintf(cells[COL_STATE], 256, "%s", json_string_value(json_object_get(proc, "state")));
	if (json_is_integer(pid))
		snprintf(cells[COL_PID], 256, "%lld", json_integer_value(pid));
	else
		snprintf(cells[COL_PID], 256, "-");
	format_uptime(cells[COL_UPTIME], 256, proc);
	snprintf(cells[COL_RESTARTS], 256, "%lld", json_integer_value(json_object_get(proc, "restarts")));
	format_last_exit(cells[COL_LAST_EXIT], 256, proc);
	format_heartbeat(cells[COL_HEARTBEAT], 256, proc);
	snprintf(cells[COL_STATUS], 256, "%s", status ? status : "");
}

void table_print(FILE *out, json_t *programs)
{
	size_t n = json_array_size(programs), width[COLS];
	char (*rows)[COLS][256] = calloc(n + 1, sizeof(*rows));

	if (!rows)
		abort();
	for (int c = 0; c < COLS; c++) {
		snprintf(rows[0][c], 256, "%s", headers[c]);
		width[c] = strlen(headers[c]);
	}
	for (size_t i = 0; i < n; i++) {
		format_row(rows[i + 1], json_array_get(programs, i));
		for (int c = 0; c < COLS; c++)
			if (strlen(rows[i + 1][c]) > width[c])
				width[c] = strlen(rows[i + 1][c]);
	}
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < COLS - 1; c++)
			fprintf(out, "%-*s  ", (int)width[c], rows[i][c]);
		fprintf(out, "%s\n", rows[i][COLS - 1]);
	}
	free(rows);
}
