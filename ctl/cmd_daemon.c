/* vigilctl reload, shutdown and ping: vigild as a whole, and the
 * heartbeat of a supervised script. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "vigilctl.h"

#define SHUTDOWN_POLL_MS 20

/* "2 changed, 1 added: web, api; db" (the names of each kind, in the
 * order of the counts), or "nothing changed". */
static void print_reload_summary(json_t *result)
{
	static const char *const kinds[] = { "changed", "added", "removed" };
	char counts[128] = "", names[4096] = "";
	size_t i;
	json_t *name;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		json_t *list = json_object_get(result, kinds[k]);
		if (!json_array_size(list))
			continue;
		snprintf(counts + strlen(counts), sizeof(counts) - strlen(counts), "%s%zu %s", *counts ? ", " : "",
			 json_array_size(list), kinds[k]);
		if (*names)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "; ");
		json_array_foreach(list, i, name)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
				 json_string_value(name) ? json_string_value(name) : "?");
	}
	if (*counts)
		printf("%s: %s\n", counts, names);
	else
		printf("nothing changed\n");
}

int cmd_reload(struct ctl *c)
{
	struct ctl_reply r;
	int rc;

	if ((rc = ctl_request(c, "POST", "/v1/reload", &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: reload: %s\n", ctl_reply_error(&r));
		rc = EXIT_FAILED;
	} else if (c->json) {
		ctl_print_json(r.json);
	} else {
		print_reload_summary(r.json);
	}
	ctl_reply_free(&r);
	return rc;
}

static int shutdown_done(const struct ctl *c, const char *status)
{
	if (c->json) {
		json_t *doc = json_pack("{s:s}", "status", status);
		ctl_print_json(doc);
		json_decref(doc);
	} else if (strcmp(status, "stopped") == 0) {
		printf("vigild stopped\n");
	}
	return EXIT_OK;
}

int cmd_shutdown(struct ctl *c)
{
	int64_t deadline = ctl_mono_ms() + (int64_t)(c->timeout_s * 1000);
	struct ctl_reply r;
	char err[1024];
	int rc;

	if ((rc = ctl_request(c, "POST", "/v1/shutdown", &r)) != EXIT_OK)
		return rc;
	if (r.status != 200) {
		fprintf(stderr, "vigilctl: shutdown: %s\n", ctl_reply_error(&r));
		ctl_reply_free(&r);
		return EXIT_FAILED;
	}
	ctl_reply_free(&r);
	if (c->no_block)
		return shutdown_done(c, "shutting down");
	/* vigild is gone once nothing answers on its socket any more */
	while (ctl_mono_ms() < deadline) {
		if (ctl_call(c->socket, "GET", "/healthz", &r, err, sizeof(err)) < 0)
			return shutdown_done(c, "stopped");
		ctl_reply_free(&r);
		ctl_sleep_ms(SHUTDOWN_POLL_MS);
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

int cmd_ping(struct ctl *c)
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
