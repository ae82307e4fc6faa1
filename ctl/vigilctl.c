/* vigilctl: commands -> ctl requests, and waiting for the states they ask
 * for. Exit codes: 0 ok, 1 failed, 2 usage, 3 status found a named
 * process not RUNNING or unhealthy (a completed oneshot is fine), 4 vigild
 * unreachable. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "client.h"
#include "reply.h"
#include "table.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"
#define POLL_INTERVAL_NS (20 * 1000 * 1000)

enum { EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_UNREACHABLE };

struct ctl {
	const char *socket;
	bool json, no_block, follow, use_stderr, ready;
	double timeout_s;
	long lines;
	const char *status_text;
	int nargs;
	char **args; /* positional arguments after the command */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vigilctl [-s SOCKET] COMMAND [ARGS]\n"
		"  status [NAME...] [--json]        show processes (exit 3: a named one not RUNNING or unhealthy)\n"
		"  start|stop|restart NAME...|all   and wait until done (--no-block: don't; --timeout SECS)\n"
		"  signal SIG NAME                  send a signal (e.g. HUP)\n"
		"  log NAME [-f] [-n N] [--stderr]  recent output of a process\n"
		"  reload                           re-read the configuration\n"
		"  shutdown                         stop everything and end vigild\n"
		"  ping [--status TEXT] [--ready]   send WATCHDOG=1 to $NOTIFY_SOCKET (from a supervised script)\n"
		"The socket is -s SOCKET, else $VIGIL_SOCKET, else " DEFAULT_SOCKET ".\n");
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_poll(void)
{
	struct timespec ts = { 0, POLL_INTERVAL_NS };

	nanosleep(&ts, NULL);
}

/* One request; on failure prints why and returns the exit code to use. */
static int call(const struct ctl *c, const char *method, const char *path, struct ctl_reply *reply)
{
	char err[512];

	if (ctl_call(c->socket, method, path, reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return EXIT_UNREACHABLE;
	}
	if (reply->status == 403) { /* refused at accept: cannot reach it either */
		fprintf(stderr, "vigilctl: %s\n", ctl_reply_error(reply));
		ctl_reply_free(reply);
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

static json_t *fetch_procs(const struct ctl *c, const char *name, int *rc)
{
	struct ctl_reply r;
	char path[512];
	json_t *out;

	snprintf(path, sizeof(path), "/v1/programs%s%s", name ? "/" : "", name ? name : "");
	if ((*rc = call(c, "GET", path, &r)) != EXIT_OK)
		return NULL;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: %s\n", ctl_reply_error(&r));
		*rc = EXIT_FAILED;
		ctl_reply_free(&r);
		return NULL;
	}
	out = reply_processes(r.json);
	if (!out) {
		fprintf(stderr, "vigilctl: unexpected reply from vigild\n");
		*rc = EXIT_FAILED;
	}
	ctl_reply_free(&r);
	return out;
}

static int cmd_status(struct ctl *c)
{
	json_t *all = json_array();
	int rc = EXIT_OK;

	for (int i = 0; i < (c->nargs ? c->nargs : 1); i++) {
		int call_rc;
		json_t *procs = fetch_procs(c, c->nargs ? c->args[i] : NULL, &call_rc);
		size_t k;
		json_t *p;
		if (!procs) {
			if (call_rc == EXIT_UNREACHABLE) {
				json_decref(all);
				return call_rc;
			}
			rc = EXIT_FAILED;
			continue;
		}
		json_array_foreach(procs, k, p) {
			if (c->nargs && !reply_is_fine(p) && rc == EXIT_OK)
				rc = EXIT_NOT_RUNNING;
		}
		json_array_extend(all, procs);
		json_decref(procs);
	}
	if (c->json) {
		json_t *doc = json_pack("{s:O}", "programs", all);
		/* into memory, then one write: json_dumpf makes a stdio call per
		 * token, tens of thousands at 1000 programs */
		char *text = json_dumps(doc, JSON_INDENT(2));
		if (text)
			fputs(text, stdout);
		else
			json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		free(text);
		json_decref(doc);
	} else {
		table_print(stdout, all);
	}
	json_decref(all);
	return rc;
}

/* Whether NAME (a program, "prog:N" or all) names process p. */
static bool names_process(const char *name, json_t *p)
{
	const char *program = json_string_value(json_object_get(p, "program"));

	return strcmp(name, "all") == 0 || strcmp(json_string_value(json_object_get(p, "name")), name) == 0 ||
	       (program && strcmp(program, name) == 0);
}

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
		if (!names_process(name, p))
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
		if (!names_process(name, p) || json_object_get(listed, pname))
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

/* Polls until every process of the reply to `action name` (touched, as the
 * reply showed them) and every other one name names reaches what action
 * asked for; *judged (malloc'd) gets each one's last verdict. */
static int wait_for(const struct ctl *c, const char *name, const char *action, json_t *touched,
		    struct judged **judged_out)
{
	int64_t deadline = mono_ms() + (int64_t)(c->timeout_s * 1000);
	const char *scope = wait_scope(name, touched);
	struct judged *judged = NULL;

	for (;;) {
		int rc, failed;
		json_t *procs = fetch_procs(c, scope, &rc), *p;
		size_t i, done;
		if (!procs)
			return rc;
		if (!judged) {
			add_named(touched, procs, name);
			if (!(judged = calloc(json_array_size(touched) + 1, sizeof(*judged))))
				abort();
			*judged_out = judged;
		}
		done = judge_all(action, touched, procs, judged, &failed);
		json_decref(procs);
		if (failed || done == json_array_size(touched))
			return failed ? EXIT_FAILED : EXIT_OK;
		if (mono_ms() > deadline) {
			json_array_foreach(touched, i, p)
				if (judged[i].verdict == REPLY_WAIT)
					fprintf(stderr, "vigilctl: %s: still %s after %.0fs; see 'vigilctl status'\n",
						json_string_value(json_object_get(p, "name")), judged[i].state, c->timeout_s);
			return EXIT_FAILED;
		}
		sleep_poll();
	}
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
 * the "before" of a restart: no extra request to learn the old pids. */
static int act_on(const struct ctl *c, const char *name, const char *action)
{
	struct ctl_reply r;
	struct judged *judged = NULL;
	char path[512];
	json_t *listed, *touched;
	int rc;

	snprintf(path, sizeof(path), "/v1/programs/%s/%s", name, action);
	if ((rc = call(c, "POST", path, &r)) != EXIT_OK)
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
	if (c->no_block)
		return json_decref(touched), EXIT_OK;
	rc = wait_for(c, name, action, touched, &judged);
	if (judged && rc != EXIT_UNREACHABLE)
		print_done(action, touched, judged);
	free(judged);
	json_decref(touched);
	return rc;
}

static int cmd_action(struct ctl *c, const char *action)
{
	int rc = EXIT_OK;

	if (c->nargs == 0) {
		fprintf(stderr, "vigilctl: %s needs a program name (or all)\n", action);
		return EXIT_USAGE;
	}
	for (int i = 0; i < c->nargs; i++) {
		int call_rc = act_on(c, c->args[i], action);
		if (call_rc == EXIT_UNREACHABLE)
			return call_rc;
		if (call_rc != EXIT_OK)
			rc = EXIT_FAILED;
	}
	return rc;
}

static int cmd_signal(struct ctl *c)
{
	struct ctl_reply r;
	char path[512], err[PARSE_ERR_MAX];
	int signo, rc;

	if (c->nargs != 2) {
		fprintf(stderr, "vigilctl: usage: signal SIG NAME\n");
		return EXIT_USAGE;
	}
	if (parse_signal(c->args[0], &signo, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/programs/%s/signal?sig=%d", c->args[1], signo);
	if ((rc = call(c, "POST", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: signal %s: %s\n", c->args[1], ctl_reply_error(&r));
		rc = EXIT_FAILED;
	}
	ctl_reply_free(&r);
	return rc;
}

static int cmd_simple_post(struct ctl *c, const char *path, const char *what)
{
	struct ctl_reply r;
	int rc;

	if ((rc = call(c, "POST", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: %s: %s\n", what, ctl_reply_error(&r));
		rc = EXIT_FAILED;
	} else if (strcmp(what, "reload") == 0) {
		json_dumpf(r.json, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	ctl_reply_free(&r);
	return rc;
}

static int cmd_shutdown(struct ctl *c)
{
	int64_t deadline = mono_ms() + (int64_t)(c->timeout_s * 1000);
	int rc = cmd_simple_post(c, "/v1/shutdown", "shutdown");
	char err[512];

	if (rc != EXIT_OK || c->no_block)
		return rc;
	/* vigild is gone once nothing answers on its socket any more */
	while (mono_ms() < deadline) {
		struct ctl_reply r;
		if (ctl_call(c->socket, "GET", "/healthz", &r, err, sizeof(err)) < 0) {
			printf("vigild stopped\n");
			return EXIT_OK;
		}
		ctl_reply_free(&r);
		sleep_poll();
	}
	fprintf(stderr, "vigilctl: vigild still answering %.0fs after shutdown; see its log\n", c->timeout_s);
	return EXIT_FAILED;
}

/* sd_notify from libsystemd, loaded for ping alone: linked, libsystemd
 * and the five libraries it pulls in cost every vigilctl command ~0.6 ms
 * of dynamic loading, for the one command that uses it. */
static __typeof__(sd_notify) *load_sd_notify(void)
{
	void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	__typeof__(sd_notify) *fn = lib ? (__typeof__(sd_notify) *)dlsym(lib, "sd_notify") : NULL;

	if (!fn)
		fprintf(stderr, "vigilctl: ping: cannot load sd_notify from libsystemd.so.0: %s\n", dlerror());
	return fn;
}

static int cmd_ping(struct ctl *c)
{
	__typeof__(sd_notify) *notify_fn;
	char msg[1024];
	int rc;

	if (!getenv("NOTIFY_SOCKET")) {
		fprintf(stderr, "vigilctl: ping: NOTIFY_SOCKET is not set; run this from a program vigild supervises\n");
		return EXIT_FAILED;
	}
	snprintf(msg, sizeof(msg), "WATCHDOG=1%s%s%s", c->ready ? "\nREADY=1" : "",
		 c->status_text ? "\nSTATUS=" : "", c->status_text ? c->status_text : "");
	if (!(notify_fn = load_sd_notify()))
		return EXIT_FAILED;
	rc = notify_fn(0, msg);
	if (rc <= 0) {
		fprintf(stderr, "vigilctl: ping: cannot send to %s: %s\n", getenv("NOTIFY_SOCKET"),
			rc < 0 ? strerror(-rc) : "not sent");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int cmd_log(struct ctl *c)
{
	struct ctl_reply r;
	char path[512];
	int rc;

	if (c->nargs != 1) {
		fprintf(stderr, "vigilctl: usage: log NAME [-f] [-n N] [--stderr]\n");
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/programs/%s/log?stream=%s&lines=%ld%s", c->args[0],
		 c->use_stderr ? "stderr" : "stdout", c->lines, c->follow ? "&follow=1" : "");
	if (c->follow) {
		char err[512];
		long status = 0;
		if (ctl_stream(c->socket, path, &status, err, sizeof(err)) < 0) {
			fprintf(stderr, "vigilctl: %s\n", err);
			return EXIT_UNREACHABLE;
		}
		if (status != 200) {
			fprintf(stderr, "vigilctl: log %s failed (HTTP %ld)\n", c->args[0], status);
			return EXIT_FAILED;
		}
		return EXIT_OK;
	}
	if ((rc = call(c, "GET", path, &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: log %s: %s\n", c->args[0], ctl_reply_error(&r));
		rc = EXIT_FAILED;
	} else {
		fputs(r.body, stdout);
	}
	ctl_reply_free(&r);
	return rc;
}

/* Options may come anywhere after the command; the rest are arguments. */
static int parse_command_args(struct ctl *c, int argc, char **argv)
{
	c->args = calloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char err[PARSE_ERR_MAX];
		long v;
		if (strcmp(a, "--json") == 0) c->json = true;
		else if (strcmp(a, "--no-block") == 0) c->no_block = true;
		else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) c->follow = true;
		else if (strcmp(a, "--stderr") == 0) c->use_stderr = true;
		else if (strcmp(a, "--ready") == 0) c->ready = true;
		else if (strcmp(a, "--status") == 0 && i + 1 < argc) c->status_text = argv[++i];
		else if (strcmp(a, "-n") == 0 && i + 1 < argc) {
			if (parse_int_range(argv[++i], 0, 100000, &v, err, sizeof(err)) < 0)
				return fprintf(stderr, "vigilctl: -n: %s\n", err), -1;
			c->lines = v;
		} else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
			int64_t us;
			if (parse_duration(argv[++i], &us, err, sizeof(err)) < 0)
				return fprintf(stderr, "vigilctl: --timeout: %s\n", err), -1;
			c->timeout_s = (double)us / USEC_PER_SEC;
		} else if (a[0] == '-' && a[1] && strcmp(a, "--") != 0)
			return fprintf(stderr, "vigilctl: unknown option %s\n", a), -1;
		else c->args[c->nargs++] = argv[i];
	}
	return 0;
}

static int dispatch(struct ctl *c, const char *cmd)
{
	if (strcmp(cmd, "status") == 0) return cmd_status(c);
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 || strcmp(cmd, "restart") == 0)
		return cmd_action(c, cmd);
	if (strcmp(cmd, "signal") == 0) return cmd_signal(c);
	if (strcmp(cmd, "log") == 0) return cmd_log(c);
	if (strcmp(cmd, "reload") == 0) return cmd_simple_post(c, "/v1/reload", "reload");
	if (strcmp(cmd, "shutdown") == 0) return cmd_shutdown(c);
	if (strcmp(cmd, "ping") == 0) return cmd_ping(c);
	fprintf(stderr, "vigilctl: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct ctl c = { .timeout_s = 60, .lines = 100 };
	int i = 1, rc;

	c.socket = getenv("VIGIL_SOCKET") ? getenv("VIGIL_SOCKET") : DEFAULT_SOCKET;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) && i + 1 < argc)
			c.socket = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage(stdout), EXIT_OK;
		else
			return fprintf(stderr, "vigilctl: unknown option %s\n", argv[i]), usage(stderr), EXIT_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_command_args(&c, argc - i - 1, argv + i + 1) < 0)
		return free(c.args), EXIT_USAGE;
	rc = dispatch(&c, argv[i]);
	free(c.args);
	return rc;
}
