#define _GNU_SOURCE
#include "spawn_env.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

extern char **environ;

/* These describe vigild's relationship with its own supervisor; a child
 * seeing them would talk to systemd instead of to vigild. */
static const char *const private_vars[] = {
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
};

struct env {
	char **vars;
	size_t n, cap;
};

static bool env_is_private(const char *var)
{
	for (size_t i = 0; i < sizeof(private_vars) / sizeof(private_vars[0]); i++) {
		size_t len = strlen(private_vars[i]);
		if (strncmp(var, private_vars[i], len) == 0 && var[len] == '=')
			return true;
	}
	return false;
}

/* Sets KEY=value (taking ownership of kv), replacing an earlier KEY. */
static void env_put(struct env *e, char *kv)
{
	size_t keylen = strcspn(kv, "=");

	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->vars[i], kv, keylen + 1) == 0) {
			free(e->vars[i]);
			e->vars[i] = kv;
			return;
		}
	}
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->vars = realloc(e->vars, e->cap * sizeof(char *));
		if (!e->vars)
			abort();
	}
	e->vars[e->n++] = kv;
	e->vars[e->n] = NULL;
}

static void env_putf(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void env_putf(struct env *e, const char *fmt, ...)
{
	va_list ap;
	char *kv;

	va_start(ap, fmt);
	if (vasprintf(&kv, fmt, ap) < 0)
		abort();
	va_end(ap);
	env_put(e, kv);
}

char **spawn_env_build(const struct spawn_env_for *who, char **pid_slot, char *err, size_t errlen)
{
	const char *notify_path = who->notify_path;
	struct env e = { 0 };

	*pid_slot = NULL;
	for (char **v = environ; *v; v++)
		if (!env_is_private(*v))
			env_put(&e, strdup(*v));
	env_putf(&e, "VIGIL_PROGRAM=%s", who->cfg->name);
	env_putf(&e, "VIGIL_PROCESS_NAME=%s", who->name);
	env_putf(&e, "VIGIL_PROCESS_NUM=%d", who->instance);
	for (char **v = who->cfg->environment; v && *v; v++) {
		char *kv = expand_program_vars(*v, who->cfg->name, who->instance, err, errlen);
		if (!kv) {
			argv_free(e.vars);
			return NULL;
		}
		env_put(&e, kv);
	}
	/* last, so `environment` cannot replace the notify contract (nor the
	 * reserved WATCHDOG_PID= slot the child writes its pid into) */
	if (notify_path)
		env_putf(&e, "NOTIFY_SOCKET=%s", notify_path);
	if (who->watchdog_usec > 0) {
		env_putf(&e, "WATCHDOG_USEC=%lld", (long long)who->watchdog_usec);
		/* the pid is unknown until the clone: the child writes it in here */
		env_putf(&e, "%s%-20s", SPAWN_WATCHDOG_PID, "");
		/* this slot only: a WATCHDOG_PID= of `environment` (without a
		 * heartbeat) is the user's, and may be too short */
		for (char **v = e.vars; *v && !*pid_slot; v++)
			if (strncmp(*v, SPAWN_WATCHDOG_PID, sizeof(SPAWN_WATCHDOG_PID) - 1) == 0)
				*pid_slot = *v + sizeof(SPAWN_WATCHDOG_PID) - 1;
	}
	return e.vars;
}
