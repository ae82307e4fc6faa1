/* vigilctl start, stop, restart (and wait until done) and signal. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "reply.h"
#include "vigilctl.h"

#define POLL_INTERVAL_MS 20

/* What to poll while waiting for the processes of an action's reply: the
 * named program alone when the reply holds nothing else, else all (a
 * stop or restart also touches the programs that require it). */
static const char *wait_scope(const char *name, json_t *touched)
{
	size_t i;
	json_t *p;

	if (strcmp(name, "all") == 0)
		return NULL;
	json_array_foreach(touched, i, p)
		if (!ctl_names_process(name, p))
			return NULL;
	return name;
}

/* procs with each name once (the first), as a new array */
static json_t *unique_by_name(json_t *procs)
{
	json_t *seen = json_object(), *out = json_array(), *p;
	size_t i;

	json_array_foreach(procs, i, p) {
		const char *pname = json_string_value(json_object_get(p, "name"));
		if (json_object_get(seen, pname))
			continue;
		json_object_set(seen, pname, json_true());
		json_array_append(out, p);
	}
	json_decref(seen);
	return out;
}

/* Every process NAME names is waited for, also one the reply left out
 * (a start leaves out a daemon child whose parent is not RUNNING yet: it
 * follows its parent). It joins touched as a stub without a pid, so a
 * restart takes any pid of it as new. */
static void add_named(json_t *touched, json_t *now, const char *name)
{
	json_t *listed = json_object(), *p;
	size_t i;

	json_array_foreach(touched, i, p)
		json_object_set(listed, json_string_value(json_object_get(p, "name")), json_true());
	json_array_foreach(now, i, p) {
		const char *pname = json_string_value(json_object_get(p, "name"));
		if (!ctl_names_process(name, p) || json_object_get(listed, pname))
			continue;
		json_object_set(listed, pname, json_true());
		json_array_append_new(touched, json_pack("{s:s, s:s}", "name", pname, "state", ""));
	}
	json_decref(listed);
}

/* A process of the reply as last polled. */
struct judged {
	enum reply_verdict verdict;
	char state[16];
};

/* Judges every process of the reply (touched) by its state in now (the
 * processes polled, by name) into out[]; a process no longer listed
 * (removed by a reload meanwhile) failed. Returns how many are done, and
 * the failures in *failed, each told on stderr. */
static size_t judge_all(const char *action, json_t *touched, json_t *now, struct judged *out, int *failed)
{
	json_t *by_name = json_object(), *p;
	size_t i, done = 0;
	char why[512];

	json_array_foreach(now, i, p)
		json_object_set(by_name, json_string_value(json_object_get(p, "name")), p);
	*failed = 0;
	json_array_foreach(touched, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *cur = json_object_get(by_name, name);
		out[i].verdict = cur ? reply_judge(action, cur, p) : REPLY_FAILED;
		snprintf(out[i].state, sizeof(out[i].state), "%s",
			 cur ? json_string_value(json_object_get(cur, "state")) : "gone");
		done += out[i].verdict == REPLY_DONE;
		if (out[i].verdict != REPLY_FAILED)
			continue;
		(*failed)++;
		if (cur)
			fprintf(stderr, "vigilctl: %s: failed to %s: now %s (%s)\n", name, action,
				json_string_value(json_object_get(cur, "state")), reply_describe_failure(cur, why, sizeof(why)));
		else
			fprintf(stderr, "vigilctl: %s: failed to %s: vigild no longer lists it\n", name, action);
	}
	json_decref(by_name);
	return done;
}

/* Says which processes are still on their way when time is up. */
static void tell_late(const struct ctl *c, json_t *touched, const struct judged *judged)
{
	size_t i;
	json_t *p;

	json_array_foreach(touched, i, p)
		if (judged[i].verdict == REPLY_WAIT)
			fprintf(stderr, "vigilctl: %s: still %s after %.0fs; see 'vigilctl status'\n",
				json_string_value(json_object_get(p, "name")), judged[i].state, c->timeout_s);
}

/* Polls until every process of the reply to `action name` (touched, as the
 * reply showed them) and every other one name names reaches what action
 * asked for; *judged (malloc'd) gets each one's last verdict, *last the
 * processes as last polled. */
static int wait_for(const struct ctl *c, const char *name, const char *action, json_t *touched,
		    struct judged **judged_out, json_t **last)
{
	int64_t deadline = ctl_mono_ms() + (int64_t)(c->timeout_s * 1000);
	const char *scope = wait_scope(name, touched);
	struct judged *judged = NULL;

	for (;;) {
		int rc, failed;
		json_t *procs = ctl_fetch_procs(c, scope, &rc);
		size_t done;
		if (!procs)
			return rc;
		if (!judged) {
			add_named(touched, procs, name);
			if (!(judged = calloc(json_array_size(touched) + 1, sizeof(*judged))))
				abort();
			*judged_out = judged;
		}
		done = judge_all(action, touched, procs, judged, &failed);
		json_decref(*last);
		*last = procs;
		if (failed || done == json_array_size(touched))
			return failed ? EXIT_FAILED : EXIT_OK;
		if (ctl_mono_ms() > deadline) {
			tell_late(c, touched, judged);
			return EXIT_FAILED;
		}
		ctl_sleep_ms(POLL_INTERVAL_MS);
	}
}

/* --json: the processes touched, as last seen, go into out. */
static void collect_touched(json_t *out, json_t *touched, json_t *seen)
{
	json_t *by_name = json_object(), *p;
	size_t i;

	json_array_foreach(seen, i, p)
		json_object_set(by_name, json_string_value(json_object_get(p, "name")), p);
	json_array_foreach(touched, i, p) {
		json_t *cur = json_object_get(by_name, json_string_value(json_object_get(p, "name")));
		if (cur || json_is_integer(json_object_get(p, "instance")))
			json_array_append(out, cur ? cur : p);
	}
	json_decref(by_name);
}

/* One line per process the action touched and saw through. */
static void print_done(const char *action, json_t *touched, const struct judged *judged)
{
	const char *what = strcmp(action, "stop") == 0 ? "stopped" : strcmp(action, "start") == 0 ? "started" : "restarted";
	size_t i;
	json_t *p;

	json_array_foreach(touched, i, p)
		if (judged[i].verdict == REPLY_DONE)
			/* a oneshot started is done once it has run to completion */
			printf("%s: %s\n", json_string_value(json_object_get(p, "name")),
			       strcmp(action, "stop") != 0 && strcmp(judged[i].state, "EXITED") == 0 ? "completed" : what);
}

/* POST .../NAME/ACTION; its reply lists the processes it touched (NAME's,
 * and those that require them), which are waited for. The reply is also
 * the "before" of a restart: no extra request to learn the old pids.
 * With --json the processes touched go into out instead of a line each. */
static int act_on(const struct ctl *c, const char *name, json_t *out)
{
	const char *action = c->command;
	struct ctl_reply r;
	struct judged *judged = NULL;
	char path[512];
	json_t *listed, *touched, *last = NULL;
	int rc;

	snprintf(path, sizeof(path), "/v1/programs/%s/%s", name, action);
	if ((rc = ctl_request(c, "POST", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: %s %s: %s\n", action, name, ctl_reply_error(&r));
		ctl_reply_free(&r);
		return EXIT_FAILED;
	}
	listed = reply_processes(r.json);
	ctl_reply_free(&r);
	if (!listed) {
		fprintf(stderr, "vigilctl: unexpected reply from vigild\n");
		return EXIT_FAILED;
	}
	touched = unique_by_name(listed);
	json_decref(listed);
	if (c->no_block) {
		if (out)
			json_array_extend(out, touched);
		return json_decref(touched), EXIT_OK;
	}
	rc = wait_for(c, name, action, touched, &judged, &last);
	if (judged && rc != EXIT_UNREACHABLE && out)
		collect_touched(out, touched, last);
	else if (judged && rc != EXIT_UNREACHABLE)
		print_done(action, touched, judged);
	free(judged);
	json_decref(last);
	json_decref(touched);
	return rc;
}

int cmd_action(struct ctl *c)
{
	json_t *out = c->json ? json_array() : NULL;
	int rc = EXIT_OK;

	/* every name is checked before anything is done: one unknown name
	 * changes nothing (a single name is checked by its own request) */
	if (c->nargs > 1 && (rc = ctl_check_names(c, c->args, c->nargs, NULL)) != EXIT_OK)
		return json_decref(out), rc;
	for (int i = 0; i < c->nargs; i++) {
		int call_rc = act_on(c, c->args[i], out);
		if (call_rc == EXIT_UNREACHABLE)
			return json_decref(out), call_rc;
		if (call_rc != EXIT_OK)
			rc = EXIT_FAILED;
	}
	if (out) {
		json_t *doc = json_pack("{s:o}", "programs", out);
		ctl_print_json(doc);
		json_decref(doc);
	}
	return rc;
}

int cmd_signal(struct ctl *c)
{
	struct ctl_reply r;
	char path[512], err[PARSE_ERR_MAX];
	int signo, rc;

	if (parse_signal(c->args[0], &signo, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: signal: %s\n", err);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/programs/%s/signal?sig=%d", c->args[1], signo);
	if ((rc = ctl_request(c, "POST", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: signal %s: %s\n", c->args[1], ctl_reply_error(&r));
		rc = EXIT_FAILED;
	}
	ctl_reply_free(&r);
	return rc;
}
