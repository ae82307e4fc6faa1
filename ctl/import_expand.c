/* supervisord's values as vigil reads them. supervisord formats each value
 * with Python's % operator: %(name)s and %(name)02d style specs, %% for a
 * "%". What is fixed at import (here, group_name, numprocs, host_node_name,
 * ENV_X) is written out; %(program_name)s and %(process_num)d stay where
 * vigil expands them itself. Its environment syntax is read the way its
 * dict_of_key_value_pairs does, with Python's shlex in non-POSIX mode. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import.h"

/* A string that grows. */
struct buf {
	char *data;
	size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if (!(b->data = realloc(b->data, b->cap)))
			abort();
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* Python's "%(name)" conversion spec after the ")": flags, width,
 * precision, length, type. */
struct spec {
	char text[32]; /* as written, after the ")" */
	char head[32]; /* flags, width and precision: what printf takes too */
	char flags[8];
	bool has_precision;
	char type;
	size_t len;
};

static int spec_parse(const char *s, struct spec *sp)
{
	size_t n = strspn(s, "#0- +"), head;

	*sp = (struct spec){ 0 };
	if (n >= sizeof(sp->flags))
		return -1;
	memcpy(sp->flags, s, n);
	n += strspn(s + n, "0123456789");
	if (s[n] == '.') {
		sp->has_precision = true;
		n += 1 + strspn(s + n + 1, "0123456789");
	}
	head = n;
	if (s[n] && strchr("hlL", s[n]))
		n++;
	if (!s[n] || !strchr("diouxXeEfFgGcrsa", s[n]) || n + 1 >= sizeof(sp->text))
		return -1;
	sp->type = s[n];
	sp->len = n + 1;
	memcpy(sp->text, s, sp->len);
	memcpy(sp->head, s, head);
	return 0;
}

/* value formatted as spec would in Python, for the types vigil's values
 * need: s of a string, d/i/u of a number (or s of a number). */
static int spec_format(const struct spec *sp, const char *str, long num, bool is_num, struct buf *out)
{
	char fmt[48], numtext[32], *s;
	int rc;

	if (sp->type == 's') {
		if (is_num)
			snprintf(numtext, sizeof(numtext), "%ld", num), str = numtext;
		if (strspn(sp->flags, "-") != strlen(sp->flags))
			return -1;
		snprintf(fmt, sizeof(fmt), "%%%ss", sp->head);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		rc = asprintf(&s, fmt, str);
	} else if (is_num && strchr("diu", sp->type) && !sp->has_precision && !strchr(sp->flags, '#')) {
		snprintf(fmt, sizeof(fmt), "%%%sld", sp->head);
		rc = asprintf(&s, fmt, num);
#pragma GCC diagnostic pop
	} else {
		return -1;
	}
	if (rc < 0)
		abort();
	buf_puts(out, s);
	free(s);
	return 0;
}

/* %(process_num)...d that vigil's own expansion reads the same way. */
static bool vigil_reads_process_num(const struct spec *sp)
{
	return sp->type == 'd' && (!*sp->flags || strcmp(sp->flags, "0") == 0) && !sp->has_precision &&
	       atoi(sp->text + strlen(sp->flags)) <= 99;
}

/* One %(name)spec into out: 0, or -1 with why. */
static int expand_one(struct sv_expand *x, const char *name, const struct spec *sp, struct buf *out, char *why,
		      size_t whylen)
{
	char host[256];

	if (strcmp(name, "here") == 0)
		return spec_format(sp, x->here, 0, false, out);
	if (strncmp(name, "ENV_", 4) == 0) {
		const char *v = getenv(name + 4);
		if (!v)
			return snprintf(why, whylen, "$%s is not set where the import runs", name + 4), -1;
		x->import_time = true;
		return spec_format(sp, v, 0, false, out);
	}
	if (!x->program)
		return snprintf(why, whylen, "%%(%s)%s means nothing outside [program:x]", name, sp->text), -1;
	if (strcmp(name, "program_name") == 0) {
		if (x->vigil_expands && !x->renamed && strcmp(sp->text, "s") == 0)
			return buf_puts(out, "%(program_name)s"), 0;
		return spec_format(sp, x->program, 0, false, out);
	}
	if (strcmp(name, "group_name") == 0)
		return spec_format(sp, x->group ? x->group : x->program, 0, false, out);
	if (strcmp(name, "numprocs") == 0)
		return spec_format(sp, NULL, x->numprocs, true, out);
	if (strcmp(name, "host_node_name") == 0) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		x->import_time = true;
		return spec_format(sp, host, 0, false, out);
	}
	if (strcmp(name, "process_num") != 0)
		return snprintf(why, whylen, "supervisord has no %%(%s)s", name), -1;
	if (x->numprocs <= 1)
		return spec_format(sp, NULL, x->numprocs_start, true, out);
	if (!x->vigil_expands)
		return snprintf(why, whylen, "vigil expands %%(process_num)d only in command, directory, "
					    "environment and log paths"), -1;
	if (x->numprocs_start)
		return snprintf(why, whylen, "numprocs_start = %d: vigil numbers instances from 0", x->numprocs_start),
		       -1;
	if (!vigil_reads_process_num(sp))
		return snprintf(why, whylen, "vigil expands %%(process_num)d and %%(process_num)02d, not %%(process_num)%s",
				sp->text), -1;
	buf_puts(out, "%(process_num)");
	buf_puts(out, sp->text);
	return 0;
}

char *sv_expand(struct sv_expand *x, const char *value, char *why, size_t whylen)
{
	struct buf out = { 0 };
	const char *s = value;

	buf_put(&out, "", 0);
	while (*s) {
		const char *close;
		char name[128];
		struct spec sp;
		if (*s != '%') {
			buf_put(&out, s++, 1);
			continue;
		}
		if (s[1] == '%') {
			if (s[2] == '(') {
				snprintf(why, whylen, "vigil would read the \"%%(\" of \"%%%%(\" as an expansion");
				goto fail;
			}
			buf_put(&out, "%", 1);
			s += 2;
			continue;
		}
		close = s[1] == '(' ? strchr(s, ')') : NULL;
		if (!close) {
			snprintf(why, whylen, "a lone %% (supervisord takes %%%% for a %%)");
			goto fail;
		}
		if ((size_t)(close - s - 2) >= sizeof(name) || spec_parse(close + 1, &sp) < 0) {
			snprintf(why, whylen, "\"%.*s\" is not a whole %%(NAME)s expansion", (int)(close - s + 1), s);
			goto fail;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - s - 2), s + 2);
		*why = '\0';
		if (expand_one(x, name, &sp, &out, why, whylen) < 0) {
			if (!*why)
				snprintf(why, whylen, "%%(%s)%s: vigil cannot write this format", name, sp.text);
			goto fail;
		}
		s = close + 1 + sp.len;
	}
	return out.data;
fail:
	free(out.data);
	return NULL;
}

/* The tokens of Python's shlex.shlex(value) with supervisord's wordchars:
 * words, quoted strings (quotes kept) and single other characters; "#"
 * starts a comment. vigil's %(program_name)s and %(process_num)d count as
 * word characters: supervisord saw their values there. */
static int env_tokens(const char *s, char ***tokens, size_t *n, char *why, size_t whylen)
{
	static const char wordchars[] = "_/.+-():%";

	*tokens = NULL;
	*n = 0;
	while (*s) {
		const char *start = s;
		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (*s == '#')
			break;
		if (*s == '"' || *s == '\'') {
			const char *end = strchr(s + 1, *s);
			if (!end)
				return snprintf(why, whylen, "no closing quotation"), -1;
			s = end + 1;
		} else if (isalnum((unsigned char)*s) || strchr(wordchars, *s)) {
			/* inside a word, non-POSIX shlex takes quotes as letters */
			while (*s && (isalnum((unsigned char)*s) || strchr(wordchars, *s) || *s == '"' || *s == '\''))
				s++;
		} else {
			s++;
		}
		if (!(*tokens = realloc(*tokens, (*n + 1) * sizeof(char *))) ||
		    !((*tokens)[(*n)++] = strndup(start, (size_t)(s - start))))
			abort();
	}
	return 0;
}

static bool env_key_valid(const char *key)
{
	if (!isalpha((unsigned char)*key) && *key != '_')
		return false;
	for (; *key; key++)
		if (!isalnum((unsigned char)*key) && *key != '_')
			return false;
	return true;
}

/* KEY=value for vigil's parser: quoted when it holds more than word
 * characters, with \ and " escaped. */
static void env_put(struct buf *out, const char *key, const char *value)
{
	bool plain = *value != '\0';

	for (const char *p = value; *p; p++)
		plain = plain && (isalnum((unsigned char)*p) || strchr("_/.+-():%@=", *p));
	if (out->len)
		buf_puts(out, ", ");
	buf_puts(out, key);
	buf_puts(out, "=");
	if (plain) {
		buf_puts(out, value);
		return;
	}
	buf_puts(out, "\"");
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_puts(out, "\\");
		buf_put(out, p, 1);
	}
	buf_puts(out, "\"");
}

/* A value's quotes are stripped from both ends, whichever they are, as
 * supervisord's strip('\'"') does. */
static void env_strip_quotes(char *v)
{
	size_t skip = strspn(v, "'\""), len = strlen(v);

	while (len > skip && strchr("'\"", v[len - 1]))
		len--;
	memmove(v, v + skip, len - skip);
	v[len - skip] = '\0';
}

char *sv_environment_to_vigil(const char *value, char *why, size_t whylen)
{
	struct buf out = { 0 };
	char **tok;
	size_t n, i;
	int rc;

	if ((rc = env_tokens(value, &tok, &n, why, whylen)) == 0) {
		buf_put(&out, "", 0);
		/* KEY = VALUE, then any one token (the comma) */
		for (i = 0; i < n && rc == 0; i += 4) {
			if (i + 2 >= n || strcmp(tok[i + 1], "=") != 0) {
				snprintf(why, whylen, "not KEY=value pairs after \"%s\"", tok[i]);
				rc = -1;
			} else if (!env_key_valid(tok[i])) {
				snprintf(why, whylen, "\"%s\" is not a name vigil takes (letters, digits and _)", tok[i]);
				rc = -1;
			} else {
				env_strip_quotes(tok[i + 2]);
				env_put(&out, tok[i], tok[i + 2]);
			}
		}
	}
	for (i = 0; i < n; i++)
		free(tok[i]);
	free(tok);
	if (rc < 0) {
		free(out.data);
		return NULL;
	}
	return out.data;
}
