/* The status page: see http_page.h. */
#define _GNU_SOURCE
#include "http_page.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_json.h"
#include "ctl_route.h"
#include "parse.h"
#include "vigild.h"

/* State colours by row class (state-running, state-fatal, ...): green
 * runs, amber is on its way, grey is at rest, FATAL is red and bold so it
 * stands out in a long table. */
static const char page_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
	"h1{font-size:1.3em;margin:0 0 .3em}"
	".health{padding:.1em .5em;border-radius:.3em;color:#fff}"
	".health-ok{background:#2a7d2e}.health-degraded{background:#c62828}.health-stopping{background:#8a6d00}"
	"table{border-collapse:collapse;margin-top:.8em}"
	"th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
	"th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"td.state{font-weight:600}"
	".state-running td.state{color:#2a7d2e}"
	".state-starting td.state,.state-backoff td.state,.state-waiting td.state,.state-stopping td.state{color:#8a6d00}"
	".state-stopped td.state,.state-exited td.state{color:#666}"
	"tr.state-fatal{background:#fde0e0}"
	".state-fatal td.state{color:#fff;background:#c62828;font-weight:700}"
	".unhealthy{color:#c62828;font-weight:600}.err{color:#a33;font-size:.9em}"
	"footer{margin-top:1em;color:#666;font-size:.9em}";

static const char page_table_head[] =
	"<table id=\"programs\"><thead><tr><th>name</th><th>state</th><th>pid</th><th>uptime</th>"
	"<th>restarts</th><th>last exit</th><th>health</th><th>CPU</th><th>memory</th><th>status</th>"
	"</tr></thead><tbody>\n";

void http_page_escape(struct evbuffer *out, const char *s)
{
	while (s && *s) {
		size_t plain = strcspn(s, "&<>\"'");
		evbuffer_add(out, s, plain);
		s += plain;
		switch (*s) {
		case '&': evbuffer_add(out, "&amp;", 5); break;
		case '<': evbuffer_add(out, "&lt;", 4); break;
		case '>': evbuffer_add(out, "&gt;", 4); break;
		case '"': evbuffer_add(out, "&quot;", 6); break;
		case '\'': evbuffer_add(out, "&#39;", 5); break;
		default: return; /* the end */
		}
		s++;
	}
}

static const char *member_text(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* "3d 4h", "2h 5m", "5m 3s", "12s" */
static void page_duration(struct evbuffer *out, double seconds)
{
	long long s = (long long)seconds;

	if (s >= 86400)
		evbuffer_add_printf(out, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		evbuffer_add_printf(out, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		evbuffer_add_printf(out, "%lldm %llds", s / 60, s % 60);
	else
		evbuffer_add_printf(out, "%llds", s);
}

/* "exit 1", "signal KILL", "heartbeat, signal ABRT", "stopped" */
static void page_last_exit(struct evbuffer *out, const json_t *le)
{
	const char *cause = member_text(le, "cause");
	json_t *code = json_object_get(le, "code"), *sig = json_object_get(le, "signal");
	char name[16];

	if (!json_is_object(le) || !cause) {
		evbuffer_add(out, "&ndash;", 7);
		return;
	}
	if (strcmp(cause, "exit") != 0 && strcmp(cause, "signal") != 0) {
		http_page_escape(out, cause);
		if (!json_is_integer(code) && !json_is_integer(sig))
			return;
		evbuffer_add(out, ", ", 2);
	}
	if (json_is_integer(sig))
		evbuffer_add_printf(out, "signal %s", signal_name((int)json_integer_value(sig), name, sizeof(name)));
	else if (json_is_integer(code))
		evbuffer_add_printf(out, "exit %lld", (long long)json_integer_value(code));
	else
		http_page_escape(out, cause);
}

static void page_health(struct evbuffer *out, const json_t *h)
{
	const char *state = member_text(h, "state"), *error = member_text(h, "last_error");
	long long failures = json_integer_value(json_object_get(h, "failures"));

	if (!json_is_object(h) || !state) {
		evbuffer_add(out, "&ndash;", 7);
		return;
	}
	evbuffer_add_printf(out, "<span class=\"%s\">", strcmp(state, "unhealthy") == 0 ? "unhealthy" : "health-state");
	http_page_escape(out, state);
	evbuffer_add(out, "</span>", 7);
	if (failures > 0)
		evbuffer_add_printf(out, " (%lld failed)", failures);
	if (error) {
		evbuffer_add(out, "<div class=\"err\">", 17);
		http_page_escape(out, error);
		evbuffer_add(out, "</div>", 6);
	}
}

/* A number of the JSON, or a dash when it is null or not there (the
 * resource fields of a stopped process). */
static void page_number(struct evbuffer *out, const json_t *v, const char *fmt, double scale)
{
	if (json_is_number(v))
		evbuffer_add_printf(out, fmt, json_number_value(v) / scale);
	else
		evbuffer_add(out, "&ndash;", 7);
}

static void page_row(struct evbuffer *out, const json_t *p)
{
	const char *state = member_text(p, "state"), *status = member_text(p, "status");
	json_t *pid = json_object_get(p, "pid");
	char lower[16] = "unknown";

	/* a state name is a word of capitals; anything else could not break the attribute either */
	for (size_t i = 0; state && state[i] && i < sizeof(lower) - 1; i++) {
		lower[i] = isalpha((unsigned char)state[i]) ? (char)tolower((unsigned char)state[i]) : '-';
		lower[i + 1] = '\0';
	}
	evbuffer_add_printf(out, "<tr class=\"state-%s\"><td class=\"name\">", lower);
	http_page_escape(out, member_text(p, "name"));
	evbuffer_add(out, "</td><td class=\"state\">", 23);
	http_page_escape(out, state ? state : "?");
	evbuffer_add(out, "</td><td class=\"num\">", 21);
	page_number(out, pid, "%.0f", 1);
	evbuffer_add(out, "</td><td class=\"num\">", 21);
	if (json_is_integer(pid))
		page_duration(out, json_number_value(json_object_get(p, "uptime_s")));
	else
		evbuffer_add(out, "&ndash;", 7);
	evbuffer_add_printf(out, "</td><td class=\"num\">%lld</td><td>",
			    (long long)json_integer_value(json_object_get(p, "restarts")));
	page_last_exit(out, json_object_get(p, "last_exit"));
	evbuffer_add(out, "</td><td>", 9);
	page_health(out, json_object_get(p, "health"));
	evbuffer_add(out, "</td><td class=\"num\">", 21);
	page_number(out, json_object_get(p, "cpu_percent"), "%.1f%%", 1);
	evbuffer_add(out, "</td><td class=\"num\">", 21);
	page_number(out, json_object_get(p, "rss_bytes"), "%.1f MiB", 1024.0 * 1024.0);
	evbuffer_add(out, "</td><td class=\"status\">", 24);
	http_page_escape(out, status);
	evbuffer_add(out, "</td></tr>\n", 11);
}

/* "4 processes: 3 RUNNING, 1 FATAL" from /healthz's counts */
static void page_summary(struct evbuffer *out, const json_t *health, size_t n)
{
	const json_t *states = json_object_get(health, "states");
	const char *state;
	json_t *count;
	bool first = true;

	evbuffer_add_printf(out, "<p id=\"summary\">%zu process%s", n, n == 1 ? "" : "es");
	json_object_foreach((json_t *)states, state, count) {
		if (json_integer_value(count) <= 0)
			continue;
		evbuffer_add_printf(out, "%s%lld ", first ? ": " : ", ", (long long)json_integer_value(count));
		http_page_escape(out, state);
		first = false;
	}
	evbuffer_add(out, "</p>\n", 5);
}

void http_page_render(struct evbuffer *out, const json_t *programs, const json_t *health, const char *host,
		      bool stopping)
{
	const json_t *list = json_object_get(programs, "programs");
	const char *status = member_text(health, "status");
	const char *verdict = stopping ? "stopping" : status && strcmp(status, "ok") == 0 ? "ok" : "degraded";
	char when[64] = "";
	time_t t = time(NULL);
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	evbuffer_add_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
				 "<meta http-equiv=\"refresh\" content=\"%d\">"
				 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>vigil %s: ",
			    HTTP_PAGE_REFRESH_S, verdict);
	http_page_escape(out, host);
	evbuffer_add_printf(out, "</title><style>%s</style></head><body>\n<h1>vigil on ", page_style);
	http_page_escape(out, host);
	evbuffer_add_printf(out, " <span id=\"health\" class=\"health health-%s\">%s</span></h1>\n", verdict, verdict);
	page_summary(out, health, json_array_size(list));
	evbuffer_add(out, page_table_head, sizeof(page_table_head) - 1);
	for (size_t i = 0; i < json_array_size(list); i++)
		page_row(out, json_array_get(list, i));
	evbuffer_add_printf(out, "</tbody></table>\n<footer>Read-only; refreshes every %d s; as of %s. "
				 "Also here: <a href=\"/healthz\">/healthz</a>, <a href=\"/metrics\">/metrics</a>."
				 "</footer>\n</body></html>\n",
			    HTTP_PAGE_REFRESH_S, when);
}

void http_page_write(struct evbuffer *out, int64_t now)
{
	struct evbuffer *programs_text = evbuffer_new(), *health_text = evbuffer_new();
	json_t *programs = NULL, *health = NULL;
	char host[256] = "localhost";

	if (programs_text && health_text) {
		procs_write_json(programs_text, vigil.procs, vigil.nprocs, now);
		ctl_route_healthz(health_text);
		programs = json_loadb((const char *)evbuffer_pullup(programs_text, -1), evbuffer_get_length(programs_text),
				      0, NULL);
		health = json_loadb((const char *)evbuffer_pullup(health_text, -1), evbuffer_get_length(health_text), 0,
				    NULL);
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	http_page_render(out, programs, health, host, vigil.shutting_down);
	json_decref(programs);
	json_decref(health);
	if (programs_text)
		evbuffer_free(programs_text);
	if (health_text)
		evbuffer_free(health_text);
}
