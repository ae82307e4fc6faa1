/* The parsed, validated configuration. config_load() either returns a
 * complete config or none at all, with every error found, each naming
 * file:line, section and option. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "inet_address.h"
#include "namemap.h"
#include "parse.h"

#define CONFIG_DEFAULT_PATH "/etc/vigil/vigil.conf"
#define CONFIG_DEFAULT_SOCKET "/run/vigil/vigil.sock"

enum output_kind { OUTPUT_INHERIT, OUTPUT_NULL, OUTPUT_FILE, OUTPUT_JOURNAL, OUTPUT_STDOUT };
enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum program_type { PROGRAM_SIMPLE, PROGRAM_NOTIFY, PROGRAM_ONESHOT };
/* requires = NAME[:CONDITION]: what NAME must be in before a dependent spawns */
enum requirement_condition { REQUIRE_RUNNING, REQUIRE_HEALTHY, REQUIRE_COMPLETED };
enum health_action { HEALTH_ACTION_RESTART, HEALTH_ACTION_NONE };
enum notify_access { NOTIFY_ACCESS_MAIN, NOTIFY_ACCESS_ALL };

struct output_spec {
	enum output_kind kind;
	char *path; /* OUTPUT_FILE only; may hold %(process_num)d */
};

struct requirement {
	char *name; /* a program, never one instance */
	enum requirement_condition condition;
};

struct program_config {
	char *name;
	char *file; /* where the section was defined, for messages */
	int line;

	char *command; /* unsplit; %(process_num)d expanded per instance */
	char *directory;
	char *user, *group;
	uid_t uid;
	gid_t gid; /* the group's gid, or the user's primary group */
	char **environment; /* NULL-terminated "KEY=value" */
	int umask; /* -1: inherit vigild's */
	int numprocs;
	int priority;
	bool autostart;
	enum restart_policy restart;
	struct exit_code_set success_exit_codes;
	int64_t start_secs, restart_delay, restart_delay_max; /* usec */
	int start_limit_burst;
	int64_t start_limit_interval;
	int stop_signal;
	int64_t stop_timeout;
	bool kill_group;
	struct output_spec stdout_spec, stderr_spec;
	bool output_prefix; /* inherit: each line starts with the process name */
	uint64_t log_max_size;
	int log_backups;
	enum program_type type;
	int64_t ready_timeout;
	int64_t heartbeat_timeout; /* 0: no heartbeat */
	int heartbeat_signal;
	enum notify_access notify_access;
	bool daemon;
	char *bind_to; /* NULL: bound to vigild itself */
	struct requirement *requires; /* in the order written */
	size_t nrequires;
	int requires_line; /* where requires was set, for messages; 0: not set */
	/* health_check as written (may hold %(process_num)d); NULL: none.
	 * Parsed per instance by health_target_parse(). */
	char *health_check;
	int health_check_line;
	int64_t health_interval, health_timeout, health_start_period; /* usec */
	int health_retries;
	enum health_action health_action;
	bool critical;
	char *on_failure, *on_fatal; /* hook commands as written; NULL: none */

	/* options seen, so defaults that depend on others can be applied */
	bool heartbeat_timeout_set, stderr_set, restart_set;
	/* where options that other options can make wrong were set, so that
	 * config_check reports them at their line; 0: not set */
	int restart_line, health_timeout_line, critical_line, command_line;
	/* options written with a value that was refused (a bit per index of
	 * config_option.h): config_check judges nothing that depends on one,
	 * so a bad value is reported once, not again as "missing" */
	uint64_t options_bad;
};

struct config {
	char *path;
	char *socket;
	int socket_mode;
	char *socket_group; /* NULL: none */
	gid_t socket_gid;
	int log_level;
	/* [vigil] http_listen as written (NULL: off), resolved at load, and
	 * where it was set, for an error when it cannot be bound */
	char *http_listen;
	struct inet_address http_address;
	char *http_listen_file;
	int http_listen_line;
	struct program_config **programs;
	size_t nprograms, programs_cap;
	struct namemap programs_by_name; /* config_find_program: O(1) */
	char *first_include; /* the first include pattern, resolved; NULL: none */
};

/* Returns NULL on error, after writing each error as one line to errors
 * (a malloc'd string the caller frees): every error of the files read,
 * those of each file in line order, files in the order they were read. */
struct config *config_load(const char *path, char **errors);
void config_free(struct config *config);
/* For a config without programs: "no programs configured in PATH (and
 * its includes): add [program:NAME] sections, e.g. in DIR/" (malloc'd). */
char *config_no_programs_hint(const struct config *config);
/* vigild --insecure-config: as root, read config files whoever owns or
 * could write them (see config_file.h). Holds for every later load. */
void config_set_insecure(bool insecure);

struct program_config *config_find_program(const struct config *config, const char *name);
/* True if two program sections would run the same way (reload diffing). */
bool program_config_equal(const struct program_config *a, const struct program_config *b);
bool program_config_equal_but_numprocs(const struct program_config *a, const struct program_config *b);
void program_config_free(struct program_config *pc);
void program_config_defaults(struct program_config *pc);

const char *restart_policy_name(enum restart_policy policy);
const char *program_type_name(enum program_type type);
const char *requirement_condition_name(enum requirement_condition condition);

#endif
