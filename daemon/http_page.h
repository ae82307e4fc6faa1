/* GET / of the http_listen listener: a small read-only HTML status page,
 * rendered here on each request from the very JSON GET /v1/programs and
 * GET /healthz send (ctl_json.c, ctl_route.c), so the page shows nothing
 * the API does not. It refreshes itself (a meta refresh: no script, no
 * external asset, readable in a text browser through an SSH tunnel).
 * Every string is HTML-escaped: STATUS= texts and health errors come
 * from programs, which must not be able to inject markup. */
#ifndef VIGIL_HTTP_PAGE_H
#define VIGIL_HTTP_PAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct evbuffer;

#define HTTP_PAGE_REFRESH_S 5

/* The page for vigild's processes now. */
void http_page_write(struct evbuffer *out, int64_t now);
/* The page for programs ({"programs": [...]} as GET /v1/programs sends
 * it) and health (GET /healthz's object); host names the machine. */
void http_page_render(struct evbuffer *out, const json_t *programs, const json_t *health, const char *host,
		      bool stopping);
/* s with & < > " ' as entities, appended to out. */
void http_page_escape(struct evbuffer *out, const char *s);

#endif
