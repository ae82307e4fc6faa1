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

bool reply_is_running(json_t *proc)
{
	const char *state = json_string_value(json_object_get(proc, "state"));

	return state && strcmp(state, "RUNNING") == 0;
}

enum reply_verdict reply_judge(const char *action, json_t *p, json_t *before)
{
	int state = state_from_name(json_string_value(json_object_get(p, "state")));
	json_t *pid = json_object_get(p, "pid");

	if (strcmp(action, "stop") == 0)
		return state == STATE_STOPPED || state == STATE_EXITED || state == STATE_FATAL ? REPLY_DONE : REPLY_WAIT;
	/* a bound daemon child starts once its parent is RUNNING */
	if (state == STATE_STOPPED && json_is_string(json_object_get(p, "bind_to")))
		return REPLY_WAIT;
	if (state == STATE_FATAL || state == STATE_EXITED || state == STATE_STOPPED)
		return REPLY_FAILED;
	if (state != STATE_RUNNING)
		return REPLY_WAIT;
	/* a restart is done when a new process runs */
	if (strcmp(action, "restart") == 0 && before && json_equal(json_object_get(before, "pid"), pid))
		return REPLY_WAIT;
	return REPLY_DONE;
}

const char *reply_describe_failure(json_t *p, char *buf, size_t len)
{
	json_t *le = json_object_get(p, "last_exit");
	const char *cause = json_string_value(json_object_get(le, "cause"));

	if (cause && strcmp(cause, "exit") == 0 && json_integer_value(json_object_get(le, "code")) == 127)
		snprintf(buf, len, "exit 127: it could not be executed; vigild's log says why");
	else if (cause && strcmp(cause, "signal") == 0)
		snprintf(buf, len, "last exit: signal %lld", json_integer_value(json_object_get(le, "signal")));
	else if (cause)
		snprintf(buf, len, "last exit: %s %lld", cause, json_integer_value(json_object_get(le, "code")));
	else
		snprintf(buf, len, "no exit recorded");
	return buf;
}
