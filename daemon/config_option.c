/* Program options: see config_option.h. Every option lives in the table
 * below: its name, how its value is parsed, and where it is stored. */
#define _GNU_SOURCE
#include "config_option.h"

#include <ctype.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum option_kind {
	OPT_STRING, OPT_COMMAND, OPT_DIRECTORY, OPT_DURATION, OPT_SIZE, OPT_BOOL, OPT_SIGNAL,
	OPT_EXIT_CODES, OPT_UMASK, OPT_INT, OPT_CHOICE, OPT_OUTPUT, OPT_ENVIRONMENT, OPT_REQUIRES,
	OPT_HEALTH_CHECK, OPT_HOOK,
};

/* A value out of a few words, stored as its enum (an int). */
struct choice {
	const char *word;
	int value;
};

struct option_def {
	const char *name;
	enum option_kind kind;
	size_t offset;
	long min, max;		       /* OPT_INT; OPT_DURATION: min 1 for "more than 0" */
	const struct choice *choices;  /* OPT_CHOICE only: ends with a NULL word ... */
	const char *noun;	       /* ... and is called this in messages */
};

static const struct choice restart_choices[] = {
	{ "always", RESTART_ALWAYS }, { "on-failure", RESTART_ON_FAILURE }, { "never", RESTART_NEVER }, { NULL, 0 },
};
static const struct choice type_choices[] = {
	{ "simple", PROGRAM_SIMPLE }, { "notify", PROGRAM_NOTIFY }, { "oneshot", PROGRAM_ONESHOT }, { NULL, 0 },
};
static const struct choice notify_access_choices[] = {
	{ "main", NOTIFY_ACCESS_MAIN }, { "all", NOTIFY_ACCESS_ALL }, { NULL, 0 },
};
static const struct choice health_action_choices[] = {
	{ "restart", HEALTH_ACTION_RESTART }, { "none", HEALTH_ACTION_NONE }, { NULL, 0 },
};
static const struct choice condition_choices[] = {
	{ "running", REQUIRE_RUNNING }, { "healthy", REQUIRE_HEALTHY }, { "completed", REQUIRE_COMPLETED }, { NULL, 0 },
};

_Static_assert(sizeof(enum restart_policy) == sizeof(int) && sizeof(enum program_type) == sizeof(int) &&
		       sizeof(enum notify_access) == sizeof(int) && sizeof(enum health_action) == sizeof(int),
	       "OPT_CHOICE stores enums as int");

#define P(field) offsetof(struct program_config, field)
#define CHOICE(name, field, choices, noun) { name, OPT_CHOICE, P(field), 0, 0, choices, noun }
static const struct option_def program_options[] = {
	{ "command", OPT_COMMAND, P(command), 0, 0, NULL, NULL },
	{ "directory", OPT_DIRECTORY, P(directory), 0, 0, NULL, NULL },
	{ "user", OPT_STRING, P(user), 0, 0, NULL, NULL },
	{ "group", OPT_STRING, P(group), 0, 0, NULL, NULL },
	{ "environment", OPT_ENVIRONMENT, P(environment), 0, 0, NULL, NULL },
	{ "umask", OPT_UMASK, P(umask), 0, 0, NULL, NULL },
	{ "numprocs", OPT_INT, P(numprocs), 1, 10000, NULL, NULL },
	{ "priority", OPT_INT, P(priority), -1000000, 1000000, NULL, NULL },
	{ "autostart", OPT_BOOL, P(autostart), 0, 0, NULL, NULL },
	CHOICE("restart", restart, restart_choices, "restart policy"),
	{ "success_exit_codes", OPT_EXIT_CODES, P(success_exit_codes), 0, 0, NULL, NULL },
	{ "start_secs", OPT_DURATION, P(start_secs), 0, 0, NULL, NULL },
	{ "restart_delay", OPT_DURATION, P(restart_delay), 0, 0, NULL, NULL },
	{ "restart_delay_max", OPT_DURATION, P(restart_delay_max), 0, 0, NULL, NULL },
	{ "start_limit_burst", OPT_INT, P(start_limit_burst), 1, 1000000, NULL, NULL },
	{ "start_limit_interval", OPT_DURATION, P(start_limit_interval), 0, 0, NULL, NULL },
	{ "stop_signal", OPT_SIGNAL, P(stop_signal), 0, 0, NULL, NULL },
	{ "stop_timeout", OPT_DURATION, P(stop_timeout), 0, 0, NULL, NULL },
	{ "kill_group", OPT_BOOL, P(kill_group), 0, 0, NULL, NULL },
	{ "stdout", OPT_OUTPUT, P(stdout_spec), 0, 0, NULL, NULL },
	{ "stderr", OPT_OUTPUT, P(stderr_spec), 0, 0, NULL, NULL },
	{ "output_prefix", OPT_BOOL, P(output_prefix), 0, 0, NULL, NULL },
	{ "log_max_size", OPT_SIZE, P(log_max_size), 0, 0, NULL, NULL },
	{ "log_backups", OPT_INT, P(log_backups), 0, 1000, NULL, NULL },
	CHOICE("type", type, type_choices, "type"),
	{ "ready_timeout", OPT_DURATION, P(ready_timeout), 0, 0, NULL, NULL },
	{ "heartbeat_timeout", OPT_DURATION, P(heartbeat_timeout), 0, 0, NULL, NULL },
	{ "heartbeat_signal", OPT_SIGNAL, P(heartbeat_signal), 0, 0, NULL, NULL },
	CHOICE("notify_access", notify_access, notify_access_choices, "notify_access"),
	{ "daemon", OPT_BOOL, P(daemon), 0, 0, NULL, NULL },
	{ "bind_to", OPT_STRING, P(bind_to), 0, 0, NULL, NULL },
	{ "requires", OPT_REQUIRES, P(requires), 0, 0, NULL, NULL },
	{ "health_check", OPT_HEALTH_CHECK, P(health_check), 0, 0, NULL, NULL },
	{ "health_interval", OPT_DURATION, P(health_interval), 1, 0, NULL, NULL },
	{ "health_timeout", OPT_DURATION, P(health_timeout), 1, 0, NULL, NULL },
	{ "health_retries", OPT_INT, P(health_retries), 1, 1000, NULL, NULL },
	{ "health_start_period", OPT_DURATION, P(health_start_period), 0, 0, NULL, NULL },
	CHOICE("health_action", health_action, health_action_choices, "health_action"),
	{ "critical", OPT_BOOL, P(critical), 0, 0, NULL, NULL },
	{ "on_failure", OPT_HOOK, P(on_failure), 0, 0, NULL, NULL },
	{ "on_fatal", OPT_HOOK, P(on_fatal), 0, 0, NULL, NULL },
};
#undef CHOICE
#undef P
#define PROGRAM_OPTION_COUNT (sizeof(program_options) / sizeof(program_options[0]))
_Static_assert(PROGRAM_OPTION_COUNT <= 64, "config.c keeps the options seen in a uint64_t");

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

int program_option_find(const char *name)
{
	for (size_t i = 0; i < PROGRAM_OPTION_COUNT; i++)
		if (strcmp(program_options[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *program_option_name(int option)
{
	return option >= 0 && (size_t)option < PROGRAM_OPTION_COUNT ? program_options[option].name : NULL;
}

bool program_option_bad(const struct program_config *pc, const char *name)
{
	int option = program_option_find(name);
	return option >= 0 && (pc->options_bad & (UINT64_C(1) << option));
}

void program_option_set_bad(struct program_config *pc, const char *name)
{
	int option = program_option_find(name);
	if (option >= 0)
		pc->options_bad |= UINT64_C(1) << option;
}

char *config_resolve_path(const char *file, const char *path)
{
	char *copy, *dir, *out;

	if (path[0] == '/')
		return xstrdup(path);
	copy = xstrdup(file);
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		abort();
	free(copy);
	return out;
}

static int parse_choice(const struct option_def *opt, const char *value, int *slot, char *err, size_t errlen)
{
	char words[128] = "";
	size_t used = 0;

	for (const struct choice *c = opt->choices; c->word; c++) {
		if (strcmp(value, c->word) == 0) {
			*slot = c->value;
			return 0;
		}
		used += snprintf(words + used, sizeof(words) - used, "%s%s", c == opt->choices ? "" : "|", c->word);
	}
	snprintf(err, errlen, "\"%s\" is not a%s %s (%s)", value, strchr("aeiou", opt->noun[0]) ? "n" : "",
		 opt->noun, words);
	return -1;
}

static int parse_output(const char *name, const char *value, struct output_spec *out, const char *file,
			char *err, size_t errlen)
{
	free(out->path);
	out->path = NULL;
	if (strcmp(value, "inherit") == 0)
		out->kind = OUTPUT_INHERIT;
	else if (strcmp(value, "null") == 0)
		out->kind = OUTPUT_NULL;
	else if (strcmp(value, "journal") == 0)
		out->kind = OUTPUT_JOURNAL;
	else if (strcmp(value, "stdout") == 0 && strcmp(name, "stderr") == 0)
		out->kind = OUTPUT_STDOUT;
	else if (strncmp(value, "file:", 5) == 0 && value[5]) {
		out->kind = OUTPUT_FILE;
		out->path = config_resolve_path(file, value + 5);
	} else {
		snprintf(err, errlen, "\"%s\" is not an output (use journal, file:PATH, inherit, null%s)",
			 value, strcmp(name, "stderr") == 0 ? " or stdout" : "");
		return -1;
	}
	return 0;
}

/* s[0..*len) without the white space around it; returns its start. */
static const char *trim(const char *s, size_t *len)
{
	while (*len && isspace((unsigned char)*s))
		s++, (*len)--;
	while (*len && isspace((unsigned char)s[*len - 1]))
		(*len)--;
	return s;
}

/* One entry NAME[:CONDITION] of requires; the last ':' starts the condition. */
static int parse_requirement(const char *s, size_t len, struct requirement *out, char *err, size_t errlen)
{
	const char *entry = trim(s, &len), *colon = memrchr(entry, ':', len), *cond = "";
	size_t name_len = colon ? (size_t)(colon - entry) : len, cond_len = colon ? len - name_len - 1 : 0;
	const char *name = trim(entry, &name_len);
	const struct option_def opt = { .choices = condition_choices, .noun = "condition" };
	char *cond_text;
	int condition = REQUIRE_RUNNING, rc = 0;

	if (len == 0)
		return snprintf(err, errlen, "empty entry (write NAME[:running|healthy|completed], ...)"), -1;
	if (colon)
		cond = trim(colon + 1, &cond_len);
	if (name_len == 0)
		return snprintf(err, errlen, "\"%.*s\": no program name before the \":\"", (int)len, entry), -1;
	/* "web:1" or "web:1:healthy": an instance, which cannot be required */
	if (memchr(name, ':', name_len) || (colon && cond_len && strspn(cond, "0123456789") >= cond_len)) {
		size_t prog_len = strcspn(name, ":");
		return snprintf(err, errlen, "\"%.*s\" names one instance; require the program \"%.*s\" (all its instances)",
				(int)len, entry, (int)(prog_len < name_len ? prog_len : name_len), name), -1;
	}
	if (colon && cond_len == 0)
		return snprintf(err, errlen, "\"%.*s\": no condition after the \":\" (running|healthy|completed)",
				(int)len, entry), -1;
	if (colon) {
		cond_text = strndup(cond, cond_len);
		if (!cond_text)
			abort();
		rc = parse_choice(&opt, cond_text, &condition, err, errlen);
		free(cond_text);
		if (rc < 0)
			return -1;
	}
	out->name = strndup(name, name_len);
	if (!out->name)
		abort();
	out->condition = condition;
	return 0;
}

static void requirements_free(struct requirement *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(reqs[i].name);
	free(reqs);
}

/* "db:healthy, migrate:completed, cache": in the order written, each
 * program once. An empty value requires nothing. */
static int parse_requires(struct program_config *pc, const char *value, char *err, size_t errlen)
{
	struct requirement *reqs = NULL;
	size_t n = 0, len = strlen(value);

	requirements_free(pc->requires, pc->nrequires);
	pc->requires = NULL;
	pc->nrequires = 0;
	if (*trim(value, &len) == '\0')
		return 0;
	for (const char *s = value;; s++) {
		size_t entry_len = strcspn(s, ",");
		struct requirement r;

		if (parse_requirement(s, entry_len, &r, err, errlen) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(reqs[i].name, r.name) == 0) {
				snprintf(err, errlen, "\"%s\" is named twice", r.name);
				free(r.name);
				goto fail;
			}
		}
		if (!(reqs = realloc(reqs, (n + 1) * sizeof(*reqs))))
			abort();
		reqs[n++] = r;
		s += entry_len;
		if (!*s)
			break;
	}
	pc->requires = reqs;
	pc->nrequires = n;
	return 0;
fail:
	requirements_free(reqs, n);
	return -1;
}

static int set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = *value ? xstrdup(value) : NULL;
	return 0;
}

/* Options whose value is text kept as written, or a list. */
static int set_text_option(struct program_config *pc, const struct option_def *opt, void *slot,
			   const char *value, const char *file, char *err, size_t errlen)
{
	char **argv;

	switch (opt->kind) {
	case OPT_HOOK: /* a command, or empty for none */
		if (!*value)
			return set_string(slot, value);
		/* fall through */
	case OPT_COMMAND:
		if (argv_split(value, &argv, err, errlen) < 0)
			return -1;
		argv_free(argv);
		free(*(char **)slot);
		*(char **)slot = xstrdup(value);
		return 0;
	case OPT_DIRECTORY:
		free(*(char **)slot);
		*(char **)slot = config_resolve_path(file, value);
		return 0;
	case OPT_OUTPUT:
		return parse_output(opt->name, value, slot, file, err, errlen);
	case OPT_ENVIRONMENT:
		argv_free(*(char ***)slot);
		*(char ***)slot = NULL;
		return parse_environment(value, slot, err, errlen);
	case OPT_REQUIRES:
		return parse_requires(pc, value, err, errlen);
	default: /* OPT_STRING, OPT_HEALTH_CHECK: parsed per instance by config_check */
		return set_string(slot, value);
	}
}

static int set_value(struct program_config *pc, const struct option_def *opt, const char *value,
		     const char *file, char *err, size_t errlen)
{
	void *slot = (char *)pc + opt->offset;
	long v;
	bool b;

	switch (opt->kind) {
	case OPT_DURATION:
		if (parse_duration(value, slot, err, errlen) < 0)
			return -1;
		if (opt->min > 0 && *(int64_t *)slot == 0)
			return snprintf(err, errlen, "must be more than 0"), -1;
		return 0;
	case OPT_SIZE:
		return parse_size(value, slot, err, errlen);
	case OPT_BOOL:
		if (parse_bool(value, &b, err, errlen) < 0)
			return -1;
		*(bool *)slot = b;
		return 0;
	case OPT_SIGNAL:
		return parse_signal(value, slot, err, errlen);
	case OPT_EXIT_CODES:
		return parse_exit_codes(value, slot, err, errlen);
	case OPT_UMASK:
		if (parse_octal_mode(value, slot, err, errlen) < 0)
			return -1;
		if (*(int *)slot > 0777)
			return snprintf(err, errlen, "\"%s\" is not a umask (000-777)", value), -1;
		return 0;
	case OPT_INT:
		if (parse_int_range(value, opt->min, opt->max, &v, err, errlen) < 0)
			return -1;
		*(int *)slot = (int)v;
		return 0;
	case OPT_CHOICE:
		return parse_choice(opt, value, slot, err, errlen);
	default:
		return set_text_option(pc, opt, slot, value, file, err, errlen);
	}
}

int program_option_set(struct program_config *pc, int option, const char *value, const char *file, int line,
		       char *err, size_t errlen)
{
	const struct option_def *opt = &program_options[option];
	const char *name = opt->name;

	/* what later checks need to know was written, and where */
	if (strcmp(name, "heartbeat_timeout") == 0)
		pc->heartbeat_timeout_set = true;
	else if (strcmp(name, "stderr") == 0)
		pc->stderr_set = true;
	else if (strcmp(name, "restart") == 0)
		pc->restart_set = true, pc->restart_line = line;
	else if (strcmp(name, "health_timeout") == 0)
		pc->health_timeout_line = line;
	else if (strcmp(name, "critical") == 0)
		pc->critical_line = line;
	else if (strcmp(name, "requires") == 0)
		pc->requires_line = line;
	else if (strcmp(name, "health_check") == 0)
		pc->health_check_line = line;
	else if (strcmp(name, "command") == 0)
		pc->command_line = line;
	if (set_value(pc, opt, value, file, err, errlen) < 0) {
		pc->options_bad |= UINT64_C(1) << option;
		return -1;
	}
	pc->options_bad &= ~(UINT64_C(1) << option); /* set after all (a habit's name came first) */
	return 0;
}
