/* What a health_check option names: parsed once per instance (after
 * %(process_num)d is expanded), by config_check to report a bad value at
 * file:line and by the health module to probe it. A host name is
 * resolved here, at config load (as getpwnam is for user =), so that a
 * probe never waits for a resolver on the event loop; a reload resolves
 * again. */
#ifndef VIGIL_HEALTH_TARGET_H
#define VIGIL_HEALTH_TARGET_H

#include <stddef.h>
#include <sys/socket.h>

enum health_kind { HEALTH_HTTP, HEALTH_TCP, HEALTH_EXEC };

struct health_target {
	enum health_kind kind;
	/* http and tcp: the first address HOST:PORT resolves to */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *host; /* http: HOST as written (for the Host: header); tcp: for messages */
	int port;
	char *path; /* http: "/PATH" with its query, "/" when none was written */
	char **argv; /* exec: COMMAND split like command (argv_split); NULL-terminated */
};

/* "http://HOST:PORT/PATH", "tcp://HOST:PORT" or "exec:COMMAND". HOST is
 * an IPv4 address, [IPv6] or a name; PORT is required (1-65535).
 * Returns 0, or -1 with err saying what is wrong ("health_check:" is not
 * part of it). */
int health_target_parse(const char *text, struct health_target *out, char *err, size_t errlen);
void health_target_free(struct health_target *t);

#endif
