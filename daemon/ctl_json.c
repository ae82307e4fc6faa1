/* A process's JSON is written straight into the reply's evbuffer. Built
 * as a jansson tree (a dozen allocations and a hash table per process)
 * and then printed, GET /v1/programs at 1000 processes spent nearly all
 * of its time allocating, hashing and freeing: here a process costs a few
 * memcpy and no allocation. The text parses to what json_dumps(JSON_COMPACT)
 * printed for the tree (tests/unit/test_ctl_json.c keeps that tree as the
 * reference) and is byte for byte the same but for the seconds (see
 * writer_seconds and writer_age). Strings that need escaping still go through jansson,
 * so its escaping rules stay the rules. */
#include "ctl_json.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "proc_stat.h"
#include "program.h"
#include "vigild.h"

/* Text from programs (STATUS=) or paths need not be UTF-8; JSON must be. */
json_t *text_or_null(const char *s)
{
	json_t *j;
	char *ascii;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	ascii = strdup(s);
	for (char *c = ascii; c && *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(ascii ? ascii : "");
	free(ascii);
	return j;
}

/* Output gathers here and goes to the evbuffer a few KB at a time: one
 * evbuffer_add per field would cost more than the formatting. */
struct json_writer {
	struct evbuffer *out;
	size_t len;
	char buf[4096];
};

static void writer_flush(struct json_writer *w)
{
	evbuffer_add(w->out, w->buf, w->len);
	w->len = 0;
}

static void writer_put(struct json_writer *w, const char *s, size_t n)
{
	if (n > sizeof(w->buf) - w->len) {
		writer_flush(w);
		if (n > sizeof(w->buf)) {
			evbuffer_add(w->out, s, n);
			return;
		}
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

#define writer_lit(w, lit) writer_put((w), (lit), sizeof(lit) - 1)

static void writer_int(struct json_writer *w, long long v)
{
	char digits[24], *end = digits + sizeof(digits), *d = end;
	/* in unsigned arithmetic, so LLONG_MIN has a magnitude too */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--d = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--d = '-';
	writer_put(w, d, (size_t)(end - d));
}

/* As jansson prints a real (jsonp_dtostr): %.17g, and ".0" when that
 * reads as an integer. Only seconds past 2^53 usec come here, 9e9 to
 * 9.3e12: %.17g writes those without an exponent. */
static void writer_real(struct json_writer *w, double v)
{
	char text[40];
	int n = snprintf(text, sizeof(text) - 2, "%.17g", v);
	size_t len = n > 0 ? (size_t)n : 0;

	if (!strchr(text, '.') && !strchr(text, 'e')) {
		memcpy(text + len, ".0", 3);
		len += 2;
	}
	writer_put(w, text, len);
}

/* usec as seconds, written as the exact decimal usec / 10^6 ("12.5",
 * "0.000001"), not as jansson's %.17g of (double)usec / 10^6
 * ("12.5", "9.9999999999999995e-7"), yet read back as the very same
 * double: below 2^53 both usec and 10^6 are exact doubles, IEEE division
 * rounds the exact quotient to the nearest double and strtod rounds the
 * exact decimal to the nearest double. Shorter to send and parse, and
 * no printf. Past 2^53 usec (285 years), %.17g. */
static void writer_seconds(struct json_writer *w, int64_t usec)
{
	const int64_t exact = INT64_C(1) << 53;
	char frac[8];
	int64_t f;
	size_t n = 6;

	if (usec > exact || usec < -exact) {
		writer_real(w, (double)usec / USEC_PER_SEC);
		return;
	}
	if (usec < 0)
		writer_lit(w, "-");
	writer_int(w, (usec < 0 ? -usec : usec) / USEC_PER_SEC);
	f = (usec < 0 ? -usec : usec) % USEC_PER_SEC;
	frac[0] = '.';
	for (size_t i = 6; i > 0; i--, f /= 10)
		frac[i] = (char)('0' + f % 10);
	while (n > 1 && frac[n] == '0') /* "12.5", "3.0": a '.' keeps it a real */
		n--;
	writer_put(w, frac, n + 1);
}

/* A measured time (an uptime, the age of a ping or check) to the
 * millisecond: "4.621", not the microseconds of the moment the request
 * came. Configured durations keep theirs (writer_seconds). */
static void writer_age(struct json_writer *w, int64_t usec)
{
	const int64_t half = USEC_PER_SEC / 2000;

	if (usec >= 0 && usec <= INT64_MAX - half)
		usec = (usec + half) / 1000 * 1000;
	else if (usec < 0 && usec >= INT64_MIN + half)
		usec = (usec - half) / 1000 * 1000;
	writer_seconds(w, usec);
}

/* Printable ASCII but '"' and '\\' needs no escaping: the usual case,
 * written as it is. Anything else (control bytes, UTF-8, bytes that are
 * not UTF-8) is escaped and cleaned by jansson, as before. */
static void writer_text(struct json_writer *w, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	json_t *j;
	char *text;

	if (!s) {
		writer_lit(w, "null");
		return;
	}
	while (*c >= 0x20 && *c < 0x80 && *c != '"' && *c != '\\')
		c++;
	if (!*c) {
		writer_lit(w, "\"");
		writer_put(w, s, (size_t)((const char *)c - s));
		writer_lit(w, "\"");
		return;
	}
	j = text_or_null(s);
	text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	if (text)
		writer_put(w, text, strlen(text));
	else
		writer_lit(w, "null");
	free(text);
	json_decref(j);
}

static void writer_last_exit(struct json_writer *w, const struct last_exit *le)
{
	if (!le->set) {
		writer_lit(w, "null");
		return;
	}
	writer_lit(w, "{\"cause\":");
	writer_text(w, exit_cause_name(le->cause));
	writer_lit(w, ",\"code\":");
	if (le->code >= 0)
		writer_int(w, le->code);
	else
		writer_lit(w, "null");
	writer_lit(w, ",\"signal\":");
	if (le->signo)
		writer_int(w, le->signo);
	else
		writer_lit(w, "null");
	writer_lit(w, "}");
}

static void writer_heartbeat(struct json_writer *w, const struct proc *p, int64_t now)
{
	int64_t timeout = p->pid ? p->hb.timeout : p->cfg->heartbeat_timeout;

	if (timeout == 0) {
		writer_lit(w, "null");
		return;
	}
	writer_lit(w, "{\"timeout_s\":");
	writer_seconds(w, timeout);
	writer_lit(w, ",\"last_ping_age_s\":");
	if (p->pid && p->hb.last_ping)
		writer_age(w, now - p->hb.last_ping);
	else
		writer_lit(w, "null");
	writer_lit(w, "}");
}

/* The condition is the one the lead's binding resolved when there is one
 * (a plain requirement on a oneshot means "completed"), else as written. */
static void writer_requires(struct json_writer *w, const struct proc *p)
{
	const struct program_config *pc = p->cfg;
	bool bound = p->reqs && p->nreqs == pc->nrequires;

	writer_lit(w, "[");
	for (size_t i = 0; i < pc->nrequires; i++) {
		enum requirement_condition condition = bound ? p->reqs[i].condition : pc->requires[i].condition;
		if (i)
			writer_lit(w, ",");
		writer_lit(w, "{\"name\":");
		writer_text(w, pc->requires[i].name);
		writer_lit(w, ",\"condition\":");
		writer_text(w, requirement_condition_name(condition));
		writer_lit(w, "}");
	}
	writer_lit(w, "]");
}

static void writer_health(struct json_writer *w, const struct health *h, int64_t now)
{
	if (!h->configured) {
		writer_lit(w, "null");
		return;
	}
	writer_lit(w, "{\"state\":");
	writer_text(w, health_state_name(h->state));
	writer_lit(w, ",\"failures\":");
	writer_int(w, h->failures);
	writer_lit(w, ",\"last_check_age_s\":");
	if (h->last_check)
		writer_age(w, now - h->last_check);
	else
		writer_lit(w, "null");
	writer_lit(w, ",\"last_error\":");
	writer_text(w, h->last_error); /* an exec probe's output: anything */
	writer_lit(w, "}");
}

static void writer_bool(struct json_writer *w, bool v)
{
	if (v)
		writer_lit(w, "true");
	else
		writer_lit(w, "false");
}

/* To a tenth of a percent, as the exact decimal ("12.3"), which reads
 * back as the double nearest tenths / 10, as writer_seconds does. */
static void writer_percent(struct json_writer *w, double percent)
{
	long long tenths = percent < 1e15 ? (long long)(percent * 10 + 0.5) : (long long)1e16;
	char frac[2] = { '.', (char)('0' + tenths % 10) };

	writer_int(w, tenths / 10);
	writer_put(w, frac, 2);
}

static void writer_usage(struct json_writer *w, const struct proc_usage *u)
{
	writer_lit(w, ",\"cpu_percent\":");
	if (u->cpu_known)
		writer_percent(w, u->cpu_percent);
	else
		writer_lit(w, "null");
	writer_lit(w, ",\"rss_bytes\":");
	if (u->rss_known)
		writer_int(w, (long long)u->rss_bytes);
	else
		writer_lit(w, "null");
}

/* The fields in the order of DESIGN.md's "ctl protocol", then type and
 * completed (which vigilctl needs to judge a oneshot). */
static void writer_proc(struct json_writer *w, const struct proc *p, const struct proc_usage *u, int64_t now)
{
	const struct program_config *pc = p->cfg;

	writer_lit(w, "{\"name\":");
	writer_text(w, p->name);
	writer_lit(w, ",\"program\":");
	writer_text(w, pc->name);
	writer_lit(w, ",\"instance\":");
	writer_int(w, p->instance);
	writer_lit(w, ",\"state\":");
	writer_text(w, state_name(p->state));
	writer_lit(w, ",\"pid\":");
	if (p->pid)
		writer_int(w, p->pid);
	else
		writer_lit(w, "null");
	writer_lit(w, ",\"uptime_s\":");
	writer_age(w, p->pid ? now - p->started_at : 0);
	writer_lit(w, ",\"restarts\":");
	writer_int(w, p->restarts);
	writer_lit(w, ",\"last_exit\":");
	writer_last_exit(w, &p->last_exit);
	writer_lit(w, ",\"heartbeat\":");
	writer_heartbeat(w, p, now);
	writer_lit(w, ",\"status\":");
	writer_text(w, p->status_text);
	writer_lit(w, ",\"daemon\":");
	writer_bool(w, pc->daemon);
	writer_lit(w, ",\"bind_to\":");
	writer_text(w, pc->bind_to);
	writer_lit(w, ",\"requires\":");
	writer_requires(w, p);
	writer_lit(w, ",\"health\":");
	writer_health(w, &p->health, now);
	writer_usage(w, u);
	writer_lit(w, ",\"type\":");
	writer_text(w, program_type_name(pc->type));
	writer_lit(w, ",\"completed\":");
	writer_bool(w, p->completed);
	writer_lit(w, ",\"output_lost_bytes\":");
	/* as json_int_t, as before: a count past 2^63 would print negative */
	writer_int(w, (long long)p->output.lost_bytes);
	writer_lit(w, "}");
}

void proc_write_json(struct evbuffer *out, const struct proc *p, int64_t now)
{
	struct json_writer w = { .out = out };
	struct proc_stat_batch batch;
	struct proc_usage usage;

	proc_stat_batch_begin(&batch);
	proc_stat_sample(&batch, p, now, true, &usage);
	proc_stat_batch_end(&batch, false);
	writer_proc(&w, p, &usage, now);
	writer_flush(&w);
}

void procs_write_json(struct evbuffer *out, struct proc *const *procs, size_t n, int64_t now)
{
	struct json_writer w = { .out = out };
	struct proc_stat_batch batch;
	struct proc_usage usage;

	proc_stat_batch_begin(&batch);
	writer_lit(&w, "{\"programs\": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			writer_lit(&w, ", ");
		proc_stat_sample(&batch, procs[i], now, true, &usage);
		writer_proc(&w, procs[i], &usage, now);
	}
	writer_lit(&w, "]}\n");
	writer_flush(&w);
	/* the whole list: a sample of a pid it did not name is of a process gone */
	proc_stat_batch_end(&batch, procs == vigil.procs && n == vigil.nprocs);
}
