/* vigilctl: the command line -> one command of usage.c's table. Options
 * may come anywhere after the command; each command takes only its own,
 * and a command line it cannot take is exit 2 with a message naming the
 * problem. Exit codes: vigilctl.h (DESIGN.md's). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "vigilctl.h"

#define WATCH_DEFAULT_S 2.0
#define WATCH_MIN_S 0.1

static const struct {
	const char *name, *alias;
	unsigned flag;
	bool takes_value;
} options[] = {
	{ "--json", NULL, OPT_JSON, false },	     { "--no-block", NULL, OPT_NO_BLOCK, false },
	{ "--timeout", NULL, OPT_TIMEOUT, true },    { "--follow", "-f", OPT_FOLLOW, false },
	{ "-n", "--lines", OPT_LINES, true },	     { "--stderr", NULL, OPT_STDERR, false },
	{ "--ready", NULL, OPT_READY, false },	     { "--status", NULL, OPT_STATUS, true },
	{ "--watch", NULL, OPT_WATCH, false },	     { "--names", NULL, OPT_NAMES, false },
};

static int usage_error(const struct ctl_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const struct ctl_command *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vigilctl: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, " (see 'vigilctl help %s')\n", cmd->name);
	else
		fprintf(stderr, " (see 'vigilctl help')\n");
	return -1;
}

/* The value of an option that takes one: 0, or -1 after saying why. */
static int set_value(struct ctl *c, const struct ctl_command *cmd, unsigned flag, const char *opt, const char *v)
{
	char err[PARSE_ERR_MAX];
	int64_t us;
	long n;

	if (flag == OPT_STATUS) {
		c->status_text = v;
	} else if (flag == OPT_LINES) {
		if (parse_int_range(v, 0, 100000, &n, err, sizeof(err)) < 0)
			return fprintf(stderr, "vigilctl: %s: %s\n", opt, err), -1;
		c->lines = n;
	} else if (flag == OPT_TIMEOUT) {
		if (parse_duration(v, &us, err, sizeof(err)) < 0)
			return fprintf(stderr, "vigilctl: %s: %s\n", opt, err), -1;
		c->timeout_s = (double)us / USEC_PER_SEC;
	}
	(void)cmd;
	return 0;
}

/* --watch [INTERVAL]: the next argument is its interval when it reads as one. */
static int take_watch_interval(struct ctl *c, const char *next)
{
	char err[PARSE_ERR_MAX];
	int64_t us;

	c->watch = true;
	if (!next || !((next[0] >= '0' && next[0] <= '9') || next[0] == '.'))
		return 0;
	if (parse_duration(next, &us, err, sizeof(err)) < 0)
		return fprintf(stderr, "vigilctl: --watch: %s\n", err), -1;
	c->interval_s = (double)us / USEC_PER_SEC;
	if (c->interval_s < WATCH_MIN_S)
		return fprintf(stderr, "vigilctl: --watch: %s is too short (at least %gs)\n", next, WATCH_MIN_S), -1;
	return 1;
}

static int find_option(const char *a)
{
	for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++)
		if (strcmp(a, options[k].name) == 0 || (options[k].alias && strcmp(a, options[k].alias) == 0))
			return (int)k;
	return -1;
}

/* 1: help asked for; 0: parsed; -1: usage error told. */
static int parse_command_args(struct ctl *c, const struct ctl_command *cmd, int argc, char **argv)
{
	bool options_end = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int k;
		if (options_end || a[0] != '-' || !a[1]) {
			c->args[c->nargs++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_end = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		if ((k = find_option(a)) < 0)
			return usage_error(cmd, "unknown option %s", a);
		if (!(cmd->options & options[k].flag))
			return usage_error(cmd, "%s does not take %s", cmd->name, a);
		if (options[k].flag == OPT_WATCH) {
			int took = take_watch_interval(c, i + 1 < argc ? argv[i + 1] : NULL);
			if (took < 0)
				return -1;
			i += took;
		} else if (options[k].takes_value) {
			if (i + 1 >= argc)
				return usage_error(cmd, "%s needs a value", a);
			if (set_value(c, cmd, options[k].flag, a, argv[++i]) < 0)
				return -1;
		} else {
			c->json |= options[k].flag == OPT_JSON;
			c->no_block |= options[k].flag == OPT_NO_BLOCK;
			c->follow |= options[k].flag == OPT_FOLLOW;
			c->use_stderr |= options[k].flag == OPT_STDERR;
			c->ready |= options[k].flag == OPT_READY;
			c->names |= options[k].flag == OPT_NAMES;
		}
	}
	return 0;
}

/* Arguments in number, options that go together. */
static int check_command_line(const struct ctl *c, const struct ctl_command *cmd)
{
	if (c->nargs < cmd->min_args) {
		if (cmd->min_args == 2)
			return usage_error(cmd, "%s needs SIG and NAME", cmd->name);
		return usage_error(cmd, "%s needs a program name (or all)", cmd->name);
	}
	if (cmd->max_args >= 0 && c->nargs > cmd->max_args) {
		return usage_error(cmd, "%s takes %s; \"%s\" is one too many", cmd->name,
				   cmd->max_args == 0 ? "no arguments" : cmd->max_args == 1 ? "one argument" : "two arguments",
				   c->args[cmd->max_args]);
	}
	if ((c->watch || c->names) && c->json)
		return usage_error(cmd, "%s and --json do not go together", c->watch ? "--watch" : "--names");
	if (c->watch && c->names)
		return usage_error(cmd, "--watch and --names do not go together");
	return 0;
}

/* Options before the command: -s SOCKET, --help, --version. Returns the
 * index of the command, or -(exit code + 1) when done. */
static int parse_global_args(struct ctl *c, int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
			if (i + 1 >= argc)
				return usage_error(NULL, "%s needs a socket path", argv[i]), -(EXIT_USAGE + 1);
			c->socket = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			return ctl_usage(stdout), -(EXIT_OK + 1);
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			return printf("vigilctl %s\n", VIGIL_VERSION), -(EXIT_OK + 1);
		} else {
			return usage_error(NULL, "unknown option %s", argv[i]), -(EXIT_USAGE + 1);
		}
	}
	if (i >= argc) {
		ctl_usage(stderr);
		return -(EXIT_USAGE + 1);
	}
	return i;
}

int main(int argc, char **argv)
{
	struct ctl c = { .timeout_s = 60, .lines = 100, .interval_s = WATCH_DEFAULT_S };
	const struct ctl_command *cmd;
	int i, rc;

	c.socket = getenv("VIGIL_SOCKET") && *getenv("VIGIL_SOCKET") ? getenv("VIGIL_SOCKET") : DEFAULT_SOCKET;
	if ((i = parse_global_args(&c, argc, argv)) < 0)
		return -i - 1;
	if (!(cmd = ctl_command_find(argv[i]))) {
		fprintf(stderr, "vigilctl: unknown command \"%s\" (see 'vigilctl help')\n", argv[i]);
		return EXIT_USAGE;
	}
	c.command = cmd->name;
	if (!(c.args = calloc((size_t)argc + 1, sizeof(char *))))
		abort();
	rc = parse_command_args(&c, cmd, argc - i - 1, argv + i + 1);
	if (rc == 1)
		ctl_command_help(stdout, cmd);
	if (rc == 0 && check_command_line(&c, cmd) == 0)
		rc = cmd->run(&c);
	else
		rc = rc == 1 ? EXIT_OK : EXIT_USAGE;
	free(c.args);
	return rc;
}
