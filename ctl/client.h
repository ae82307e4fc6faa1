/* vigilctl's side of the ctl protocol: one HTTP request over the Unix
 * socket with libcurl, the reply parsed with jansson. */
#ifndef VIGILCTL_CLIENT_H
#define VIGILCTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct ctl_reply {
	long status;  /* HTTP status */
	json_t *json; /* parsed body, or NULL if it was not JSON */
	char *body;   /* raw body, NUL-terminated */
};

/* Returns 0 with reply filled (free it with ctl_reply_free), or -1 when
 * vigild cannot be reached, with err saying why. */
int ctl_call(const char *socket_path, const char *method, const char *path, struct ctl_reply *reply, char *err,
	     size_t errlen);
void ctl_reply_free(struct ctl_reply *reply);
/* GET path and copy the body to stdout as it arrives, until vigild ends
 * it (log -f). Returns 0 with *status, or -1 when unreachable. */
int ctl_stream(const char *socket_path, const char *path, long *status, char *err, size_t errlen);
/* The "error" string of an error reply, or a generic text. */
const char *ctl_reply_error(const struct ctl_reply *reply);

#endif
