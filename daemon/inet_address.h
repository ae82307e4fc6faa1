/* HOST:PORT as a config value writes it (health_check's http:// and tcp://,
 * [vigil] http_listen): an IPv4 address, an [IPv6] one in brackets, or a
 * host name, resolved here once, at config load, so that nothing on the
 * event loop ever waits for a resolver. */
#ifndef VIGIL_INET_ADDRESS_H
#define VIGIL_INET_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

struct inet_address {
	struct sockaddr_storage addr; /* the first stream address HOST resolves to */
	socklen_t addrlen;
	char *host; /* as written, brackets included (what a Host: header needs) */
	int port;   /* 1-65535 */
};

/* Parses the len bytes at s as HOST:PORT. text is the whole value and
 * forms the ways to write it, both for messages ("\"x\": no port (use
 * FORMS)"). Returns 0, or -1 with err set and out untouched. */
int inet_address_parse(const char *s, size_t len, const char *text, const char *forms, struct inet_address *out,
		       char *err, size_t errlen);
void inet_address_free(struct inet_address *a);
/* "127.0.0.1:9100", "[::1]:9100": the numeric address, for the log. */
void inet_address_format(const struct inet_address *a, char *buf, size_t buflen);

#endif
