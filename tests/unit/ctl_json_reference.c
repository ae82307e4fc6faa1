/* See ctl_json_reference.h. */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ctl_json.h"
#include "parse.h"
#include "proc_stat.h"
#include "program.h"

#include "ctl_json_reference.h"


/* ---- the reference: the json_pack encoding as it was */

static json_t *reference_seconds(int64_t usec)
{
	return json_real((double)usec / USEC_PER_SEC);
}

/* A measured time is sent to the millisecond (half away from zero). */
static int64_t round_to_ms(int64_t usec)
{
	if (usec >= 0 && usec <= INT64_MAX - 500)
		return (usec + 500) / 1000 * 1000;
	if (usec < 0 && usec >= INT64_MIN + 500)
		return (usec - 500) / 1000 * 1000;
	return usec;
}

static json_t *reference_age(int64_t usec)
{
	return reference_seconds(round_to_ms(usec));
}

static json_t *reference_last_exit(const struct last_exit *le)
{
	if (!le->set)
		return json_null();
	return json_pack("{s:s, s:o, s:o}", "cause", exit_cause_name(le->cause), "code",
			 le->code >= 0 ? json_integer(le->code) : json_null(), "signal",
			 le->signo ? json_integer(le->signo) : json_null());
}

static json_t *reference_heartbeat(const struct proc *p, int64_t now)
{
	int64_t timeout = p->pid ? p->hb.timeout : p->cfg->heartbeat_timeout;

	if (timeout == 0)
		return json_null();
	return json_pack("{s:o, s:o}", "timeout_s", reference_seconds(timeout), "last_ping_age_s",
			 p->pid && p->hb.last_ping ? reference_age(now - p->hb.last_ping) : json_null());
}

static json_t *reference_requires(const struct proc *p)
{
	const struct program_config *pc = p->cfg;
	json_t *list = json_array();

	for (size_t i = 0; i < pc->nrequires; i++) {
		enum requirement_condition c = p->reqs && p->nreqs == pc->nrequires ? p->reqs[i].condition
										: pc->requires[i].condition;
		json_array_append_new(list, json_pack("{s:o, s:s}", "name", text_or_null(pc->requires[i].name),
						      "condition", requirement_condition_name(c)));
	}
	return list;
}

static json_t *reference_health(const struct health *h, int64_t now)
{
	if (!h->configured)
		return json_null();
	return json_pack("{s:s, s:i, s:o, s:o}", "state", health_state_name(h->state), "failures", h->failures,
			 "last_check_age_s", h->last_check ? reference_age(now - h->last_check) : json_null(),
			 "last_error", text_or_null(h->last_error));
}

/* To the tenth, as a real */
static json_t *reference_percent(const struct proc_usage *u)
{
	return u->cpu_known ? json_real((double)(long long)(u->cpu_percent * 10 + 0.5) / 10) : json_null();
}

json_t *reference_proc(const struct proc *p, int64_t now)
{
	const struct program_config *pc = p->cfg;
	struct proc_stat_batch batch;
	struct proc_usage u;

	proc_stat_batch_begin(&batch);
	proc_stat_sample(&batch, p, now, true, &u);
	proc_stat_batch_end(&batch, false);
	return json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:s, s:b, s:I}",
			 "name", p->name,
			 "program", pc->name,
			 "instance", p->instance,
			 "state", state_name(p->state),
			 "pid", p->pid ? json_integer(p->pid) : json_null(),
			 "uptime_s", reference_age(p->pid ? now - p->started_at : 0),
			 "restarts", (json_int_t)p->restarts,
			 "last_exit", reference_last_exit(&p->last_exit),
			 "heartbeat", reference_heartbeat(p, now),
			 "status", text_or_null(p->status_text),
			 "daemon", pc->daemon,
			 "bind_to", pc->bind_to ? json_string(pc->bind_to) : json_null(),
			 "requires", reference_requires(p),
			 "health", reference_health(&p->health, now),
			 "cpu_percent", reference_percent(&u),
			 "rss_bytes", u.rss_known ? json_integer((json_int_t)u.rss_bytes) : json_null(),
			 "type", program_type_name(pc->type),
			 "completed", p->completed,
			 "output_lost_bytes", (json_int_t)p->output.lost_bytes);
}

/* ---- helpers */


void fixture_init(struct fixture *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->pc.name = (char *)name;
	f->p.cfg = &f->pc;
	snprintf(f->p.name, sizeof(f->p.name), "%s", name);
	f->p.state = STATE_STOPPED;
}

/* The evbuffer's text, NUL-terminated; the caller frees it. */
char *buffer_text(struct evbuffer *buf)
{
	size_t len = evbuffer_get_length(buf);
	char *text = malloc(len + 1);

	assert_non_null(text);
	assert_int_equal(evbuffer_remove(buf, text, len), (int)len);
	text[len] = '\0';
	return text;
}

char *writer_text_of(const struct proc *p, int64_t now)
{
	struct evbuffer *buf = evbuffer_new();
	char *text;

	assert_non_null(buf);
	proc_write_json(buf, p, now);
	text = buffer_text(buf);
	evbuffer_free(buf);
	return text;
}

/* text must parse to what reference is, key order and types included. */
void assert_same_json(const char *text, json_t *reference)
{
	json_error_t err;
	json_t *parsed = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	char *printed, *expected = json_dumps(reference, JSON_COMPACT);

	if (!parsed)
		fail_msg("not JSON (%s at %d): %s", err.text, err.position, text);
	printed = json_dumps(parsed, JSON_COMPACT);
	assert_non_null(expected);
	assert_non_null(printed);
	assert_true(json_equal(parsed, reference));
	assert_string_equal(printed, expected);
	free(printed);
	free(expected);
	json_decref(parsed);
}

void assert_proc_matches(const struct proc *p, int64_t now)
{
	json_t *reference = reference_proc(p, now);
	char *text = writer_text_of(p, now);

	assert_non_null(reference);
	assert_same_json(text, reference);
	free(text);
	json_decref(reference);
}


json_t *parsed_proc(const struct proc *p, int64_t now)
{
	char *text = writer_text_of(p, now);
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (!j)
		fail_msg("not JSON (%s at %d): %s", err.text, err.position, text);
	free(text);
	return j;
}

void assert_key_string(json_t *obj, const char *key, const char *expected)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	assert_string_equal(json_string_value(v), expected);
}

