/* One supervisord [program:x] as a vigil [program:x]. What is written is
 * converted and checked with vigil's own value parsers, so the result
 * passes `vigild --check`; what supervisord left at its default takes
 * vigil's (but priority, which orders programs against each other). What
 * has no equivalent becomes a "; not converted:" comment and a warning. */
#define _GNU_SOURCE
#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"
#include "parse.h"

#define SUPERVISORD_PRIORITY 999
#define NAME_MAX_VIGIL 64

struct prog {
	struct import_out *out;
	struct sv_section *s;
	const char *label; /* "program:x", for the warnings */
	char name[NAME_MAX_VIGIL + 8]; /* vigil's name for it */
	struct sv_expand x;
	FILE *f;
};

/* Where a stream goes in vigil. */
struct dest {
	enum { DEST_DEFAULT, DEST_NULL, DEST_INHERIT, DEST_JOURNAL, DEST_FILE, DEST_STDOUT } kind;
	char *path;
};

/* Options with no vigil equivalent, and why. */
static const struct {
	const char *key, *why;
} no_equivalent[] = {
	{ "serverurl", "vigil's programs need no ctl URL; vigilctl finds the socket with -s or $VIGIL_SOCKET" },
	{ "stdout_capture_maxbytes", "vigil has no capture mode; `vigilctl events` streams state changes" },
	{ "stderr_capture_maxbytes", "vigil has no capture mode; `vigilctl events` streams state changes" },
	{ "stdout_events_enabled", "vigil sends no output events; `vigilctl log -f` follows the output" },
	{ "stderr_events_enabled", "vigil sends no output events; `vigilctl log -f` follows the output" },
};

static struct sv_option *take(struct prog *p, const char *key)
{
	struct sv_option *o = sv_option_find(p->s, key);

	if (o)
		o->handled = true;
	return o;
}

static void put(struct prog *p, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(struct prog *p, const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(p->f, "%s = ", key);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
	fputc('\n', p->f);
}

static void skip(struct prog *p, struct sv_option *o, const char *why)
{
	import_not_converted(p->out, p->f, p->label, o, why);
}

/* A default of supervisord's that vigil's equals: said, not warned about. */
static void note(struct prog *p, struct sv_option *o, const char *why)
{
	fprintf(p->f, "; %s = %s: %s\n", o->key, o->value, why);
}

/* o's value expanded; NULL after skipping it. */
static char *expanded(struct prog *p, struct sv_option *o, bool vigil_expands)
{
	char why[512], *v;

	p->x.vigil_expands = vigil_expands;
	p->x.import_time = false;
	if (!(v = sv_expand(&p->x, o->value, why, sizeof(why)))) {
		skip(p, o, why);
		return NULL;
	}
	if (!import_value_fits(v)) {
		skip(p, o, "vigil cannot hold this value on one line");
		free(v);
		return NULL;
	}
	if (p->x.import_time)
		fprintf(p->f, "; %s: expanded where the import ran (%s)\n", o->key, o->value);
	return v;
}

static bool int_value(struct prog *p, struct sv_option *o, long min, long max, long *n)
{
	char err[PARSE_ERR_MAX];

	if (parse_int_range(o->value, min, max, n, err, sizeof(err)) == 0)
		return true;
	skip(p, o, err);
	return false;
}

static void put_bool(struct prog *p, const char *key, struct sv_option *o)
{
	char err[PARSE_ERR_MAX];
	bool b;

	if (parse_bool(o->value, &b, err, sizeof(err)) < 0)
		return skip(p, o, err);
	put(p, key, "%s", b ? "yes" : "no");
}

/* vigil's program names are letters, digits, _ . and -; supervisord's may
 * hold more. */
static void program_name_for_vigil(struct prog *p, const char *sv_name)
{
	size_t i;

	for (i = 0; sv_name[i] && i < NAME_MAX_VIGIL; i++)
		p->name[i] = isalnum((unsigned char)sv_name[i]) || strchr("_.-", sv_name[i]) ? sv_name[i] : '_';
	p->name[i] = '\0';
	if (strcmp(p->name, "all") == 0 || !*p->name)
		strcat(p->name, "_");
	p->x.renamed = strcmp(p->name, sv_name) != 0;
}

static void convert_identity(struct prog *p)
{
	struct sv_option *o, *global_env;
	char *v, *env = NULL, *global = NULL, why[512];

	if ((o = take(p, "directory")) && (v = expanded(p, o, true)))
		put(p, "directory", "%s", v), free(v);
	if ((o = take(p, "user")) && (v = expanded(p, o, false))) {
		bool uid = *v && strspn(v, "0123456789") == strlen(v);
		struct passwd *pw = uid ? getpwuid((uid_t)atol(v)) : NULL;
		if (pw)
			put(p, "user", "%s", pw->pw_name);
		else if (uid || !*v)
			skip(p, o, uid ? "no user has this uid here; vigil takes a user name" : "empty");
		else
			put(p, "user", "%s", v);
		free(v);
	}
	if ((o = take(p, "umask"))) {
		int mode;
		if (parse_octal_mode(o->value, &mode, why, sizeof(why)) < 0)
			skip(p, o, why);
		else
			put(p, "umask", "%s", o->value);
	}
	/* [supervisord] environment is supervisord's own, which every program
	 * inherits; vigil's programs inherit vigild's: each program gets it */
	global_env = sv_option_find(sv_section_find(p->out->config, "supervisord"), "environment");
	if (global_env && (v = expanded(p, global_env, true))) {
		if (!(global = sv_environment_to_vigil(v, why, sizeof(why))))
			sv_warn(p->out->config, global_env->file, global_env->line, "[supervisord] environment: %s", why);
		free(v);
	}
	if ((o = take(p, "environment")) && (v = expanded(p, o, true))) {
		if (!(env = sv_environment_to_vigil(v, why, sizeof(why))))
			skip(p, o, why);
		free(v);
	}
	if (global && *global && env && *env)
		put(p, "environment", "%s, %s", global, env);
	else if ((global && *global) || (env && *env))
		put(p, "environment", "%s", global && *global ? global : env);
	free(global);
	free(env);
}

static void convert_instances(struct prog *p)
{
	struct sv_option *o;
	char *v, why[160];
	long n;

	if ((o = take(p, "numprocs")) && int_value(p, o, 1, 10000, &n))
		put(p, "numprocs", "%ld", n);
	if ((o = take(p, "numprocs_start")) && p->x.numprocs_start == 0)
		note(p, o, "vigil numbers instances from 0 too");
	else if (o && p->x.numprocs <= 1)
		note(p, o, "one process: %(process_num)d is written out");
	else if (o)
		skip(p, o, "vigil numbers instances from 0");
	if (!(o = take(p, "process_name")))
		return;
	if (p->x.numprocs > 1) {
		snprintf(why, sizeof(why), "vigil names the instances %s:0 .. %s:%d", p->name, p->name, p->x.numprocs - 1);
		return skip(p, o, why);
	}
	p->x.vigil_expands = false;
	if ((v = sv_expand(&p->x, o->value, why, sizeof(why))) && strcmp(v, p->name) == 0)
		note(p, o, "the program's name, as in vigil");
	else
		skip(p, o, "vigil names the process after its section");
	free(v);
}

/* priority, autostart, autorestart, start and stop. */
static void convert_lifecycle(struct prog *p)
{
	static const struct { const char *sv, *vigil; } restarts[] = {
		{ "true", "always" }, { "1", "always" }, { "yes", "always" }, { "on", "always" },
		{ "false", "never" }, { "0", "never" }, { "no", "never" }, { "off", "never" },
		{ "unexpected", "on-failure" },
	};
	char err[PARSE_ERR_MAX];
	struct sv_option *o, *group;
	long n;
	int sig;

	if ((o = take(p, "priority")) && int_value(p, o, -1000000, 1000000, &n))
		put(p, "priority", "%ld", n);
	else if (!o && p->out->any_priority)
		put(p, "priority", "%d ; supervisord's default", SUPERVISORD_PRIORITY);
	if ((o = take(p, "autostart")))
		put_bool(p, "autostart", o);
	if ((o = take(p, "autorestart"))) {
		size_t i;
		for (i = 0; i < sizeof(restarts) / sizeof(restarts[0]); i++)
			if (strcasecmp(o->value, restarts[i].sv) == 0)
				break;
		if (i < sizeof(restarts) / sizeof(restarts[0]))
			put(p, "restart", "%s", restarts[i].vigil);
		else
			skip(p, o, "not true, false or unexpected");
	}
	if ((o = take(p, "startsecs")) && int_value(p, o, 0, 86400 * 365, &n))
		put(p, "start_secs", "%lds", n);
	if ((o = take(p, "startretries")) && int_value(p, o, 0, 1000000, &n)) {
		if (n == 0) {
			fprintf(p->f, "; startretries = 0: vigil retries a failed start at least once\n");
			sv_warn(p->out->config, o->file, o->line,
				"[%s] startretries = 0: vigil retries a failed start at least once (start_limit_burst = 1)",
				p->label);
		}
		put(p, "start_limit_burst", "%ld", n ? n : 1);
	}
	if ((o = take(p, "exitcodes"))) {
		struct exit_code_set set;
		if (parse_exit_codes(o->value, &set, err, sizeof(err)) < 0)
			skip(p, o, err);
		else
			put(p, "success_exit_codes", "%s", o->value);
	}
	if ((o = take(p, "stopsignal"))) {
		if (parse_signal(o->value, &sig, err, sizeof(err)) < 0)
			skip(p, o, err);
		else
			put(p, "stop_signal", "%s", o->value);
	}
	if ((o = take(p, "stopwaitsecs")) && int_value(p, o, 0, 86400 * 365, &n))
		put(p, "stop_timeout", "%lds", n);
	/* vigil signals the group for both the stop and the kill */
	o = take(p, "stopasgroup");
	group = take(p, "killasgroup");
	if (o || group) {
		bool stop = false, kill = false;
		if ((o && parse_bool(o->value, &stop, err, sizeof(err)) < 0) ||
		    (group && parse_bool(group->value, &kill, err, sizeof(err)) < 0))
			return skip(p, o ? o : group, err);
		put(p, "kill_group", "%s", stop || kill ? "yes" : "no");
	}
}

/* supervisord's byte sizes: a number, with KB, MB or GB (1024 each). */
static int byte_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;

	if (end == s || *s == '-')
		return -1;
	if (strcasecmp(end, "KB") == 0)
		mult = UINT64_C(1) << 10;
	else if (strcasecmp(end, "MB") == 0)
		mult = UINT64_C(1) << 20;
	else if (strcasecmp(end, "GB") == 0)
		mult = UINT64_C(1) << 30;
	else if (*end)
		return -1;
	*bytes = v * mult;
	return v > UINT64_MAX / mult ? -1 : 0;
}

static void put_size(struct prog *p, uint64_t bytes)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3 && bytes; i++) {
		uint64_t unit = UINT64_C(1) << (10 * (3 - i));
		if (bytes % unit == 0)
			return put(p, "log_max_size", "%llu%c", (unsigned long long)(bytes / unit), units[i]);
	}
	put(p, "log_max_size", "%llu", (unsigned long long)bytes);
}

/* stdout_logfile or stderr_logfile as a vigil destination. */
static struct dest logfile_dest(struct prog *p, struct sv_option *o)
{
	static const char *const terminal[] = { "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2",
						"/proc/self/fd/1", "/proc/self/fd/2" };
	struct dest d = { DEST_DEFAULT, NULL };

	if (!o)
		return d;
	if (strcasecmp(o->value, "AUTO") == 0 || strcasecmp(o->value, "syslog") == 0)
		return (struct dest){ DEST_JOURNAL, NULL };
	if (strcasecmp(o->value, "NONE") == 0 || strcmp(o->value, "/dev/null") == 0)
		return (struct dest){ DEST_NULL, NULL };
	/* a container's habit: vigil writes to its own output with inherit
	 * (and opens no log through a symlink) */
	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(o->value, terminal[i]) == 0)
			return (struct dest){ DEST_INHERIT, NULL };
	if ((d.path = expanded(p, o, true)))
		d.kind = DEST_FILE;
	return d;
}

/* One stream: its logfile and syslog options; stderr may follow stdout. */
static struct dest stream_dest(struct prog *p, const char *stream, bool redirected)
{
	char key[32], why[160];
	struct sv_option *file, *syslog;
	struct dest d;
	bool on = false;

	snprintf(key, sizeof(key), "%s_logfile", stream);
	file = take(p, key);
	snprintf(key, sizeof(key), "%s_syslog", stream);
	syslog = take(p, key);
	if (redirected) {
		if (file)
			note(p, file, "redirect_stderr sends stderr to stdout's destination");
		if (syslog)
			note(p, syslog, "redirect_stderr sends stderr to stdout's destination");
		return (struct dest){ DEST_STDOUT, NULL };
	}
	d = logfile_dest(p, file);
	if (syslog && parse_bool(syslog->value, &on, why, sizeof(why)) < 0) {
		skip(p, syslog, why);
	} else if (on && d.kind != DEST_DEFAULT && d.kind != DEST_NULL && d.kind != DEST_JOURNAL) {
		snprintf(why, sizeof(why), "vigil sends %s to one place, here %s's", stream, file->key);
		skip(p, syslog, why);
	} else if (on) {
		d.kind = DEST_JOURNAL;
	}
	return d;
}

static void put_dest(struct prog *p, const char *key, const struct dest *d)
{
	static const char *const kinds[] = { NULL, "null", "inherit", "journal", NULL, "stdout" };

	if (d->kind == DEST_FILE)
		put(p, key, "file:%s", d->path);
	else if (kinds[d->kind])
		put(p, key, "%s", kinds[d->kind]);
}

/* *_maxbytes and *_backups: vigil has one of each for both files. */
static void convert_rotation(struct prog *p, const char *suffix, const struct dest *out, const struct dest *err)
{
	struct sv_option *opts[2];
	const char *streams[2] = { "stdout", "stderr" };
	bool is_file[2] = { out->kind == DEST_FILE, err->kind == DEST_FILE };
	bool written = false;
	char key[64];

	for (int i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "%s_logfile_%s", streams[i], suffix);
		opts[i] = take(p, key);
	}
	for (int i = 0; i < 2; i++) {
		struct sv_option *o = opts[i];
		uint64_t bytes;
		long n;
		if (!o)
			continue;
		if (!is_file[i]) {
			note(p, o, "no log file in vigil, nothing to rotate");
		} else if (written) {
			if (strcmp(o->value, opts[0]->value) != 0)
				skip(p, o, "vigil has one value for both log files: stdout's is written");
		} else if (strcmp(suffix, "maxbytes") == 0) {
			if (byte_size(o->value, &bytes) < 0)
				skip(p, o, "not a size (bytes, or with KB, MB or GB)");
			else
				put_size(p, bytes), written = true;
		} else if (int_value(p, o, 0, 1000, &n)) {
			put(p, "log_backups", "%ld", n);
			written = true;
		}
	}
}

static void convert_output(struct prog *p)
{
	struct sv_option *o = take(p, "redirect_stderr");
	struct dest out, err;
	char why[PARSE_ERR_MAX];
	bool redirect = false;

	if (o && parse_bool(o->value, &redirect, why, sizeof(why)) < 0)
		skip(p, o, why);
	out = stream_dest(p, "stdout", false);
	err = stream_dest(p, "stderr", redirect);
	/* two streams into one file: one stream, as vigil rotates it once */
	if (out.kind == DEST_FILE && err.kind == DEST_FILE && strcmp(out.path, err.path) == 0) {
		free(err.path);
		err = (struct dest){ DEST_STDOUT, NULL };
	}
	put_dest(p, "stdout", &out);
	put_dest(p, "stderr", &err);
	/* supervisord writes the lines as they come, a container's log
	 * collector reads them so */
	if (out.kind == DEST_INHERIT || err.kind == DEST_INHERIT)
		put(p, "output_prefix", "no");
	convert_rotation(p, "maxbytes", &out, &err);
	convert_rotation(p, "backups", &out, &err);
	free(out.path);
	free(err.path);
}

/* The section, every option a comment: what vigil cannot run. */
static void program_unconverted(struct prog *p, const char *why)
{
	fprintf(p->f, "\n; [%s] %s:%d not converted: %s\n", p->label, p->s->file, p->s->line, why);
	sv_warn(p->out->config, p->s->file, p->s->line, "[%s] not converted: %s", p->label, why);
	for (size_t i = 0; i < p->s->nopts; i++)
		fprintf(p->f, "; %s = %s\n", p->s->opts[i].key, p->s->opts[i].value);
}

/* command, split as vigil will; NULL after saying why not. */
static char *program_command(struct prog *p)
{
	struct sv_option *o = sv_option_find(p->s, "command");
	char why[512], **argv = NULL, *v;

	if (!o)
		return program_unconverted(p, "it has no command"), NULL;
	p->x.vigil_expands = true;
	if (!(v = sv_expand(&p->x, o->value, why, sizeof(why))) || !import_value_fits(v) ||
	    argv_split(v, &argv, why, sizeof(why)) < 0) {
		char full[600];
		snprintf(full, sizeof(full), "command: %s", v ? (import_value_fits(v) ? why : "not one line") : why);
		free(v);
		return program_unconverted(p, full), NULL;
	}
	argv_free(argv);
	o->handled = true;
	return v;
}

static bool name_taken(struct import_out *out, const char *name)
{
	for (size_t i = 0; i < out->nnames; i++)
		if (strcmp(out->names[i], name) == 0)
			return true;
	return false;
}

void import_program(struct import_out *out, struct sv_section *section)
{
	struct prog p = { .out = out, .s = section, .label = section->name, .f = out->body };
	struct sv_option *o;
	char *command;
	long n;

	p.x = (struct sv_expand){ .here = section->here, .program = section->name + 8, .numprocs = 1 };
	program_name_for_vigil(&p, p.x.program);
	if ((o = sv_option_find(section, "numprocs")) && parse_int_range(o->value, 1, 10000, &n, NULL, 0) == 0)
		p.x.numprocs = (int)n;
	if ((o = sv_option_find(section, "numprocs_start")) && parse_int_range(o->value, 0, 1000000, &n, NULL, 0) == 0)
		p.x.numprocs_start = (int)n;
	p.x.group = import_group_of(out->config, p.x.program);
	if (name_taken(out, p.name))
		return program_unconverted(&p, "another program has the same name in vigil");
	if (!(command = program_command(&p)))
		return;
	out->names = realloc(out->names, (out->nnames + 1) * sizeof(char *));
	if (!out->names || !(out->names[out->nnames++] = strdup(p.name)))
		abort();
	fprintf(p.f, "\n[program:%s]\n; from %s:%d\n", p.name, section->file, section->line);
	if (p.x.renamed)
		fprintf(p.f, "; supervisord's name: %s\n", p.x.program);
	put(&p, "command", "%s", command);
	if (p.x.import_time)
		fprintf(p.f, "; command: expanded where the import ran (%s)\n", sv_option_find(section, "command")->value);
	free(command);
	convert_identity(&p);
	convert_instances(&p);
	convert_lifecycle(&p);
	convert_output(&p);
	for (size_t i = 0; i < section->nopts; i++) {
		const char *why = "neither supervisord nor vigil has this option";
		if (section->opts[i].handled)
			continue;
		for (size_t k = 0; k < sizeof(no_equivalent) / sizeof(no_equivalent[0]); k++)
			if (strcmp(section->opts[i].key, no_equivalent[k].key) == 0)
				why = no_equivalent[k].why;
		skip(&p, &section->opts[i], why);
	}
}
