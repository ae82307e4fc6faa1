#define _GNU_SOURCE
#include "config_check.h"

#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "health_target.h"

static int check_error(FILE *errors, const struct program_config *pc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int check_error_at(FILE *errors, const struct program_config *pc, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int check_verror(FILE *errors, const struct program_config *pc, int line, const char *fmt, va_list ap)
{
	fprintf(errors, "%s:%d: [program:%s] ", pc->file, line ? line : pc->line, pc->name);
	vfprintf(errors, fmt, ap);
	fputc('\n', errors);
	return 1;
}

/* An error about the section as a whole, at its header. */
static int check_error(FILE *errors, const struct program_config *pc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_verror(errors, pc, pc->line, fmt, ap);
	va_end(ap);
	return 1;
}

/* An error about one option, at its line (the header's when it was not set). */
static int check_error_at(FILE *errors, const struct program_config *pc, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_verror(errors, pc, line, fmt, ap);
	va_end(ap);
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

/* A oneshot runs to completion: run again after a success it would never
 * complete, and there is no long-running process to health-check. */
static int check_oneshot(const struct program_config *pc, FILE *errors)
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
static int check_health(const struct program_config *pc, FILE *errors)
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
static int check_requires(const struct config *config, struct program_config *pc, FILE *errors)
{
	int n = 0;

	if (pc->nrequires && pc->daemon)
		return check_error_at(errors, pc, pc->requires_line,
				      "requires: a daemon child (daemon = yes) starts with its parent and requires nothing");
	for (size_t i = 0; i < pc->nrequires; i++) {
		struct requirement *r = &pc->requires[i];
		const struct program_config *target = config_find_program(config, r->name);

		if (!target)
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
static int report_cycle(const struct config *config, const size_t *path, size_t from, size_t len, FILE *errors)
{
	const struct program_config *start = config->programs[path[from]];

	fprintf(errors, "%s:%d: [program:%s] requires: cycle", start->file, start->requires_line, start->name);
	for (size_t k = from; k < len; k++)
		fprintf(errors, " %s ->", config->programs[path[k]]->name);
	fprintf(errors, " %s\n", start->name);
	return 1;
}

/* A depth-first walk, with its own stack (a chain of requirements can be
 * as long as the config): a requirement that leads back to a program on
 * the walk closes a cycle, each found once, from where the walk entered it. */
static int config_check_cycles(const struct config *config, FILE *errors)
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
	n += config_check_cycles(config, errors);
	return n;
}
