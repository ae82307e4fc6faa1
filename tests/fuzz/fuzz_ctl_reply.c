/* What vigilctl does with a reply body from vigild (or from whatever
 * answers on the socket): parse it as client.c does, read the error of an
 * error reply, take the process list of a status reply, judge each process
 * for start, stop and restart, describe a failure, print the status table
 * and the --json / reload dumps. */
#include <jansson.h>

#include "client.h"
#include "reply.h"
#include "table.h"
#include "fuzz.h"

static void fuzz_processes(FILE *out, json_t *procs)
{
	static const char *const actions[] = { "start", "stop", "restart" };
	char why[512];
	size_t i;
	json_t *p;

	json_array_foreach(procs, i, p) {
		/* what reply_processes promises the rest of vigilctl */
		FUZZ_CHECK(json_is_string(json_object_get(p, "name")) && json_is_string(json_object_get(p, "state")));
		(void)reply_is_running(p);
		for (size_t a = 0; a < 3; a++) {
			/* before: this process, and another one, as a restart compares pids */
			(void)reply_judge(actions[a], p, p);
			(void)reply_judge(actions[a], p, json_array_get(procs, i + 1));
			(void)reply_judge(actions[a], p, NULL);
		}
		fputs(reply_describe_failure(p, why, sizeof(why)), out);
	}
	table_print(out, procs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *out;
	struct ctl_reply r = { .status = 200 };
	json_t *procs;

	if (!out && !(out = fopen("/dev/null", "we")))
		abort();
	/* as ctl_call: the body NUL-terminated, then json_loads */
	r.body = fuzz_cstring(data, size);
	r.json = json_loads(r.body, 0, NULL);
	fputs(ctl_reply_error(&r), out);
	procs = reply_processes(r.json);
	if (procs)
		fuzz_processes(out, procs);
	json_dumpf(r.json, out, JSON_INDENT(2));
	json_decref(procs);
	ctl_reply_free(&r);
	return 0;
}
