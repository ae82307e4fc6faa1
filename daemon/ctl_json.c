#include "ctl_json.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "program.h"

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

static json_t *seconds(int64_t usec)
{
	return json_real((double)usec / USEC_PER_SEC);
}

static json_t *last_exit_to_json(const struct last_exit *le)
{
	if (!le->set)
		return json_null();
	return json_pack("{s:s, s:o, s:o}", "cause", exit_cause_name(le->cause), "code",
			 le->code >= 0 ? json_integer(le->code) : json_null(), "signal",
			 le->signo ? json_integer(le->signo) : json_null());
}

static json_t *heartbeat_to_json(const struct proc *p, int64_t now)
{
	int64_t timeout = p->pid ? p->hb.timeout : p->cfg->heartbeat_timeout;

	if (timeout == 0)
		return json_null();
	return json_pack("{s:o, s:o}", "timeout_s", seconds(timeout), "last_ping_age_s",
			 p->pid && p->hb.last_ping ? seconds(now - p->hb.last_ping) : json_null());
}

json_t *proc_to_json(const struct proc *p, int64_t now)
{
	const struct program_config *pc = p->cfg;

	return json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:b, s:o, s:I}",
			 "name", p->name,
			 "program", pc->name,
			 "instance", p->instance,
			 "state", state_name(p->state),
			 "pid", p->pid ? json_integer(p->pid) : json_null(),
			 "uptime_s", seconds(p->pid ? now - p->started_at : 0),
			 "restarts", (json_int_t)p->restarts,
			 "last_exit", last_exit_to_json(&p->last_exit),
			 "heartbeat", heartbeat_to_json(p, now),
			 "status", text_or_null(p->status_text),
			 "daemon", pc->daemon,
			 "bind_to", pc->bind_to ? json_string(pc->bind_to) : json_null(),
			 "output_lost_bytes", (json_int_t)p->output.lost_bytes);
}

void procs_write_json(struct evbuffer *out, struct proc *const *procs, size_t n, int64_t now)
{
	evbuffer_add_printf(out, "{\"programs\": [");
	for (size_t i = 0; i < n; i++) {
		json_t *one = proc_to_json(procs[i], now);
		char *text = json_dumps(one, JSON_COMPACT);
		evbuffer_add_printf(out, "%s%s", i ? ", " : "", text ? text : "{}");
		free(text);
		json_decref(one);
	}
	evbuffer_add_printf(out, "]}\n");
}
