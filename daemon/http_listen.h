/* [vigil] http_listen: a TCP listener on vigild's loop for Kubernetes
 * probes, Prometheus and a browser. It serves GET /healthz, GET /metrics
 * (the same bodies as on the ctl socket) and GET / (http_page.c's status
 * page); any other path is 404, any other method on those 405, and
 * nothing on it can change anything: it has no peer credentials to
 * check, so it has no control to offer. It stays open until vigild
 * exits, so probes see /healthz turn 503 while vigild stops after a
 * critical program ended.
 *
 * Bounded like the ctl socket: at most HTTP_LISTEN_MAX_CONNS connections
 * (more are answered 503 and closed before anything is read), headers up
 * to HTTP_LISTEN_MAX_HEADERS, no request body (413), and a connection
 * idle for HTTP_LISTEN_IDLE_TIMEOUT_S is closed. */
#ifndef VIGIL_HTTP_LISTEN_H
#define VIGIL_HTTP_LISTEN_H

#define HTTP_LISTEN_MAX_CONNS 64
#define HTTP_LISTEN_MAX_HEADERS 8192
#define HTTP_LISTEN_IDLE_TIMEOUT_S 10

struct config;

/* Binds config->http_address when config->http_listen is set (else does
 * nothing). Returns 0, or -1 after logging why at the option's
 * file:line (the port is taken, the address is not this host's). */
int http_listen_init(const struct config *config);
void http_listen_free(void);

#endif
