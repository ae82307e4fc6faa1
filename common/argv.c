/* Word splitting and variable expansion for the `command`, `environment`
 * and path options. No shell runs: what a user would need a shell for,
 * they write as sh -c '...'. */
#include "parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string; every helper leaves it NUL-terminated. */
struct strbuf {
	char *data;
	size_t len, cap;
};

static void strbuf_putc(struct strbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			abort();
	}
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

static void strbuf_puts(struct strbuf *b, const char *s)
{
	while (*s)
		strbuf_putc(b, *s++);
}

static int set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

static void argv_push(char ***argv, size_t *argc, char *word)
{
	*argv = realloc(*argv, (*argc + 2) * sizeof(char *));
	if (!*argv)
		abort();
	(*argv)[(*argc)++] = word;
	(*argv)[*argc] = NULL;
}

void argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/* Reads one word starting at *sp into b; returns -1 on an unterminated
 * quote or a trailing backslash. */
static int argv_read_word(const char **sp, struct strbuf *b, char *err, size_t errlen)
{
	const char *s = *sp;

	strbuf_putc(b, '\0');
	b->len = 0; /* an empty quoted word '' is still a word */
	while (*s && !isspace((unsigned char)*s)) {
		if (*s == '\'') {
			const char *close = strchr(s + 1, '\'');
			if (!close)
				return set_err(err, errlen, "unterminated single quote");
			for (s++; s < close; s++)
				strbuf_putc(b, *s);
			s++;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (!*s)
					return set_err(err, errlen, "unterminated double quote");
				if (*s == '\\' && s[1] && strchr("\"\\$`\n", s[1]))
					s++;
				strbuf_putc(b, *s);
			}
			s++;
		} else if (*s == '\\') {
			if (!s[1])
				return set_err(err, errlen, "trailing backslash");
			strbuf_putc(b, s[1]);
			s += 2;
		} else {
			strbuf_putc(b, *s++);
		}
	}
	*sp = s;
	return 0;
}

int argv_split(const char *s, char ***argv_out, char *err, size_t errlen)
{
	char **argv = NULL;
	size_t argc = 0;

	for (;;) {
		struct strbuf word = { 0 };

		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (argv_read_word(&s, &word, err, errlen) < 0) {
			free(word.data);
			argv_free(argv);
			return -1;
		}
		argv_push(&argv, &argc, word.data);
	}
	if (argc == 0)
		return set_err(err, errlen, "empty command");
	*argv_out = argv;
	return 0;
}

char *expand_program_vars(const char *s, const char *program, int process_num,
			  char *err, size_t errlen)
{
	struct strbuf b = { 0 };

	strbuf_putc(&b, '\0'); /* allocate: "" expands to "", not NULL */
	b.len = 0;
	while (*s) {
		const char *name_end;
		char fmt[16], num[128]; /* widths are at most 99 */

		if (s[0] != '%' || s[1] != '(') {
			strbuf_putc(&b, *s++);
			continue;
		}
		name_end = strchr(s, ')');
		if (name_end && strncmp(s, "%(program_name)s", 16) == 0) {
			strbuf_puts(&b, program);
			s += 16;
		} else if (name_end && strncmp(s, "%(process_num)", 14) == 0) {
			/* %(process_num)d or with a zero-padded width: %(process_num)02d */
			const char *f = s + 14;
			size_t w = strspn(f, "0123456789");
			if (f[w] != 'd' || w > 3 || atoi(f) > 99) {
				free(b.data);
				set_err(err, errlen, "bad %(process_num) format (use %(process_num)d or %(process_num)02d)");
				return NULL;
			}
			snprintf(fmt, sizeof(fmt), "%%%.*sd", (int)w, f);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(num, sizeof(num), fmt, process_num);
#pragma GCC diagnostic pop
			strbuf_puts(&b, num);
			s = f + w + 1;
		} else {
			free(b.data);
			set_err(err, errlen, "unknown %(...) variable (known: %(process_num)d, %(program_name)s)");
			return NULL;
		}
	}
	return b.data;
}

static int env_fail(char ***env, size_t n, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int env_fail(char ***env, size_t n, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < n; i++)
		free((*env)[i]);
	free(*env);
	*env = NULL;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* KEY=value pairs separated by commas; a value may be "quoted" or
 * 'quoted' to hold commas or spaces. */
int parse_environment(const char *s, char ***env_out, char *err, size_t errlen)
{
	char **env = NULL;
	size_t n = 0;

	for (;;) {
		struct strbuf item = { 0 };
		const char *key = s;

		while (*key && (isspace((unsigned char)*key) || *key == ','))
			key++;
		if (!*key)
			break;
		s = key;
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (s == key || isdigit((unsigned char)*key) || *s != '=')
			return env_fail(&env, n, err, errlen,
					"\"%.20s\" is not KEY=value (keys are letters, digits and _)", key);
		size_t quoted_end;

		for (const char *k = key; k <= s; k++)
			strbuf_putc(&item, *k);
		quoted_end = item.len; /* blanks up to here are the user's */
		s++;
		while (*s && *s != ',') {
			if (*s == '"' || *s == '\'') {
				char q = *s++;
				while (*s && *s != q) {
					if (q == '"' && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					strbuf_putc(&item, *s++);
				}
				if (!*s) {
					free(item.data);
					return env_fail(&env, n, err, errlen, "unterminated quote in value of %.*s",
							(int)(strchr(key, '=') - key), key);
				}
				s++;
				quoted_end = item.len;
			} else {
				strbuf_putc(&item, *s++);
			}
		}
		/* trailing blanks before a comma are not part of an unquoted value */
		while (item.len > quoted_end && isspace((unsigned char)item.data[item.len - 1]))
			item.data[--item.len] = '\0';
		argv_push(&env, &n, item.data);
	}
	if (!env) {
		env = calloc(1, sizeof(char *));
		if (!env)
			abort();
	}
	*env_out = env;
	return 0;
}
