/* The ctl protocol: HTTP/1.1 + JSON on the Unix socket (evhttp). */
#ifndef VIGIL_CTL_SERVER_H
#define VIGIL_CTL_SERVER_H

#include <stdbool.h>

struct config;

/* listen_fd: an already listening socket (socket activation), or -1 to
 * create config->socket. Returns 0 or -1 after logging why. */
int ctl_server_init(const struct config *config, int listen_fd);
void ctl_server_free(void);

#endif
