#define _GNU_SOURCE
#include "supervisor.h"

#include <event2/event.h>
#include <signal.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "program.h"
#include "reload.h"
#include "sd.h"
#include "vigild.h"

static struct event *shutdown_step_event, *autostart_event;
static size_t autostart_next;
/* Time spent spawning per loop turn at start-up: between turns vigild
 * reads pings and answers vigilctl, so 10,000 programs starting never
 * starve the heartbeats of those already running. */
#define AUTOSTART_TURN_USEC (5 * 1000)

static int proc_order(const void *a, const void *b)
{
	const struct proc *pa = *(struct proc *const *)a, *pb = *(struct proc *const *)b;

	if (pa->cfg->priority != pb->cfg->priority)
		return pa->cfg->priority < pb->cfg->priority ? -1 : 1;
	if (strcmp(pa->cfg->name, pb->cfg->name) != 0)
		return strcmp(pa->cfg->name, pb->cfg->name);
	return pa->instance - pb->instance;
}

static void supervisor_shutdown_step(evutil_socket_t fd, short what, void *arg);

/* The processes of a program stand together in vigil.procs (sorted by
 * priority, name, instance), instance 0 first. */
static struct proc **supervisor_find_instances(const char *program)
{
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (strcmp(vigil.procs[i]->cfg->name, program) == 0)
			return &vigil.procs[i];
	return NULL;
}

/* Daemon child instance i belongs to parent instance i, or to the only
 * instance when the parent has numprocs = 1 (config_check allows no
 * other combination). */
static void supervisor_bind_children(void)
{
	const char *block_name = NULL; /* the last parent program looked up */
	struct proc **block = NULL;

	for (size_t i = 0; i < vigil.nprocs; i++) {
		vigil.procs[i]->parent = NULL;
		vigil.procs[i]->nchildren = 0;
	}
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *child = vigil.procs[i], *parent;
		const struct program_config *pc = child->cfg;
		if (!pc->daemon || !pc->bind_to)
			continue;
		if (!block_name || strcmp(block_name, pc->bind_to) != 0) {
			block_name = pc->bind_to;
			block = supervisor_find_instances(pc->bind_to);
		}
		parent = block[block[0]->cfg->numprocs == 1 ? 0 : child->instance];
		child->parent = parent;
		parent->children = realloc(parent->children, (parent->nchildren + 1) * sizeof(*parent->children));
		if (!parent->children)
			abort();
		parent->children[parent->nchildren++] = child;
	}
}

int supervisor_init(struct config *config)
{
	size_t n = 0, i = 0;

	for (size_t c = 0; c < config->nprograms; c++)
		n += (size_t)config->programs[c]->numprocs;
	vigil.procs = calloc(n ? n : 1, sizeof(*vigil.procs));
	if (!vigil.procs)
		return -1;
	for (size_t c = 0; c < config->nprograms; c++)
		for (int k = 0; k < config->programs[c]->numprocs; k++)
			vigil.procs[i++] = proc_new(config->programs[c], k);
	vigil.nprocs = n;
	supervisor_reindex();
	shutdown_step_event = event_new(vigil.base, -1, 0, supervisor_shutdown_step, NULL);
	return shutdown_step_event && reload_init() == 0 ? 0 : -1;
}

void supervisor_reindex(void)
{
	qsort(vigil.procs, vigil.nprocs, sizeof(*vigil.procs), proc_order);
	supervisor_bind_children();
	/* an autostart under way goes on from the start of the new order;
	 * it skips what already runs */
	autostart_next = 0;
}

void supervisor_free(void)
{
	reload_free();
	for (size_t i = 0; i < vigil.nprocs; i++)
		proc_free(vigil.procs[i]);
	free(vigil.procs);
	vigil.procs = NULL;
	vigil.nprocs = 0;
	if (shutdown_step_event)
		event_free(shutdown_step_event);
	if (autostart_event)
		event_free(autostart_event);
	shutdown_step_event = autostart_event = NULL;
}

static void supervisor_autostart_step(evutil_socket_t fd, short what, void *arg)
{
	int64_t until = now_usec() + AUTOSTART_TURN_USEC;

	(void)fd;
	(void)what;
	(void)arg;
	/* bound daemon children start when their parent is RUNNING */
	for (; autostart_next < vigil.nprocs && now_usec() < until && !vigil.shutting_down; autostart_next++) {
		struct proc *p = vigil.procs[autostart_next];
		if (p->cfg->autostart && !p->parent && p->state == STATE_STOPPED)
			proc_request_start(p);
	}
	if (autostart_next < vigil.nprocs && !vigil.shutting_down) {
		/* a zero timer, not event_active(): libevent runs events made
		 * active during a turn in that same turn, never polling between */
		static const struct timeval now = { 0, 0 };
		evtimer_add(autostart_event, &now);
		return;
	}
	log_info("autostart done: %zu processes", vigil.nprocs);
	sd_glue_ready();
}

void supervisor_start_autostart(void)
{
	autostart_next = 0;
	if (!autostart_event)
		autostart_event = evtimer_new(vigil.base, supervisor_autostart_step, NULL);
	if (!autostart_event)
		abort();
	supervisor_autostart_step(-1, 0, NULL);
}

/* One round of the ordered shutdown: stop the group that goes next and
 * wait for it; the loop comes back here on every state change. */
static void supervisor_shutdown_step(evutil_socket_t fd, short what, void *arg)
{
	struct proc **retiring;
	size_t nretiring = reload_retiring(&retiring);
	int top = INT_MIN;
	bool any = false, daemons = false;

	(void)fd;
	(void)what;
	(void)arg;
	/* processes retiring after a reload are already being stopped */
	for (size_t i = 0; i < nretiring; i++)
		any |= proc_is_active(retiring[i]);
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		if (!proc_is_active(p))
			continue;
		any = true;
		daemons |= p->cfg->daemon;
		if (p->cfg->priority > top)
			top = p->cfg->priority;
	}
	if (!any) {
		log_info("all programs stopped; exiting");
		event_base_loopexit(vigil.base, NULL);
		return;
	}
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		if (proc_is_active(p) && p->state != STATE_STOPPING &&
		    (daemons ? p->cfg->daemon : p->cfg->priority == top))
			proc_request_stop(p);
	}
}

static void kill_now(const struct proc *p)
{
	if (!p->pid)
		return;
	kill(-p->pgid, SIGKILL);
	kill(p->pid, SIGKILL); /* MAINPID= may have moved it out of its group */
	cgroup_kill(p->name);  /* and whatever escaped with setsid */
}

void supervisor_kill_all(void)
{
	struct proc **retiring;
	size_t nretiring = reload_retiring(&retiring);

	for (size_t i = 0; i < vigil.nprocs; i++)
		kill_now(vigil.procs[i]);
	for (size_t i = 0; i < nretiring; i++)
		kill_now(retiring[i]);
}

void supervisor_begin_shutdown(void)
{
	if (vigil.shutting_down)
		return;
	log_info("shutting down: stopping %zu processes in descending priority", vigil.nprocs);
	vigil.shutting_down = true;
	sd_glue_stopping();
	event_active(shutdown_step_event, 0, 0);
}

void supervisor_on_state_change(struct proc *p, enum proc_state old)
{
	sd_glue_states_changed();
	if (p->retiring)
		reload_on_state_change(p);
	if (p->state == STATE_RUNNING && !vigil.shutting_down)
		for (size_t i = 0; i < p->nchildren; i++)
			proc_on_parent_running(p->children[i]);
	else if (old == STATE_RUNNING)
		for (size_t i = 0; i < p->nchildren; i++)
			proc_on_parent_gone(p->children[i]);
	if (vigil.shutting_down && !proc_is_active(p))
		event_active(shutdown_step_event, 0, 0);
}

struct proc **supervisor_match(const char *name, size_t *count)
{
	struct proc **out = calloc(vigil.nprocs ? vigil.nprocs : 1, sizeof(*out));
	bool all = strcmp(name, "all") == 0;
	size_t n = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		if (all || strcmp(p->name, name) == 0 || strcmp(p->cfg->name, name) == 0)
			out[n++] = p;
	}
	if (n == 0) {
		free(out);
		return NULL;
	}
	*count = n;
	return out;
}
