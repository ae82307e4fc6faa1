#define _GNU_SOURCE
#include "config_check.h"

#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

static int check_error(FILE *errors, const struct program_config *pc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int check_error(FILE *errors, const struct program_config *pc, const char *fmt, ...)
{
	va_list ap;

	fprintf(errors, "%s:%d: [program:%s] ", pc->file, pc->line, pc->name);
	va_start(ap, fmt);
	vfprintf(errors, fmt, ap);
	va_end(ap);
	fputc('\n', errors);
	return 1;
}

static int check_credentials(struct program_config *pc, FILE *errors)
{
	int n = 0;

	if (pc->user) {
		struct passwd *pw = getpwnam(pc->user);
		if (!pw)
			return check_error(errors, pc, "user: no such user \"%s\"", pc->user);
		pc->uid = pw->pw_uid;
		pc->gid = pw->pw_gid;
		if (geteuid() != 0 && pw->pw_uid != geteuid())
			n += check_error(errors, pc, "user: switching to \"%s\" needs vigild to run as root", pc->user);
	}
	if (pc->group) {
		struct group *gr = getgrnam(pc->group);
		if (!gr)
			return n + check_error(errors, pc, "group: no such group \"%s\"", pc->group);
		pc->gid = gr->gr_gid;
		if (geteuid() != 0 && gr->gr_gid != getegid())
			n += check_error(errors, pc, "group: switching to \"%s\" needs vigild to run as root", pc->group);
	}
	return n;
}

/* Expands %(process_num)d for every instance once, so a typo shows at
 * load time and not at the first spawn. */
static int check_expansions(const struct program_config *pc, FILE *errors)
{
	const struct { const char *option; const char *value; } fields[] = {
		{ "command", pc->command },
		{ "directory", pc->directory },
		{ "stdout", pc->stdout_spec.path },
		{ "stderr", pc->stderr_spec.path },
	};
	char err[PARSE_ERR_MAX];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *s;
		if (!fields[i].value)
			continue;
		s = expand_program_vars(fields[i].value, pc->name, 0, err, sizeof(err));
		if (!s)
			return check_error(errors, pc, "%s: %s", fields[i].option, err);
		free(s);
	}
	for (char **e = pc->environment; e && *e; e++) {
		char *s = expand_program_vars(*e, pc->name, 0, err, sizeof(err));
		if (!s)
			return check_error(errors, pc, "environment: %s", err);
		free(s);
	}
	return 0;
}

static int check_bind_to(const struct config *config, struct program_config *pc, FILE *errors)
{
	const struct program_config *parent;

	if (!pc->bind_to)
		return 0;
	if (!pc->daemon)
		return check_error(errors, pc, "bind_to: only daemon children (daemon = yes) are bound to a program");
	parent = config_find_program(config, pc->bind_to);
	if (!parent)
		return check_error(errors, pc, "bind_to: no program named \"%s\"", pc->bind_to);
	if (parent == pc)
		return check_error(errors, pc, "bind_to: a program cannot be bound to itself");
	if (parent->daemon)
		return check_error(errors, pc, "bind_to: \"%s\" is itself a daemon child; bind to a regular program",
				   pc->bind_to);
	if (parent->numprocs != 1 && pc->numprocs != parent->numprocs)
		return check_error(errors, pc,
				   "numprocs: must equal the numprocs of \"%s\" (%d), one daemon child per instance",
				   pc->bind_to, parent->numprocs);
	return 0;
}

static int check_program(const struct config *config, struct program_config *pc, FILE *errors)
{
	int n = 0;

	if (!pc->command)
		n += check_error(errors, pc, "command: missing (every program needs one)");
	if (pc->restart_delay_max < pc->restart_delay)
		n += check_error(errors, pc, "restart_delay_max: shorter than restart_delay");
	if (pc->stdout_spec.kind == OUTPUT_STDOUT)
		n += check_error(errors, pc, "stdout: \"stdout\" is only valid for stderr");
	if (pc->daemon && !pc->heartbeat_timeout_set)
		pc->heartbeat_timeout = 3 * USEC_PER_SEC;
	n += check_credentials(pc, errors);
	n += check_expansions(pc, errors);
	n += check_bind_to(config, pc, errors);
	return n;
}

int config_check(struct config *config, FILE *errors)
{
	struct sockaddr_un sun;
	int n = 0;

	if (strlen(config->socket) >= sizeof(sun.sun_path)) {
		fprintf(errors, "%s: [vigil] socket: path longer than %zu bytes: %s\n", config->path,
			sizeof(sun.sun_path) - 1, config->socket);
		n++;
	}
	for (size_t i = 0; i < config->nprograms; i++)
		n += check_program(config, config->programs[i], errors);
	return n;
}
