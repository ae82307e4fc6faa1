/* spawn_run (daemon/spawn.c) driven directly: what the child starts with
 * and how each failed step is reported. The child is this very program
 * run as "test_spawn report FILE": it writes what it was started with to
 * FILE (atomically, by rename) and exits 0; the tests wait for the file
 * with a deadline. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "spawn.h"
#include "vigild.h"

#define DEADLINE_SEC 20

static char self_exe[PATH_MAX];
static char tmp_dir[] = "/tmp/vigil-unit-spawn-XXXXXX";
static char report_path[PATH_MAX + 16];
static int devnull = -1;
static char pid_env[] = "WATCHDOG_PID=                    ";
static char path_env[PATH_MAX + 8] = "PATH=/usr/bin:/bin";
static char *child_env[] = { path_env, pid_env, NULL };
static char *report_argv[] = { self_exe, "report", report_path, NULL };

/* ---------------------------------------------------------------- the child */

static FILE *report_out;

static void status_field(const char *key, const char *as)
{
	char line[512];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			fprintf(report_out, "%s %s", as, line + klen + 1 + strspn(line + klen + 1, " \t"));
	if (f)
		fclose(f);
}

static void report_fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0)
		fprintf(report_out, "ino%d %llu:%llu\n", fd, (unsigned long long)st.st_dev,
			(unsigned long long)st.st_ino);
}

static int child_report(const char *file)
{
	char tmp[PATH_MAX + 8], cwd[PATH_MAX], line[512];
	int fds[64], nfds = 0, pdeathsig = -1;
	gid_t groups[64];
	struct rlimit nofile;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	FILE *cg;
	int ng;

	/* the fds first, before this program opens anything itself */
	while (d && (de = readdir(d)) && nfds < 64)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			fds[nfds++] = atoi(de->d_name);
	if (d)
		closedir(d);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	if (!(report_out = fopen(tmp, "we")))
		return 3;
	fprintf(report_out, "pid %d\nsid %d\npgid %d\n", (int)getpid(), (int)getsid(0), (int)getpgid(0));
	fprintf(report_out, "fds");
	for (int i = 0; i < nfds; i++)
		fprintf(report_out, " %d", fds[i]);
	prctl(PR_GET_PDEATHSIG, &pdeathsig);
	getrlimit(RLIMIT_NOFILE, &nofile);
	fprintf(report_out, "\npdeathsig %d\nnofile %llu %llu\n", pdeathsig, (unsigned long long)nofile.rlim_cur,
		(unsigned long long)nofile.rlim_max);
	fprintf(report_out, "cwd %s\nuid %d\ngid %d\ngroups", getcwd(cwd, sizeof(cwd)) ? cwd : "?", (int)getuid(),
		(int)getgid());
	ng = getgroups(64, groups);
	for (int i = 0; i < ng; i++)
		fprintf(report_out, " %d", (int)groups[i]);
	fprintf(report_out, "\nwatchdog_pid %s\n", getenv("WATCHDOG_PID") ? getenv("WATCHDOG_PID") : "-");
	status_field("Umask", "umask");
	status_field("SigBlk", "sigblk");
	status_field("SigIgn", "sigign");
	for (int fd = 0; fd < 3; fd++)
		report_fd_inode(fd);
	if ((cg = fopen("/proc/self/cgroup", "re"))) {
		while (fgets(line, sizeof(line), cg))
			if (strncmp(line, "0::", 3) == 0)
				fprintf(report_out, "cgroup %s", line + 3);
		fclose(cg);
	}
	if (fclose(report_out) != 0 || rename(tmp, file) != 0)
		return 4;
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static int64_t monotonic_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static char report_text[8192];

/* Waits for the child's report and reaps the child (it exits 0). */
static const char *wait_report(pid_t pid)
{
	int64_t deadline = monotonic_sec() + DEADLINE_SEC;
	const struct timespec tick = { 0, 2 * 1000 * 1000 };
	int status, fd;
	ssize_t n;

	while ((fd = open(report_path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (monotonic_sec() > deadline)
			fail_msg("no report from pid %d in %ds", (int)pid, DEADLINE_SEC);
		nanosleep(&tick, NULL);
	}
	n = read(fd, report_text, sizeof(report_text) - 1);
	close(fd);
	assert_true(n > 0);
	report_text[n] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(report_path);
	return report_text;
}

/* The value of "key value" in the report, up to the end of its line. */
static const char *report_get(const char *key)
{
	static char value[1024];
	size_t klen = strlen(key);

	for (const char *line = report_text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			size_t len = strcspn(line + klen + 1, "\n");
			snprintf(value, sizeof(value), "%.*s", (int)len, line + klen + 1);
			return value;
		}
	}
	fail_msg("no \"%s\" in the report:\n%s", key, report_text);
	return NULL;
}

static long report_long(const char *key)
{
	return strtol(report_get(key), NULL, 10);
}

/* A signal set of /proc/PID/status (hex, without 0x). */
static unsigned long long report_sigset(const char *key)
{
	return strtoull(report_get(key), NULL, 16);
}

static void fd_inode(int fd, char *buf, size_t len)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

/* A request that runs the reporting child and changes nothing. */
static struct spawn_request base_request(void)
{
	return (struct spawn_request){
		.argv = report_argv,
		.envp = child_env,
		.fd = { devnull, -1, -1 },
		.umask = -1,
		.death_signal = SIGTERM,
		.parent = getpid(),
		.cgroup_fd = -1,
	};
}

static pid_t spawn_ok(const struct spawn_request *req)
{
	struct spawn_failure f;
	pid_t pid = spawn_run(req, &f);

	if (pid <= 0)
		fail_msg("spawn_run: %d, step %s, %s", (int)pid, spawn_step_name(f.step), strerror(f.err));
	assert_int_equal(f.step, SPAWN_STEP_NONE);
	return pid;
}

/* The child failed at `step` with `err`, and was reaped already. */
static void assert_spawn_fails(const struct spawn_request *req, enum spawn_step step, int err)
{
	struct spawn_failure f;
	pid_t pid = spawn_run(req, &f);

	assert_int_equal(pid, SPAWN_CHILD_FAILED);
	if (f.step != step || f.err != err)
		fail_msg("failed at %s (%s), expected %s (%s)", spawn_step_name(f.step), strerror(f.err),
			 spawn_step_name(step), strerror(err));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* ---------------------------------------------------------------- tests */

/* main() left SIGUSR1 and SIGQUIT blocked, SIGPIPE ignored, a SIGHUP
 * handler and an inheritable fd: none of it reaches the program. */
static void test_child_starts_clean(void **state)
{
	struct spawn_request req = base_request();
	struct rlimit nofile;
	char ino[64], want[64];
	pid_t pid;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	assert_true(nofile.rlim_cur != 200);
	nofile.rlim_cur = 200;
	req.nofile = &nofile;
	req.umask = 027;
	req.directory = tmp_dir;
	req.death_signal = SIGUSR2;
	req.pid_slot = strchr(pid_env, '=') + 1;
	pid = spawn_ok(&req);
	wait_report(pid);
	assert_int_equal(report_long("pid"), pid);
	assert_int_equal(report_long("sid"), pid);
	assert_int_equal(report_long("pgid"), pid);
	assert_string_equal(report_get("fds"), "0 1 2");
	assert_int_equal(report_sigset("sigblk"), 0);
	assert_int_equal(report_sigset("sigign"), 0);
	assert_int_equal(report_long("pdeathsig"), SIGUSR2);
	snprintf(want, sizeof(want), "200 %llu", (unsigned long long)nofile.rlim_max);
	assert_string_equal(report_get("nofile"), want);
	assert_string_equal(report_get("umask"), "0027");
	assert_string_equal(report_get("cwd"), tmp_dir);
	assert_int_equal(report_long("watchdog_pid"), pid);
	fd_inode(devnull, ino, sizeof(ino));
	assert_string_equal(report_get("ino0"), ino);
}

/* By default the child keeps vigild's umask, directory and limits. */
static void test_child_keeps_what_is_not_asked(void **state)
{
	struct spawn_request req = base_request();
	char cwd[PATH_MAX];
	mode_t mask = umask(022);

	(void)state;
	umask(mask);
	wait_report(spawn_ok(&req));
	assert_int_equal(strtol(report_get("umask"), NULL, 8), mask);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_string_equal(report_get("cwd"), cwd);
	assert_int_equal(report_long("pdeathsig"), SIGTERM);
}

/* vigild is gone before PR_SET_PDEATHSIG: the signal would never come,
 * so the child sends it to itself. */
static void test_child_whose_parent_is_gone_dies(void **state)
{
	struct spawn_request req = base_request();
	int status;
	pid_t pid;

	(void)state;
	req.parent = getppid(); /* not the child's parent */
	pid = spawn_ok(&req);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(access(report_path, F_OK), -1);
}

/* A copy onto 1 must not clobber the source of 2 (vigild started with
 * 0-2 closed has its own pipes there): here stdout and stderr swap. */
static void test_fds_that_cross(void **state)
{
	struct spawn_request req = base_request();
	int a[2], b[2], saved1 = dup(1), saved2 = dup(2);
	char ino_a[64], ino_b[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	fd_inode(a[1], ino_a, sizeof(ino_a));
	fd_inode(b[1], ino_b, sizeof(ino_b));
	dup3(a[1], 1, O_CLOEXEC);
	dup3(b[1], 2, O_CLOEXEC);
	req.fd[1] = 2;
	req.fd[2] = 1;
	pid = spawn_ok(&req);
	dup2(saved1, 1);
	dup2(saved2, 2);
	wait_report(pid);
	assert_string_equal(report_get("ino1"), ino_b);
	assert_string_equal(report_get("ino2"), ino_a);
	assert_string_equal(report_get("fds"), "0 1 2");
	close(saved1), close(saved2), close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

/* A source already in its place (fd 0 of a vigild started with 0
 * closed) stays open across exec; stderr = stdout copies the new 1. */
static void test_fd_in_place_and_stderr_to_stdout(void **state)
{
	struct spawn_request req = base_request();
	int p[2], saved0 = dup(0);
	char ino_r[64], ino_w[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fd_inode(p[0], ino_r, sizeof(ino_r));
	fd_inode(p[1], ino_w, sizeof(ino_w));
	dup3(p[0], 0, O_CLOEXEC);
	req.fd[0] = 0;
	req.fd[1] = p[1];
	req.fd[2] = devnull; /* ignored: stderr_to_stdout */
	req.stderr_to_stdout = true;
	pid = spawn_ok(&req);
	dup2(saved0, 0);
	wait_report(pid);
	assert_string_equal(report_get("ino0"), ino_r);
	assert_string_equal(report_get("ino1"), ino_w);
	assert_string_equal(report_get("ino2"), ino_w);
	close(saved0), close(p[0]), close(p[1]);
}

static void test_exec_failures(void **state)
{
	struct spawn_request req = base_request();
	char notexec[PATH_MAX], *missing[] = { "/nonexistent/vigil-test", NULL }, *denied[] = { notexec, NULL };

	(void)state;
	req.argv = missing;
	assert_spawn_fails(&req, SPAWN_STEP_EXEC, ENOENT);
	write_file("notexec", "#!/bin/sh\nexit 0\n", 0644);
	snprintf(notexec, sizeof(notexec), "%s/notexec", tmp_dir);
	req.argv = denied;
	assert_spawn_fails(&req, SPAWN_STEP_EXEC, EACCES);
}

/* As execvp: each PATH entry of the child's environment in turn, a
 * denied file remembered, an empty entry the child's directory. */
static void test_exec_searches_the_childs_path(void **state)
{
	struct spawn_request req = base_request();
	char script[PATH_MAX + 64], dir_a[64], dir_b[64];
	char *argv[] = { "prog", "report", report_path, NULL };

	(void)state;
	snprintf(dir_a, sizeof(dir_a), "%s/a", tmp_dir);
	snprintf(dir_b, sizeof(dir_b), "%s/b", tmp_dir);
	mkdir(dir_a, 0755);
	mkdir(dir_b, 0755);
	write_file("a/prog", "#!/bin/sh\nexit 9\n", 0644);
	snprintf(script, sizeof(script), "#!/bin/sh\nexec '%s' \"$@\"\n", self_exe);
	write_file("b/prog", script, 0755);
	req.argv = argv;
	snprintf(path_env, sizeof(path_env), "PATH=%s:/nonexistent", dir_a);
	assert_spawn_fails(&req, SPAWN_STEP_EXEC, EACCES);
	snprintf(path_env, sizeof(path_env), "PATH=%s:/nonexistent", tmp_dir);
	assert_spawn_fails(&req, SPAWN_STEP_EXEC, ENOENT);
	snprintf(path_env, sizeof(path_env), "PATH=/nonexistent:%s:%s", dir_a, dir_b);
	wait_report(spawn_ok(&req));
	snprintf(path_env, sizeof(path_env), "PATH=/nonexistent:");
	req.directory = dir_b;
	wait_report(spawn_ok(&req));
	assert_string_equal(report_get("cwd"), dir_b);
	snprintf(path_env, sizeof(path_env), "PATH=/usr/bin:/bin");
}

/* A file without #! that the kernel cannot exec (ENOEXEC) runs with
 * /bin/sh, as execvp does. */
static void test_script_without_shebang(void **state)
{
	struct spawn_request req = base_request();
	char script[PATH_MAX * 2 + 64], path[PATH_MAX], *argv[] = { path, NULL };
	pid_t pid;

	(void)state;
	snprintf(script, sizeof(script), "exec '%s' report '%s'\n", self_exe, report_path);
	write_file("noshebang", script, 0755);
	snprintf(path, sizeof(path), "%s/noshebang", tmp_dir);
	req.argv = argv;
	pid = spawn_ok(&req);
	wait_report(pid);
	assert_int_equal(report_long("pid"), pid);
}

static void test_chdir_and_setgroups_failures(void **state)
{
	static gid_t too_many[70000]; /* over NGROUPS_MAX: EINVAL */
	struct spawn_request req = base_request();

	(void)state;
	req.directory = "/nonexistent/vigil-test";
	assert_spawn_fails(&req, SPAWN_STEP_CHDIR, ENOENT);
	req.directory = NULL;
	req.set_ids = true;
	req.uid = getuid();
	req.gid = getgid();
	req.groups = too_many;
	req.ngroups = sizeof(too_many) / sizeof(too_many[0]);
	assert_spawn_fails(&req, SPAWN_STEP_SETGROUPS, EINVAL);
}

static void test_credentials(void **state)
{
	static const gid_t nogroup[] = { 65534 };
	struct spawn_request req = base_request();
	char dir[PATH_MAX], saved[sizeof(report_path)];

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(dir, sizeof(dir), "%s/nobody", tmp_dir);
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	memcpy(saved, report_path, sizeof(saved));
	snprintf(report_path, sizeof(report_path), "%s/report", dir);
	req.set_ids = true;
	req.uid = 65534;
	req.gid = 65534;
	req.groups = nogroup;
	req.ngroups = 1;
	req.directory = dir;
	wait_report(spawn_ok(&req));
	memcpy(report_path, saved, sizeof(saved));
	assert_int_equal(report_long("uid"), 65534);
	assert_int_equal(report_long("gid"), 65534);
	assert_string_equal(report_get("groups"), "65534");
	assert_string_equal(report_get("cwd"), dir);
}

/* The child runs in the cgroup it is given, whether clone3 puts it
 * there (a cgroup just made, or kept from a process that ended alone)
 * or it moves itself (one killed since it was made: the kernel would
 * kill a child cloned into it). */
static void test_cgroup_placement(void **state)
{
	static const bool clonable[] = { true, true, false };
	char *sleeper[] = { "/bin/sleep", "30", NULL };
	char sock[PATH_MAX], link[64], dir[PATH_MAX];
	struct spawn_request req = base_request();
	ssize_t n;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/ctl.sock", tmp_dir);
	vigil.base = vigil_event_base_new();
	if (cgroup_init(sock) < 0) {
		event_base_free(vigil.base);
		skip();
	}
	for (int round = 0; round < 3; round++) {
		char err[256] = "";
		size_t len;

		if (round == 2) {
			/* leftovers killed: a process still in it at cgroup_kill */
			struct spawn_request sl = base_request();
			pid_t pid;
			sl.argv = sleeper;
			sl.cgroup_fd = cgroup_open_dir("spawned", &sl.cgroup_fresh, err, sizeof(err));
			pid = spawn_ok(&sl);
			close(sl.cgroup_fd);
			cgroup_kill("spawned");
			assert_int_equal(waitpid(pid, NULL, 0), pid);
		}
		req.cgroup_fd = cgroup_open_dir("spawned", &req.cgroup_fresh, err, sizeof(err));
		if (req.cgroup_fd < 0)
			fail_msg("cgroup_open_dir: %s", err);
		assert_int_equal(req.cgroup_fresh, clonable[round]);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", req.cgroup_fd);
		n = readlink(link, dir, sizeof(dir) - 1);
		assert_true(n > 0);
		dir[n] = '\0';
		wait_report(spawn_ok(&req));
		close(req.cgroup_fd);
		/* its path in the hierarchy is a tail of the directory's */
		len = strlen(report_get("cgroup"));
		assert_true(len > 1 && len <= (size_t)n);
		assert_string_equal(dir + n - len, report_get("cgroup"));
	}
	cgroup_free();
	event_base_free(vigil.base);
	vigil.base = NULL;
}

static void on_sighup(int sig)
{
	(void)sig;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_starts_clean),
		cmocka_unit_test(test_child_keeps_what_is_not_asked),
		cmocka_unit_test(test_child_whose_parent_is_gone_dies),
		cmocka_unit_test(test_fds_that_cross),
		cmocka_unit_test(test_fd_in_place_and_stderr_to_stdout),
		cmocka_unit_test(test_exec_failures),
		cmocka_unit_test(test_exec_searches_the_childs_path),
		cmocka_unit_test(test_script_without_shebang),
		cmocka_unit_test(test_chdir_and_setgroups_failures),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_cgroup_placement),
	};
	struct sigaction hup = { .sa_handler = on_sighup };
	sigset_t blocked;
	int leak[2], rc;
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "report") == 0)
		return child_report(argv[2]);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0 || !mkdtemp(tmp_dir) || chmod(tmp_dir, 0755) < 0)
		return perror("setup"), 1;
	self_exe[n] = '\0';
	snprintf(report_path, sizeof(report_path), "%s/report", tmp_dir);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* a dirty parent, as vigild may be: none of it may reach a child */
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGQUIT);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	if (devnull < 0 || pipe(leak) < 0)
		return perror("setup"), 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
