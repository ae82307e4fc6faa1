#define _GNU_SOURCE
#include "reload.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "program.h"
#include "sd.h"
#include "supervisor.h"
#include "vigild.h"

static struct proc **retiring;
static size_t nretiring;
/* Sections of an earlier config still used by retiring processes. */
static struct program_config **orphan_cfgs;
static size_t norphan_cfgs;
static struct event *sweep_event;

size_t reload_retiring(struct proc ***procs)
{
	*procs = retiring;
	return nretiring;
}

static void *grow(void *array, size_t n, size_t size)
{
	void *p = realloc(array, (n + 1) * size);

	if (!p)
		abort();
	return p;
}

/* Frees retired processes once nothing runs any more, starts their
 * successors, and frees config sections nobody uses. */
static void reload_sweep(evutil_socket_t fd, short what, void *arg)
{
	size_t kept = 0, cfgs_kept = 0;

	(void)fd;
	(void)what;
	(void)arg;
	for (size_t i = 0; i < nretiring; i++) {
		struct proc *p = retiring[i], *next = p->successor;
		bool start = p->start_successor;
		if (proc_is_active(p)) {
			retiring[kept++] = p;
			continue;
		}
		log_debug("%s: retired", p->name);
		proc_free(p);
		if (next && start && !vigil.shutting_down)
			proc_request_start(next);
	}
	nretiring = kept;
	for (size_t i = 0; i < norphan_cfgs; i++) {
		bool used = false;
		for (size_t k = 0; k < nretiring; k++)
			used |= retiring[k]->cfg == orphan_cfgs[i];
		if (used)
			orphan_cfgs[cfgs_kept++] = orphan_cfgs[i];
		else
			program_config_free(orphan_cfgs[i]);
	}
	norphan_cfgs = cfgs_kept;
}

void reload_on_state_change(struct proc *p)
{
	if (!proc_is_active(p))
		event_active(sweep_event, 0, 0);
}

/* Stops p for good; successor (may be NULL) starts once p is gone, if p
 * was running or the successor starts by itself. */
static void reload_retire(struct proc *p, struct proc *successor)
{
	for (size_t i = 0; i < nretiring; i++)
		if (retiring[i]->successor == p)
			retiring[i]->successor = NULL;
	p->retiring = true;
	p->successor = successor;
	p->start_successor = successor && (proc_is_active(p) || (successor->cfg->autostart && !successor->cfg->bind_to));
	/* its daemon children die with it now, as when it restarts */
	for (size_t i = 0; i < p->nchildren; i++)
		proc_on_parent_gone(p->children[i]);
	p->nchildren = 0;
	p->parent = NULL;
	retiring = grow(retiring, nretiring, sizeof(*retiring));
	retiring[nretiring++] = p;
	proc_request_stop(p);
	event_active(sweep_event, 0, 0);
}

struct reload_plan {
	struct proc **next; /* the new vigil.procs */
	size_t nnext;
	struct proc **to_start;
	size_t nto_start;
	json_t *added, *removed, *changed, *unchanged;
};

static void plan_keep(struct reload_plan *plan, struct proc *p, struct program_config *cfg)
{
	p->cfg = cfg;
	plan->next = grow(plan->next, plan->nnext, sizeof(*plan->next));
	plan->next[plan->nnext++] = p;
}

static struct proc *plan_new(struct reload_plan *plan, struct program_config *cfg, int instance, bool start)
{
	struct proc *p = proc_new(cfg, instance);

	plan_keep(plan, p, cfg);
	if (start) {
		plan->to_start = grow(plan->to_start, plan->nto_start, sizeof(*plan->to_start));
		plan->to_start[plan->nto_start++] = p;
	}
	return p;
}

/* The current processes of an old program section: vigil.procs is
 * sorted by priority, name, instance, so they stand together, instance 0
 * first. One scan per program, not per instance. */
static struct proc **old_instances(const struct program_config *oc)
{
	for (size_t i = 0; oc && i < vigil.nprocs; i++)
		if (vigil.procs[i]->cfg == oc)
			return &vigil.procs[i];
	return NULL;
}

static void plan_program(struct reload_plan *plan, struct program_config *oc, struct program_config *nc)
{
	/* a bound daemon child whose parent is not RUNNING refuses (EAGAIN)
	 * and starts with its parent later */
	bool autostart = nc->autostart;
	int n_old = oc ? oc->numprocs : 0;
	struct proc **old = old_instances(oc);

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
				reload_retire(old[k], NULL);
		}
		for (int k = n_old; k < nc->numprocs; k++)
			plan_new(plan, nc, k, autostart);
	} else {
		json_array_append_new(plan->changed, json_string(nc->name));
		for (int k = 0; k < nc->numprocs; k++) {
			struct proc *np = plan_new(plan, nc, k, k >= n_old && autostart);
			if (k < n_old)
				reload_retire(old[k], np);
		}
		for (int k = nc->numprocs; k < n_old; k++)
			reload_retire(old[k], NULL);
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
			struct proc **old_procs = old_instances(oc);
			json_array_append_new(plan->removed, json_string(oc->name));
			for (int k = 0; k < oc->numprocs; k++)
				reload_retire(old_procs[k], NULL);
		}
		orphan_cfgs = grow(orphan_cfgs, norphan_cfgs, sizeof(*orphan_cfgs));
		orphan_cfgs[norphan_cfgs++] = oc;
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
	if (json_array_size(needs_restart))
		log_warn("reload: [vigil] socket settings changed; they take effect when vigild restarts");
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
	free(vigil.procs);
	vigil.procs = plan.next;
	vigil.nprocs = plan.nnext;
	vigil.config = new;
	config_free(old);
	supervisor_reindex();
	for (size_t i = 0; i < plan.nto_start; i++)
		proc_request_start(plan.to_start[i]);
	free(plan.to_start);
	log_info("reloaded %s: %zu added, %zu removed, %zu changed, %zu unchanged", new->path,
		 json_array_size(plan.added), json_array_size(plan.removed), json_array_size(plan.changed),
		 json_array_size(plan.unchanged));
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
	if (!result)
		log_err("reload: configuration has errors; everything keeps running as it was:\n%s", errors);
	sd_glue_ready();
	if (error)
		*error = errors;
	else
		free(errors);
	return result;
}

int reload_init(void)
{
	sweep_event = event_new(vigil.base, -1, 0, reload_sweep, NULL);
	return sweep_event ? 0 : -1;
}

void reload_free(void)
{
	for (size_t i = 0; i < nretiring; i++)
		proc_free(retiring[i]);
	free(retiring);
	retiring = NULL;
	nretiring = 0;
	for (size_t i = 0; i < norphan_cfgs; i++)
		program_config_free(orphan_cfgs[i]);
	free(orphan_cfgs);
	orphan_cfgs = NULL;
	norphan_cfgs = 0;
	if (sweep_event)
		event_free(sweep_event);
	sweep_event = NULL;
}
