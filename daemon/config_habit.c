/* The habits table: see config_habit.h. */
#define _GNU_SOURCE
#include "config_habit.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A value of the habit's option, and what it becomes in vigil. */
struct habit_value {
	const char *value; /* compared without case */
	const char *becomes;
};

struct habit {
	enum habit_place place;
	const char *name; /* a section name ending in ':' matches every NAME after it */
	const char *origin; /* "supervisord", "systemd" */
	const char *option; /* the vigil program option it stands for, or NULL */
	/* what to write in vigil: "%s" is the value as written (the whole
	 * hint is "vigil has no equivalent: ..." when it starts with '-') */
	const char *equivalent;
	const struct habit_value *values; /* NULL-ended; checked before equivalent */
};

static const struct habit_value autorestart_values[] = {
	{ "true", "restart = always" }, { "unexpected", "restart = on-failure" }, { "false", "restart = never" },
	{ NULL, NULL },
};
static const struct habit_value systemd_restart_values[] = {
	{ "always", "restart = always" }, { "on-failure", "restart = on-failure" },
	{ "on-abnormal", "restart = on-failure" }, { "on-abort", "restart = on-failure" },
	{ "on-watchdog", "restart = on-failure" }, { "no", "restart = never" }, { NULL, NULL },
};
static const struct habit_value stdout_logfile_values[] = {
	{ "NONE", "stdout = null" }, { "/dev/null", "stdout = null" }, { NULL, NULL },
};
static const struct habit_value stderr_logfile_values[] = {
	{ "NONE", "stderr = null" }, { "/dev/null", "stderr = null" }, { NULL, NULL },
};

#define SUP(name, option, equivalent) { HABIT_PROGRAM_OPTION, name, "supervisord", option, equivalent, NULL }
#define SYS(name, option, equivalent) { HABIT_PROGRAM_OPTION, name, "systemd", option, equivalent, NULL }
#define SECTION(name, origin, equivalent) { HABIT_SECTION, name, origin, NULL, equivalent, NULL }
#define VIGIL(name, equivalent) { HABIT_VIGIL_OPTION, name, "supervisord", NULL, equivalent, NULL }
static const struct habit habits[] = {
	/* supervisord's [program:x]; command, directory, user, umask,
	 * environment, numprocs, priority and autostart are the same */
	{ HABIT_PROGRAM_OPTION, "autorestart", "supervisord", "restart", "restart = always|on-failure|never",
	  autorestart_values },
	SUP("startsecs", "start_secs", "start_secs = %s"),
	SUP("startretries", "start_limit_burst", "start_limit_burst = %s (failed starts within start_limit_interval)"),
	SUP("stopsignal", "stop_signal", "stop_signal = %s"),
	SUP("stopwaitsecs", "stop_timeout", "stop_timeout = %s"),
	SUP("stopasgroup", "kill_group", "kill_group = %s"),
	SUP("killasgroup", "kill_group", "kill_group = %s"),
	SUP("exitcodes", "success_exit_codes", "success_exit_codes = %s"),
	{ HABIT_PROGRAM_OPTION, "stdout_logfile", "supervisord", "stdout", "stdout = file:%s", stdout_logfile_values },
	{ HABIT_PROGRAM_OPTION, "stderr_logfile", "supervisord", "stderr", "stderr = file:%s", stderr_logfile_values },
	SUP("redirect_stderr", "stderr", "stderr = stdout"),
	SUP("stdout_syslog", "stdout", "stdout = journal"),
	SUP("stderr_syslog", "stderr", "stderr = journal"),
	SUP("stdout_logfile_maxbytes", "log_max_size", "log_max_size = SIZE (512K, 10M, 1G)"),
	SUP("stderr_logfile_maxbytes", "log_max_size", "log_max_size = SIZE (one bound for stdout's and stderr's files)"),
	SUP("stdout_logfile_backups", "log_backups", "log_backups = %s"),
	SUP("stderr_logfile_backups", "log_backups", "log_backups = %s (one count for stdout's and stderr's files)"),
	SUP("process_name", NULL, "-with numprocs = N the instances are named NAME:0 .. NAME:N-1"),
	SUP("numprocs_start", NULL, "-instances are numbered from 0 (%(process_num)d in command)"),
	/* a systemd unit's [Service] */
	SYS("ExecStart", "command", "command = %s"),
	{ HABIT_PROGRAM_OPTION, "Restart", "systemd", "restart", "restart = always|on-failure|never",
	  systemd_restart_values },
	SYS("RestartSec", "restart_delay", "restart_delay = %s"),
	SYS("WorkingDirectory", "directory", "directory = %s"),
	SYS("User", "user", "user = %s"),
	SYS("Group", "group", "group = %s"),
	SYS("UMask", "umask", "umask = %s"),
	SYS("Environment", "environment", "environment = KEY=value, ... (separated by commas)"),
	SYS("EnvironmentFile", NULL, "-list the variables in environment = KEY=value, ..."),
	SYS("Type", "type", "type = simple|notify|oneshot"),
	SYS("KillSignal", "stop_signal", "stop_signal = %s"),
	SYS("KillMode", "kill_group", "kill_group = yes|no"),
	SYS("TimeoutStopSec", "stop_timeout", "stop_timeout = %s"),
	SYS("TimeoutStartSec", "ready_timeout", "ready_timeout = %s (type = notify)"),
	SYS("WatchdogSec", "heartbeat_timeout", "heartbeat_timeout = %s"),
	SYS("NotifyAccess", "notify_access", "notify_access = main|all"),
	SYS("SuccessExitStatus", "success_exit_codes", "success_exit_codes = CODE, ..."),
	SYS("StandardOutput", "stdout", "stdout = journal|file:PATH|inherit|null"),
	SYS("StandardError", "stderr", "stderr = journal|file:PATH|inherit|null|stdout"),
	SYS("StartLimitBurst", "start_limit_burst", "start_limit_burst = %s"),
	SYS("StartLimitIntervalSec", "start_limit_interval", "start_limit_interval = %s"),
	SYS("Requires", "requires", "requires = NAME[:running|healthy|completed], ..."),
	SYS("Wants", "requires", "requires = NAME[:running|healthy|completed], ..."),
	SYS("After", "requires", "requires = NAME, ... (and priority, which orders starts)"),
	/* supervisord's [supervisord] options, typed into [vigil] */
	VIGIL("loglevel", "log_level = %s"),
	VIGIL("logfile", "-vigild logs to the journal under systemd, else to stderr"),
	VIGIL("pidfile", "-vigild runs in the foreground and needs no pid file"),
	VIGIL("nodaemon", "-vigild always runs in the foreground"),
	VIGIL("files", "include = %s"),
	/* sections */
	SECTION("supervisord", "supervisord", "[vigil]"),
	SECTION("include", "supervisord", "[vigil] include = GLOB (relative to this file's folder)"),
	SECTION("group:", "supervisord", "-order programs with requires and priority; vigilctl takes several names"),
	SECTION("unix_http_server", "supervisord", "[vigil] socket, socket_mode and socket_group"),
	SECTION("inet_http_server", "supervisord", "-vigilctl talks to vigild over [vigil] socket"),
	SECTION("supervisorctl", "supervisord", "-vigilctl finds vigild's socket with -s or $VIGIL_SOCKET"),
	SECTION("rpcinterface:", "supervisord", "-vigilctl needs nothing configured"),
	SECTION("eventlistener:", "supervisord", "-vigilctl events streams every state change"),
	SECTION("Unit", "systemd", "[program:NAME], one section per program"),
	SECTION("Service", "systemd", "[program:NAME], one section per program"),
	SECTION("Install", "systemd", "-programs with autostart = yes start with vigild"),
};
#undef SUP
#undef SYS
#undef SECTION
#undef VIGIL

static bool habit_matches(const struct habit *h, enum habit_place place, const char *name)
{
	size_t len = strlen(h->name);

	if (h->place != place)
		return false;
	if (place == HABIT_SECTION && h->name[len - 1] == ':')
		return strncmp(name, h->name, len) == 0;
	return strcmp(name, h->name) == 0;
}

/* The equivalent for this value, from the values list, else the table's
 * text with the value put in (cut short: a hint, not a copy). A note of
 * the table's, " (...)" after the option, goes to *note. */
static void habit_equivalent(const struct habit *h, const char *value, char *out, size_t outlen, const char **note)
{
	const char *text = h->equivalent, *at = strstr(text, "%s"), *rest = at ? at + 2 : text;
	const char *paren = strstr(rest, " (");
	int head = (int)(at ? at - text : 0);
	int tail = (int)(paren ? paren - rest : (ptrdiff_t)strlen(rest));

	*note = paren ? paren : "";
	for (const struct habit_value *v = h->values; v && v->value; v++) {
		if (value && strcasecmp(value, v->value) == 0) {
			snprintf(out, outlen, "%s", v->becomes);
			*note = "";
			return;
		}
	}
	if (at)
		snprintf(out, outlen, "%.*s%.200s%.*s", head, text, value ? value : "", tail, rest);
	else
		snprintf(out, outlen, "%.*s", tail, text);
}

bool config_habit(enum habit_place place, const char *name, const char *value, char *hint, size_t hintlen,
		  const char **option)
{
	char equivalent[512];
	const char *note;

	*option = NULL;
	for (size_t i = 0; i < sizeof(habits) / sizeof(habits[0]); i++) {
		const struct habit *h = &habits[i];

		if (!habit_matches(h, place, name))
			continue;
		habit_equivalent(h, value, equivalent, sizeof(equivalent), &note);
		if (equivalent[0] == '-')
			snprintf(hint, hintlen, " (%s's); vigil has no equivalent: %s%s", h->origin, equivalent + 1, note);
		else
			snprintf(hint, hintlen, " (%s's); vigil's equivalent is \"%s\"%s", h->origin, equivalent, note);
		*option = h->option;
		return true;
	}
	return false;
}
