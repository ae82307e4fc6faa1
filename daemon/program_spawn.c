#define _GNU_SOURCE
#include "program_spawn.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "guard.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "program.h"
#include "spawn.h"
#include "spawn_env.h"
#include "vigild.h"

#define MAX_GROUPS 256

/* A spawn_request and the memory it points to. */
struct program_spawn_plan {
	struct spawn_request req;
	char **argv;
	char **envp;
	gid_t groups[MAX_GROUPS];
};

static char *notify_path;

void program_spawn_set_notify_path(const char *path)
{
	free(notify_path);
	notify_path = path ? strdup(path) : NULL;
	if (path && !notify_path)
		abort();
}

/* Resolves user and supplementary groups now, not at config load: the
 * account may have changed since. */
static int plan_credentials(struct program_spawn_plan *plan, const struct program_config *pc, char *err,
			    size_t errlen)
{
	struct spawn_request *req = &plan->req;
	struct passwd *pw;
	struct group *gr;
	int ngroups = MAX_GROUPS;

	if (!pc->user && !pc->group)
		return 0;
	req->set_ids = true;
	req->uid = geteuid();
	req->gid = getegid();
	if (pc->user) {
		if (!(pw = getpwnam(pc->user)))
			return snprintf(err, errlen, "user \"%s\" does not exist", pc->user), -1;
		req->uid = pw->pw_uid;
		req->gid = pw->pw_gid;
	}
	if (pc->group) {
		if (!(gr = getgrnam(pc->group)))
			return snprintf(err, errlen, "group \"%s\" does not exist", pc->group), -1;
		req->gid = gr->gr_gid;
	}
	if (pc->user) {
		if (getgrouplist(pc->user, req->gid, plan->groups, &ngroups) < 0)
			ngroups = MAX_GROUPS; /* truncated list: keep the first ones */
	} else {
		plan->groups[0] = req->gid;
		ngroups = 1;
	}
	req->groups = plan->groups;
	req->ngroups = (size_t)ngroups;
	return 0;
}

static void plan_free(struct program_spawn_plan *plan)
{
	argv_free(plan->argv);
	argv_free(plan->envp);
	if (plan->req.cgroup_fd >= 0)
		close(plan->req.cgroup_fd);
}

/* Descriptors of output_prepare (-1: keep vigild's, -2: /dev/null). */
static int plan_output_fd(int fd)
{
	return fd == -2 ? vigil.devnull : fd;
}

/* What every process run for p starts with, its program's and its
 * health checks' alike: credentials, directory, umask, limits. */
static int plan_common(struct program_spawn_plan *plan, struct proc *p, int death_signal, char *err, size_t errlen)
{
	const struct program_config *pc = p->cfg;
	struct spawn_request *req = &plan->req;

	memset(plan, 0, sizeof(*plan));
	req->cgroup_fd = -1;
	req->parent = getpid();
	req->death_signal = death_signal;
	req->umask = pc->umask;
	req->directory = pc->directory;
	req->nofile = vigil.nofile.rlim_max ? &vigil.nofile : NULL;
	return plan_credentials(plan, pc, err, errlen);
}

static int plan_spawn(struct program_spawn_plan *plan, struct proc *p, char *err, size_t errlen)
{
	const struct program_config *pc = p->cfg;
	struct spawn_request *req = &plan->req;

	if (plan_common(plan, p, pc->daemon ? SIGKILL : pc->stop_signal, err, errlen) < 0)
		return -1;
	if (argv_split(p->argv_text, &plan->argv, err, errlen) < 0)
		return -1;
	req->argv = plan->argv;
	plan->envp = spawn_env_build(&(struct spawn_env_for){ .cfg = p->cfg, .name = p->name, .instance = p->instance,
						     .watchdog_usec = p->hb.timeout, .notify_path = notify_path },
				     &req->pid_slot, err, errlen);
	if (!plan->envp)
		return -1;
	req->envp = plan->envp;
	if (output_prepare(&p->output, err, errlen) < 0)
		return -1;
	req->fd[0] = vigil.devnull;
	req->fd[1] = plan_output_fd(p->output.child_fd[OUTPUT_STDOUT_STREAM]);
	req->fd[2] = plan_output_fd(p->output.child_fd[OUTPUT_STDERR_STREAM]);
	req->stderr_to_stdout = pc->stderr_spec.kind == OUTPUT_STDOUT;
	req->cgroup_fd = cgroup_open_dir(p->name, &req->cgroup_fresh, err, errlen);
	if (req->cgroup_fd < 0 && *err) {
		/* run it anyway: process-group cleanup still applies */
		log_warn("%s: %s; it runs outside its cgroup", p->name, err);
		err[0] = '\0';
	}
	return 0;
}

static void describe_failure(const struct spawn_failure *f, const struct program_spawn_plan *plan, char *err,
			     size_t errlen)
{
	if (f->step == SPAWN_STEP_EXEC)
		snprintf(err, errlen, "exec %s: %s", plan->req.argv[0], strerror(f->err));
	else if (f->step == SPAWN_STEP_CHDIR)
		snprintf(err, errlen, "chdir %s: %s", plan->req.directory, strerror(f->err));
	else
		snprintf(err, errlen, "%s: %s", spawn_step_name(f->step), strerror(f->err));
}

pid_t program_spawn(struct proc *p, char *err, size_t errlen, int *errnum)
{
	struct program_spawn_plan plan;
	struct spawn_failure failure;
	pid_t pid;

	err[0] = '\0';
	*errnum = 0;
	errno = 0;
	if (plan_spawn(&plan, p, err, errlen) < 0) {
		*errnum = errno; /* 0 for a bad command line or an unknown user */
		output_after_fork(&p->output, -1);
		plan_free(&plan);
		return -1;
	}
	pid = spawn_run(&plan.req, &failure);
	if (pid > 0) {
		guard_track_group(pid); /* its pgid: the child called setsid() */
	} else {
		*errnum = failure.err;
		describe_failure(&failure, &plan, err, errlen);
	}
	output_after_fork(&p->output, pid > 0 ? pid : -1);
	plan_free(&plan);
	return pid;
}

/* No output pipes or notify socket of the program's: the probe is
 * vigild's, not part of the program (its own session, so it can be
 * killed as a group; SIGKILLed should vigild die). It runs in the
 * program's cgroup, as a probe inside a container does: what it forks
 * dies with the program's stop, and with vigild through the guard. */
static int plan_probe(struct program_spawn_plan *plan, struct proc *p, char *const *argv, int out_fd, char *err,
		      size_t errlen)
{
	struct spawn_request *req = &plan->req;

	if (plan_common(plan, p, SIGKILL, err, errlen) < 0)
		return -1;
	req->argv = argv;
	plan->envp = spawn_env_build(&(struct spawn_env_for){ .cfg = p->cfg, .name = p->name, .instance = p->instance },
				     &req->pid_slot, err, errlen);
	if (!plan->envp)
		return -1;
	req->envp = plan->envp;
	req->fd[0] = vigil.devnull;
	req->fd[1] = out_fd;
	req->fd[2] = out_fd;
	req->cgroup_fd = cgroup_open_dir(p->name, &req->cgroup_fresh, err, errlen);
	if (req->cgroup_fd < 0 && *err) {
		log_debug("%s: health check: %s; it runs outside the cgroup", p->name, err);
		err[0] = '\0';
	}
	return 0;
}

pid_t program_spawn_probe(struct proc *p, char *const *argv, int out_fd, char *err, size_t errlen)
{
	struct program_spawn_plan plan;
	struct spawn_failure failure;
	pid_t pid = -1;
	int errnum = 0;

	err[0] = '\0';
	errno = 0;
	if (plan_probe(&plan, p, argv, out_fd, err, errlen) < 0) {
		errnum = errno; /* 0 for an unknown user */
	} else if ((pid = spawn_run(&plan.req, &failure)) <= 0) {
		describe_failure(&failure, &plan, err, errlen);
		errnum = failure.err;
	}
	plan_free(&plan);
	errno = errnum;
	return pid;
}

/* A hook (on_failure, on_fatal) is vigild's own: its user, directory and
 * umask, no cgroup of the program's (it outlives the program's stop), in
 * a session of its own so its time limit kills it as a group. */
pid_t program_spawn_hook(char *const *argv, char *const *envp, int out_fd, char *err, size_t errlen)
{
	struct program_spawn_plan plan;
	struct spawn_failure failure;
	pid_t pid;

	memset(&plan, 0, sizeof(plan));
	err[0] = '\0';
	plan.req.argv = argv;
	plan.req.envp = envp;
	plan.req.cgroup_fd = -1;
	plan.req.parent = getpid();
	plan.req.death_signal = SIGKILL;
	plan.req.umask = -1;
	plan.req.nofile = vigil.nofile.rlim_max ? &vigil.nofile : NULL;
	plan.req.fd[0] = vigil.devnull;
	plan.req.fd[1] = out_fd;
	plan.req.fd[2] = out_fd;
	if ((pid = spawn_run(&plan.req, &failure)) <= 0)
		describe_failure(&failure, &plan, err, errlen);
	return pid;
}
