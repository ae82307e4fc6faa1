/* The one JSON encoding of a process, used by every endpoint. */
#ifndef VIGIL_CTL_JSON_H
#define VIGIL_CTL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct proc;

/* A JSON string of s with bytes that are not UTF-8 replaced, or null. */
json_t *text_or_null(const char *s);
/* One process's object, appended to out (no newline). */
void proc_write_json(struct evbuffer *out, const struct proc *p, int64_t now);
/* {"programs": [...]}\n for a list of processes, written one process at
 * a time: 10,000 of them never exist as one JSON tree in memory. */
void procs_write_json(struct evbuffer *out, struct proc *const *procs, size_t n, int64_t now);

#endif
