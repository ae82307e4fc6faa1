/* Fuzz target: the ctl router (ctl_route_request), the same function the
 * server calls for every request, without a socket.
 *
 * Input: "METHOD URI\nBODY" (METHOD and URI split at the first space; an
 * unknown METHOD is sent as DELETE, so the 405 paths are reached too).
 * The runtime is set up once: an event base and a config of two programs
 * (one with two instances), loaded by config_load from a temporary file.
 * vigild counts as shutting down, so start/restart/reload are refused
 * without forking; everything before that (path decoding, query checks,
 * the route table, name matching, JSON encoding) runs as in vigild. */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "ctl_route.h"
#include "log.h"
#include "supervisor.h"
#include "vigild.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_config[] = "[vigil]\n"
				  "socket = /tmp/vigil-fuzz-ctl-route.sock\n"
				  "log_level = err\n"
				  "[program:web]\n"
				  "command = /bin/true\n"
				  "autostart = no\n"
				  "numprocs = 2\n"
				  "[program:sl]\n"
				  "command = /bin/true\n"
				  "autostart = no\n";

static int fuzz_setup(void)
{
	char path[] = "/tmp/vigil-fuzz-ctl-route-XXXXXX";
	char *errors = NULL;
	struct config *config;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, fuzz_config, sizeof(fuzz_config) - 1) != (ssize_t)(sizeof(fuzz_config) - 1)) {
		perror("fuzz_ctl_route: temporary config");
		return -1;
	}
	close(fd);
	log_init();
	log_set_level(LOG_CRIT); /* refusals are logged at notice: keep quiet */
	vigil.base = vigil_event_base_new();
	vigil.devnull = -1;
	config = config_load(path, &errors);
	unlink(path);
	if (!vigil.base || !config || supervisor_init(config) < 0) {
		fprintf(stderr, "fuzz_ctl_route: cannot set up: %s\n", errors ? errors : "event base");
		free(errors);
		return -1;
	}
	free(errors);
	vigil.config = config;
	vigil.shutting_down = true; /* no spawns, no reload */
	return 0;
}

static enum evhttp_cmd_type fuzz_method(const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type type;
	} methods[] = {
		{ "GET", EVHTTP_REQ_GET },	 { "POST", EVHTTP_REQ_POST },	  { "HEAD", EVHTTP_REQ_HEAD },
		{ "PUT", EVHTTP_REQ_PUT },	 { "PATCH", EVHTTP_REQ_PATCH },	  { "OPTIONS", EVHTTP_REQ_OPTIONS },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == len && memcmp(methods[i].name, s, len) == 0)
			return methods[i].type;
	return EVHTTP_REQ_DELETE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready; /* 0: not yet, 1: set up, -1: failed */
	const char *in = (const char *)data, *nl = memchr(in, '\n', size), *sp;
	size_t line = nl ? (size_t)(nl - in) : size, body_off = nl ? line + 1 : size;
	struct ctl_reply reply = { 0 };
	char *uri;

	if (!ready)
		ready = fuzz_setup() == 0 ? 1 : -1;
	if (ready < 0)
		abort();
	sp = memchr(in, ' ', line);
	if (!sp)
		sp = in + line;
	/* the request line as evhttp hands it over: a C string */
	uri = strndup(sp < in + line ? sp + 1 : "", sp < in + line ? (size_t)(in + line - sp - 1) : 0);
	reply.body = evbuffer_new();
	if (!uri || !reply.body)
		abort();
	ctl_route_request(fuzz_method(in, (size_t)(sp - in)), uri, in + body_off, size - body_off, NULL, &reply);
	if (reply.code < 200 || reply.code > 599 || !reply.content_type)
		abort();
	evbuffer_free(reply.body);
	free(reply.sources);
	free(uri);
	return 0;
}
