/* Program sections as values: their defaults, comparison (reload keeps a
 * program untouched only when its section would run the same way; where
 * it sits in which file does not matter), lookup and freeing. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_equal(char **a, char **b)
{
	size_t i = 0;

	if (!a || !b)
		return (!a || !*a) && (!b || !*b);
	for (; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return !a[i] && !b[i];
}

static bool requires_equal(const struct program_config *a, const struct program_config *b)
{
	if (a->nrequires != b->nrequires)
		return false;
	for (size_t i = 0; i < a->nrequires; i++)
		if (strcmp(a->requires[i].name, b->requires[i].name) != 0 ||
		    a->requires[i].condition != b->requires[i].condition)
			return false;
	return true;
}

/* What requires, health checks and container mode add to a section. */
static bool dependency_and_health_equal(const struct program_config *a, const struct program_config *b)
{
	return requires_equal(a, b) && str_equal(a->health_check, b->health_check) &&
	       a->health_interval == b->health_interval && a->health_timeout == b->health_timeout &&
	       a->health_start_period == b->health_start_period && a->health_retries == b->health_retries &&
	       a->health_action == b->health_action && a->critical == b->critical &&
	       str_equal(a->on_failure, b->on_failure) && str_equal(a->on_fatal, b->on_fatal);
}

static bool output_equal(const struct output_spec *a, const struct output_spec *b)
{
	return a->kind == b->kind && str_equal(a->path, b->path);
}

bool program_config_equal_but_numprocs(const struct program_config *a, const struct program_config *b)
{
	return str_equal(a->name, b->name) && str_equal(a->command, b->command) &&
	       str_equal(a->directory, b->directory) && str_equal(a->user, b->user) &&
	       str_equal(a->group, b->group) && a->uid == b->uid && a->gid == b->gid &&
	       strv_equal(a->environment, b->environment) && a->umask == b->umask && a->priority == b->priority &&
	       a->autostart == b->autostart && a->restart == b->restart &&
	       memcmp(&a->success_exit_codes, &b->success_exit_codes, sizeof(a->success_exit_codes)) == 0 &&
	       a->start_secs == b->start_secs && a->restart_delay == b->restart_delay &&
	       a->restart_delay_max == b->restart_delay_max && a->start_limit_burst == b->start_limit_burst &&
	       a->start_limit_interval == b->start_limit_interval && a->stop_signal == b->stop_signal &&
	       a->stop_timeout == b->stop_timeout && a->kill_group == b->kill_group &&
	       output_equal(&a->stdout_spec, &b->stdout_spec) && output_equal(&a->stderr_spec, &b->stderr_spec) &&
	       a->output_prefix == b->output_prefix &&
	       a->log_max_size == b->log_max_size && a->log_backups == b->log_backups && a->type == b->type &&
	       a->ready_timeout == b->ready_timeout && a->heartbeat_timeout == b->heartbeat_timeout &&
	       a->heartbeat_signal == b->heartbeat_signal && a->notify_access == b->notify_access &&
	       a->daemon == b->daemon && str_equal(a->bind_to, b->bind_to) && dependency_and_health_equal(a, b);
}

bool program_config_equal(const struct program_config *a, const struct program_config *b)
{
	return a->numprocs == b->numprocs && program_config_equal_but_numprocs(a, b);
}

void program_config_defaults(struct program_config *pc)
{
	pc->umask = -1;
	pc->numprocs = 1;
	pc->priority = 100;
	pc->autostart = true;
	pc->restart = RESTART_ON_FAILURE;
	exit_code_set_add(&pc->success_exit_codes, 0);
	pc->start_secs = 1 * USEC_PER_SEC;
	pc->restart_delay = 100 * USEC_PER_MSEC;
	pc->restart_delay_max = 30 * USEC_PER_SEC;
	pc->start_limit_burst = 5;
	pc->start_limit_interval = 60 * USEC_PER_SEC;
	pc->stop_signal = SIGTERM;
	pc->stop_timeout = 10 * USEC_PER_SEC;
	pc->kill_group = true;
	pc->stdout_spec.kind = OUTPUT_INHERIT;
	pc->stderr_spec.kind = OUTPUT_INHERIT;
	pc->output_prefix = true;
	pc->log_max_size = 10u << 20;
	pc->log_backups = 5;
	pc->type = PROGRAM_SIMPLE;
	pc->ready_timeout = 30 * USEC_PER_SEC;
	pc->heartbeat_signal = SIGABRT;
	pc->health_interval = 10 * USEC_PER_SEC;
	pc->health_timeout = 2 * USEC_PER_SEC;
	pc->health_retries = 3;
	pc->health_start_period = 0;
	pc->health_action = HEALTH_ACTION_RESTART;
	pc->critical = false;
	pc->notify_access = NOTIFY_ACCESS_MAIN;
	pc->uid = (uid_t)-1;
	pc->gid = (gid_t)-1;
}

void program_config_free(struct program_config *pc)
{
	if (!pc)
		return;
	free(pc->name);
	free(pc->file);
	free(pc->command);
	free(pc->directory);
	free(pc->user);
	free(pc->group);
	argv_free(pc->environment);
	free(pc->stdout_spec.path);
	free(pc->stderr_spec.path);
	free(pc->bind_to);
	for (size_t i = 0; i < pc->nrequires; i++)
		free(pc->requires[i].name);
	free(pc->requires);
	free(pc->health_check);
	free(pc->on_failure);
	free(pc->on_fatal);
	free(pc);
}

void config_free(struct config *config)
{
	if (!config)
		return;
	for (size_t i = 0; i < config->nprograms; i++)
		program_config_free(config->programs[i]);
	free(config->programs);
	namemap_free(&config->programs_by_name);
	free(config->path);
	free(config->socket);
	free(config->socket_group);
	free(config->http_listen);
	inet_address_free(&config->http_address);
	free(config->http_listen_file);
	free(config->first_include);
	free(config);
}

struct program_config *config_find_program(const struct config *config, const char *name)
{
	return namemap_get(&config->programs_by_name, name);
}

const char *restart_policy_name(enum restart_policy policy)
{
	switch (policy) {
	case RESTART_ALWAYS: return "always";
	case RESTART_ON_FAILURE: return "on-failure";
	case RESTART_NEVER: return "never";
	}
	return "?";
}

const char *program_type_name(enum program_type type)
{
	switch (type) {
	case PROGRAM_SIMPLE: return "simple";
	case PROGRAM_NOTIFY: return "notify";
	case PROGRAM_ONESHOT: return "oneshot";
	}
	return "?";
}

const char *requirement_condition_name(enum requirement_condition condition)
{
	switch (condition) {
	case REQUIRE_RUNNING: return "running";
	case REQUIRE_HEALTHY: return "healthy";
	case REQUIRE_COMPLETED: return "completed";
	}
	return "?";
}
