#include "reply.h"

#include <stdio.h>
#include <string.h>

#include "state.h"

/* Checked here, once, so the rest of vigilctl may take every process to
 * be an object with a string "name" and "state"; other fields it reads
 * with jansson's getters, which give 0 or NULL for a missing one. */
static bool reply_is_process(json_t *p)
{
	return json_is_string(json_object_get(p, "name")) && json_is_string(json_object_get(p, "state"));
}

json_t *reply_processes(json_t *reply)
{
	json_t *procs = json_object_get(reply, "programs"), *p;
	size_t i;

	if (!json_is_object(reply))
		return NULL;
	procs = procs ? json_incref(procs) : json_pack("[O]", reply);
	if (!json_is_array(procs))
		return json_decref(procs), NULL;
	json_array_foreach(procs, i, p)
		if (!reply_is_process(p))
			return json_decref(procs), NULL;
	return procs;
}

static int reply_state(json_t *proc)
{
	return state_from_name(json_string_value(json_object_get(proc, "state")));
}

static bool reply_field_is(json_t *proc, const char *key, const char *value)
{
	const char *s = json_string_value(json_object_get(proc, key));

	return s && strcmp(s, value) == 0;
}

bool reply_is_running(json_t *proc)
{
	return reply_state(proc) == STATE_RUNNING;
}

static bool reply_is_completed_oneshot(json_t *proc)
{
	return reply_field_is(proc, "type", "oneshot") && reply_state(proc) == STATE_EXITED &&
	       json_is_true(json_object_get(proc, "completed"));
}

bool reply_is_fine(json_t *proc)
{
	if (reply_is_completed_oneshot(proc))
		return true;
	return reply_is_running(proc) && !reply_field_is(json_object_get(proc, "health"), "state", "unhealthy");
}

/* A oneshot is started when it has run to completion. */
static enum reply_verdict reply_judge_oneshot(int state, json_t *p)
{
	if (reply_is_completed_oneshot(p))
		return REPLY_DONE;
	if (state == STATE_FATAL || state == STATE_EXITED || state == STATE_STOPPED)
		return REPLY_FAILED;
	return REPLY_WAIT; /* STARTING, BACKOFF, WAITING, STOPPING (a restart) */
}

/* The process a restart must replace: before is the process as the
 * restart's reply showed it. RUNNING or STOPPING there, its pid is the
 * old process's; anything else (STARTING, WAITING, none) means the
 * restart already spawned the new one, or will. */
static bool reply_is_old_process(json_t *before, json_t *pid)
{
	int state = reply_state(before);

	return (state == STATE_RUNNING || state == STATE_STOPPING) && json_is_integer(pid) &&
	       json_equal(json_object_get(before, "pid"), pid);
}

enum reply_verdict reply_judge(const char *action, json_t *p, json_t *before)
{
	int state = reply_state(p);
	json_t *pid = json_object_get(p, "pid");

	if (strcmp(action, "stop") == 0)
		return state == STATE_STOPPED || state == STATE_EXITED || state == STATE_FATAL ? REPLY_DONE : REPLY_WAIT;
	/* a restart takes the processes that require the named ones down
	 * first (STOPPED) and starts them again once what they require holds */
	if (state == STATE_STOPPED && strcmp(action, "restart") == 0 && before)
		return REPLY_WAIT;
	if (reply_field_is(p, "type", "oneshot"))
		return reply_judge_oneshot(state, p);
	/* a bound daemon child starts once its parent is RUNNING */
	if (state == STATE_STOPPED && json_is_string(json_object_get(p, "bind_to")))
		return REPLY_WAIT;
	if (state == STATE_FATAL || state == STATE_EXITED || state == STATE_STOPPED)
		return REPLY_FAILED;
	if (state != STATE_RUNNING)
		return REPLY_WAIT; /* STARTING, BACKOFF, STOPPING, WAITING for what it requires */
	/* a restart is done when a new process runs */
	if (strcmp(action, "restart") == 0 && before && reply_is_old_process(before, pid))
		return REPLY_WAIT;
	return REPLY_DONE;
}

const char *reply_describe_failure(json_t *p, char *buf, size_t len)
{
	json_t *le = json_object_get(p, "last_exit");
	const char *cause = json_string_value(json_object_get(le, "cause"));
	const char *status = json_string_value(json_object_get(p, "status"));

	if (cause && strcmp(cause, "dependency") == 0)
		snprintf(buf, len, "a requirement failed: %s", status ? status : "see 'vigilctl status'");
	else if (cause && strcmp(cause, "exit") == 0 && json_integer_value(json_object_get(le, "code")) == 127)
		snprintf(buf, len, "exit 127: it could not be executed; vigild's log says why");
	else if (cause && strcmp(cause, "signal") == 0)
		snprintf(buf, len, "last exit: signal %lld", json_integer_value(json_object_get(le, "signal")));
	else if (cause)
		snprintf(buf, len, "last exit: %s %lld", cause, json_integer_value(json_object_get(le, "code")));
	else
		snprintf(buf, len, "no exit recorded");
	return buf;
}
