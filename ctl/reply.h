/* What vigilctl makes of vigild's JSON replies: the process list of a
 * status reply, and what a process's state means for the action being
 * waited on. Apart from vigilctl.c so the fuzzer (tests/fuzz) can feed it
 * any reply: a missing or mistyped field must never crash vigilctl. */
#ifndef VIGILCTL_REPLY_H
#define VIGILCTL_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Done, still waiting, or failed: what a process's state means for an action. */
enum reply_verdict { REPLY_WAIT, REPLY_DONE, REPLY_FAILED };

/* The processes of a reply (a new reference to an array): one process
 * comes as an object, several as {"programs": [...]}. NULL when the reply
 * has neither shape. */
json_t *reply_processes(json_t *reply);
bool reply_is_running(json_t *proc);
/* What `status NAME` wants: RUNNING and not unhealthy, or a oneshot that
 * completed. */
bool reply_is_fine(json_t *proc);
/* action: "start", "stop" or "restart"; before: the process as the
 * action's reply showed it (for a restart: the process to replace), or
 * NULL. A oneshot is started when it completed; WAITING is waiting, and
 * so is STOPPED after a restart's reply (a dependent waiting to resume). */
enum reply_verdict reply_judge(const char *action, json_t *proc, json_t *before);
const char *reply_describe_failure(json_t *proc, char *buf, size_t len);

#endif
