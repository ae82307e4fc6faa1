/* vigilctl's side of the ctl protocol: one HTTP request over the Unix
 * socket with libcurl, the reply parsed with jansson. */
#ifndef VIGILCTL_CLIENT_H
#define VIGILCTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ctl_reply {
	long status;	    /* HTTP status */
	json_t *json;	    /* parsed body, or NULL if it was not JSON */
	char *body;	    /* raw body, NUL-terminated */
	bool tagged;	    /* a log of several processes: JSON lines */
};

/* Returns 0 with reply filled (free it with ctl_reply_free), or -1 when
 * vigild cannot be reached, with err saying why: nothing listens there,
 * or the socket refused us (permission denied, with what to do). */
int ctl_call(const char *socket_path, const char *method, const char *path, struct ctl_reply *reply, char *err,
	     size_t errlen);
void ctl_reply_free(struct ctl_reply *reply);

/* Called for each line of a streamed reply, without its newline. */
typedef void ctl_line_fn(void *arg, const char *line, size_t len, bool tagged);

/* GET path and hand each line to on_line as it arrives, until vigild
 * ends the reply (log -f). Returns 0 with reply->status (and, when it is
 * not 200, the body in reply), or -1 when unreachable, as ctl_call. */
int ctl_stream(const char *socket_path, const char *path, ctl_line_fn *on_line, void *arg, struct ctl_reply *reply,
	       char *err, size_t errlen);
/* The "error" string of an error reply, or a generic text. */
const char *ctl_reply_error(const struct ctl_reply *reply);
/* What to say about a 403 from vigild on socket_path. */
void ctl_permission_message(const char *socket_path, char *err, size_t errlen);

#endif
