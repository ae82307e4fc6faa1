#define _GNU_SOURCE
#include "config_check.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_option.h"
#include "config_report.h"
#include "health_target.h"

static int check_error(struct config_report *errors, const struct program_config *pc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int check_error_at(struct config_report *errors, const struct program_config *pc, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int check_verror(struct config_report *errors, const struct program_config *pc, int line, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	config_report_add(errors, pc->file, line ? line : pc->line, "[program:%s] %s", pc->name, msg);
	free(msg);
	return 1;
}

/* An error about the section as a whole, at its header. */
static int check_error(struct config_report *errors, const struct program_config *pc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_verror(errors, pc, pc->line, fmt, ap);
	va_end(ap);
	return 1;
}

/* An error about one option, at its line (the header's when it was not set). */
static int check_error_at(struct config_report *errors, const struct program_config *pc, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_verror(errors, pc, line, fmt, ap);
	va_end(ap);
	return 1;
}

static int check_credentials(struct program_config *pc, struct config_report *errors)
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
static int check_expansions(const struct program_config *pc, struct config_report *errors)
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
		if (!fields[i].value || program_option_bad(pc, fields[i].option))
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

static int check_bind_to(const struct config *config, struct program_config *pc, struct config_report *errors)
{
	const struct program_config *parent;

	if (!pc->bind_to || program_option_bad(pc, "daemon"))
		return 0;
	if (!pc->daemon)
		return check_error(errors, pc, "bind_to: only daemon children (daemon = yes) are bound to a program");
	parent = config_find_program(config, pc->bind_to);
	if (!parent && config_report_is_unread(errors, pc->bind_to))
		return 0; /* its section's header was reported */
	if (!parent)
		return check_error(errors, pc, "bind_to: no program named \"%s\"", pc->bind_to);
	if (parent == pc)
		return check_error(errors, pc, "bind_to: a program cannot be bound to itself");
	if (program_option_bad(parent, "daemon"))
		return 0;
	if (parent->daemon)
		return check_error(errors, pc, "bind_to: \"%s\" is itself a daemon child; bind to a regular program",
				   pc->bind_to);
	if (program_option_bad(pc, "numprocs") || program_option_bad(parent, "numprocs"))
		return 0;
	if (parent->numprocs != 1 && pc->numprocs != parent->numprocs)
		return check_error(errors, pc,
				   "numprocs: must equal the numprocs of \"%s\" (%d), one daemon child per instance",
				   pc->bind_to, parent->numprocs);
	return 0;
}

/* A oneshot runs to completion: run again after a success it would never
 * complete, and there is no long-running process to health-check. */
static int check_oneshot(const struct program_config *pc, struct config_report *errors)
{
	int n = 0;

	if (pc->type != PROGRAM_ONESHOT)
		return 0;
	if (pc->restart_set && pc->restart == RESTART_ALWAYS)
		n += check_error_at(errors, pc, pc->restart_line,
				    "restart: \"always\" is not for type = oneshot, which runs to completion (use on-failure or never)");
	if (pc->health_check)
		n += check_error_at(errors, pc, pc->health_check_line,
				    "health_check: a oneshot has none (it runs to completion; require it with :completed)");
	return n;
}

/* health_check is parsed here, for instance 0, so that a typo or a host
 * that does not resolve shows at load time, at its line. */
/* A health_timeout longer than health_interval is fine: the interval
 * runs from the end of the previous check. */
static int check_health(const struct program_config *pc, struct config_report *errors)
{
	char err[PARSE_ERR_MAX];
	struct health_target target;
	char *text;
	int n = 0;

	if (!pc->health_check || pc->type == PROGRAM_ONESHOT)
		return n;
	text = expand_program_vars(pc->health_check, pc->name, 0, err, sizeof(err));
	if (!text)
		return n + check_error_at(errors, pc, pc->health_check_line, "health_check: %s", err);
	if (health_target_parse(text, &target, err, sizeof(err)) < 0)
		n += check_error_at(errors, pc, pc->health_check_line, "health_check: %s", err);
	health_target_free(&target);
	free(text);
	return n;
}

/* Each requirement names another program, which must have a health_check
 * to be required healthy. A oneshot is never RUNNING for long: requiring
 * it (running) means requiring it completed, so that is what is stored.
 * Cycles are config_check_cycles'. */
static int check_requires(const struct config *config, struct program_config *pc, struct config_report *errors)
{
	int n = 0;

	if (pc->nrequires && pc->daemon)
		return check_error_at(errors, pc, pc->requires_line,
				      "requires: a daemon child (daemon = yes) starts with its parent and requires nothing");
	for (size_t i = 0; i < pc->nrequires; i++) {
		struct requirement *r = &pc->requires[i];
		const struct program_config *target = config_find_program(config, r->name);

		if (!target && config_report_is_unread(errors, r->name))
			continue; /* its section's header was reported */
		else if (!target)
			n += check_error_at(errors, pc, pc->requires_line, "requires: no program named \"%s\"", r->name);
		else if (target == pc)
			n += check_error_at(errors, pc, pc->requires_line, "requires: a program cannot require itself");
		else if (r->condition == REQUIRE_HEALTHY && !target->health_check)
			n += check_error_at(errors, pc, pc->requires_line,
					    "requires: \"%s:healthy\", but [program:%s] has no health_check", r->name, r->name);
		else if (r->condition == REQUIRE_RUNNING && target->type == PROGRAM_ONESHOT)
			r->condition = REQUIRE_COMPLETED;
	}
	return n;
}

/* ---- the command's executable, found as the spawn will find it --------- */

/* execvp's search path when the environment has none, as spawn.c's
 * SPAWN_DEFAULT_PATH */
#define EXEC_DEFAULT_PATH "/bin:/usr/bin"

/* Why one file would not run: 0 if it would, else execve's errno (for a
 * folder or a file without an execute bit, EACCES). as_vigild: the
 * program runs as vigild's own user, which the kernel can answer for;
 * for another user, only "some execute bit" can be told at load. */
static int exec_probe(const char *dir, const char *file, bool as_vigild, mode_t *mode)
{
	char joined[PATH_MAX];
	struct stat st;

	/* the child is in its directory when it execs */
	if (file[0] != '/' && dir) {
		if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", dir, file) >= sizeof(joined))
			return ENAMETOOLONG;
		file = joined;
	}
	if (stat(file, &st) < 0)
		return errno;
	*mode = st.st_mode;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
		return EACCES;
	if (as_vigild && faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) < 0)
		return errno;
	return 0;
}

struct exec_search {
	const char *name; /* argv[0] */
	const char *path; /* PATH to search, NULL when name has a slash */
	const char *dir;  /* the program's directory, NULL: vigild's */
	bool as_vigild;
	char denied[PATH_MAX]; /* the first file found that would not run */
	mode_t denied_mode;
};

/* As spawn.c's child_exec tries the files of exec_files_new: name itself
 * when it has a slash, else each PATH entry joined with it (an empty
 * entry is the folder the program starts in); a missing file is passed
 * over, a denied one remembered, any other error ends the search.
 * Returns 0 when one would run, else the error. */
static int exec_search_run(struct exec_search *s)
{
	const char *entry = s->path;
	bool denied = false;
	char file[PATH_MAX];
	mode_t mode = 0;
	int err;

	for (;;) {
		size_t len = s->path ? strcspn(entry, ":") : 0;

		if ((size_t)snprintf(file, sizeof(file), "%.*s%s%s", (int)len, s->path ? entry : "",
				     len ? "/" : "", s->name) >= sizeof(file))
			return ENAMETOOLONG;
		err = exec_probe(s->dir, file, s->as_vigild, &mode);
		if (err == 0)
			return 0;
		if (err == EACCES && !denied) {
			denied = true;
			snprintf(s->denied, sizeof(s->denied), "%s", file);
			s->denied_mode = mode;
		} else if (err != EACCES && err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
			   err != ETIMEDOUT) {
			return err;
		}
		if (!s->path || !entry[len])
			return denied ? EACCES : ENOENT;
		entry += len + 1;
	}
}

static int report_exec_error(struct config_report *errors, const struct program_config *pc, const char *instance,
			     const struct exec_search *s, int err)
{
	const char *kind = S_ISDIR(s->denied_mode) ? "a folder" : S_ISREG(s->denied_mode) ? NULL : "not a file";
	const char *in_dir = s->dir && s->name[0] != '/' ? " in directory " : "", *dir = *in_dir ? s->dir : "";
	char why[128];

	if (err == EACCES && kind)
		snprintf(why, sizeof(why), "is %s, not an executable", kind);
	else if (err == EACCES && !(s->denied_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
		snprintf(why, sizeof(why), "is not executable (mode %04o)", (unsigned)(s->denied_mode & 07777));
	else if (err == EACCES)
		snprintf(why, sizeof(why), "is not executable by vigild's user (mode %04o)",
			 (unsigned)(s->denied_mode & 07777));
	if (!s->path && err == EACCES)
		return check_error_at(errors, pc, pc->command_line, "command%s: \"%s\"%s%s %s", instance, s->name,
				      in_dir, dir, why);
	if (!s->path)
		return check_error_at(errors, pc, pc->command_line, "command%s: \"%s\"%s%s: %s", instance, s->name,
				      in_dir, dir, strerror(err));
	if (err == EACCES)
		return check_error_at(errors, pc, pc->command_line, "command%s: \"%s\" in PATH is %s, which %s",
				      instance, s->name, s->denied, why);
	if (err == ENOENT)
		return check_error_at(errors, pc, pc->command_line, "command%s: \"%s\" is not in PATH (%.300s)",
				      instance, s->name, s->path);
	return check_error_at(errors, pc, pc->command_line, "command%s: \"%s\" in PATH: %s", instance, s->name,
			      strerror(err));
}

/* The PATH the spawn's environment will have (spawn_env.c): vigild's,
 * replaced by one in `environment` (the last one, expanded for the
 * instance), else execvp's default. malloc'd; NULL when it does not
 * expand (check_expansions reports that). */
static char *program_path(const struct program_config *pc, int instance)
{
	const char *path = getenv("PATH"), *own = NULL;
	char err[PARSE_ERR_MAX];

	for (char **e = pc->environment; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			own = *e + 5;
	if (own)
		return expand_program_vars(own, pc->name, instance, err, sizeof(err));
	return strdup(path ? path : EXEC_DEFAULT_PATH);
}

/* Checks instance's argv[0]; returns the errors found (0 or 1). */
static int check_instance_executable(const struct program_config *pc, int instance, struct config_report *errors)
{
	char err[PARSE_ERR_MAX], label[32] = "", *command, *dir = NULL, **argv = NULL, *path;
	struct exec_search s = { .as_vigild = !pc->user && !pc->group };
	int n = 0, rc;

	command = expand_program_vars(pc->command, pc->name, instance, err, sizeof(err));
	if (pc->directory)
		dir = expand_program_vars(pc->directory, pc->name, instance, err, sizeof(err));
	path = program_path(pc, instance);
	/* expansions were checked; a command that does not split was reported */
	if (command && (!pc->directory || dir) && path && argv_split(command, &argv, err, sizeof(err)) == 0 &&
	    argv[0]) {
		s.name = argv[0];
		s.path = strchr(argv[0], '/') ? NULL : path;
		s.dir = dir;
		if (pc->numprocs > 1)
			snprintf(label, sizeof(label), " (instance %d)", instance);
		if ((rc = exec_search_run(&s)) != 0)
			n = report_exec_error(errors, pc, label, &s, rc);
	}
	argv_free(argv);
	free(path);
	free(dir);
	free(command);
	return n;
}

/* The executable must exist and be executable, as supervisord checks:
 * a typo shows at load, at the command's line, not as a FATAL program.
 * Every instance when what finds it depends on %(process_num)d. */
static int check_command_executable(const struct program_config *pc, struct config_report *errors)
{
	bool varies = false;
	int n = 0;

	if (!pc->command || program_option_bad(pc, "command") || program_option_bad(pc, "environment") ||
	    program_option_bad(pc, "directory"))
		return 0;
	varies = strstr(pc->command, "%(") || (pc->directory && strstr(pc->directory, "%("));
	for (char **e = pc->environment; e && *e && !varies; e++)
		varies = strncmp(*e, "PATH=", 5) == 0 && strstr(*e, "%(");
	for (int i = 0; i < (varies ? pc->numprocs : 1) && !n; i++)
		n = check_instance_executable(pc, i, errors);
	return n;
}

static int check_program(const struct config *config, struct program_config *pc, struct config_report *errors)
{
	int n = 0;

	int expansion_errors;

	if (!pc->command && !program_option_bad(pc, "command"))
		n += check_error(errors, pc, "command: missing (every program needs one)");
	if (pc->restart_delay_max < pc->restart_delay && !program_option_bad(pc, "restart_delay") &&
	    !program_option_bad(pc, "restart_delay_max"))
		n += check_error(errors, pc, "restart_delay_max: shorter than restart_delay");
	if (pc->stdout_spec.kind == OUTPUT_STDOUT)
		n += check_error(errors, pc, "stdout: \"stdout\" is only valid for stderr");
	if (pc->daemon && !pc->heartbeat_timeout_set)
		pc->heartbeat_timeout = 3 * USEC_PER_SEC;
	n += check_credentials(pc, errors);
	n += expansion_errors = check_expansions(pc, errors);
	if (!expansion_errors)
		n += check_command_executable(pc, errors);
	n += check_bind_to(config, pc, errors);
	n += check_oneshot(pc, errors);
	n += check_health(pc, errors);
	n += check_requires(config, pc, errors);
	if (pc->critical && pc->daemon)
		n += check_error_at(errors, pc, pc->critical_line,
				    "critical: a daemon child (daemon = yes) cannot be critical; mark its parent");
	return n;
}

/* The requirement graph: program i requires to[first[i] .. first[i + 1]),
 * indexes into config->programs. Unknown names, self-requirements and
 * daemon children's requirements are left out: they are reported apart. */
struct require_graph {
	size_t *first, *to;
};

static void require_graph_build(const struct config *config, struct require_graph *g)
{
	struct namemap index = { 0 };
	size_t nedges = 0;

	for (size_t i = 0; i < config->nprograms; i++) {
		namemap_put(&index, config->programs[i]->name, (void *)(uintptr_t)(i + 1));
		nedges += config->programs[i]->nrequires;
	}
	g->first = malloc((config->nprograms + 1) * sizeof(*g->first));
	g->to = malloc((nedges ? nedges : 1) * sizeof(*g->to));
	if (!g->first || !g->to)
		abort();
	nedges = 0;
	for (size_t i = 0; i < config->nprograms; i++) {
		const struct program_config *pc = config->programs[i];
		g->first[i] = nedges;
		for (size_t j = 0; j < pc->nrequires && !pc->daemon; j++) {
			uintptr_t t = (uintptr_t)namemap_get(&index, pc->requires[j].name);
			if (t && t - 1 != i)
				g->to[nedges++] = t - 1;
		}
	}
	g->first[config->nprograms] = nedges;
	namemap_free(&index);
}

/* "requires: cycle a -> b -> c -> a", at a's requires line: path[from..]
 * is the walk that came back to path[from]. */
static int report_cycle(const struct config *config, const size_t *path, size_t from, size_t len, struct config_report *errors)
{
	const struct program_config *start = config->programs[path[from]];
	char *walk = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&walk, &size);

	if (!out)
		abort();
	for (size_t k = from; k < len; k++)
		fprintf(out, " %s ->", config->programs[path[k]]->name);
	if (fclose(out) != 0)
		abort();
	check_error_at(errors, start, start->requires_line, "requires: cycle%s %s", walk, start->name);
	free(walk);
	return 1;
}

/* A depth-first walk, with its own stack (a chain of requirements can be
 * as long as the config): a requirement that leads back to a program on
 * the walk closes a cycle, each found once, from where the walk entered it. */
static int config_check_cycles(const struct config *config, struct config_report *errors)
{
	enum { UNSEEN, ON_PATH, DONE };
	struct require_graph g;
	size_t n = config->nprograms, *path = malloc((n ? n : 1) * sizeof(*path));
	size_t *next = malloc((n ? n : 1) * sizeof(*next));
	unsigned char *mark = calloc(n ? n : 1, 1);
	int nerrors = 0;

	if (!path || !next || !mark)
		abort();
	require_graph_build(config, &g);
	for (size_t root = 0; root < n; root++) {
		size_t len = 0;

		if (mark[root] != UNSEEN)
			continue;
		path[len] = root, next[len++] = g.first[root], mark[root] = ON_PATH;
		while (len) {
			size_t at = path[len - 1], t;

			if (next[len - 1] == g.first[at + 1]) {
				mark[at] = DONE;
				len--;
				continue;
			}
			t = g.to[next[len - 1]++];
			if (mark[t] == UNSEEN) {
				path[len] = t, next[len++] = g.first[t], mark[t] = ON_PATH;
			} else if (mark[t] == ON_PATH) {
				size_t from = len - 1;
				while (path[from] != t)
					from--;
				nerrors += report_cycle(config, path, from, len, errors);
			}
		}
	}
	free(g.first);
	free(g.to);
	free(path);
	free(next);
	free(mark);
	return nerrors;
}

int config_check(struct config *config, struct config_report *errors)
{
	int n = 0;

	/* [vigil] socket's length is the parser's: it knows the line */
	for (size_t i = 0; i < config->nprograms; i++)
		n += check_program(config, config->programs[i], errors);
	n += config_check_cycles(config, errors);
	return n;
}
