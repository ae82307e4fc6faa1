/* Live reload: parse the new config completely, then apply only the
 * difference through supervisor.c. Unchanged programs keep running
 * untouched (same pid). */
#ifndef VIGIL_RELOAD_H
#define VIGIL_RELOAD_H

#include <jansson.h>

/* Re-reads vigild's config file and applies it, telling systemd around
 * it (SIGHUP, POST /v1/reload). Like reload_apply; error may be NULL. */
json_t *reload_run(char **error);

/* Returns {"added", "removed", "changed", "unchanged", "restart_needed"}
 * or NULL with *error (malloc'd, one line per config error) and nothing
 * changed. */
json_t *reload_apply(const char *path, char **error);

#endif
