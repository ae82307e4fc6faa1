#define _GNU_SOURCE
#include "supervisor.h"

#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "config.h"
#include "depend.h"
#include "guard.h"
#include "health.h"
#include "heartbeat.h"
#include "hooks.h"
#include "log.h"
#include "namemap.h"
#include "pidmap.h"
#include "program.h"
#include "sd.h"
#include "supervisor_events.h"
#include "vigild.h"

static struct event *shutdown_step_event, *autostart_event, *sweep_event;
static size_t autostart_next;
static bool autostart_yielded; /* the last step ended to let the loop read */
/* Time spent spawning per loop turn at start-up: between turns vigild
 * answers vigilctl, so 10,000 programs starting never keep it waiting. */
#define AUTOSTART_TURN_USEC (2 * 1000)

/* main pid -> proc, and process group -> proc: a datagram from a process
 * that is not a main pid costs one getpgid() and one lookup, never a walk
 * over every program (a main pid moved by MAINPID= is no longer its
 * group's leader). */
static struct pidmap by_pid, by_group;
/* program name -> its first process in vigil.procs */
static struct namemap by_program;

/* After a reload: processes being stopped, freed once they have ended,
 * and the old config sections they still use. */
static struct proc **retiring;
static size_t nretiring, retiring_cap;
static struct program_config **orphan_cfgs;
static size_t norphan_cfgs, orphan_cfgs_cap;

static int proc_order(const void *a, const void *b)
{
	const struct proc *pa = *(struct proc *const *)a, *pb = *(struct proc *const *)b;
	int by_name;

	if (pa->cfg->priority != pb->cfg->priority)
		return pa->cfg->priority < pb->cfg->priority ? -1 : 1;
	if ((by_name = strcmp(pa->cfg->name, pb->cfg->name)) != 0)
		return by_name;
	return pa->instance - pb->instance;
}

struct proc **supervisor_instances(const char *program)
{
	return namemap_get(&by_program, program);
}

/* Daemon child instance i belongs to parent instance i, or to the only
 * instance when the parent has numprocs = 1 (config_check allows no
 * other combination). */
static void supervisor_bind_children(void)
{
	for (size_t i = 0; i < vigil.nprocs; i++) {
		vigil.procs[i]->parent = NULL;
		vigil.procs[i]->nchildren = 0;
	}
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *child = vigil.procs[i], *parent, **block;
		const struct program_config *pc = child->cfg;
		if (!pc->daemon || !pc->bind_to)
			continue;
		block = supervisor_instances(pc->bind_to);
		parent = block[block[0]->cfg->numprocs == 1 ? 0 : child->instance];
		child->parent = parent;
		parent->children = realloc(parent->children, (parent->nchildren + 1) * sizeof(*parent->children));
		if (!parent->children)
			abort();
		parent->children[parent->nchildren++] = child;
	}
}

/* After vigil.procs changed: sort it, index it, bind daemon children. */
static void supervisor_reindex(void)
{
	qsort(vigil.procs, vigil.nprocs, sizeof(*vigil.procs), proc_order);
	namemap_clear(&by_program);
	for (size_t i = vigil.nprocs; i-- > 0;)
		namemap_put(&by_program, vigil.procs[i]->cfg->name, &vigil.procs[i]);
	supervisor_bind_children();
	depend_bind(vigil.procs, vigil.nprocs, supervisor_instances);
	/* an autostart under way goes on from the start of the new order;
	 * it skips what already runs */
	autostart_next = 0;
}

/* -- what the state machine tells us ------------------------------------ */

static void supervisor_hooks_idle(void)
{
	if (vigil.shutting_down)
		event_active(shutdown_step_event, 0, 0);
}

static void supervisor_pid_changed(struct proc *p, pid_t old_pid)
{
	supervisor_events_pid_changed(p, old_pid);
	if (old_pid)
		pidmap_remove(&by_pid, old_pid, p);
	if (p->pid)
		pidmap_put(&by_pid, p->pid, p);
	if (p->pid && !old_pid)
		pidmap_put(&by_group, p->pgid, p);
	else if (!p->pid)
		pidmap_remove(&by_group, p->pgid, p);
}

/* Container mode: the program the container exists for ended for good
 * (not on request: that is STOPPED), so vigild stops everything and
 * exits with its code. */
static void supervisor_check_critical(const struct proc *p)
{
	const struct last_exit *le = &p->last_exit;
	int code;

	if (!p->cfg->critical || p->retiring || vigil.shutting_down ||
	    (p->state != STATE_FATAL && p->state != STATE_EXITED))
		return;
	if (!p->ran_once)
		code = 1;
	else if (le->set && le->signo)
		code = 128 + le->signo;
	else
		code = le->set && le->code >= 0 ? le->code : 1;
	vigil.exit_code = code;
	vigil.critical_failed = code != 0 || p->state == STATE_FATAL;
	log_msg(code ? LOG_ERR : LOG_NOTICE, "%s: critical program is %s for good (%s): stopping everything; vigild exits with %d",
		p->name, state_name(p->state), p->status_text && p->state == STATE_FATAL ? p->status_text : "its last exit",
		code);
	supervisor_begin_shutdown();
}

static void supervisor_state_changed(struct proc *p, enum proc_state old)
{
	supervisor_events_state_changed(p, old);
	sd_glue_states_changed();
	depend_changed(p);
	supervisor_check_critical(p);
	if (p->retiring && !proc_is_active(p))
		event_active(sweep_event, 0, 0);
	if (vigil.shutting_down && !proc_is_active(p))
		event_active(shutdown_step_event, 0, 0);
}

void supervisor_child_exited(pid_t pid, int wait_status)
{
	struct proc *p;

	if (health_child_exited(pid, wait_status) || hooks_child_exited(pid, wait_status))
		return;
	p = pidmap_get(&by_pid, pid);
	if (p)
		proc_on_exit(p, wait_status);
	else
		log_debug("reaped orphan pid %d (status 0x%x)", (int)pid, wait_status);
}

struct proc *supervisor_find_pid(pid_t pid)
{
	return pidmap_get(&by_pid, pid);
}

struct proc *supervisor_find_group(pid_t pgid)
{
	return pidmap_get(&by_group, pgid);
}

void supervisor_for_each_group(void (*fn)(pid_t pgid))
{
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (vigil.procs[i]->pid)
			fn(vigil.procs[i]->pgid);
	for (size_t i = 0; i < nretiring; i++)
		if (retiring[i]->pid)
			fn(retiring[i]->pgid);
}

/* Forgets p in the indexes and frees it. */
static void supervisor_free_proc(struct proc *p)
{
	supervisor_events_forget(p);
	if (p->pid) {
		pidmap_remove(&by_pid, p->pid, p);
		pidmap_remove(&by_group, p->pgid, p);
	}
	proc_free(p);
}

/* -- retiring after a reload ---------------------------------------------- */

static int pointer_order(const void *a, const void *b)
{
	uintptr_t pa = (uintptr_t)*(void *const *)a, pb = (uintptr_t)*(void *const *)b;

	return pa < pb ? -1 : pa > pb;
}

/* Frees the orphaned config sections no retiring process uses: sorted,
 * so each retiring process costs a binary search, not a scan. */
static void supervisor_free_unused_configs(void)
{
	bool *used = calloc(norphan_cfgs ? norphan_cfgs : 1, sizeof(*used));
	size_t kept = 0;

	if (!used)
		abort();
	qsort(orphan_cfgs, norphan_cfgs, sizeof(*orphan_cfgs), pointer_order);
	for (size_t i = 0; i < nretiring; i++) {
		struct program_config **hit = bsearch(&retiring[i]->cfg, orphan_cfgs, norphan_cfgs,
						      sizeof(*orphan_cfgs), pointer_order);
		if (hit)
			used[hit - orphan_cfgs] = true;
	}
	for (size_t i = 0; i < norphan_cfgs; i++) {
		if (used[i])
			orphan_cfgs[kept++] = orphan_cfgs[i];
		else
			program_config_free(orphan_cfgs[i]);
	}
	norphan_cfgs = kept;
	free(used);
}

/* Frees retired processes once nothing runs any more, starts their
 * successors, and frees config sections nobody uses. */
static void supervisor_sweep(evutil_socket_t fd, short what, void *arg)
{
	size_t kept = 0;

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
		/* the live ones: those kept so far and those still to look at */
		depend_forget(p, retiring, kept);
		depend_forget(p, retiring + i + 1, nretiring - i - 1);
		supervisor_free_proc(p);
		if (next) {
			next->awaiting_predecessor = false;
			depend_changed(next);
		}
		if (next && start && !vigil.shutting_down)
			proc_request_start(next);
	}
	nretiring = kept;
	supervisor_free_unused_configs();
}

void supervisor_retire(struct proc *p, struct proc *successor)
{
	if (p->retiring)
		return;
	/* p may have been the successor of an earlier retiree */
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
	depend_unbind(p);
	if (successor)
		successor->awaiting_predecessor = true;
	retiring = grow_array(retiring, nretiring, &retiring_cap, sizeof(*retiring));
	retiring[nretiring++] = p;
	/* what requires it stops first (its dependents stay bound to it) */
	depend_retire(p, successor != NULL);
	event_active(sweep_event, 0, 0);
}

void supervisor_release_config(struct program_config *pc)
{
	orphan_cfgs = grow_array(orphan_cfgs, norphan_cfgs, &orphan_cfgs_cap, sizeof(*orphan_cfgs));
	orphan_cfgs[norphan_cfgs++] = pc;
	event_active(sweep_event, 0, 0);
}

void supervisor_install(struct proc **procs, size_t n, struct config *config)
{
	struct config *old = vigil.config;

	free(vigil.procs);
	vigil.procs = procs;
	vigil.nprocs = n;
	vigil.config = config;
	if (old != config)
		config_free(old);
	supervisor_reindex();
}

size_t supervisor_retiring(struct proc ***procs)
{
	*procs = retiring;
	return nretiring;
}

/* -- start, shutdown, lookups --------------------------------------------- */

static void supervisor_shutdown_step(evutil_socket_t fd, short what, void *arg);

int supervisor_init(struct config *config)
{
	static const struct proc_hooks hooks = {
		.state_changed = supervisor_state_changed,
		.pid_changed = supervisor_pid_changed,
		.requirements = depend_check,
		.spawn = supervisor_events_spawn,
	};
	size_t n = 0, i = 0;

	proc_set_hooks(&hooks);
	hooks_set_actions(&(struct hooks_actions){ .idle = supervisor_hooks_idle });
	depend_init(supervisor_retiring);
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
	sweep_event = event_new(vigil.base, -1, 0, supervisor_sweep, NULL);
	return shutdown_step_event && sweep_event && supervisor_events_init() == 0 ? 0 : -1;
}

void supervisor_free(void)
{
	for (size_t i = 0; i < nretiring; i++)
		supervisor_free_proc(retiring[i]);
	free(retiring);
	retiring = NULL;
	nretiring = retiring_cap = 0;
	for (size_t i = 0; i < norphan_cfgs; i++)
		program_config_free(orphan_cfgs[i]);
	free(orphan_cfgs);
	orphan_cfgs = NULL;
	norphan_cfgs = orphan_cfgs_cap = 0;
	for (size_t i = 0; i < vigil.nprocs; i++)
		supervisor_free_proc(vigil.procs[i]);
	free(vigil.procs);
	vigil.procs = NULL;
	vigil.nprocs = 0;
	pidmap_free(&by_pid);
	pidmap_free(&by_group);
	namemap_free(&by_program);
	if (shutdown_step_event)
		event_free(shutdown_step_event);
	if (autostart_event)
		event_free(autostart_event);
	if (sweep_event)
		event_free(sweep_event);
	shutdown_step_event = autostart_event = sweep_event = NULL;
	depend_free();
	supervisor_events_free();
}

/* The pings and READY=1 of the programs started so far come before the
 * next spawn: they are read between spawns, and after a read that found
 * the notify socket's queue full (a spawn takes about as long as 10,000
 * pingers need to fill it, and then they wait for room) the loop reads
 * on before anything more is spawned. Else the programs already running
 * wait longer and longer to be heard, and readiness and pings come too
 * late. */
static void supervisor_autostart_step(evutil_socket_t fd, short what, void *arg)
{
	int64_t until = now_usec() + AUTOSTART_TURN_USEC;

	(void)fd;
	(void)what;
	(void)arg;
	/* bound daemon children start when their parent is RUNNING */
	for (; autostart_next < vigil.nprocs && !vigil.shutting_down; autostart_next++) {
		struct proc *p = vigil.procs[autostart_next];
		if (!p->cfg->autostart || p->parent || p->state != STATE_STOPPED)
			continue;
		if (now_usec() >= until)
			break;
		/* at most one loop turn per spawn: a flood of the notify socket
		 * slows autostart down, never stops it */
		if (!heartbeat_drain() && !autostart_yielded) {
			autostart_yielded = true;
			break;
		}
		autostart_yielded = false;
		proc_request_start(p);
	}
	if (autostart_next < vigil.nprocs && !vigil.shutting_down) {
		/* a zero timer, not event_active(): libevent runs events made
		 * active during a turn in that same turn, never polling between */
		static const struct timeval now = { 0, 0 };
		evtimer_add(autostart_event, &now);
		return;
	}
	log_info("autostart done: %zu process%s", vigil.nprocs, vigil.nprocs == 1 ? "" : "es");
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
	int top = INT_MIN;
	bool any = false, daemons = false, ordered;

	(void)fd;
	(void)what;
	(void)arg;
	/* processes retiring after a reload are already being stopped */
	for (size_t i = 0; i < nretiring; i++)
		any |= proc_is_active(retiring[i]);
	/* daemon children first; then, of the processes nothing running
	 * requires any more, those of the highest priority */
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		if (!proc_is_active(p))
			continue;
		any = true;
		daemons |= p->cfg->daemon;
		if (p->cfg->priority > top && !depend_has_active_dependent(p))
			top = p->cfg->priority;
	}
	ordered = top != INT_MIN;
	if (any && !ordered && !daemons) /* never without a cycle: a bound, still */
		for (size_t i = 0; i < vigil.nprocs; i++)
			if (proc_is_active(vigil.procs[i]) && vigil.procs[i]->cfg->priority > top)
				top = vigil.procs[i]->cfg->priority;
	if (!any && hooks_running()) {
		/* an on_fatal of the program that ended vigild is the alert */
		log_info("all programs stopped; waiting for %zu hook%s (at most %.0fs)", hooks_running(),
			 hooks_running() == 1 ? "" : "s", (double)HOOKS_LIMIT_USEC / 1e6);
		return;
	}
	if (!any) {
		log_info("all programs stopped; exiting");
		event_base_loopexit(vigil.base, NULL);
		return;
	}
	for (size_t i = 0; i < vigil.nprocs; i++) {
		struct proc *p = vigil.procs[i];
		if (proc_is_active(p) && p->state != STATE_STOPPING &&
		    (daemons ? p->cfg->daemon
			     : p->cfg->priority == top && (!ordered || !depend_has_active_dependent(p))))
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

void supervisor_health_changed(void *owner, enum health_state old)
{
	struct proc *p = owner;

	supervisor_events_health_changed(p, old);
	proc_on_health_changed(p, old);
	depend_changed(p);
}

void supervisor_kill_all(void)
{
	for (size_t i = 0; i < vigil.nprocs; i++)
		kill_now(vigil.procs[i]);
	for (size_t i = 0; i < nretiring; i++)
		kill_now(retiring[i]);
}

void supervisor_begin_shutdown(void)
{
	if (vigil.shutting_down)
		return;
	log_info("shutting down: stopping %zu process%s, dependents first, then in descending priority",
		 vigil.nprocs, vigil.nprocs == 1 ? "" : "es");
	vigil.shutting_down = true;
	sd_glue_stopping();
	/* what waits for its requirements will not start now: STOPPED, not
	 * failed when they stop */
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (vigil.procs[i]->state == STATE_WAITING)
			proc_request_stop(vigil.procs[i]);
	event_active(shutdown_step_event, 0, 0);
}

static struct proc **copy_procs(struct proc *const *from, size_t n, size_t *count)
{
	struct proc **out = malloc((n ? n : 1) * sizeof(*out));

	if (!out)
		abort();
	memcpy(out, from, n * sizeof(*out));
	*count = n;
	return out;
}

struct proc **supervisor_match(const char *name, size_t *count)
{
	const char *colon = strrchr(name, ':');
	struct proc **block;
	char *end;
	long instance;

	if (strcmp(name, "all") == 0)
		return vigil.nprocs ? copy_procs(vigil.procs, vigil.nprocs, count) : NULL;
	if ((block = supervisor_instances(name)))
		return copy_procs(block, (size_t)block[0]->cfg->numprocs, count);
	/* "prog:N" names one instance of a program with numprocs > 1 */
	if (!colon || !colon[1] || colon[1] == '-' || colon[1] == '+')
		return NULL;
	block = namemap_get_len(&by_program, name, (size_t)(colon - name));
	instance = strtol(colon + 1, &end, 10);
	if (!block || *end || block[0]->cfg->numprocs == 1 || instance < 0 || instance >= block[0]->cfg->numprocs)
		return NULL;
	/* the exact name, as the process is called ("web:02" is not "web:2") */
	if (strcmp(block[instance]->name, name) != 0)
		return NULL;
	return copy_procs(&block[instance], 1, count);
}
