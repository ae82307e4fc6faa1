/* The child side runs between fork and exec, so it only makes system
 * calls: everything that allocates or looks up users is prepared in the
 * parent first (struct spawn_plan). A failure in the child is reported
 * through the exec-failure pipe: EOF means exec succeeded. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "cgroup.h"
#include "guard.h"
#include "log.h"
#include "output.h"
#include "program.h"
#include "spawn_env.h"
#include "vigild.h"

#define MAX_GROUPS 256

enum spawn_step { STEP_CHDIR = 1, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_EXEC, STEP_FDS, STEP_CGROUP };

struct spawn_failure {
	int step;
	int err;
};

struct spawn_plan {
	char **argv;
	char **envp;
	int out_fd[2];	/* what becomes fd 1 and 2: -1 keep vigild's, -2 /dev/null */
	bool stderr_to_stdout;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
	pid_t parent;
	int death_signal;
	int cgroup_fd; /* its cgroup's directory, -1 without */
	bool cgroup_fresh; /* made for this spawn: clone3 may put the child in */
	bool in_cgroup;	   /* clone3 put the child there already */
};

static const char *spawn_step_name(int step)
{
	switch (step) {
	case STEP_CHDIR: return "chdir";
	case STEP_SETGROUPS: return "setgroups";
	case STEP_SETGID: return "setgid";
	case STEP_SETUID: return "setuid";
	case STEP_EXEC: return "exec";
	case STEP_FDS: return "set up stdio";
	case STEP_CGROUP: return "join its cgroup";
	}
	return "?";
}

/* Resolves user and supplementary groups now, not at config load: the
 * account may have changed since. */
static int plan_credentials(struct spawn_plan *plan, const struct program_config *pc, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	if (!pc->user && !pc->group)
		return 0;
	plan->set_ids = true;
	plan->uid = geteuid();
	plan->gid = getegid();
	plan->ngroups = 0;
	if (pc->user) {
		if (!(pw = getpwnam(pc->user)))
			return snprintf(err, errlen, "user \"%s\" does not exist", pc->user), -1;
		plan->uid = pw->pw_uid;
		plan->gid = pw->pw_gid;
	}
	if (pc->group) {
		if (!(gr = getgrnam(pc->group)))
			return snprintf(err, errlen, "group \"%s\" does not exist", pc->group), -1;
		plan->gid = gr->gr_gid;
	}
	plan->ngroups = MAX_GROUPS;
	if (pc->user) {
		if (getgrouplist(pc->user, plan->gid, plan->groups, &plan->ngroups) < 0)
			plan->ngroups = MAX_GROUPS; /* truncated list: keep the first ones */
	} else {
		plan->groups[0] = plan->gid;
		plan->ngroups = 1;
	}
	return 0;
}

static void plan_free(struct spawn_plan *plan)
{
	argv_free(plan->argv);
	argv_free(plan->envp);
	if (plan->cgroup_fd >= 0)
		close(plan->cgroup_fd);
}

static int plan_spawn(struct spawn_plan *plan, struct proc *p, char *err, size_t errlen)
{
	const struct program_config *pc = p->cfg;

	memset(plan, 0, sizeof(*plan));
	plan->cgroup_fd = -1;
	plan->parent = getpid();
	plan->death_signal = pc->daemon ? SIGKILL : pc->stop_signal;
	if (argv_split(p->argv_text, &plan->argv, err, errlen) < 0)
		return -1;
	if (plan_credentials(plan, pc, err, errlen) < 0)
		return -1;
	plan->envp = spawn_env_build(p, err, errlen);
	if (!plan->envp)
		return -1;
	if (output_prepare(&p->output, err, errlen) < 0)
		return -1;
	plan->out_fd[0] = p->output.child_fd[OUTPUT_STDOUT_STREAM];
	plan->out_fd[1] = p->output.child_fd[OUTPUT_STDERR_STREAM];
	plan->stderr_to_stdout = pc->stderr_spec.kind == OUTPUT_STDOUT;
	plan->cgroup_fd = cgroup_open_dir(p->name, &plan->cgroup_fresh, err, errlen);
	if (plan->cgroup_fd < 0 && *err) {
		/* run it anyway: process-group cleanup still applies */
		log_warn("%s: %s; it runs outside its cgroup", p->name, err);
		err[0] = '\0';
	}
	return 0;
}

static void child_fail(int pipe_fd, int step)
{
	struct spawn_failure f = { step, errno };
	ssize_t n = write(pipe_fd, &f, sizeof(f));

	(void)n;
	_exit(127);
}

/* Signals whose disposition in vigild is not the default: its own
 * handlers and whatever its parent left ignored. Found once, so a child
 * resets only these (a restart is a few dozen system calls faster). */
static int nondefault_signals[NSIG];
static int n_nondefault_signals = -1;

static void find_nondefault_signals(void)
{
	struct sigaction sa;

	n_nondefault_signals = 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			nondefault_signals[n_nondefault_signals++] = sig;
}

/* Writes the child's own pid into the reserved WATCHDOG_PID= slot,
 * without allocating. */
static void child_fill_watchdog_pid(char **envp)
{
	size_t prefix = sizeof(SPAWN_WATCHDOG_PID) - 1;
	char digits[20];
	int n = 0;

	for (; *envp; envp++) {
		if (strncmp(*envp, SPAWN_WATCHDOG_PID, prefix) != 0)
			continue;
		for (unsigned long v = (unsigned long)getpid(); v || !n; v /= 10)
			digits[n++] = (char)('0' + v % 10);
		for (int i = 0; i < n; i++)
			(*envp)[prefix + i] = digits[n - 1 - i];
		(*envp)[prefix + n] = '\0';
		return;
	}
}

/* Runs in the child: nothing here may allocate or take a lock. */
static void child_exec(const struct spawn_plan *plan, const struct program_config *pc, int pipe_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t empty;

	/* Without clone3: join the cgroup first, with every signal still
	 * blocked, so nothing the child does (or forks) runs outside it; and
	 * before setuid takes the right to write there away. */
	if (plan->cgroup_fd >= 0 && !plan->in_cgroup) {
		int procs = openat(plan->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (procs < 0 || write(procs, "0", 1) < 0)
			child_fail(pipe_fd, STEP_CGROUP);
	}
	/* Default dispositions first, then unblock: a signal pending from
	 * vigild's time must not run vigild's handler here. */
	for (int i = 0; i < n_nondefault_signals; i++)
		sigaction(nondefault_signals[i], &dfl, NULL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	setsid();
	child_fill_watchdog_pid(plan->envp);

	if (dup2(vigil.devnull, 0) < 0)
		child_fail(pipe_fd, STEP_FDS);
	for (int i = 0; i < 2; i++)
		if (plan->out_fd[i] != -1 && dup2(plan->out_fd[i] == -2 ? vigil.devnull : plan->out_fd[i], i + 1) < 0)
			child_fail(pipe_fd, STEP_FDS);
	if (plan->stderr_to_stdout && dup2(1, 2) < 0)
		child_fail(pipe_fd, STEP_FDS);
	if (pc->umask >= 0)
		umask((mode_t)pc->umask);
	if (vigil.nofile.rlim_max)
		setrlimit(RLIMIT_NOFILE, &vigil.nofile);
	/* Raw system calls: glibc's wrappers would try to change the
	 * credentials of vigild's other threads too (its closer threads),
	 * which a child made by clone3 believes it still has. */
	if (plan->set_ids) {
		if (syscall(SYS_setgroups, (size_t)plan->ngroups, plan->groups) < 0)
			child_fail(pipe_fd, STEP_SETGROUPS);
		if (syscall(SYS_setgid, plan->gid) < 0)
			child_fail(pipe_fd, STEP_SETGID);
		if (syscall(SYS_setuid, plan->uid) < 0)
			child_fail(pipe_fd, STEP_SETUID);
	}
	if (pc->directory && chdir(pc->directory) < 0)
		child_fail(pipe_fd, STEP_CHDIR);
	/* After the credential change, which clears it. If vigild died
	 * before this line, the signal will never come: act on it now. */
	prctl(PR_SET_PDEATHSIG, plan->death_signal);
	if (getppid() != plan->parent)
		kill(getpid(), plan->death_signal); /* not raise(): its cached tid is vigild's */
	/* Whatever vigild's own parent left open without O_CLOEXEC must not
	 * reach the program either. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execvpe(plan->argv[0], plan->argv, plan->envp);
	child_fail(pipe_fd, STEP_EXEC);
}

/* clone3's arguments (linux/sched.h has them too, but clashes with
 * glibc's sched.h). */
struct spawn_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
		cgroup;
};
#define SPAWN_CLONE_INTO_CGROUP 0x200000000ULL

/* fork(), straight into the process's cgroup where the kernel can
 * (clone3 with CLONE_INTO_CGROUP, Linux 5.7): moving a process after the
 * fork takes the kernel 5-15 ms (a write to cgroup.procs waits for an RCU
 * grace period) while vigild waits for the exec. */
static pid_t spawn_fork(struct spawn_plan *plan)
{
	static bool clone3_works = true;
	struct spawn_clone_args args = { .flags = SPAWN_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	long pid;

	plan->in_cgroup = false;
	if (plan->cgroup_fd >= 0 && plan->cgroup_fresh && clone3_works) {
		args.cgroup = (uint64_t)plan->cgroup_fd;
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0) {
			plan->in_cgroup = true;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL && errno != EOPNOTSUPP)
			return -1; /* EAGAIN, ENOMEM: as fork would fail */
		clone3_works = false; /* an older kernel: move the child after the fork */
	}
	return fork();
}

/* Reads the child's verdict: EOF means it exec'd. */
static int await_exec(pid_t pid, int pipe_fd, const struct spawn_plan *plan, const struct proc *p,
		      char *err, size_t errlen, int *errnum)
{
	struct spawn_failure f;
	ssize_t n;

	do
		n = read(pipe_fd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(f))
		return 0;
	/* Reap it here so the reaper never sees a pid nobody owns. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	*errnum = f.err;
	if (f.step == STEP_EXEC)
		snprintf(err, errlen, "exec %s: %s", plan->argv[0], strerror(f.err));
	else if (f.step == STEP_CHDIR)
		snprintf(err, errlen, "chdir %s: %s", p->cfg->directory, strerror(f.err));
	else
		snprintf(err, errlen, "%s: %s", spawn_step_name(f.step), strerror(f.err));
	return -1;
}

pid_t spawn_process(struct proc *p, char *err, size_t errlen, int *errnum)
{
	struct spawn_plan plan;
	sigset_t all, old;
	int pipefd[2];
	pid_t pid;
	int rc;

	err[0] = '\0';
	*errnum = 0;
	errno = 0;
	if (plan_spawn(&plan, p, err, errlen) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		*errnum = errno; /* 0 for a bad command line or an unknown user */
		if (!*err)
			snprintf(err, errlen, "pipe: %s", strerror(errno));
		output_after_fork(&p->output, -1);
		plan_free(&plan);
		return -1;
	}
	if (n_nondefault_signals < 0)
		find_nondefault_signals(); /* after main() set up its handlers */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_fork(&plan);
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(&plan, p->cfg, pipefd[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pipefd[1]);
	if (pid < 0) {
		*errnum = errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		rc = -1;
	} else {
		guard_track_group(pid); /* its pgid: the child calls setsid() */
		rc = await_exec(pid, pipefd[0], &plan, p, err, errlen, errnum);
		if (rc < 0)
			guard_forget_group(pid);
	}
	output_after_fork(&p->output, rc < 0 ? -1 : pid);
	close(pipefd[0]);
	plan_free(&plan);
	return rc < 0 ? (pid > 0 ? SPAWN_CHILD_FAILED : -1) : pid;
}
