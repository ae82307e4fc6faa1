/* inih callbacks -> struct config: sections, [vigil] options and includes
 * here; the program options' table and values in config_option.c. */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "config_check.h"
#include "config_file.h"
#include "config_habit.h"
#include "config_option.h"
#include "config_report.h"
#include "log.h"

#define INCLUDE_DEPTH_MAX 8
#define CONFIG_LINE_MAX 65536

/* One file being parsed; includes get their own, sharing the config. */
struct parse_ctx {
	struct config *config;
	struct config_report *report;
	int nerrors;
	struct config_files *files;
	const char *file;
	char *text;	 /* the whole file, NUL-terminated */
	size_t len, pos; /* its length; where the reader is */
	size_t line_end; /* just past the current line's newline */
	int line;	 /* line of the text the handler is looking at */
	int skip_line;	 /* a line already reported as bad: ignore it */
	int depth;
	enum { SECTION_NONE, SECTION_VIGIL, SECTION_PROGRAM, SECTION_BAD } section;
	struct program_config *program;
	uint64_t seen;	     /* options already set in this section */
	uint64_t vigil_seen; /* [vigil] options set in this file */
};

static void config_error(struct parse_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void config_error(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_report_vadd(ctx->report, ctx->file, ctx->line, fmt, ap);
	va_end(ap);
	ctx->nerrors++;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void config_begin_section(struct parse_ctx *ctx, const char *name);

/* "[program:web" without its "]": the section is lost, but other
 * sections that name web must not be told there is no such program. */
static void config_unread_header(struct parse_ctx *ctx, const char *header)
{
	size_t len;
	char *name;

	if (strncmp(header, "program:", 8) != 0)
		return;
	header += 8;
	len = strcspn(header, " \t\r\n];");
	if (!len || !(name = strndup(header, len)))
		return;
	config_report_unread(ctx->report, name);
	free(name);
}

/* Finds [section] headers, syntax errors and over-long lines here, where
 * the raw line is seen: inih reports sections only through their options
 * (an empty one would pass unseen) and cuts section names at 50 bytes. */
static void config_check_line_start(struct parse_ctx *ctx, const char *buf)
{
	const char *p = buf, *close;
	char name[256];

	while (isspace((unsigned char)*p))
		p++;
	if (!*p || *p == ';' || *p == '#')
		return;
	if (*p == '[') {
		close = strchr(p, ']');
		if (!close || (size_t)(close - p - 1) >= sizeof(name)) {
			config_error(ctx, "syntax error: a section header is [vigil] or [program:NAME]");
			ctx->skip_line = ctx->line;
			ctx->section = SECTION_BAD;
			config_unread_header(ctx, p + 1);
			return;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
		config_begin_section(ctx, name);
	} else if (!strpbrk(p, "=:")) {
		config_error(ctx, "syntax error (expected \"name = value\" or \"[section]\")");
		ctx->skip_line = ctx->line;
	}
}

/* A line of a program section that could not be read may have set an
 * option ("command = ..." cut by a NUL): that option is not missing. */
static void config_lost_line(struct parse_ctx *ctx, const char *line, size_t len)
{
	char name[64];
	size_t skip = strspn(line, " \t"), n;

	if (ctx->section != SECTION_PROGRAM || skip >= len)
		return;
	n = strcspn(line + skip, "=: \t");
	if (n == 0 || n >= sizeof(name) || skip + n > len)
		return;
	memcpy(name, line + skip, n);
	name[n] = '\0';
	program_option_set_bad(ctx->program, name);
}

/* Checks a line before inih sees it. A line inih must not see (a NUL
 * would end it early and glue the next line to it; one over the limit
 * would be cut in two) is reported and handed over as an empty line, so
 * inih's line count stays right; a header lost that way leaves options
 * up to the next one unowned, not given to the previous section. */
static bool config_line_ok(struct parse_ctx *ctx, char *line, size_t len)
{
	bool ok = true;
	char end = line[len];

	if (memchr(line, '\0', len)) {
		config_error(ctx, "NUL byte in line");
		ok = false;
	} else if (len > CONFIG_LINE_MAX - 3) {
		if (ctx->section == SECTION_PROGRAM)
			config_error(ctx, "[program:%s] line longer than %d bytes", ctx->program->name, CONFIG_LINE_MAX - 3);
		else
			config_error(ctx, "line longer than %d bytes", CONFIG_LINE_MAX - 3);
		ok = false;
	}
	if (!ok) {
		ctx->skip_line = ctx->line;
		config_lost_line(ctx, line, len);
		if (line[strspn(line, " \t")] == '[')
			ctx->section = SECTION_BAD;
		return false;
	}
	line[len] = '\0'; /* the newline, or the NUL after the text */
	config_check_line_start(ctx, line);
	line[len] = end;
	return true;
}

/* inih reads through this, from the file's text in memory, so that each
 * handler call knows its line. A line longer than size comes in chunks. */
static char *config_read_line(char *buf, int size, void *stream)
{
	struct parse_ctx *ctx = stream;
	char *line = ctx->text + ctx->pos, *eol;
	size_t n;

	if (ctx->pos >= ctx->len)
		return NULL;
	if (ctx->pos == ctx->line_end) {
		eol = memchr(line, '\n', ctx->len - ctx->pos);
		ctx->line_end = eol ? (size_t)(eol - ctx->text) + 1 : ctx->len;
		ctx->line++;
		if (!config_line_ok(ctx, line, (eol ? (size_t)(eol - line) : ctx->len - ctx->pos))) {
			ctx->pos = ctx->line_end;
			return strcpy(buf, "\n");
		}
	}
	n = ctx->line_end - ctx->pos;
	if (n > (size_t)size - 1)
		n = (size_t)size - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	ctx->pos += n;
	return buf;
}

static bool program_name_valid(const char *name)
{
	if (!*name || strcmp(name, "all") == 0 || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

static struct program_config *config_add_program(struct parse_ctx *ctx, const char *name)
{
	struct config *c = ctx->config;
	struct program_config *pc, *other = config_find_program(c, name);

	if (other) {
		config_error(ctx, "[program:%s] is defined twice (first at %s:%d)", name, other->file, other->line);
		return NULL;
	}
	pc = calloc(1, sizeof(*pc));
	if (c->nprograms == c->programs_cap) {
		c->programs_cap = c->programs_cap ? 2 * c->programs_cap : 16;
		c->programs = realloc(c->programs, c->programs_cap * sizeof(*c->programs));
	}
	if (!pc || !c->programs)
		abort();
	program_config_defaults(pc);
	pc->name = xstrdup(name);
	pc->file = xstrdup(ctx->file);
	pc->line = ctx->line;
	c->programs[c->nprograms++] = pc;
	namemap_put(&c->programs_by_name, pc->name, pc);
	return pc;
}

static void config_parse_file(struct parse_ctx *includer, struct parse_ctx *ctx);

static void config_include(struct parse_ctx *ctx, const char *pattern)
{
	char *full = config_resolve_path(ctx->file, pattern);
	glob_t g;
	/* a missing folder matches nothing, like an empty one */
	int rc = glob(full, 0, NULL, &g);

	if (!ctx->config->first_include)
		ctx->config->first_include = xstrdup(full);
	if (rc == GLOB_NOMATCH) {
		log_debug("%s:%d: include %s matches no file", ctx->file, ctx->line, full);
	} else if (rc != 0) {
		config_error(ctx, "[vigil] include: cannot read \"%s\": %s", full, strerror(errno));
	} else if (ctx->depth >= INCLUDE_DEPTH_MAX) {
		config_error(ctx, "[vigil] include: nested more than %d deep", INCLUDE_DEPTH_MAX);
	} else {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct parse_ctx sub = {
				.config = ctx->config, .report = ctx->report, .files = ctx->files,
				.file = g.gl_pathv[i], .depth = ctx->depth + 1,
			};
			config_parse_file(ctx, &sub);
			ctx->nerrors += sub.nerrors;
		}
	}
	if (rc != GLOB_NOMATCH)
		globfree(&g);
	free(full);
}

/* HOST:PORT, resolved now; empty: off. */
static void config_http_listen(struct parse_ctx *ctx, const char *value)
{
	struct config *c = ctx->config;
	char err[PARSE_ERR_MAX];

	free(c->http_listen);
	c->http_listen = NULL;
	inet_address_free(&c->http_address);
	if (!*value)
		return;
	if (inet_address_parse(value, strlen(value), value, "HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100",
			       &c->http_address, err, sizeof(err)) < 0) {
		config_error(ctx, "[vigil] http_listen: %s", err);
		return;
	}
	c->http_listen = xstrdup(value);
	free(c->http_listen_file);
	c->http_listen_file = xstrdup(ctx->file);
	c->http_listen_line = ctx->line;
}

static void config_vigil_option(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *c = ctx->config;
	char err[PARSE_ERR_MAX];
	int level;

	static const char *const once[] = { "socket", "socket_mode", "socket_group", "log_level", "http_listen" };
	struct sockaddr_un sun;

	if (strcmp(name, "include") == 0) {
		config_include(ctx, value);
		return;
	}
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		if (strcmp(name, once[i]) != 0)
			continue;
		if (ctx->vigil_seen & (UINT64_C(1) << i)) {
			config_error(ctx, "[vigil] %s: set twice", name);
			return;
		}
		ctx->vigil_seen |= UINT64_C(1) << i;
	}
	if (strcmp(name, "socket") == 0) {
		if (!*value) {
			config_error(ctx, "[vigil] socket: empty path");
			return;
		}
		free(c->socket);
		c->socket = config_resolve_path(ctx->file, value);
		/* room for the notify socket beside it: PATH.notify */
		if (strlen(c->socket) >= sizeof(sun.sun_path) - strlen(".notify")) {
			config_error(ctx, "[vigil] socket: path longer than %zu bytes: %s",
				     sizeof(sun.sun_path) - strlen(".notify") - 1, c->socket);
			return;
		}
	} else if (strcmp(name, "socket_mode") == 0) {
		if (parse_octal_mode(value, &c->socket_mode, err, sizeof(err)) < 0)
			config_error(ctx, "[vigil] socket_mode: %s", err);
	} else if (strcmp(name, "socket_group") == 0) {
		struct group *gr = getgrnam(value);
		if (!gr) {
			config_error(ctx, "[vigil] socket_group: no such group \"%s\"", value);
			return;
		}
		free(c->socket_group);
		c->socket_group = xstrdup(value);
		c->socket_gid = gr->gr_gid;
	} else if (strcmp(name, "log_level") == 0) {
		if ((level = log_level_from_name(value)) < 0)
			config_error(ctx, "[vigil] log_level: \"%s\" is not a level (debug|info|notice|warning|err)", value);
		else
			c->log_level = level;
	} else if (strcmp(name, "http_listen") == 0) {
		config_http_listen(ctx, value);
	} else if (config_habit(HABIT_VIGIL_OPTION, name, value, err, sizeof(err), &(const char *){ NULL })) {
		config_error(ctx, "[vigil] unknown option \"%s\"%s", name, err);
	} else {
		config_error(ctx, "[vigil] unknown option \"%s\" (known: socket, socket_mode, socket_group, log_level, http_listen, include)",
			     name);
	}
}

static void config_program_option(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct program_config *pc = ctx->program;
	char err[PARSE_ERR_MAX];
	int option = program_option_find(name);
	const char *stands_for;

	if (option < 0 && config_habit(HABIT_PROGRAM_OPTION, name, value, err, sizeof(err), &stands_for)) {
		config_error(ctx, "[program:%s] unknown option \"%s\"%s", pc->name, name, err);
		/* what it meant to set is not missing, nor to be judged */
		if (stands_for && !(ctx->seen & (UINT64_C(1) << program_option_find(stands_for))))
			program_option_set_bad(pc, stands_for);
		return;
	} else if (option < 0) {
		/* "Command": vigil's own name, typed in another case */
		for (int i = 0; (stands_for = program_option_name(i)); i++)
			if (strcasecmp(name, stands_for) == 0)
				break;
		if (stands_for)
			config_error(ctx, "[program:%s] unknown option \"%s\"; option names are lower case: \"%s\"",
				     pc->name, name, stands_for);
		else
			config_error(ctx, "[program:%s] unknown option \"%s\"", pc->name, name);
		return;
	}
	if (ctx->seen & (UINT64_C(1) << option)) {
		config_error(ctx, "[program:%s] %s: set twice in one section", pc->name, name);
		return;
	}
	ctx->seen |= UINT64_C(1) << option;
	if (program_option_set(pc, option, value, ctx->file, ctx->line, err, sizeof(err)) < 0)
		config_error(ctx, "[program:%s] %s: %s", pc->name, name, err);
}

static void config_begin_section(struct parse_ctx *ctx, const char *name)
{
	char hint[PARSE_ERR_MAX];

	ctx->seen = 0;
	ctx->program = NULL;
	if (strncmp(name, "program:", 8) == 0) {
		ctx->section = SECTION_BAD;
		if (!program_name_valid(name + 8)) {
			config_error(ctx, "[%s] bad program name (use letters, digits, _ . -; at most 64; not \"all\")", name);
			config_report_unread(ctx->report, name + 8);
		} else if ((ctx->program = config_add_program(ctx, name + 8))) {
			ctx->section = SECTION_PROGRAM;
		}
	} else if (strcmp(name, "vigil") == 0) {
		ctx->section = SECTION_VIGIL;
	} else if (config_habit(HABIT_SECTION, name, NULL, hint, sizeof(hint), &(const char *){ NULL })) {
		ctx->section = SECTION_BAD;
		config_error(ctx, "unknown section [%s]%s", name, hint);
	} else {
		ctx->section = SECTION_BAD;
		config_error(ctx, "unknown section [%s] (known: [vigil], [program:NAME])", name);
	}
}

static int config_handle(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;

	(void)section; /* inih's copy is cut at 50 bytes; the reader tracks sections */
	if (ctx->line == ctx->skip_line)
		return 1;
	switch (ctx->section) {
	case SECTION_NONE:
		config_error(ctx, "option \"%s\" outside a section (start with [vigil] or [program:NAME])", name);
		break;
	case SECTION_VIGIL:
		config_vigil_option(ctx, name, value);
		break;
	case SECTION_PROGRAM:
		config_program_option(ctx, name, value);
		break;
	case SECTION_BAD:
		break; /* reported at the header */
	}
	return 1; /* keep going: report every error in one pass */
}

/* Parses ctx->file; a file that cannot be read is reported at the
 * includer's include line, or as "FILE: ..." for the main file. */
static void config_parse_file(struct parse_ctx *includer, struct parse_ctx *ctx)
{
	struct config_text text;
	char err[PATH_MAX + 512];
	int rc = config_file_read(ctx->files, ctx->file, &text, err, sizeof(err));

	size_t pathlen = strlen(ctx->file);

	if (rc < 0 && includer) {
		config_error(includer, "[vigil] include: %s", err);
		return;
	} else if (rc < 0) {
		/* err is "PATH: ...", the form of an error without a line */
		bool prefixed = strncmp(err, ctx->file, pathlen) == 0 && strncmp(err + pathlen, ": ", 2) == 0;
		config_report_add(ctx->report, ctx->file, 0, "%s", prefixed ? err + pathlen + 2 : err);
		ctx->nerrors++;
		return;
	} else if (rc == CONFIG_FILE_SKIP) {
		if (!ctx->files->limit_hit) /* else reported where it was hit */
			log_debug("%s:%d: include %s: read already; skipped", includer->file, includer->line, ctx->file);
		return;
	}
	config_report_file(ctx->report, ctx->file);
	ctx->text = text.data;
	ctx->len = text.len;
	rc = ini_parse_stream(config_read_line, ctx, config_handle, ctx);
	/* the reader reports syntax errors itself; this is a safety net */
	if (rc > 0 && ctx->nerrors == 0) {
		ctx->line = rc;
		config_error(ctx, "syntax error (expected \"name = value\" or \"[section]\")");
	} else if (rc < 0) {
		config_error(ctx, "cannot parse (out of memory)");
	}
	config_file_done(ctx->files, &text);
}

static void config_set_ini_options(void)
{
	/* Debian's inih exposes its build options as variables: allow long
	 * command lines, and treat indented lines as errors rather than as
	 * silent continuations of the previous value. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_LINE_MAX;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_stop_on_first_error = false;
}

struct config *config_load(const char *path, char **errors)
{
	struct config *config = calloc(1, sizeof(*config));
	struct config_report report = { 0 };
	struct config_files files = { 0 };
	struct parse_ctx ctx = { .config = config, .report = &report, .files = &files, .file = path };
	int nerrors;

	if (!config)
		abort();
	config_set_ini_options();
	config->path = xstrdup(path);
	config->socket = xstrdup(CONFIG_DEFAULT_SOCKET);
	config->socket_mode = 0660;
	config->log_level = LOG_INFO;
	config_parse_file(NULL, &ctx);
	config_files_free(&files);
	/* also after parse errors, on what was read: every error in one pass */
	nerrors = ctx.nerrors + config_check(config, &report);
	*errors = config_report_text(&report);
	config_report_free(&report);
	if (nerrors) {
		config_free(config);
		return NULL;
	}
	return config;
}

char *config_no_programs_hint(const struct config *config)
{
	char *hint, *dir = NULL, *slash;

	/* where the include's files go, when that is one folder */
	if (config->first_include && (slash = strrchr(config->first_include, '/')) &&
	    !memchr(config->first_include, '*', (size_t)(slash - config->first_include)) &&
	    !memchr(config->first_include, '?', (size_t)(slash - config->first_include)) &&
	    !memchr(config->first_include, '[', (size_t)(slash - config->first_include)))
		dir = strndup(config->first_include, (size_t)(slash - config->first_include) + 1);
	if (asprintf(&hint, "no programs configured in %s%s: add [program:NAME] sections%s%s", config->path,
		     config->first_include ? " (and its includes)" : "", dir ? ", e.g. in " : "", dir ? dir : "") < 0)
		abort();
	free(dir);
	return hint;
}
