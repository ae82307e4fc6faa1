/* vigilctl import-supervisord FILE: a supervisord.conf, with the files its
 * [include] names, written as one vigil.conf on stdout. Programs become
 * vigil programs (import_program.c); [supervisord]'s loglevel becomes
 * [vigil] log_level; every other section and option without an
 * equivalent is kept as a comment and warned about on stderr, with its
 * file and line. Nothing is written when a file cannot be read (exit 1). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"
#include "vigilctl.h"

/* Sections with no vigil equivalent ("x:" matches "x:NAME"), and why. */
static const struct {
	const char *name, *why;
	bool among_programs;
} other_sections[] = {
	{ "unix_http_server", "vigil's ctl socket is [vigil] socket, socket_mode and socket_group "
			      "(default " DEFAULT_SOCKET ")", false },
	{ "inet_http_server", "vigil has no control over TCP; [vigil] http_listen serves only "
			      "/healthz, /metrics and a status page", false },
	{ "supervisorctl", "vigilctl finds vigild's socket with -s or $VIGIL_SOCKET", false },
	{ "rpcinterface:", "vigil's ctl API needs nothing configured", false },
	{ "ctlplugin:", "vigilctl has no plugins", false },
	{ "eventlistener:", "vigil has no event listeners: `vigilctl events -f` streams the state changes, "
			    "on_failure and on_fatal run a command, critical = yes ends vigild with a program", true },
	{ "fcgi-program:", "vigil opens no sockets for its programs: run the FastCGI server as a "
			   "[program:x] that binds its own", true },
};

/* [supervisord] options, and why they need nothing or have no equal. */
static const struct {
	const char *key, *why;
	bool warn;
} supervisord_options[] = {
	{ "environment", "given to each program below", false },
	{ "nodaemon", "vigild always runs in the foreground", false },
	{ "logfile", "vigild logs to the journal under systemd, else to stderr", true },
	{ "logfile_maxbytes", "vigild logs to the journal under systemd, else to stderr", true },
	{ "logfile_backups", "vigild logs to the journal under systemd, else to stderr", true },
	{ "pidfile", "vigild runs in the foreground and needs no pid file", true },
	{ "childlogdir", "vigil writes logs where stdout = file:PATH says", true },
	{ "user", "run vigild as that user: User= in vigil.service", true },
	{ "directory", "set directory in each program", true },
	{ "umask", "set umask in each program", true },
	{ "minfds", "set LimitNOFILE= in vigil.service", true },
	{ "minprocs", "set LimitNPROC= in vigil.service", true },
};

/* supervisord's log levels, vigil's. */
static const struct {
	const char *sv, *vigil;
} log_levels[] = {
	{ "critical", "err" }, { "error", "err" }, { "warn", "warning" }, { "info", "info" },
	{ "debug", "debug" }, { "trace", "debug" }, { "blather", "debug" },
};

void import_not_converted(struct import_out *out, FILE *to, const char *section, struct sv_option *opt,
			  const char *why)
{
	fprintf(to, "; not converted: %s = %s (%s)\n", opt->key, opt->value, why);
	sv_warn(out->config, opt->file, opt->line, "[%s] %s: not converted (%s)", section, opt->key, why);
	opt->handled = true;
}

bool import_value_fits(const char *value)
{
	for (const char *p = value; *p; p++)
		if (*p == '\n' || *p == '\r' || ((*p == ' ' || *p == '\t') && p[1] == ';'))
			return false;
	return true;
}

static bool section_matches(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	return pattern[n - 1] == ':' ? strncmp(name, pattern, n) == 0 : strcmp(name, pattern) == 0;
}

const char *import_group_of(struct sv_config *config, const char *program)
{
	for (size_t i = 0; i < config->nsections; i++) {
		struct sv_option *o = sv_option_find(&config->sections[i], "programs");
		char *list, *save = NULL;
		bool found = false;
		if (strncmp(config->sections[i].name, "group:", 6) != 0 || !o || !(list = strdup(o->value)))
			continue;
		for (char *p = strtok_r(list, ", \t", &save); p && !found; p = strtok_r(NULL, ", \t", &save))
			found = strcmp(p, program) == 0;
		free(list);
		if (found)
			return config->sections[i].name + 6;
	}
	return NULL;
}

/* Every option of s not handled yet, as a comment (warned when warn). */
static void comment_rest(struct import_out *out, FILE *to, struct sv_section *s, bool warn, const char *why)
{
	for (size_t i = 0; i < s->nopts; i++) {
		if (s->opts[i].handled)
			continue;
		if (warn)
			import_not_converted(out, to, s->name, &s->opts[i], why);
		else
			fprintf(to, "; not converted: %s = %s\n", s->opts[i].key, s->opts[i].value);
	}
}

static void import_supervisord_section(struct import_out *out, struct sv_section *s)
{
	struct sv_option *o;

	fprintf(out->head, "; [supervisord] from %s:%d\n", s->file, s->line);
	if ((o = sv_option_find(s, "loglevel"))) {
		size_t i;
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
			if (strcasecmp(o->value, log_levels[i].sv) == 0)
				break;
		if (i < sizeof(log_levels) / sizeof(log_levels[0]))
			fprintf(out->head, "log_level = %s\n", log_levels[i].vigil), o->handled = true;
		else
			import_not_converted(out, out->head, s->name, o, "not a supervisord log level");
	}
	for (size_t i = 0; i < s->nopts; i++) {
		o = &s->opts[i];
		for (size_t k = 0; k < sizeof(supervisord_options) / sizeof(supervisord_options[0]) && !o->handled; k++) {
			if (strcmp(o->key, supervisord_options[k].key) != 0)
				continue;
			if (supervisord_options[k].warn) {
				import_not_converted(out, out->head, s->name, o, supervisord_options[k].why);
			} else {
				fprintf(out->head, "; %s = %s: %s\n", o->key, o->value, supervisord_options[k].why);
				o->handled = true;
			}
		}
	}
	comment_rest(out, out->head, s, true, "vigil has no equivalent");
}

static void import_group(struct import_out *out, struct sv_section *s)
{
	struct sv_option *programs = sv_option_find(s, "programs"), *priority = sv_option_find(s, "priority");
	char *list = strdup(programs ? programs->value : ""), *save = NULL;

	if (!list)
		abort();
	fprintf(out->body, "\n; group %s: programs ", s->name + 6);
	for (char *p = strtok_r(list, ", \t", &save), *first = p; p; p = strtok_r(NULL, ", \t", &save))
		fprintf(out->body, "%s%s", p == first ? "" : ", ", p);
	fprintf(out->body, " — vigil has no groups; use requires/priority");
	if (priority)
		fprintf(out->body, " (group priority %s)", priority->value), priority->handled = true;
	fprintf(out->body, "\n");
	free(list);
	sv_warn(out->config, s->file, s->line, "[%s] not converted: vigil has no groups; use requires/priority", s->name);
	if (programs)
		programs->handled = true;
	comment_rest(out, out->body, s, false, NULL);
}

static void import_section(struct import_out *out, struct sv_section *s)
{
	struct sv_option *files = sv_option_find(s, "files");

	if (strncmp(s->name, "program:", 8) == 0)
		return import_program(out, s);
	if (strcmp(s->name, "supervisord") == 0)
		return import_supervisord_section(out, s);
	if (strncmp(s->name, "group:", 6) == 0)
		return import_group(out, s);
	if (strcmp(s->name, "include") == 0 && !s->nested_include) {
		fprintf(out->head, "; [include] %s:%d: the sections of its files are converted below\n", s->file, s->line);
		if (files)
			files->handled = true;
		return comment_rest(out, out->head, s, true, "[include] takes only files");
	}
	if (s->nested_include) {
		sv_warn(out->config, s->file, s->line, "[include] in an included file: supervisord ignores it, and so does this import");
		fprintf(out->head, "; [include] %s:%d, in an included file: ignored, as supervisord does\n", s->file, s->line);
		return comment_rest(out, out->head, s, false, NULL);
	}
	for (size_t i = 0; i < sizeof(other_sections) / sizeof(other_sections[0]); i++) {
		FILE *to = other_sections[i].among_programs ? out->body : out->head;
		if (!section_matches(other_sections[i].name, s->name))
			continue;
		fprintf(to, "%s; [%s] %s:%d not converted: %s\n", to == out->body ? "\n" : "", s->name, s->file,
			s->line, other_sections[i].why);
		sv_warn(out->config, s->file, s->line, "[%s] not converted: %s", s->name, other_sections[i].why);
		return comment_rest(out, to, s, false, NULL);
	}
	fprintf(out->head, "; [%s] %s:%d not converted: supervisord has no such section\n", s->name, s->file, s->line);
	sv_warn(out->config, s->file, s->line, "[%s] not converted: supervisord has no such section", s->name);
	comment_rest(out, out->head, s, false, NULL);
}

static int import_write(const char *path, char *head, size_t head_len, char *body, size_t body_len)
{
	printf("; vigil.conf converted from %s by vigilctl import-supervisord.\n"
	       "; What supervisord left at its defaults takes vigil's (vigil.conf(5)), among\n"
	       "; them kill_group = yes, start_limit_burst = 5 and stdout = inherit.\n"
	       "; Check it with: vigild --check -c vigil.conf\n\n[vigil]\n",
	       path);
	fwrite(head, 1, head_len, stdout);
	fwrite(body, 1, body_len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("vigilctl: import-supervisord: writing the result");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int cmd_import(struct ctl *c)
{
	struct sv_config config = { 0 };
	struct import_out out = { .config = &config };
	char *head = NULL, *body = NULL;
	size_t head_len = 0, body_len = 0, programs = 0;
	int rc;

	if (c->nargs != 1) {
		fprintf(stderr, "vigilctl: import-supervisord needs the supervisord.conf to read "
				"(see 'vigilctl help import-supervisord')\n");
		return EXIT_USAGE;
	}
	if (sv_config_read(&config, c->args[0]) < 0) {
		sv_config_free(&config);
		return EXIT_FAILED;
	}
	if (!(out.head = open_memstream(&head, &head_len)) || !(out.body = open_memstream(&body, &body_len)))
		abort();
	for (size_t i = 0; i < config.nsections; i++)
		if (strncmp(config.sections[i].name, "program:", 8) == 0 && sv_option_find(&config.sections[i], "priority"))
			out.any_priority = true;
	for (size_t i = 0; i < config.nsections; i++)
		import_section(&out, &config.sections[i]);
	fclose(out.head);
	fclose(out.body);
	rc = import_write(c->args[0], head, head_len, body, body_len);
	programs = out.nnames;
	fprintf(stderr, "vigilctl: import-supervisord: %zu program%s converted, %d warning%s\n", programs,
		programs == 1 ? "" : "s", config.warnings, config.warnings == 1 ? "" : "s");
	for (size_t i = 0; i < out.nnames; i++)
		free(out.names[i]);
	free(out.names);
	free(head);
	free(body);
	sv_config_free(&config);
	return rc;
}
