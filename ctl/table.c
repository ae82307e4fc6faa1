#define _GNU_SOURCE
#include "table.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CELL_MAX 256

/* of a health check's last error in the HEALTH column; the rest is in --json */
#define HEALTH_ERROR_MAX 40

enum { COL_NAME, COL_STATE, COL_PID, COL_UPTIME, COL_CPU, COL_MEM, COL_RESTARTS, COL_LAST_EXIT, COL_HEARTBEAT,
       COL_HEALTH, COL_STATUS, COLS };

static const char *const headers[COLS] = { "NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM", "RESTARTS", "LAST-EXIT",
					   "HEARTBEAT", "HEALTH", "STATUS" };

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

/* "0.0", "12.5", "250" (past 100: several cores, no tenths); "-" when
 * vigild sent none (no process runs, or it could not be read). */
static void format_cpu(char *buf, size_t len, json_t *proc)
{
	json_t *cpu = json_object_get(proc, "cpu_percent");
	double v = json_number_value(cpu);

	if (!json_is_number(cpu) || !(v >= 0 && v < 1e9))
		snprintf(buf, len, "-");
	else if (v < 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.0f", v);
}

/* As ls -h and ps do: "812K", "12.5M", "1.2G" (a tenth below 100 of a unit); bytes below 1 KiB. */
static void format_mem(char *buf, size_t len, json_t *proc)
{
	static const char units[] = "KMGTPE";
	json_t *rss = json_object_get(proc, "rss_bytes");
	double v = (double)json_integer_value(rss);
	int unit = -1;

	if (!json_is_integer(rss) || json_integer_value(rss) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	while (v >= 1024 && unit < (int)sizeof(units) - 2) {
		v /= 1024;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, len, "%lldB", json_integer_value(rss));
	else if (v < 100)
		snprintf(buf, len, "%.1f%c", v, units[unit]);
	else
		snprintf(buf, len, "%.0f%c", v, units[unit]);
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

	/* a process that does not run waits for nothing */
	if (!json_is_object(hb) || !json_is_integer(json_object_get(proc, "pid")))
		snprintf(buf, len, "-");
	else if (!json_is_number(age))
		snprintf(buf, len, "waiting");
	else if (json_number_value(age) > timeout)
		snprintf(buf, len, "LATE");
	else
		snprintf(buf, len, "ok %.1fs ago", json_number_value(age));
}

/* An exec probe's last line may hold anything: in a table, its first
 * line, control bytes shown as '?', cut at HEALTH_ERROR_MAX bytes (not
 * inside a UTF-8 character) with "..." when there was more. */
static size_t copy_health_error(char *dst, const char *err)
{
	size_t n = 0;

	while (err[n] && err[n] != '\n' && n < HEALTH_ERROR_MAX)
		n++;
	if (err[n] && err[n] != '\n')
		while (n > 0 && ((unsigned char)err[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)err[i] < 0x20 || err[i] == 0x7f ? '?' : err[i];
	if (err[n]) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	return n;
}

/* "-" without a health_check, else its state, and why when unhealthy:
 * "unhealthy (HTTP 500)". */
static void format_health(char *buf, size_t len, json_t *proc)
{
	json_t *health = json_object_get(proc, "health");
	const char *state = json_string_value(json_object_get(health, "state"));
	const char *err = json_string_value(json_object_get(health, "last_error"));
	char why[HEALTH_ERROR_MAX + 4];

	if (!json_is_object(health))
		snprintf(buf, len, "-");
	else if (!state)
		snprintf(buf, len, "?");
	else if (strcmp(state, "unhealthy") == 0 && err && *err)
		snprintf(buf, len, "unhealthy (%.*s)", (int)copy_health_error(why, err), why);
	else
		snprintf(buf, len, "%.*s", HEALTH_ERROR_MAX, state);
}

/* Every cell's text, one after another: a row costs a few copies into
 * one buffer, not eight 256-byte arrays (2 MB at 1000 rows, most of it
 * page faults) and a printf per cell. */
struct table {
	char *text;
	size_t len, cap;
	struct cell {
		size_t off, len;
	} *cells; /* rows x COLS */
	size_t width[COLS];
};

/* A cell is cut at CELL_MAX - 1 bytes, as the 256-byte cells always did. */
static void table_add(struct table *t, size_t row, int col, const char *s)
{
	size_t n;

	s = s ? s : "";
	n = strnlen(s, CELL_MAX - 1);
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		if (!(t->text = realloc(t->text, t->cap)))
			abort();
	}
	memcpy(t->text + t->len, s, n);
	t->cells[row * COLS + col] = (struct cell){ t->len, n };
	t->len += n;
	if (n > t->width[col])
		t->width[col] = n;
}

static void table_add_row(struct table *t, size_t row, json_t *proc)
{
	json_t *pid = json_object_get(proc, "pid");
	char cell[CELL_MAX];

	table_add(t, row, COL_NAME, json_string_value(json_object_get(proc, "name")));
	table_add(t, row, COL_STATE, json_string_value(json_object_get(proc, "state")));
	if (json_is_integer(pid))
		snprintf(cell, sizeof(cell), "%lld", json_integer_value(pid));
	else
		snprintf(cell, sizeof(cell), "-");
	table_add(t, row, COL_PID, cell);
	format_uptime(cell, sizeof(cell), proc);
	table_add(t, row, COL_UPTIME, cell);
	format_cpu(cell, sizeof(cell), proc);
	table_add(t, row, COL_CPU, cell);
	format_mem(cell, sizeof(cell), proc);
	table_add(t, row, COL_MEM, cell);
	snprintf(cell, sizeof(cell), "%lld", json_integer_value(json_object_get(proc, "restarts")));
	table_add(t, row, COL_RESTARTS, cell);
	format_last_exit(cell, sizeof(cell), proc);
	table_add(t, row, COL_LAST_EXIT, cell);
	format_heartbeat(cell, sizeof(cell), proc);
	table_add(t, row, COL_HEARTBEAT, cell);
	format_health(cell, sizeof(cell), proc);
	table_add(t, row, COL_HEALTH, cell);
	table_add(t, row, COL_STATUS, json_string_value(json_object_get(proc, "status")));
}

/* The lines printf("%-*s  ", width, cell) for each column but the last,
 * then the last cell and '\n', gave: one fwrite per line instead. */
static void table_write(FILE *out, const struct table *t, size_t rows)
{
	size_t line_max = 1, pos;
	char *line;

	for (int c = 0; c < COLS; c++)
		line_max += t->width[c] + 2;
	if (!(line = malloc(line_max)))
		abort();
	for (size_t r = 0; r < rows; r++) {
		pos = 0;
		for (int c = 0; c < COLS; c++) {
			const struct cell *cell = &t->cells[r * COLS + c];
			memcpy(line + pos, t->text + cell->off, cell->len);
			pos += cell->len;
			if (c == COLS - 1)
				break;
			memset(line + pos, ' ', t->width[c] - cell->len + 2);
			pos += t->width[c] - cell->len + 2;
		}
		line[pos++] = '\n';
		fwrite(line, 1, pos, out);
	}
	free(line);
}

void table_print(FILE *out, json_t *programs)
{
	size_t n = json_array_size(programs);
	struct table t = { .cap = (n + 1) * 64 };

	t.text = malloc(t.cap);
	t.cells = malloc((n + 1) * sizeof(*t.cells) * COLS);
	if (!t.text || !t.cells)
		abort();
	for (int c = 0; c < COLS; c++)
		table_add(&t, 0, c, headers[c]);
	for (size_t i = 0; i < n; i++)
		table_add_row(&t, i + 1, json_array_get(programs, i));
	table_write(out, &t, n + 1);
	free(t.text);
	free(t.cells);
}
