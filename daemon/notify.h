/* The notify socket: one SOCK_DGRAM Unix socket every child may send
 * sd_notify messages to. Senders are identified by SCM_CREDENTIALS and
 * only the main pid (or, with notify_access = all, its process group) is
 * trusted. */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct proc;

/* Creates the socket at path (a stale one is replaced). 0 or -1. */
int notify_init(const char *path);
void notify_free(void);
const char *notify_socket_path(void); /* NULL before notify_init */
uint64_t notify_dropped_count(void);
/* Descriptors received with SCM_RIGHTS (all closed, never used), and how
 * many of them are not closed yet (closer threads, see fd_closer.h). */
uint64_t notify_passed_fds_total(void);
size_t notify_passed_fds_pending(void);
/* Reads every datagram already queued (a deadline is about to be judged,
 * or autostart is about to spawn); a read that finds the queue full is
 * reported with heartbeat_source_full(). */
void notify_drain(void);

#endif
