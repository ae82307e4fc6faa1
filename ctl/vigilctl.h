/* What vigilctl's commands share: the parsed command line, exit codes,
 * and the requests every command makes. Each command lives in a file of
 * its own (cmd_*.c); usage.c holds the help texts and the command table
 * that main() dispatches on. */
#ifndef VIGILCTL_H
#define VIGILCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

/* DESIGN.md's exit codes. */
enum { EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_UNREACHABLE };

/* The options a command may take (struct ctl_command.options). */
enum {
	OPT_JSON = 1 << 0,
	OPT_NO_BLOCK = 1 << 1,
	OPT_TIMEOUT = 1 << 2,
	OPT_FOLLOW = 1 << 3,
	OPT_LINES = 1 << 4,
	OPT_STDERR = 1 << 5,
	OPT_READY = 1 << 6,
	OPT_STATUS = 1 << 7,
	OPT_WATCH = 1 << 8,
	OPT_NAMES = 1 << 9,
};

struct ctl {
	const char *socket;
	const char *command;
	bool json, no_block, follow, use_stderr, ready, watch, names;
	double timeout_s, interval_s;
	long lines;
	const char *status_text;
	int nargs;
	char **args; /* positional arguments after the command */
};

struct ctl_command {
	const char *name;
	int (*run)(struct ctl *c);
	unsigned options;
	int min_args, max_args; /* max -1: any number */
	const char *synopsis;	/* after "vigilctl " */
	const char *summary;	/* one line for `vigilctl help` */
	const char *details;	/* for `vigilctl help COMMAND` */
};

/* The table of usage.c, NULL-terminated by name. */
extern const struct ctl_command ctl_commands[];
const struct ctl_command *ctl_command_find(const char *name);
void ctl_usage(FILE *out);
void ctl_command_help(FILE *out, const struct ctl_command *cmd);

int cmd_status(struct ctl *c);
int cmd_action(struct ctl *c);
int cmd_signal(struct ctl *c);
int cmd_log(struct ctl *c);
int cmd_events(struct ctl *c);
int cmd_reload(struct ctl *c);
int cmd_shutdown(struct ctl *c);
int cmd_ping(struct ctl *c);
int cmd_help(struct ctl *c);
int cmd_import(struct ctl *c);

/* One request; on failure says why on stderr (vigild unreachable, or
 * the peer refused: what to do about it) and returns EXIT_UNREACHABLE,
 * else EXIT_OK with reply filled. */
int ctl_request(const struct ctl *c, const char *method, const char *path, struct ctl_reply *reply);
/* The same for a streamed reply: its lines go to on_line as they come. */
int ctl_stream_request(const struct ctl *c, const char *path, ctl_line_fn *on_line, void *arg,
		       struct ctl_reply *reply);
/* GET /v1/programs[/NAME] as a process array (a new reference); NULL
 * with *rc set after saying why. */
json_t *ctl_fetch_procs(const struct ctl *c, const char *name, int *rc);
/* Every name of names[] (a program, prog:N or all) is one vigild knows
 * (one GET); else says which is not and returns EXIT_FAILED. *procs (if
 * not NULL) gets the process list. */
int ctl_check_names(const struct ctl *c, char **names, int n, json_t **procs);
/* Whether NAME (a program, "prog:N" or all) names process p. */
bool ctl_names_process(const char *name, json_t *p);
/* doc as indented JSON on stdout, seconds as sent (no %.17g noise). */
void ctl_print_json(json_t *doc);
/* NO_COLOR unset or empty, and fd a terminal. */
bool ctl_use_colour(int fd);
int64_t ctl_mono_ms(void);
void ctl_sleep_ms(long ms);

#endif
