/* The one JSON encoding of a process, used by every endpoint. */
#ifndef VIGIL_CTL_JSON_H
#define VIGIL_CTL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct proc;

json_t *proc_to_json(const struct proc *p, int64_t now);
/* {"programs": [...]} for a list of processes. */
json_t *procs_to_json(struct proc *const *procs, size_t n, int64_t now);

#endif
