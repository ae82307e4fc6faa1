#define _GNU_SOURCE
#include "reload.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "events.h"
#include "log.h"
#include "output.h"
#include "program.h"
#include "sd.h"
#include "supervisor.h"
#include "vigild.h"

struct reload_plan {
	struct proc **next; /* the new vigil.procs */
	size_t nnext, next_cap;
	struct proc **to_start;
	size_t nto_start, to_start_cap;
	json_t *added, *removed, *changed, *unchanged;
};

static void plan_keep(struct reload_plan *plan, struct proc *p, struct program_config *cfg)
{
	p->cfg = cfg;
	plan->next = grow_array(plan->next, plan->nnext, &plan->next_cap, sizeof(*plan->next));
	plan->next[plan->nnext++] = p;
}

static struct proc *plan_new(struct reload_plan *plan, struct program_config *cfg, int instance, bool start)
{
	struct proc *p = proc_new(cfg, instance);

	plan_keep(plan, p, cfg);
	if (start) {
		plan->to_start = grow_array(plan->to_start, plan->nto_start, &plan->to_start_cap, sizeof(*plan->to_start));
		plan->to_start[plan->nto_start++] = p;
	}
	return p;
}

static void plan_program(struct reload_plan *plan, struct program_config *oc, struct program_config *nc)
{
	/* a bound daemon child whose parent is not RUNNING refuses (EAGAIN)
	 * and starts with its parent later */
	bool autostart = nc->autostart;
	int n_old = oc ? oc->numprocs : 0;
	struct proc **old = oc ? supervisor_instances(oc->name) : NULL;

	if (!oc) {
		json_array_append_new(plan->added, json_string(nc->name));
		for (int k = 0; k < nc->numprocs; k++)
			plan_new(plan, nc, k, autostart);
	} else if (program_config_equal(oc, nc)) {
		json_array_append_new(plan->unchanged, json_string(nc->name));
		for (int k = 0; k < n_old; k++)
			plan_keep(plan, old[k], nc);
	} else if (program_config_equal_but_numprocs(oc, nc) && n_old > 1 && nc->numprocs > 1) {
		/* only the number of instances changed: add or remove some */
		json_array_append_new(plan->changed, json_string(nc->name));
		for (int k = 0; k < n_old; k++) {
			if (k < nc->numprocs)
				plan_keep(plan, old[k], nc);
			else
				supervisor_retire(old[k], NULL);
		}
		for (int k = n_old; k < nc->numprocs; k++)
			plan_new(plan, nc, k, autostart);
	} else {
		json_array_append_new(plan->changed, json_string(nc->name));
		for (int k = 0; k < nc->numprocs; k++) {
			struct proc *np = plan_new(plan, nc, k, k >= n_old && autostart);
			if (k < n_old)
				supervisor_retire(old[k], np);
		}
		for (int k = nc->numprocs; k < n_old; k++)
			supervisor_retire(old[k], NULL);
	}
}

/* Old sections that are not carried over go to the orphans, to be freed
 * once their retiring processes are gone. */
static void reload_adopt_orphans(struct config *old, struct config *new, struct reload_plan *plan)
{
	for (size_t i = 0; i < old->nprograms; i++) {
		struct program_config *oc = old->programs[i], *nc = config_find_program(new, oc->name);
		if (nc && program_config_equal(oc, nc))
			continue;
		if (!nc) {
			struct proc **old_procs = supervisor_instances(oc->name);
			json_array_append_new(plan->removed, json_string(oc->name));
			for (int k = 0; k < oc->numprocs; k++)
				supervisor_retire(old_procs[k], NULL);
		}
		supervisor_release_config(oc);
		old->programs[i] = NULL;
	}
}

static json_t *reload_vigil_section(const struct config *old, const struct config *new)
{
	json_t *needs_restart = json_array();

	if (strcmp(old->socket, new->socket) != 0)
		json_array_append_new(needs_restart, json_string("socket"));
	if (old->socket_mode != new->socket_mode)
		json_array_append_new(needs_restart, json_string("socket_mode"));
	if ((old->socket_group == NULL) != (new->socket_group == NULL) ||
	    (old->socket_group && strcmp(old->socket_group, new->socket_group) != 0))
		json_array_append_new(needs_restart, json_string("socket_group"));
	if ((old->http_listen == NULL) != (new->http_listen == NULL) ||
	    (old->http_listen && strcmp(old->http_listen, new->http_listen) != 0))
		json_array_append_new(needs_restart, json_string("http_listen"));
	if (json_array_size(needs_restart)) {
		char names[128] = "";
		size_t i;
		json_t *name;
		json_array_foreach(needs_restart, i, name)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
				 json_string_value(name));
		log_warn("reload: [vigil] %s changed; %s effect when vigild restarts", names,
			 json_array_size(needs_restart) == 1 ? "it takes" : "they take");
	}
	log_set_level(new->log_level);
	return needs_restart;
}

json_t *reload_apply(const char *path, char **error)
{
	struct config *old = vigil.config, *new = config_load(path, error);
	struct reload_plan plan = { .added = json_array(), .removed = json_array(), .changed = json_array(),
				    .unchanged = json_array() };
	json_t *needs_restart;

	if (!new) {
		json_decref(plan.added), json_decref(plan.removed), json_decref(plan.changed), json_decref(plan.unchanged);
		return NULL;
	}
	for (size_t i = 0; i < new->nprograms; i++)
		plan_program(&plan, config_find_program(old, new->programs[i]->name), new->programs[i]);
	reload_adopt_orphans(old, new, &plan);
	needs_restart = reload_vigil_section(old, new);
	supervisor_install(plan.next, plan.nnext, new);
	output_config_changed();
	for (size_t i = 0; i < plan.nto_start; i++)
		proc_request_start(plan.to_start[i]);
	free(plan.to_start);
	log_info("reloaded %s: %zu added, %zu removed, %zu changed, %zu unchanged", new->path,
		 json_array_size(plan.added), json_array_size(plan.removed), json_array_size(plan.changed),
		 json_array_size(plan.unchanged));
	events_reload(plan.added, plan.removed, plan.changed);
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "added", plan.added, "removed", plan.removed, "changed",
			 plan.changed, "unchanged", plan.unchanged, "restart_needed", needs_restart);
}

json_t *reload_run(char **error)
{
	char *errors = NULL;
	json_t *result;

	if (vigil.shutting_down) {
		if (error)
			*error = strdup("vigild is shutting down");
		return NULL;
	}
	log_info("reloading %s", vigil.config->path);
	sd_glue_reloading();
	result = reload_apply(vigil.config->path, &errors);
	/* one line per error; no trailing newline in replies */
	if (errors && *errors && errors[strlen(errors) - 1] == '\n')
		errors[strlen(errors) - 1] = '\0';
	if (!result) {
		log_err("reload: configuration has errors; everything keeps running as it was:");
		log_lines(LOG_ERR, errors ? errors : "");
	}
	sd_glue_ready();
	if (error)
		*error = errors;
	else
		free(errors);
	return result;
}
