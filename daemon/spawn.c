/* The parent prepares (the files to try for exec, the signals to
 * reset), blocks every signal and clones; the child, sharing vigild's
 * memory and running on spawn_stack, changes itself step by step and
 * execs. vigild's thread is suspended meanwhile (CLONE_VFORK): when the
 * clone returns, the child has exec'd, or has written the step that
 * failed into *child_failure and exited with code 127. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

/* The child's steps need little: no argument is copied on this stack. */
#define SPAWN_STACK_SIZE (64 * 1024)
/* execvp's fallback: a file the kernel cannot exec (ENOEXEC) is a
 * script without #!, run by the shell. */
#define SPAWN_SCRIPT_SHELL "/bin/sh"
/* execvp's search path when the environment has no PATH. */
#define SPAWN_DEFAULT_PATH "/bin:/usr/bin"

/* The child runs on vigild's memory and a stack ASan does not know:
 * none of its code may be instrumented (a sanitizer would check or
 * poison shadow memory as if it were vigild's thread). */
#define SPAWN_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

/* Everything the child needs besides the request, made by the parent. */
struct spawn_child {
	const struct spawn_request *req;
	char **exec_files;  /* the files to try in turn, NULL-terminated */
	char **script_argv; /* SPAWN_SCRIPT_SHELL, the file, argv[1]...: [1] set by the child */
	bool in_cgroup;	    /* clone3 put it in req->cgroup_fd already */
};

/* What the child reports, read by the parent after the clone. In a
 * MAP_SHARED page so that the fallback without CLONE_VM, whose child has
 * a copy of vigild's memory, reports through it too. */
static struct spawn_failure *child_failure;
static char *spawn_stack; /* SPAWN_STACK_SIZE, above a PROT_NONE guard page */
static bool clone3_works = true;

/* Signals whose disposition in vigild is not the default: its own
 * handlers and whatever its parent left ignored (every handler exists
 * before the first spawn). Found once, so a child resets only these. */
static int nondefault_signals[NSIG];
static int n_nondefault_signals;
static const struct sigaction default_action = { .sa_handler = SIG_DFL };
static sigset_t empty_mask;

const char *spawn_step_name(enum spawn_step step)
{
	switch (step) {
	case SPAWN_STEP_NONE: return "none";
	case SPAWN_STEP_FORK: return "fork";
	case SPAWN_STEP_CGROUP: return "join its cgroup";
	case SPAWN_STEP_FDS: return "set up stdio";
	case SPAWN_STEP_SETGROUPS: return "setgroups";
	case SPAWN_STEP_SETGID: return "setgid";
	case SPAWN_STEP_SETUID: return "setuid";
	case SPAWN_STEP_CHDIR: return "chdir";
	case SPAWN_STEP_EXEC: return "exec";
	}
	return "?";
}

/* ---------------------------------------------------------------- child
 *
 * From here to the parent's part, code runs in the child: system calls
 * only, no allocation, no lock, no stdio, no libc string function. errno
 * is the suspended parent thread's (same TLS); the parent ignores it. */

SPAWN_CHILD_CODE __attribute__((noreturn)) static void child_fail(enum spawn_step step, int err)
{
	child_failure->step = step;
	child_failure->err = err;
	syscall(SYS_exit_group, 127); /* not _exit(): a sanitizer intercepts it */
	__builtin_unreachable();
}

/* Without clone3: join the cgroup first, with every signal still
 * blocked, so nothing the child does (or forks) runs outside it; and
 * before setuid takes the right to write there away. */
SPAWN_CHILD_CODE static void child_join_cgroup(int cgroup_fd)
{
	long procs = syscall(SYS_openat, cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (procs < 0 || syscall(SYS_write, (int)procs, "0", 1) < 0)
		child_fail(SPAWN_STEP_CGROUP, errno);
}

/* Default dispositions first, then unblock: a signal pending from
 * vigild's time must not run vigild's handler here, on vigild's memory. */
SPAWN_CHILD_CODE static void child_reset_signals(void)
{
	for (int i = 0; i < n_nondefault_signals; i++)
		sigaction(nondefault_signals[i], &default_action, NULL);
	sigprocmask(SIG_SETMASK, &empty_mask, NULL);
}

/* Writes the pid in decimal where the caller reserved room for it. */
SPAWN_CHILD_CODE static void child_write_pid(char *slot, unsigned long pid)
{
	char digits[20];
	int n = 0;

	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) != 0);
	for (int i = 0; i < n; i++)
		slot[i] = digits[n - 1 - i];
	slot[n] = '\0';
}

/* fds 0-2 from req->fd. A source below 3 (vigild was started with 0-2
 * closed) could be overwritten by an earlier dup2: it moves up first. A
 * source already in place only loses its close-on-exec flag. */
SPAWN_CHILD_CODE static void child_set_fds(const struct spawn_request *req)
{
	int fd[3] = { req->fd[0], req->fd[1], req->stderr_to_stdout ? -1 : req->fd[2] };

	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0 && fd[i] < 3 && fd[i] != i && (fd[i] = fcntl(fd[i], F_DUPFD_CLOEXEC, 3)) < 0)
			child_fail(SPAWN_STEP_FDS, errno);
	for (int i = 0; i < 3; i++) {
		if (fd[i] < 0)
			continue;
		if (fd[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(fd[i], i) < 0)
			child_fail(SPAWN_STEP_FDS, errno);
	}
	if (req->stderr_to_stdout && dup2(1, 2) < 0)
		child_fail(SPAWN_STEP_FDS, errno);
}

/* Raw system calls: glibc's wrappers would make every other thread of
 * vigild change its credentials too (its closer threads), which this
 * child, sharing vigild's memory, believes it still has. */
SPAWN_CHILD_CODE static void child_set_ids(const struct spawn_request *req)
{
	if (syscall(SYS_setgroups, req->ngroups, req->groups) < 0)
		child_fail(SPAWN_STEP_SETGROUPS, errno);
	if (syscall(SYS_setgid, req->gid) < 0)
		child_fail(SPAWN_STEP_SETGID, errno);
	if (syscall(SYS_setuid, req->uid) < 0)
		child_fail(SPAWN_STEP_SETUID, errno);
}

/* execve of each file in turn, as execvp searches PATH: a file that is
 * missing (or on a dead mount) is skipped, a denied one remembered,
 * any other error ends the search; ENOEXEC runs it with the shell. */
SPAWN_CHILD_CODE __attribute__((noreturn)) static void child_exec(const struct spawn_child *c)
{
	char *const *envp = c->req->envp;
	bool denied = false;
	int err = ENOENT;

	for (char **file = c->exec_files; *file; file++) {
		execve(*file, c->req->argv, envp);
		err = errno;
		if (err == ENOEXEC) {
			c->script_argv[1] = *file;
			execve(c->script_argv[0], c->script_argv, envp);
			err = errno;
		}
		if (err == EACCES)
			denied = true;
		else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
			child_fail(SPAWN_STEP_EXEC, err);
	}
	child_fail(SPAWN_STEP_EXEC, denied ? EACCES : err);
}

/* The child's whole life: the order of the steps matters. The glibc
 * functions it calls are bare system calls (not raise(), whose cached
 * tid is vigild's thread's; not the set*id wrappers, see child_set_ids);
 * a sanitizer's interceptors are avoided with syscall() but for
 * sigaction and sigprocmask, whose kernel structures differ by
 * architecture (those interceptors only check their arguments). */
SPAWN_CHILD_CODE static int spawn_child_main(void *arg)
{
	const struct spawn_child *c = arg;
	const struct spawn_request *req = c->req;

	if (req->cgroup_fd >= 0 && !c->in_cgroup)
		child_join_cgroup(req->cgroup_fd);
	child_reset_signals();
	setsid();
	if (req->pid_slot)
		child_write_pid(req->pid_slot, (unsigned long)syscall(SYS_getpid));
	child_set_fds(req);
	if (req->umask >= 0)
		umask((mode_t)req->umask);
	if (req->nofile)
		setrlimit(RLIMIT_NOFILE, req->nofile);
	if (req->set_ids)
		child_set_ids(req);
	if (req->directory && chdir(req->directory) < 0)
		child_fail(SPAWN_STEP_CHDIR, errno);
	/* After the credential change, which clears it. If vigild died
	 * before this line, the signal will never come: act on it now. */
	syscall(SYS_prctl, PR_SET_PDEATHSIG, (unsigned long)req->death_signal);
	if (getppid() != req->parent)
		kill((pid_t)syscall(SYS_getpid), req->death_signal);
	/* Whatever vigild's own parent left open without O_CLOEXEC must not
	 * reach the program either. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	child_exec(c);
}

/* ---------------------------------------------------------------- parent */

/* clone3's arguments (linux/sched.h has them too, but clashes with
 * glibc's sched.h). */
struct spawn_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
		cgroup;
};
#define SPAWN_CLONE_INTO_CGROUP 0x200000000ULL

#if defined(__x86_64__)
#define SPAWN_HAVE_CLONE3_WRAPPER
/* clone3 with CLONE_VM: the child starts on the new stack, where a
 * return into C code (as from syscall()) would find no frame. glibc
 * 2.36 has no clone3 wrapper, so this is one: fn and arg wait in
 * registers the system call preserves; the child calls fn(arg) and
 * exits with its result. Returns the pid, or -errno. */
#define SPAWN_STRINGIFY(x) #x
#define SPAWN_STR(x) SPAWN_STRINGIFY(x)
long vigil_spawn_clone3(struct spawn_clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".pushsection .text\n"
	".globl vigil_spawn_clone3\n"
	".hidden vigil_spawn_clone3\n"
	".type vigil_spawn_clone3, @function\n"
	"vigil_spawn_clone3:\n"
	".cfi_startproc\n"
#ifdef __CET__
	"	endbr64\n"
#endif
	"	mov %rdx, %r8\n" /* fn: syscall clobbers only rax, rcx and r11 */
	"	mov %rcx, %r9\n" /* arg */
	"	mov $" SPAWN_STR(SYS_clone3) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n" /* the parent, with a pid or -errno */
	"1:\n"	   /* the child, rsp at the top of the new stack (16-aligned) */
	".cfi_undefined %rip\n" /* the outermost frame, for a debugger */
	"	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $" SPAWN_STR(SYS_exit_group) ", %eax\n"
	"	syscall\n"
	"	hlt\n"
	".cfi_endproc\n"
	".size vigil_spawn_clone3, .-vigil_spawn_clone3\n"
	".popsection\n");
#endif

/* Straight into the process's cgroup where the kernel can (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7): moving a process after the clone takes
 * the kernel 5-15 ms (a write to cgroup.procs waits for an RCU grace
 * period) while vigild waits for the exec. Only into a cgroup made for
 * this spawn (see cgroup_open_dir). Returns the pid, -1 with errno set,
 * or -2 when this kernel cannot: then clone3_works is false. */
static long spawn_clone3(struct spawn_child *c)
{
	struct spawn_clone_args args = { .flags = CLONE_VFORK | SPAWN_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD,
					 .cgroup = (uint64_t)c->req->cgroup_fd };
	long pid;

	c->in_cgroup = true;
#ifdef SPAWN_HAVE_CLONE3_WRAPPER
	args.flags |= CLONE_VM;
	args.stack = (uint64_t)(uintptr_t)spawn_stack;
	args.stack_size = SPAWN_STACK_SIZE;
	pid = vigil_spawn_clone3(&args, sizeof(args), spawn_child_main, c);
	if (pid < 0) {
		errno = (int)-pid;
		pid = -1;
	}
#else
	/* No wrapper for this architecture: the child gets a copy of
	 * vigild's memory, as with fork(), and reports through the shared
	 * page; CLONE_VFORK still says when it has exec'd. */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		spawn_child_main(c);
#endif
	if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL || errno == EOPNOTSUPP)) {
		clone3_works = false; /* an older kernel: the child moves itself */
		c->in_cgroup = false;
		return -2;
	}
	return pid;
}

static pid_t spawn_clone(struct spawn_child *c)
{
	long pid;

	if (c->req->cgroup_fd >= 0 && c->req->cgroup_fresh && clone3_works) {
		pid = spawn_clone3(c);
		if (pid != -2)
			return (pid_t)pid; /* EAGAIN, ENOMEM: as clone would fail */
	}
	/* glibc's clone: the top of the stack, which grows down (on every
	 * Linux architecture but hppa) */
	return clone(spawn_child_main, spawn_stack + SPAWN_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
}

/* Once: the stack, the shared page, the signals to reset. */
static int spawn_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	char *area;

	if (spawn_stack)
		return 0;
	child_failure = mmap(NULL, sizeof(*child_failure), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_failure == MAP_FAILED) {
		child_failure = NULL;
		return -1;
	}
	area = mmap(NULL, page + SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
		    -1, 0);
	if (area == MAP_FAILED || mprotect(area, page, PROT_NONE) < 0) {
		munmap(child_failure, sizeof(*child_failure));
		if (area != MAP_FAILED)
			munmap(area, page + SPAWN_STACK_SIZE);
		child_failure = NULL;
		return -1;
	}
	spawn_stack = area + page;
	n_nondefault_signals = 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			nondefault_signals[n_nondefault_signals++] = sig;
	sigemptyset(&empty_mask);
	return 0;
}

/* The files execvp would try for argv[0]: itself when it has a slash,
 * else each entry of the child's PATH joined with it (an empty entry is
 * the current directory, which is the child's, after its chdir). One
 * allocation: the pointers, then the strings. */
static char **exec_files_new(const char *name, char *const *envp)
{
	const char *path = SPAWN_DEFAULT_PATH, *entry;
	size_t namelen = strlen(name), n = 1;
	char **files, *s;

	if (strchr(name, '/') || !*name)
		path = NULL;
	for (char *const *e = envp; path && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0) {
			path = *e + 5;
			break;
		}
	for (const char *p = path; p && *p; p++)
		n += *p == ':';
	files = malloc((n + 1) * sizeof(char *) + (path ? strlen(path) + n * (namelen + 2) : namelen + 1));
	if (!files)
		return NULL;
	s = (char *)(files + n + 1);
	if (!path) {
		files[0] = *name ? memcpy(s, name, namelen + 1) : NULL;
		files[1] = NULL;
		return files;
	}
	entry = path;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(entry, ":");
		files[i] = s;
		memcpy(s, entry, len);
		s += len;
		if (len)
			*s++ = '/';
		memcpy(s, name, namelen + 1);
		s += namelen + 1;
		entry += len + 1;
	}
	files[n] = NULL;
	return files;
}

/* SPAWN_SCRIPT_SHELL, a slot for the file, argv[1]... */
static char **script_argv_new(char *const *argv)
{
	size_t argc = 0;
	char **sargv;

	while (argv[argc])
		argc++;
	sargv = calloc(argc + 2, sizeof(char *));
	if (!sargv)
		return NULL;
	sargv[0] = (char *)SPAWN_SCRIPT_SHELL;
	for (size_t i = 1; i < argc; i++)
		sargv[i + 1] = argv[i];
	return sargv;
}

pid_t spawn_run(const struct spawn_request *req, struct spawn_failure *failure)
{
	struct spawn_child c = { .req = req };
	int errno_before = errno, clone_errno;
	sigset_t all, old;
	pid_t pid;

	*failure = (struct spawn_failure){ SPAWN_STEP_NONE, 0 };
	if (spawn_init() < 0 || !(c.exec_files = exec_files_new(req->argv[0], req->envp)) ||
	    !(c.script_argv = script_argv_new(req->argv))) {
		*failure = (struct spawn_failure){ SPAWN_STEP_FORK, errno };
		free(c.exec_files);
		return -1;
	}
	*child_failure = *failure;
	/* The child starts with them all blocked, until its handlers are
	 * the default ones. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_clone(&c);
	clone_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(c.exec_files);
	free(c.script_argv);
	if (pid < 0) {
		*failure = (struct spawn_failure){ SPAWN_STEP_FORK, clone_errno };
		return -1;
	}
	errno = errno_before; /* the child's system calls set this thread's */
	if (child_failure->step == SPAWN_STEP_NONE)
		return pid;
	*failure = *child_failure;
	/* Reap it here so the reaper never sees a pid nobody owns. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return SPAWN_CHILD_FAILED;
}
