/* The ctl socket file: creating it safely, and who may talk to it. */
#ifndef VIGIL_CTL_SOCKET_H
#define VIGIL_CTL_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Binds and listens on path. A stale socket left by a dead vigild is
 * replaced; a live one is an error (another vigild answers there).
 * Returns the fd (non-blocking, close-on-exec) or -1 with err set. */
int ctl_socket_open(const char *path, int mode, const char *group, gid_t gid, char *err, size_t errlen);

struct ucred;
/* root, vigild's own uid, or a member of socket_group (has_group). */
bool ctl_peer_allowed_cred(const struct ucred *cred, bool has_group, gid_t group);
/* The same for the peer of fd; *peer gets its credentials (uid -1 when
 * SO_PEERCRED fails). */
bool ctl_peer_allowed(int fd, bool has_group, gid_t group, struct ucred *peer);

#endif
