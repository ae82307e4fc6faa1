/* Requirements between processes. A dependent asks before each spawn
 * (depend_check, through proc_hooks.requirements); every later change of
 * a requirement marks the work pending, and one pass at the end of the
 * loop turn does it: WAITING processes whose requirements hold are
 * spawned, those whose requirement failed for good become FATAL, and
 * ordered stops and restarts move on by one step. Nothing here waits:
 * the pass runs again on the next change. */
#define _GNU_SOURCE
#include "depend.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "program.h"
#include "vigild.h"

static struct event *pass_event;
static size_t (*retiring_procs)(struct proc ***procs);
/* processes with stop_pending, restart_pending or resume_pending set: the
 * pass skips that work while there is none */
static size_t npending;

static void set_pending(bool *flag, bool value);

/* -- binding ------------------------------------------------------------ */

static void proc_add_dependent(struct proc *q, struct proc *d)
{
	if (q->ndependents && q->dependents[q->ndependents - 1] == d)
		return; /* required twice through instances: listed once */
	q->dependents = realloc(q->dependents, (q->ndependents + 1) * sizeof(*q->dependents));
	if (!q->dependents)
		abort();
	q->dependents[q->ndependents++] = d;
}

static void proc_clear_bindings(struct proc *p)
{
	for (size_t i = 0; i < p->nreqs; i++)
		free(p->reqs[i].procs);
	free(p->reqs);
	free(p->dependents);
	p->reqs = NULL;
	p->dependents = NULL;
	p->nreqs = p->ndependents = 0;
}

void depend_bind(struct proc **procs, size_t n, struct proc **(*lookup)(const char *program))
{
	for (size_t i = 0; i < n; i++)
		proc_clear_bindings(procs[i]);
	for (size_t i = 0; i < n; i++) {
		struct proc *p = procs[i];
		const struct program_config *pc = p->cfg;
		if (!pc->nrequires)
			continue;
		p->reqs = calloc(pc->nrequires, sizeof(*p->reqs));
		if (!p->reqs)
			abort();
		for (size_t r = 0; r < pc->nrequires; r++) {
			struct proc **block = lookup(pc->requires[r].name);
			struct proc_requirement *req = &p->reqs[p->nreqs];
			if (!block)
				continue; /* config_check rejects unknown names */
			req->n = (size_t)block[0]->cfg->numprocs;
			req->procs = malloc(req->n * sizeof(*req->procs));
			if (!req->procs)
				abort();
			memcpy(req->procs, block, req->n * sizeof(*req->procs));
			/* a oneshot is "up" once it has completed */
			req->condition = pc->requires[r].condition == REQUIRE_RUNNING &&
						 block[0]->cfg->type == PROGRAM_ONESHOT
					 ? REQUIRE_COMPLETED
					 : pc->requires[r].condition;
			for (size_t k = 0; k < req->n; k++)
				proc_add_dependent(req->procs[k], p);
			p->nreqs++;
		}
	}
}

void depend_unbind(struct proc *p)
{
	for (size_t i = 0; i < p->nreqs; i++)
		free(p->reqs[i].procs);
	free(p->reqs);
	p->reqs = NULL;
	p->nreqs = 0;
	/* its dependents stay: a retiring requirement is stopped after them */
}

void depend_forget(struct proc *gone, struct proc **others, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct proc *o = others[i];
		size_t kept = 0;
		for (size_t k = 0; k < o->ndependents; k++)
			if (o->dependents[k] != gone)
				o->dependents[kept++] = o->dependents[k];
		o->ndependents = kept;
	}
	set_pending(&gone->stop_pending, false);
	set_pending(&gone->restart_pending, false);
	set_pending(&gone->resume_pending, false);
}

/* -- conditions ------------------------------------------------------------ */

static bool condition_holds(const struct proc *q, enum requirement_condition c)
{
	switch (c) {
	case REQUIRE_RUNNING: return q->state == STATE_RUNNING;
	case REQUIRE_HEALTHY: return q->state == STATE_RUNNING && q->health.state == HEALTH_HEALTHY;
	case REQUIRE_COMPLETED: return q->state == STATE_EXITED && q->completed;
	}
	return false;
}

/* It will not get there by itself: at rest (not WAITING) and not holding. */
static bool condition_failed(const struct proc *q, enum requirement_condition c)
{
	if (proc_is_active(q) || q->state == STATE_WAITING || q->awaiting_predecessor)
		return false;
	return !condition_holds(q, c);
}

static const char *condition_label(const struct proc_requirement *req)
{
	return requirement_condition_name(req->condition);
}

/* REQUIRES_MET, or _WAIT with "waiting for db (healthy), migrate
 * (completed)", or _FAILED naming the first requirement that failed. */
static int depend_evaluate(const struct proc *p, char *why, size_t whylen)
{
	size_t len = 0;
	int verdict = REQUIRES_MET;

	for (size_t r = 0; r < p->nreqs; r++) {
		const struct proc_requirement *req = &p->reqs[r];
		size_t holding = 0;
		for (size_t k = 0; k < req->n; k++) {
			const struct proc *q = req->procs[k];
			char buf[16];
			if (condition_holds(q, req->condition)) {
				holding++;
				continue;
			}
			if (!condition_failed(q, req->condition))
				continue;
			if (q->last_exit.set && q->last_exit.signo)
				snprintf(buf, sizeof(buf), "signal %d", q->last_exit.signo);
			else if (q->last_exit.set && q->last_exit.code >= 0)
				snprintf(buf, sizeof(buf), "exit %d", q->last_exit.code);
			else
				snprintf(buf, sizeof(buf), "never ran");
			snprintf(why, whylen, "requirement %s failed: %s (%s) and it needs it %s", q->name,
				 state_name(q->state), buf, condition_label(req));
			return REQUIRES_FAILED;
		}
		if (holding == req->n)
			continue;
		verdict = REQUIRES_WAIT;
		if (len < whylen)
			len += (size_t)snprintf(why + len, whylen - len, "%s%s (%s)", len ? ", " : "waiting for ",
						p->cfg->requires[r].name, condition_label(req));
	}
	return verdict;
}

/* Requirements that are neither active nor in their condition are
 * started, which checks theirs in turn: transitively. A completed oneshot
 * holds, so it does not run again. */
static void depend_pull_in(struct proc *p)
{
	for (size_t r = 0; r < p->nreqs; r++) {
		const struct proc_requirement *req = &p->reqs[r];
		for (size_t k = 0; k < req->n; k++) {
			struct proc *q = req->procs[k];
			if (condition_holds(q, req->condition) || proc_is_active(q) || q->state == STATE_WAITING ||
			    q->awaiting_predecessor || q->stop_pending)
				continue;
			log_info("%s: starting %s, which it requires", p->name, q->name);
			proc_request_start(q);
		}
	}
}

int depend_check(struct proc *p, char *why, size_t whylen)
{
	if (!p->nreqs)
		return REQUIRES_MET;
	depend_pull_in(p);
	return depend_evaluate(p, why, whylen);
}

/* -- the pass ------------------------------------------------------------ */

static void depend_schedule(void)
{
	if (pass_event)
		event_active(pass_event, 0, 0);
}

void depend_changed(struct proc *q)
{
	if (q->ndependents || npending)
		depend_schedule();
}

bool depend_has_active_dependent(const struct proc *p)
{
	for (size_t i = 0; i < p->ndependents; i++)
		if (proc_is_active(p->dependents[i]))
			return true;
	return false;
}

/* A requirement, transitively, that is still to be stopped or restarted. */
static bool requirement_pending(const struct proc *p, int depth)
{
	if (depth > 64)
		return false; /* config_check rejects cycles; a bound, still */
	for (size_t r = 0; r < p->nreqs; r++)
		for (size_t k = 0; k < p->reqs[r].n; k++) {
			const struct proc *q = p->reqs[r].procs[k];
			if (q->stop_pending || q->restart_pending || q->awaiting_predecessor ||
			    requirement_pending(q, depth + 1))
				return true;
		}
	return false;
}

static void set_pending(bool *flag, bool value)
{
	if (*flag == value)
		return;
	*flag = value;
	if (value)
		npending++;
	else
		npending--;
}

static bool any_pending(const struct proc *p)
{
	return p->stop_pending || p->restart_pending || p->resume_pending;
}

/* One step of the ordered stops and restarts for p. */
static void depend_step_pending(struct proc *p)
{
	if ((p->stop_pending || p->restart_pending) && !depend_has_active_dependent(p)) {
		if (p->stop_pending) {
			set_pending(&p->stop_pending, false);
			proc_request_stop(p);
		} else {
			set_pending(&p->restart_pending, false);
			proc_request_restart(p);
		}
	}
	if (p->resume_pending && p->retiring) {
		set_pending(&p->resume_pending, false); /* a reload replaces it */
	} else if (p->resume_pending && !p->stop_pending && !proc_is_active(p) && p->state != STATE_WAITING &&
		   !requirement_pending(p, 0)) {
		set_pending(&p->resume_pending, false);
		if (!vigil.shutting_down)
			proc_request_start(p);
	}
}

static void depend_step_waiting(struct proc *p)
{
	char why[512];
	int verdict;

	if (p->state != STATE_WAITING)
		return;
	verdict = depend_evaluate(p, why, sizeof(why));
	if (verdict == REQUIRES_WAIT) {
		if (!p->status_text || strcmp(p->status_text, why) != 0) {
			free(p->status_text);
			p->status_text = strdup(why);
		}
		return;
	}
	proc_on_requirements(p, verdict == REQUIRES_FAILED, verdict == REQUIRES_FAILED ? why : NULL);
}

static void depend_pass(evutil_socket_t fd, short what, void *arg)
{
	struct proc **retiring;
	size_t nretiring = retiring_procs ? retiring_procs(&retiring) : 0;

	(void)fd;
	(void)what;
	(void)arg;
	if (npending) {
		for (size_t i = nretiring; i-- > 0;)
			if (any_pending(retiring[i]))
				depend_step_pending(retiring[i]);
		for (size_t i = vigil.nprocs; i-- > 0;)
			if (any_pending(vigil.procs[i]))
				depend_step_pending(vigil.procs[i]);
	}
	for (size_t i = 0; i < vigil.nprocs && !vigil.shutting_down; i++)
		depend_step_waiting(vigil.procs[i]);
}

/* -- stop and restart with dependents -------------------------------------- */

struct closure {
	struct proc **procs;
	size_t n, cap;
	unsigned mark; /* procs[i]->depend_mark == mark: in procs */
};

/* Dependents first (post-order), each once. */
static void closure_add(struct closure *c, struct proc *p, int depth)
{
	if (depth > 64)
		return;
	if (p->depend_mark == c->mark) {
		p->depend_reached |= depth > 0;
		return;
	}
	p->depend_mark = c->mark;
	p->depend_reached = depth > 0;
	for (size_t i = 0; i < p->ndependents; i++) {
		struct proc *d = p->dependents[i];
		if (proc_is_active(d) || d->state == STATE_WAITING || d->resume_pending)
			closure_add(c, d, depth + 1);
	}
	c->procs = grow_array(c->procs, c->n, &c->cap, sizeof(*c->procs));
	c->procs[c->n++] = p;
}

static struct closure closure_of(struct proc **procs, size_t n)
{
	static unsigned generation;
	struct closure c = { .mark = ++generation ? generation : ++generation };

	for (size_t i = 0; i < n; i++)
		closure_add(&c, procs[i], 0);
	return c;
}

struct proc **depend_stop(struct proc **procs, size_t n, size_t *count)
{
	struct closure c = closure_of(procs, n);

	for (size_t i = 0; i < c.n; i++) {
		struct proc *p = c.procs[i];
		set_pending(&p->restart_pending, false);
		set_pending(&p->resume_pending, false);
		if (depend_has_active_dependent(p))
			set_pending(&p->stop_pending, true);
		else
			proc_request_stop(p);
	}
	depend_schedule();
	*count = c.n;
	return c.procs;
}

struct proc **depend_restart(struct proc **procs, size_t n, size_t *count)
{
	struct closure c = closure_of(procs, n);

	for (size_t i = 0; i < n; i++)
		procs[i]->depend_named = true;
	for (size_t i = 0; i < c.n; i++) {
		struct proc *p = c.procs[i];
		/* named, and not itself a dependent of another named one
		 * (restart all): restarted once its dependents are down */
		if (p->depend_named && !p->depend_reached) {
			set_pending(&p->stop_pending, false);
			set_pending(&p->resume_pending, false);
			if (depend_has_active_dependent(p))
				set_pending(&p->restart_pending, true);
			else
				proc_request_restart(p);
			continue;
		}
		/* a dependent: down first, up again once its requirements are */
		set_pending(&p->resume_pending, true);
		if (depend_has_active_dependent(p))
			set_pending(&p->stop_pending, true);
		else
			proc_request_stop(p);
	}
	for (size_t i = 0; i < n; i++)
		procs[i]->depend_named = false;
	depend_schedule();
	*count = c.n;
	return c.procs;
}

static bool proc_is_up(const struct proc *p)
{
	return proc_is_active(p) || p->state == STATE_WAITING;
}

void depend_retire(struct proc *p, bool resume)
{
	struct proc **up = malloc((p->ndependents + 1) * sizeof(*up));
	size_t nup = 0;
	struct closure c;

	if (!up)
		abort();
	for (size_t i = 0; i < p->ndependents; i++)
		if (proc_is_up(p->dependents[i]))
			up[nup++] = p->dependents[i];
	c = closure_of(up, nup);
	free(up);

	for (size_t i = 0; i < c.n; i++) {
		struct proc *d = c.procs[i];
		set_pending(&d->restart_pending, false);
		if (resume)
			set_pending(&d->resume_pending, true);
		if (depend_has_active_dependent(d))
			set_pending(&d->stop_pending, true);
		else
			proc_request_stop(d);
	}
	free(c.procs);
	depend_stop_after_dependents(p);
}

bool depend_stop_after_dependents(struct proc *p)
{
	if (!depend_has_active_dependent(p)) {
		proc_request_stop(p);
		return false;
	}
	set_pending(&p->stop_pending, true);
	depend_schedule();
	return true;
}

void depend_init(size_t (*retiring)(struct proc ***procs))
{
	retiring_procs = retiring;
	if (!pass_event)
		pass_event = event_new(vigil.base, -1, 0, depend_pass, NULL);
	if (!pass_event)
		abort();
}

void depend_free(void)
{
	if (pass_event)
		event_free(pass_event);
	pass_event = NULL;
	npending = 0;
}
