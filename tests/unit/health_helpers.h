/* What the health unit tests share: an owner of one struct health with
 * the actions health.c calls (changed, spawn through program_spawn_probe),
 * the real reaper, servers on the same loop (an evhttp server whose
 * answer a test sets, raw sockets that hang, babble or close), and
 * RUN_UNTIL, the loop run until a condition holds, with a deadline. */
#ifndef VIGIL_TEST_HEALTH_HELPERS_H
#define VIGIL_TEST_HEALTH_HELPERS_H

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "config.h"
#include "health.h"
#include "program.h"
#include "vigild.h"

#define DEADLINE_USEC (20 * USEC_PER_SEC)
#define MSEC(n) ((int64_t)(n) * 1000)

/* Runs the loop until cond holds (a tick ends every turn within 10 ms),
 * then asserts it. */
#define RUN_UNTIL(cond)                                                                \
	do {                                                                           \
		int64_t end_ = now_usec() + DEADLINE_USEC;                             \
		while (!(cond) && now_usec() < end_)                                   \
			event_base_loop(vigil.base, EVLOOP_ONCE);                      \
		assert_true(cond);                                                     \
	} while (0)

struct owner {
	struct program_config cfg;
	struct program_config *cfgp;
	struct proc proc; /* what program_spawn_probe runs the probes as */
	struct health h;
	int changes;
	enum health_state old_at_change;
	int failures_at_change;
	int64_t change_time;
	char error_at_change[300];
	bool end_on_unhealthy; /* as the owner does with health_action = restart */
	pid_t last_probe_pid;
	int fail_spawns; /* the first ones fail as fork does without memory */
	int spawn_calls;
};

extern pid_t reaped_probe_pid; /* the last pid health_child_exited claimed */
extern int reaped_probe_status;

struct owner *owner_new(void); /* interval 10ms, timeout 2s, retries 100 */
void owner_free(struct owner *o);
/* A loopback target on port (path: http's, or NULL); owner_check takes it. */
struct health_target net_target(enum health_kind kind, int port, const char *path);
void owner_check(struct owner *o, const struct health_target *t);
void owner_check_shell(struct owner *o, const char *script); /* exec:/bin/sh -c SCRIPT */
uint64_t checks(const struct owner *o);
void next_verdict(struct owner *o); /* runs one more check to its verdict */
bool last_error_is(const struct owner *o, const char *text);
int count_fds(void);

struct http_server {
	struct evhttp *http;
	int port;
	int code;
	size_t body_size;
	int requests;
	char host[64], uri[256];
};
void http_server_start(struct http_server *s, int code);

/* Raw connections: accepted and read, then answered by mode (RAW_DRIP:
 * drip, one byte per loop turn, then closed). */
enum raw_mode { RAW_HANG, RAW_BABBLE, RAW_CLOSE, RAW_DRIP };

struct raw_server {
	int fd, port;
	enum raw_mode mode;
	const char *drip;
	struct event *accept_event;
	int open, max_open, accepted;
};
void raw_server_start(struct raw_server *s, enum raw_mode mode);
void raw_server_stop(struct raw_server *s); /* once the probes closed their ends */
int closed_port(void); /* a port nothing listens on */

/* Sets up vigild's loop, reaper and health actions, runs the tests. */
int health_tests_run(const char *name, const struct CMUnitTest *tests, size_t n);

#endif
