#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_REPLY_MAX (64u << 20)

struct body {
	char *data;
	size_t len, cap;
};

static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > CTL_REPLY_MAX)
		return 0;
	/* doubling: growing by each chunk would copy the body over and over */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
		char *grown;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(b->data, cap)))
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int ctl_call(const char *socket_path, const char *method, const char *path, struct ctl_reply *reply, char *err,
	     size_t errlen)
{
	static int curl_ready;
	struct body body = { 0 };
	char url[1024];
	CURLcode rc;
	CURL *curl;

	memset(reply, 0, sizeof(*reply));
	if (!curl_ready++)
		curl_global_init(CURL_GLOBAL_NOTHING);
	curl = curl_easy_init();
	if (!curl)
		return snprintf(err, errlen, "cannot initialise libcurl"), -1;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		if (rc == CURLE_COULDNT_CONNECT)
			snprintf(err, errlen, "cannot reach vigild at %s: is it running? (use -s SOCKET or VIGIL_SOCKET)",
				 socket_path);
		else
			snprintf(err, errlen, "talking to vigild at %s: %s", socket_path, curl_easy_strerror(rc));
		curl_easy_cleanup(curl);
		free(body.data);
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
	curl_easy_cleanup(curl);
	reply->body = body.data ? body.data : strdup("");
	reply->json = json_loads(reply->body, 0, NULL);
	return 0;
}

static size_t stream_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = fwrite(ptr, size, nmemb, stdout);

	(void)arg;
	fflush(stdout);
	return n * size;
}

int ctl_stream(const char *socket_path, const char *path, long *status, char *err, size_t errlen)
{
	char url[1024];
	CURLcode rc;
	CURL *curl = curl_easy_init();

	if (!curl)
		return snprintf(err, errlen, "cannot initialise libcurl"), -1;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stream_body);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(curl);
	if (rc == CURLE_COULDNT_CONNECT)
		return snprintf(err, errlen, "cannot reach vigild at %s: is it running? (use -s SOCKET or VIGIL_SOCKET)",
				socket_path), -1;
	if (rc != CURLE_OK && *status == 0)
		return snprintf(err, errlen, "talking to vigild at %s: %s", socket_path, curl_easy_strerror(rc)), -1;
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
