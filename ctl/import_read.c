/* Reading a supervisord config the way supervisord's ConfigParser does:
 * keys without case, "key = value" or "key: value", comments after ";"
 * or "#" (inline ones after a blank), indented lines continuing the value
 * above, a section or key met twice merged with the later value winning,
 * and [include] files = GLOB... read after the main file, relative to its
 * folder. inih does the parsing; the reader below tells the handler which
 * line it is on. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"

#define IMPORT_LINE_MAX 65536
#define IMPORT_FILE_MAX (16 << 20)

/* One file being read. */
struct read_ctx {
	struct sv_config *config;
	const char *file;
	char *here;
	bool included;
	char *text;
	size_t len, pos, line_start;
	int line;
	int header_line; /* of the last [section] */
	size_t section; /* index of the section the last option went to */
	struct sv_option *last; /* for continuation lines */
};

static void *xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1)))
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

void sv_warn(struct sv_config *config, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: warning: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	config->warnings++;
}

struct sv_section *sv_section_find(struct sv_config *config, const char *name)
{
	for (size_t i = 0; i < config->nsections; i++)
		if (!config->sections[i].nested_include && strcmp(config->sections[i].name, name) == 0)
			return &config->sections[i];
	return NULL;
}

struct sv_option *sv_option_find(struct sv_section *section, const char *key)
{
	for (size_t i = 0; section && i < section->nopts; i++)
		if (strcmp(section->opts[i].key, key) == 0)
			return &section->opts[i];
	return NULL;
}

static struct sv_section *section_get(struct read_ctx *ctx, const char *name)
{
	struct sv_config *c = ctx->config;
	bool nested = ctx->included && strcmp(name, "include") == 0;
	struct sv_section *s = nested ? NULL : sv_section_find(c, name);

	if (s)
		return s;
	c->sections = xrealloc(c->sections, (c->nsections + 1) * sizeof(*c->sections));
	s = &c->sections[c->nsections++];
	*s = (struct sv_section){ .name = xstrdup(name), .file = ctx->file, .here = xstrdup(ctx->here),
				  .line = ctx->header_line, .nested_include = nested };
	return s;
}

static void option_set(struct read_ctx *ctx, struct sv_section *s, const char *name, const char *value)
{
	char key[256];
	struct sv_option *o;
	size_t i;

	for (i = 0; name[i] && i < sizeof(key) - 1; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[i] = '\0';
	if ((o = sv_option_find(s, key))) {
		free(o->value);
	} else {
		s->opts = xrealloc(s->opts, (s->nopts + 1) * sizeof(*s->opts));
		o = &s->opts[s->nopts++];
		*o = (struct sv_option){ .key = xstrdup(key) };
	}
	o->value = xstrdup(value);
	o->file = ctx->file;
	o->line = ctx->line;
	ctx->last = o;
}

static int read_handle(void *user, const char *section, const char *name, const char *value)
{
	struct read_ctx *ctx = user;
	struct sv_section *s = section_get(ctx, section);
	size_t index = (size_t)(s - ctx->config->sections);
	bool continued = isspace((unsigned char)ctx->text[ctx->line_start]);

	if (continued && ctx->last && ctx->section == index && strcasecmp(ctx->last->key, name) == 0) {
		size_t n = strlen(ctx->last->value);
		ctx->last->value = xrealloc(ctx->last->value, n + strlen(value) + 2);
		snprintf(ctx->last->value + n, strlen(value) + 2, "%s%s", n ? " " : "", value);
		return 1;
	}
	ctx->section = index;
	option_set(ctx, s, name, value);
	return 1;
}

/* A line inih would skip without a word: one with neither "=" nor ":"
 * (supervisord refuses it; the import goes on without it). */
static void read_check_line(struct read_ctx *ctx, const char *line, size_t len)
{
	size_t skip = strspn(line, " \t\r\n");

	if (skip < len && line[skip] == '[')
		ctx->header_line = ctx->line;
	/* an indented line continues the value above */
	if (skip >= len || skip > 0 || line[skip] == ';' || line[skip] == '#' || line[skip] == '[')
		return;
	if (!memchr(line, '=', len) && !memchr(line, ':', len))
		sv_warn(ctx->config, ctx->file, ctx->line, "syntax error (expected \"name = value\"); line skipped");
}

/* inih reads lines through this, so the handler knows which it is on. */
static char *read_line(char *buf, int size, void *stream)
{
	struct read_ctx *ctx = stream;
	const char *line = ctx->text + ctx->pos, *eol;
	size_t n;

	if (ctx->pos >= ctx->len)
		return NULL;
	eol = memchr(line, '\n', ctx->len - ctx->pos);
	n = eol ? (size_t)(eol - line) + 1 : ctx->len - ctx->pos;
	if (ctx->pos == 0 || ctx->text[ctx->pos - 1] == '\n') {
		ctx->line++;
		ctx->line_start = ctx->pos;
		read_check_line(ctx, line, n);
	}
	if (n > (size_t)size - 1)
		n = (size_t)size - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	ctx->pos += n;
	return buf;
}

static int read_text(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n;
	char chunk[8192];

	*text = NULL;
	*len = 0;
	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && *len < IMPORT_FILE_MAX) {
		if (*len + n + 1 > cap)
			*text = xrealloc(*text, cap = (*len + n + 1) * 2);
		memcpy(*text + *len, chunk, n);
		*len += n;
	}
	if (ferror(f) || *len >= IMPORT_FILE_MAX) {
		int err = ferror(f) ? errno : EFBIG;
		fclose(f);
		free(*text);
		errno = err;
		return -1;
	}
	fclose(f);
	*text = xrealloc(*text, *len + 1);
	(*text)[*len] = '\0';
	/* a NUL would end inih's line early */
	for (size_t i = 0; i < *len; i++)
		if (!(*text)[i])
			(*text)[i] = ' ';
	return 0;
}

static int read_file(struct sv_config *config, const char *path, bool included)
{
	struct read_ctx ctx = { .config = config, .included = included };
	char *dir;

	if (read_text(path, &ctx.text, &ctx.len) < 0) {
		fprintf(stderr, "vigilctl: import-supervisord: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	config->files = xrealloc(config->files, (config->nfiles + 1) * sizeof(char *));
	ctx.file = config->files[config->nfiles++] = xstrdup(path);
	dir = xstrdup(path);
	ctx.here = realpath(dirname(dir), NULL);
	if (!ctx.here)
		ctx.here = xstrdup(dirname(dir));
	free(dir);
	ini_parse_stream(read_line, &ctx, read_handle, &ctx);
	free(ctx.here);
	free(ctx.text);
	return 0;
}

/* supervisord: the patterns of [include] files, relative to the folder of
 * the file that has the section, each glob's matches in order. */
static int read_includes(struct sv_config *config)
{
	struct sv_section *inc = sv_section_find(config, "include");
	struct sv_option *files = sv_option_find(inc, "files");
	struct sv_expand x = { .here = inc ? inc->here : "." };
	char why[256], *list, *save = NULL;
	int rc = 0;

	if (!files)
		return 0;
	if (!(list = sv_expand(&x, files->value, why, sizeof(why)))) {
		sv_warn(config, files->file, files->line, "[include] files: %s; nothing included", why);
		return 0;
	}
	for (char *pattern = strtok_r(list, " \t\r\n", &save); pattern && rc == 0;
	     pattern = strtok_r(NULL, " \t\r\n", &save)) {
		char *full = NULL;
		glob_t g;
		if (asprintf(&full, "%s%s%s", pattern[0] == '/' ? "" : x.here, pattern[0] == '/' ? "" : "/",
			     pattern) < 0)
			abort();
		if (glob(full, 0, NULL, &g) != 0) {
			sv_warn(config, files->file, files->line, "[include] files: no file matches \"%s\"", full);
		} else {
			for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
				rc = read_file(config, g.gl_pathv[i], true);
			globfree(&g);
		}
		free(full);
	}
	free(list);
	return rc;
}

int sv_config_read(struct sv_config *config, const char *path)
{
	/* Debian's inih has its build options as variables: supervisord's
	 * syntax, long lines */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = IMPORT_LINE_MAX;
	ini_allow_multiline = true;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = ";#";
	ini_stop_on_first_error = false;
	if (read_file(config, path, false) < 0)
		return -1;
	return read_includes(config);
}

void sv_config_free(struct sv_config *config)
{
	for (size_t i = 0; i < config->nsections; i++) {
		struct sv_section *s = &config->sections[i];
		for (size_t k = 0; k < s->nopts; k++) {
			free(s->opts[k].key);
			free(s->opts[k].value);
		}
		free(s->opts);
		free(s->name);
		free(s->here);
	}
	free(config->sections);
	for (size_t i = 0; i < config->nfiles; i++)
		free(config->files[i]);
	free(config->files);
	*config = (struct sv_config){ 0 };
}
