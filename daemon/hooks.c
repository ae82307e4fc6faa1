/* on_failure / on_fatal runner: see hooks.h. One slot per program name,
 * kept once made (there are as many as programs ever configured); the
 * slot remembers the running hook, its pipe and its time limit, and the
 * on_fatal waiting for it. */
#define _GNU_SOURCE
#include "hooks.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "namemap.h"
#include "parse.h"
#include "pidmap.h"
#include "program.h"
#include "program_spawn.h"
#include "spawn_env.h"
#include "vigild.h"

/* a line of a hook's output is logged cut at this many bytes */
#define HOOK_LINE_MAX 1024
/* bytes read per wakeup, so a chatty hook cannot hold the loop */
#define HOOK_READ_MAX (64 * 1024)

/* A hook ready to run: what to run and its environment. */
struct hook_job {
	const char *what; /* "on_failure" or "on_fatal" */
	char **argv, **envp;
};

struct hook_slot {
	char *program;
	pid_t pid; /* the running hook; 0: none */
	const char *what;
	int pipe_fd;
	struct event *pipe_event, *limit;
	char line[HOOK_LINE_MAX];
	size_t line_len;
	unsigned long skipped, skipped_total;
	bool killed;		 /* by the time limit */
	struct hook_job pending; /* an on_fatal waiting; argv NULL: none */
};

static struct hooks_actions actions;
static struct namemap slots;	  /* program name -> slot */
static struct hook_slot **all_slots; /* for hooks_free */
static size_t nslots, slots_cap;
static struct pidmap running; /* pid -> slot */
static size_t nrunning;

void hooks_set_actions(const struct hooks_actions *set)
{
	actions = *set;
}

static int64_t hooks_limit(void)
{
	return actions.limit_usec > 0 ? actions.limit_usec : HOOKS_LIMIT_USEC;
}

static struct hook_slot *slot_for(const char *program)
{
	struct hook_slot *s = namemap_get(&slots, program);

	if (s)
		return s;
	if (!(s = calloc(1, sizeof(*s))) || !(s->program = strdup(program)))
		abort();
	s->pipe_fd = -1;
	all_slots = grow_array(all_slots, nslots, &slots_cap, sizeof(*all_slots));
	all_slots[nslots++] = s;
	namemap_put(&slots, s->program, s);
	return s;
}

static void job_free(struct hook_job *job)
{
	argv_free(job->argv);
	argv_free(job->envp);
	job->argv = job->envp = NULL;
}

/* The hook's environment: vigild's (without what belongs to vigild's own
 * supervisor) and the VIGIL_* variables. spawn_env_build makes the
 * first part for every child; its program `environment` is replaced by
 * the hook's variables, since a hook does not run as the program. */
static char **hook_env(const struct proc *p, const char *event, const char *cause, char *err, size_t errlen)
{
	const struct last_exit *le = &p->last_exit;
	struct program_config as_hook = *p->cfg;
	char code[16] = "", sig[16] = "", buf[16], *vars[9] = { NULL }, **envp, *pid_slot;
	int n = 0;

	if (le->set && le->code >= 0)
		snprintf(code, sizeof(code), "%d", le->code);
	if (le->set && le->signo)
		snprintf(sig, sizeof(sig), "%s", signal_name(le->signo, buf, sizeof(buf)));
	if (!cause)
		cause = le->set ? exit_cause_name(le->cause) : "";
	if (asprintf(&vars[n++], "VIGIL_NAME=%s", p->name) < 0 ||
	    asprintf(&vars[n++], "VIGIL_PROGRAM=%s", p->cfg->name) < 0 ||
	    asprintf(&vars[n++], "VIGIL_EVENT=%s", event) < 0 ||
	    asprintf(&vars[n++], "VIGIL_STATE=%s", state_name(p->state)) < 0 ||
	    asprintf(&vars[n++], "VIGIL_CAUSE=%s", cause) < 0 || asprintf(&vars[n++], "VIGIL_EXIT_CODE=%s", code) < 0 ||
	    asprintf(&vars[n++], "VIGIL_EXIT_SIGNAL=%s", sig) < 0 ||
	    asprintf(&vars[n++], "VIGIL_RESTARTS=%u", p->restarts) < 0)
		abort();
	as_hook.environment = vars;
	envp = spawn_env_build(&(struct spawn_env_for){ .cfg = &as_hook, .name = p->name, .instance = p->instance },
			       &pid_slot, err, errlen);
	for (int i = 0; i < n; i++)
		free(vars[i]);
	return envp;
}

static void slot_end_line(struct hook_slot *s)
{
	size_t n = s->line_len;

	while (n > 0 && (s->line[n - 1] == '\r' || s->line[n - 1] == ' ' || s->line[n - 1] == '\t'))
		n--;
	if (n > 0)
		log_info("%s: %s: %.*s", s->program, s->what, (int)n, s->line);
	s->line_len = 0;
}

/* Reads what is there (at most HOOK_READ_MAX); true at EOF or error. */
static bool slot_read(struct hook_slot *s)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < HOOK_READ_MAX) {
		n = read(s->pipe_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n <= 0)
			return true;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				slot_end_line(s);
			else if (s->line_len < HOOK_LINE_MAX)
				s->line[s->line_len++] = buf[i];
		}
		total += (size_t)n;
	}
	return false;
}

static void slot_close_pipe(struct hook_slot *s)
{
	slot_end_line(s);
	if (s->pipe_event)
		event_free(s->pipe_event);
	s->pipe_event = NULL;
	if (s->pipe_fd >= 0)
		close(s->pipe_fd);
	s->pipe_fd = -1;
}

static void slot_on_output(evutil_socket_t fd, short what, void *arg)
{
	struct hook_slot *s = arg;

	(void)fd;
	(void)what;
	if (slot_read(s))
		slot_close_pipe(s);
}

static void slot_on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct hook_slot *s = arg;

	(void)fd;
	(void)what;
	log_warn("%s: %s still running after %.1fs: killing it (SIGKILL to its process group)", s->program, s->what,
		 (double)hooks_limit() / 1e6);
	s->killed = true;
	kill(-s->pid, SIGKILL);
}

static pid_t hooks_spawn(char *const *argv, char *const *envp, int out_fd, char *err, size_t errlen)
{
	return actions.spawn ? actions.spawn(argv, envp, out_fd, err, errlen)
			     : program_spawn_hook(argv, envp, out_fd, err, errlen);
}

/* Starts job in the idle slot s; the job's memory is used up either way. */
static void slot_start(struct hook_slot *s, struct hook_job *job)
{
	int64_t limit = hooks_limit();
	struct timeval tv = { (time_t)(limit / 1000000), (suseconds_t)(limit % 1000000) };
	char err[512] = "";
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_err("%s: cannot run %s: pipe: %s", s->program, job->what, strerror(errno));
		job_free(job);
		return;
	}
	pid = hooks_spawn(job->argv, job->envp, fds[1], err, sizeof(err));
	close(fds[1]); /* the hook's: EOF once it (and what it started) is gone */
	if (pid <= 0) {
		log_err("%s: cannot run %s: %s", s->program, job->what, err[0] ? err : "spawn failed");
		close(fds[0]);
		job_free(job);
		return;
	}
	log_info("%s: %s started (pid %d)", s->program, job->what, (int)pid);
	s->what = job->what;
	job_free(job);
	s->pid = pid;
	s->killed = false;
	s->skipped = 0;
	s->pipe_fd = fds[0];
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0)
		log_debug("%s: %s: cannot make its pipe non-blocking: %s", s->program, s->what, strerror(errno));
	s->pipe_event = event_new(vigil.base, fds[0], EV_READ | EV_PERSIST, slot_on_output, s);
	if (!s->limit)
		s->limit = evtimer_new(vigil.base, slot_on_limit, s);
	if (!s->pipe_event || !s->limit || event_add(s->pipe_event, NULL) < 0 || evtimer_add(s->limit, &tv) < 0)
		abort();
	pidmap_put(&running, pid, s);
	nrunning++;
}

/* The job for p's hook command, or argv NULL after logging why not. */
static struct hook_job hook_job_new(const struct proc *p, const char *what, const char *command, const char *event,
				    const char *cause)
{
	struct hook_job job = { .what = what };
	char err[512];
	char *text = expand_program_vars(command, p->cfg->name, p->instance, err, sizeof(err));

	if (!text || argv_split(text, &job.argv, err, sizeof(err)) < 0 ||
	    !(job.envp = hook_env(p, event, cause, err, sizeof(err)))) {
		log_err("%s: cannot run %s: %s", p->name, what, err);
		job_free(&job);
	}
	free(text);
	return job;
}

void hooks_failure(const struct proc *p, const char *cause)
{
	struct hook_slot *s;
	struct hook_job job;

	if (!p->cfg->on_failure)
		return;
	s = slot_for(p->cfg->name);
	if (s->pid || s->pending.argv) {
		s->skipped++;
		s->skipped_total++;
		log_notice("%s: on_failure of %s skipped: %s still runs (%lu skipped while it runs)", p->cfg->name,
			   p->name, s->pid ? s->what : "on_fatal", s->skipped);
		return;
	}
	job = hook_job_new(p, "on_failure", p->cfg->on_failure, "failure", cause);
	if (job.argv)
		slot_start(s, &job);
}

void hooks_fatal(const struct proc *p)
{
	struct hook_slot *s;
	struct hook_job job;

	if (!p->cfg->on_fatal)
		return;
	s = slot_for(p->cfg->name);
	job = hook_job_new(p, "on_fatal", p->cfg->on_fatal, "fatal", NULL);
	if (!job.argv)
		return;
	if (!s->pid) {
		slot_start(s, &job);
		return;
	}
	if (s->pending.argv) { /* another instance gave up too: one alert is enough */
		s->skipped++;
		s->skipped_total++;
		log_notice("%s: on_fatal of %s skipped: one is already waiting", p->cfg->name, p->name);
		job_free(&job);
		return;
	}
	log_info("%s: on_fatal waits for %s (pid %d) to end", p->cfg->name, s->what, (int)s->pid);
	s->pending = job;
}

bool hooks_child_exited(pid_t pid, int wait_status)
{
	struct hook_slot *s = pidmap_get(&running, pid);
	char buf[16];

	if (!s)
		return false;
	pidmap_remove(&running, pid, s);
	nrunning--;
	/* what it left in its group dies with it, and lets go of the pipe;
	 * what it wrote before it ended is in the pipe already */
	kill(-pid, SIGKILL);
	evtimer_del(s->limit);
	if (s->pipe_fd >= 0) {
		slot_read(s);
		slot_close_pipe(s);
	}
	if (s->killed)
		log_warn("%s: %s (pid %d) killed after its time limit", s->program, s->what, (int)pid);
	else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
		log_info("%s: %s (pid %d) done", s->program, s->what, (int)pid);
	else if (WIFEXITED(wait_status))
		log_warn("%s: %s (pid %d) failed with exit code %d", s->program, s->what, (int)pid,
			 WEXITSTATUS(wait_status));
	else
		log_warn("%s: %s (pid %d) killed by signal %s", s->program, s->what, (int)pid,
			 signal_name(WTERMSIG(wait_status), buf, sizeof(buf)));
	if (s->skipped)
		log_notice("%s: %lu hook%s skipped while %s ran", s->program, s->skipped, s->skipped == 1 ? "" : "s",
			   s->what);
	s->pid = 0;
	s->skipped = 0;
	if (s->pending.argv) {
		struct hook_job job = s->pending;
		s->pending = (struct hook_job){ 0 };
		slot_start(s, &job);
	}
	if (nrunning == 0 && actions.idle)
		actions.idle();
	return true;
}

size_t hooks_running(void)
{
	return nrunning;
}

unsigned long hooks_skipped(const char *program)
{
	struct hook_slot *s = namemap_get(&slots, program);

	return s ? s->skipped_total : 0;
}

void hooks_free(void)
{
	for (size_t i = 0; i < nslots; i++) {
		struct hook_slot *s = all_slots[i];
		if (s->pid)
			kill(-s->pid, SIGKILL);
		slot_close_pipe(s);
		if (s->limit)
			event_free(s->limit);
		job_free(&s->pending);
		free(s->program);
		free(s);
	}
	free(all_slots);
	all_slots = NULL;
	nslots = slots_cap = 0;
	nrunning = 0;
	namemap_free(&slots);
	pidmap_free(&running);
}
