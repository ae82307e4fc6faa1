/* HOST:PORT values: see inet_address.h. */
#define _GNU_SOURCE
#include "inet_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int address_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int address_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* "1".."65535", digits only: "08080" is a port, "80x" and "+80" are not. */
static int parse_port(const char *s, const char *text, const char *forms, int *port, char *err, size_t errlen)
{
	long v = 0;

	if (!*s)
		return address_error(err, errlen, "\"%s\": no port (use %s)", text, forms);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return address_error(err, errlen, "\"%s\": \"%s\" is not a port (1-65535)", text, s);
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return address_error(err, errlen, "\"%s\": \"%s\" is not a port (1-65535)", text, s);
	*port = (int)v;
	return 0;
}

/* Resolves name (an IPv4 address, an IPv6 one when bracketed, or a host
 * name) to the first stream address getaddrinfo gives. */
static int resolve(const char *name, bool bracketed, int port, struct inet_address *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char service[8];
	int rc;

	if (bracketed) {
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(name, service, &hints, &res);
	if (rc != 0) {
		if (bracketed)
			return address_error(err, errlen, "\"[%s]\" is not an IPv6 address", name);
		return address_error(err, errlen, "cannot resolve \"%s\": %s", name,
				     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	}
	if (res->ai_addrlen > sizeof(out->addr)) {
		freeaddrinfo(res);
		return address_error(err, errlen, "cannot resolve \"%s\": address too long", name);
	}
	memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
	out->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Cuts "HOST:PORT" or "[V6]:PORT" in authority (a copy) into its host
 * and, after the colon, its port; NULL when the form is wrong. */
static char *split_host(char *authority, const char *text, bool *bracketed, char **colon, char *err, size_t errlen)
{
	*bracketed = authority[0] == '[';
	if (*bracketed) {
		char *close = strchr(authority, ']');
		if (!close) {
			address_error(err, errlen, "\"%s\": \"[\" without \"]\" around the IPv6 address", text);
			return NULL;
		}
		*colon = close[1] == ':' ? close + 1 : NULL;
		if (!*colon && close[1]) {
			address_error(err, errlen, "\"%s\": expected \":PORT\" after \"]\"", text);
			return NULL;
		}
		*close = '\0';
		return authority + 1;
	}
	*colon = strrchr(authority, ':');
	if (*colon && memchr(authority, ':', (size_t)(*colon - authority))) {
		address_error(err, errlen, "\"%s\": write an IPv6 address in brackets: [ADDRESS]:PORT", text);
		return NULL;
	}
	if (*colon)
		**colon = '\0';
	return authority;
}

int inet_address_parse(const char *s, size_t len, const char *text, const char *forms, struct inet_address *out,
		       char *err, size_t errlen)
{
	char *authority = strndup(s, len), *host, *colon = NULL;
	struct inet_address a = { .port = 0 };
	bool bracketed = false;
	int rc = -1;

	if (!authority)
		abort();
	if (!(host = split_host(authority, text, &bracketed, &colon, err, errlen)))
		goto out;
	if (!*host) {
		address_error(err, errlen, "\"%s\": no host (use %s)", text, forms);
		goto out;
	}
	if (parse_port(colon ? colon + 1 : "", text, forms, &a.port, err, errlen) < 0 ||
	    resolve(host, bracketed, a.port, &a, err, errlen) < 0)
		goto out;
	/* as written, brackets included */
	if (!(a.host = strndup(s, bracketed ? strlen(host) + 2 : strlen(host))))
		abort();
	*out = a;
	rc = 0;
out:
	free(authority);
	return rc;
}

void inet_address_free(struct inet_address *a)
{
	free(a->host);
	memset(a, 0, sizeof(*a));
}

void inet_address_format(const struct inet_address *a, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->addr)->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "[%s]:%d", host, a->port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->addr)->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%d", host, a->port);
	}
}
