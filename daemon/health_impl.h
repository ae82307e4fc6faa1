/* Inside the health module: a check in flight, and the steps health.c
 * (scheduling, verdicts, exec probes) and health_net.c (http and tcp
 * probes) share. Not for other modules. */
#ifndef VIGIL_HEALTH_IMPL_H
#define VIGIL_HEALTH_IMPL_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "health.h"

/* http: a status line longer than this is not one; nothing more is read */
#define HEALTH_STATUS_LINE_MAX 1024
/* exec: the last non-empty line is kept, cut at this many bytes */
#define HEALTH_LINE_MAX 256
/* exec: bytes read from the pipe per wakeup, so a chatty probe cannot
 * hold the loop */
#define HEALTH_PIPE_READ_MAX (64 * 1024)
/* exec: how long the pipe may stay open after the probe exited (a
 * grandchild that escaped its process group may hold it) */
#define HEALTH_EXIT_GRACE_USEC (100 * 1000)

struct health_probe {
	struct health *h;	/* NULL once abandoned (an exec probe not reaped yet) */
	bool exec;
	struct event deadline; /* health_timeout; exec after the exit: the grace */
	union {
		struct { /* exec: one probe per check, freed once reaped */
			pid_t pid;
			int pipe_fd;
			struct event *pipe_event;
			bool exited, eof;
			int wait_status;
			size_t line_len;
			char *line; /* HEALTH_LINE_MAX: the line being read */
			char *last; /* and the last non-empty one, in line's block */
		};
		struct { /* http and tcp: one probe per process, reused */
			int fd;
			struct event io;
			short io_what; /* what io waits for; 0: not added */
			bool connected;
			char *request; /* http: the GET, built at the first check */
			size_t request_len, sent;
			size_t got;   /* bytes of the status line kept in partial */
			char *partial; /* what came before its end, when it came in parts */
		};
	};
};

/* Ends the check in flight with a verdict; error says why it failed. */
void health_verdict(struct health *h, bool pass, const char *error);
/* vigild lacked the resources for the check (EMFILE, ...): true when
 * err is such a case, then no verdict and a retry later. */
bool health_skip(struct health *h, const char *during, int err);
void health_timed_out(struct health *h);
void probe_arm_deadline(struct health_probe *probe);
/* "2s", "1.5s", "250ms" */
void format_duration(int64_t usec, char *buf, size_t len);

/* health_net.c: starts an http or tcp check; net_on_ready is its event */
void net_probe_start(struct health_probe *probe);
void net_on_ready(evutil_socket_t fd, short what, void *arg);

#endif
