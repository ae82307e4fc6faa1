#define _GNU_SOURCE
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CTL_REPLY_MAX (64u << 20)
/* of one streamed line; a longer one is cut */
#define CTL_LINE_MAX (256u << 10)

struct body {
	char *data;
	size_t len, cap;
};

static int body_add(struct body *b, const char *ptr, size_t n, size_t max)
{
	if (b->len + n > max)
		return -1;
	/* doubling: growing by each chunk would copy the body over and over */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
		char *grown;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(b->data, cap)))
			return -1;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return body_add(arg, ptr, size * nmemb, CTL_REPLY_MAX) < 0 ? 0 : size * nmemb;
}

void ctl_permission_message(const char *socket_path, char *err, size_t errlen)
{
	struct stat st;
	struct group *gr = stat(socket_path, &st) == 0 && st.st_gid != 0 ? getgrgid(st.st_gid) : NULL;

	if (gr)
		snprintf(err, errlen, "permission denied on %s: add your user to group %s, or use sudo", socket_path,
			 gr->gr_name);
	else
		snprintf(err, errlen,
			 "permission denied on %s: only root and vigild's user may use it (set socket_group in vigil.conf "
			 "to let a group in), or use sudo",
			 socket_path);
}

/* Why a request found no vigild: the errno of connect() tells "not
 * running" from "not allowed". */
static void describe_failure(CURL *curl, CURLcode rc, const char *socket_path, char *err, size_t errlen)
{
	long os_errno = 0;

	curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
	if (rc == CURLE_COULDNT_CONNECT && (os_errno == EACCES || os_errno == EPERM))
		ctl_permission_message(socket_path, err, errlen);
	else if (rc == CURLE_COULDNT_CONNECT && os_errno == ENOENT)
		snprintf(err, errlen, "vigild is not running: no socket at %s (use -s SOCKET or VIGIL_SOCKET for another)",
			 socket_path);
	else if (rc == CURLE_COULDNT_CONNECT)
		snprintf(err, errlen, "cannot reach vigild at %s: %s; is it running? (use -s SOCKET or VIGIL_SOCKET)",
			 socket_path, os_errno ? strerror((int)os_errno) : "connection failed");
	else
		snprintf(err, errlen, "talking to vigild at %s: %s", socket_path, curl_easy_strerror(rc));
}

static CURL *ctl_curl_new(const char *socket_path, const char *path, char *err, size_t errlen)
{
	static int curl_ready;
	char url[1024];
	CURL *curl;

	if (!curl_ready++)
		curl_global_init(CURL_GLOBAL_NOTHING);
	if (!(curl = curl_easy_init())) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return NULL;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	return curl;
}

static bool is_tagged(CURL *curl)
{
	char *type = NULL;

	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
	return type && strncmp(type, "application/x-ndjson", 20) == 0;
}

int ctl_call(const char *socket_path, const char *method, const char *path, struct ctl_reply *reply, char *err,
	     size_t errlen)
{
	struct body body = { 0 };
	CURLcode rc;
	CURL *curl;

	memset(reply, 0, sizeof(*reply));
	if (!(curl = ctl_curl_new(socket_path, path, err, errlen)))
		return -1;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		describe_failure(curl, rc, socket_path, err, errlen);
		curl_easy_cleanup(curl);
		free(body.data);
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->tagged = is_tagged(curl);
	curl_easy_cleanup(curl);
	reply->body = body.data ? body.data : strdup("");
	reply->json = json_loads(reply->body, 0, NULL);
	return 0;
}

struct stream {
	CURL *curl;
	ctl_line_fn *on_line;
	void *arg;
	struct body line, error; /* a line not complete yet; an error reply's body */
	long status;
};

static size_t stream_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct stream *s = arg;
	size_t n = size * nmemb;
	bool tagged;

	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return body_add(&s->error, ptr, n, CTL_REPLY_MAX) < 0 ? 0 : n;
	tagged = is_tagged(s->curl);
	for (char *end = ptr + n, *nl; ptr < end; ptr = nl + 1) {
		if (!(nl = memchr(ptr, '\n', (size_t)(end - ptr)))) {
			if (body_add(&s->line, ptr, (size_t)(end - ptr), CTL_LINE_MAX) < 0)
				s->line.len = 0; /* cut: its start is dropped */
			break;
		}
		if (s->line.len) {
			body_add(&s->line, ptr, (size_t)(nl - ptr), CTL_LINE_MAX);
			s->on_line(s->arg, s->line.data, s->line.len, tagged);
			s->line.len = 0;
		} else {
			s->on_line(s->arg, ptr, (size_t)(nl - ptr), tagged);
		}
	}
	return n;
}

int ctl_stream(const char *socket_path, const char *path, ctl_line_fn *on_line, void *arg, struct ctl_reply *reply,
	       char *err, size_t errlen)
{
	struct stream s = { .on_line = on_line, .arg = arg };
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	if (!(s.curl = ctl_curl_new(socket_path, path, err, errlen)))
		return -1;
	curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, stream_body);
	curl_easy_setopt(s.curl, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(s.curl);
	curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &reply->status);
	if (rc != CURLE_OK && reply->status == 0) {
		describe_failure(s.curl, rc, socket_path, err, errlen);
		curl_easy_cleanup(s.curl);
		free(s.line.data);
		free(s.error.data);
		return -1;
	}
	if (s.line.len && reply->status == 200) /* a last line without its newline */
		on_line(arg, s.line.data, s.line.len, is_tagged(s.curl));
	reply->tagged = is_tagged(s.curl);
	curl_easy_cleanup(s.curl);
	free(s.line.data);
	reply->body = s.error.data ? s.error.data : strdup("");
	reply->json = json_loads(reply->body, 0, NULL);
	return 0;
}

void ctl_reply_free(struct ctl_reply *reply)
{
	json_decref(reply->json);
	free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

const char *ctl_reply_error(const struct ctl_reply *reply)
{
	const char *msg = json_string_value(json_object_get(reply->json, "error"));

	return msg ? msg : "unexpected reply from vigild";
}
