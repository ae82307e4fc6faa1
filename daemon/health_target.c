/* health_check values: see health_target.h. */
#define _GNU_SOURCE
#include "health_target.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inet_address.h"
#include "parse.h"

#define HEALTH_FORMS "http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND"

static int target_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int target_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *dup_or_die(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		abort();
	return d;
}

/* HOST:PORT, authority_len bytes at s; text is the whole value, for messages. */
static int parse_authority(const char *s, size_t authority_len, const char *text, struct health_target *out,
			   char *err, size_t errlen)
{
	struct inet_address a;

	if (inet_address_parse(s, authority_len, text, HEALTH_FORMS, &a, err, errlen) < 0)
		return -1;
	out->addr = a.addr;
	out->addrlen = a.addrlen;
	out->host = a.host; /* now out's */
	out->port = a.port;
	return 0;
}

/* The request target is sent as written: a space or control byte in it
 * would break (or forge) the request line. A fragment is not sent. */
static int parse_http_path(const char *s, const char *text, struct health_target *out, char *err,
			   size_t errlen)
{
	size_t len = strcspn(s, "#");

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return target_error(err, errlen, "\"%s\": a space or control character in the path (write it as %%20 etc.)",
					    text);
	if (len == 0 || s[0] == '?') {
		if (asprintf(&out->path, "/%.*s", (int)len, s) < 0)
			abort();
	} else {
		out->path = dup_or_die(s, len);
	}
	return 0;
}

static int parse_http(const char *rest, const char *text, struct health_target *out, char *err, size_t errlen)
{
	size_t authority_len = strcspn(rest, "/?#");

	out->kind = HEALTH_HTTP;
	if (parse_authority(rest, authority_len, text, out, err, errlen) < 0)
		return -1;
	return parse_http_path(rest + authority_len, text, out, err, errlen);
}

static int parse_tcp(const char *rest, const char *text, struct health_target *out, char *err, size_t errlen)
{
	size_t authority_len = strcspn(rest, "/?#");

	out->kind = HEALTH_TCP;
	if (rest[authority_len])
		return target_error(err, errlen, "\"%s\": tcp://HOST:PORT takes no path", text);
	return parse_authority(rest, authority_len, text, out, err, errlen);
}

static int parse_exec(const char *command, struct health_target *out, char *err, size_t errlen)
{
	char why[PARSE_ERR_MAX];

	out->kind = HEALTH_EXEC;
	if (argv_split(command, &out->argv, why, sizeof(why)) < 0)
		return target_error(err, errlen, "exec: %s", why);
	return 0;
}

int health_target_parse(const char *text, struct health_target *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(text, "http://", 7) == 0)
		rc = parse_http(text + 7, text, out, err, errlen);
	else if (strncasecmp(text, "tcp://", 6) == 0)
		rc = parse_tcp(text + 6, text, out, err, errlen);
	else if (strncmp(text, "exec:", 5) == 0)
		rc = parse_exec(text + 5, out, err, errlen);
	else if (strncasecmp(text, "https://", 8) == 0)
		rc = target_error(err, errlen, "\"%s\": https is not supported (probe the plain http port, or use exec: with curl)",
				  text);
	else
		rc = target_error(err, errlen, "\"%s\" is not a health check (use %s)", text, HEALTH_FORMS);
	if (rc < 0)
		health_target_free(out);
	return rc;
}

void health_target_free(struct health_target *t)
{
	free(t->host);
	free(t->path);
	argv_free(t->argv);
	memset(t, 0, sizeof(*t));
}
