/* Whether two program sections would run the same way: reload keeps a
 * program untouched only when they do. Where a section sits in which file
 * does not matter. */
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
	       a->log_max_size == b->log_max_size && a->log_backups == b->log_backups && a->type == b->type &&
	       a->ready_timeout == b->ready_timeout && a->heartbeat_timeout == b->heartbeat_timeout &&
	       a->heartbeat_signal == b->heartbeat_signal && a->notify_access == b->notify_access &&
	       a->daemon == b->daemon && str_equal(a->bind_to, b->bind_to);
}

bool program_config_equal(const struct program_config *a, const struct program_config *b)
{
	return a->numprocs == b->numprocs && program_config_equal_but_numprocs(a, b);
}
