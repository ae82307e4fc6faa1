/* Unit tests for daemon/config.c and config_check.c: config_load() on
 * files written here, against the config section of DESIGN.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../daemon/config.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

static char tmpdir[] = "/tmp/vigil-unit-config-XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void mkdirs(const char *path)
{
	char *p = strdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
	free(p);
}

/* Writes tmpdir/rel (creating folders) and returns its malloc'd path. */
static char *write_file(const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", tmpdir, rel);
	char *dir = strdup(path);
	FILE *f;

	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	free(dir);
	f = fopen(path, "w");
	if (!f)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
	return path;
}

/* Loads a config that must be valid. */
static struct config *load_ok(const char *path)
{
	char *errors = NULL;
	struct config *c = config_load(path, &errors);

	if (!c)
		fail_msg("config_load(%s) failed:\n%s", path, errors ? errors : "(no errors)");
	assert_non_null(errors);
	assert_string_equal(errors, "");
	free(errors);
	return c;
}

/* Loads a config that must be rejected; returns the error text. */
static char *load_bad(const char *path)
{
	char *errors = NULL;
	struct config *c = config_load(path, &errors);

	if (c) {
		config_free(c);
		fail_msg("config_load(%s) accepted a bad config", path);
	}
	assert_non_null(errors);
	assert_true(errors[0] != '\0');
	return errors;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* True if some line of errors starts with want. */
static bool has_line(const char *errors, const char *want)
{
	size_t n = strlen(want);

	for (const char *l = errors; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, want, n) == 0)
			return true;
	return false;
}

#define assert_has_line(errors, ...)                                                          \
	do {                                                                                  \
		char *want_ = xasprintf(__VA_ARGS__);                                         \
		if (!has_line(errors, want_))                                                 \
			fail_msg("no error line starting with\n  %s\nin:\n%s", want_, errors); \
		free(want_);                                                                  \
	} while (0)

/* True if some line of errors is "FILE:N: " followed by msg, for any N:
 * for errors about a whole section, whose line is checked elsewhere. */
static bool has_error_any_line(const char *errors, const char *file, const char *msg)
{
	size_t flen = strlen(file), mlen = strlen(msg);

	for (const char *l = errors; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *p = l + flen;
		if (strncmp(l, file, flen) != 0 || *p != ':')
			continue;
		p++;
		if (*p < '1' || *p > '9')
			continue;
		p += strspn(p, "0123456789");
		if (strncmp(p, ": ", 2) == 0 && strncmp(p + 2, msg, mlen) == 0)
			return true;
	}
	return false;
}

#define assert_has_error(errors, file, ...)                                                    \
	do {                                                                                   \
		char *msg_ = xasprintf(__VA_ARGS__);                                           \
		if (!has_error_any_line(errors, file, msg_))                                   \
			fail_msg("no error line \"%s:N: %s\" in:\n%s", file, msg_, errors);      \
		free(msg_);                                                                    \
	} while (0)

/* Writes content to rel, expects it rejected with exactly one error whose
 * line starts with "PATH:" followed by the printf-formatted rest. */
static void expect_one_error(const char *rel, const char *content, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void expect_one_error(const char *rel, const char *content, const char *fmt, ...)
{
	char *path = write_file(rel, content);
	char *errors = load_bad(path);
	char *rest, *want;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rest, fmt, ap) < 0)
		abort();
	va_end(ap);
	want = xasprintf("%s:%s", path, rest);
	if (!has_line(errors, want))
		fail_msg("%s: no error line starting with\n  %s\nin:\n%s", rel, want, errors);
	if (count_lines(errors) != 1)
		fail_msg("%s: want exactly one error, got:\n%s", rel, errors);
	free(want);
	free(rest);
	free(errors);
	free(path);
}

static const char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? pw->pw_name : NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- a full valid config ------------------------------------------------ */

static void test_full_config(void **state)
{
	/* Run as anyone: switch to ourselves only, unless we are root. */
	const char *user = geteuid() == 0 ? "nobody" : user_name(geteuid());
	struct group *gr = geteuid() == 0 ? getgrnam("nogroup") : getgrgid(getegid());
	char *group_name, *content, *path;
	struct passwd *pw;
	struct config *c;
	struct program_config *web, *pinger, *solo, *plain;

	(void)state;
	if (!user || !gr || !getpwnam(user))
		skip();
	group_name = strdup(gr->gr_name);
	pw = getpwnam(user);
	content = xasprintf(
		"; vigil test config\n"
		"[vigil]\n"
		"socket = /run/vigil-test/vigil.sock   ; ctl socket path\n"
		"socket_mode = 0600\n"
		"socket_group = %s\n"
		"log_level = debug\n"
		"\n"
		"[program:web]\n"
		"command = /usr/bin/python3 -m http.server 8080\n"
		"directory = /srv/web\n"
		"user = %s\n"
		"group = %s\n"
		"environment = A=1, B=\"x y\"\n"
		"umask = 027\n"
		"numprocs = 3\n"
		"priority = 50\n"
		"autostart = no\n"
		"restart = always\n"
		"success_exit_codes = 0, 2 3\n"
		"start_secs = 2s\n"
		"restart_delay = 250ms\n"
		"restart_delay_max = 1m30s\n"
		"start_limit_burst = 7\n"
		"start_limit_interval = 2m\n"
		"stop_signal = INT\n"
		"stop_timeout = 1.5s\n"
		"kill_group = no\n"
		"stdout = file:/var/log/vigil/web-%%(process_num)d.log\n"
		"stderr = stdout\n"
		"log_max_size = 512K\n"
		"log_backups = 3\n"
		"type = notify\n"
		"ready_timeout = 45s\n"
		"heartbeat_timeout = 5s\n"
		"heartbeat_signal = SIGQUIT\n"
		"notify_access = all\n"
		"daemon = no\n"
		"bind_to =\n"
		"\n"
		"[program:pinger]\n"
		"command = /usr/local/bin/pinger --for web\n"
		"numprocs = 3\n"
		"daemon = yes\n"
		"bind_to = web\n"
		"stdout = journal\n"
		"stderr = null\n"
		"\n"
		"[program:solo]\n"
		"command = /usr/local/bin/external-pinger\n"
		"daemon = true\n"
		"heartbeat_timeout = 0\n"
		"restart = never\n"
		"stdout = inherit\n"
		"\n"
		"[program:plain]\n"
		"command = sh -c 'echo \"hi there\"; exec sleep 1000'\n"
		"restart = on-failure\n"
		"type = simple\n"
		"notify_access = main\n"
		"stop_signal = 9\n"
		"priority = -5\n"
		"umask = 0\n",
		group_name, user, group_name);
	path = write_file("full/vigil.conf", content);
	c = load_ok(path);

	assert_string_equal(c->path, path);
	assert_string_equal(c->socket, "/run/vigil-test/vigil.sock");
	assert_int_equal(c->socket_mode, 0600);
	assert_non_null(c->socket_group);
	assert_string_equal(c->socket_group, group_name);
	assert_int_equal(c->socket_gid, gr->gr_gid);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_int_equal(c->nprograms, 4);

	web = config_find_program(c, "web");
	assert_non_null(web);
	assert_string_equal(web->name, "web");
	assert_string_equal(web->file, path);
	assert_int_equal(web->line, 8);
	assert_string_equal(web->command, "/usr/bin/python3 -m http.server 8080");
	assert_string_equal(web->directory, "/srv/web");
	assert_string_equal(web->user, user);
	assert_string_equal(web->group, group_name);
	assert_int_equal(web->uid, pw->pw_uid);
	assert_int_equal(web->gid, gr->gr_gid);
	assert_non_null(web->environment);
	assert_string_equal(web->environment[0], "A=1");
	assert_string_equal(web->environment[1], "B=x y");
	assert_null(web->environment[2]);
	assert_int_equal(web->umask, 027);
	assert_int_equal(web->numprocs, 3);
	assert_int_equal(web->priority, 50);
	assert_false(web->autostart);
	assert_int_equal(web->restart, RESTART_ALWAYS);
	for (int code = 0; code < 256; code++)
		assert_int_equal(exit_code_set_has(&web->success_exit_codes, code),
				 code == 0 || code == 2 || code == 3);
	assert_int_equal(web->start_secs, 2 * SEC);
	assert_int_equal(web->restart_delay, 250 * MS);
	assert_int_equal(web->restart_delay_max, 90 * SEC);
	assert_int_equal(web->start_limit_burst, 7);
	assert_int_equal(web->start_limit_interval, 120 * SEC);
	assert_int_equal(web->stop_signal, SIGINT);
	assert_int_equal(web->stop_timeout, 1500 * MS);
	assert_false(web->kill_group);
	assert_int_equal(web->stdout_spec.kind, OUTPUT_FILE);
	assert_string_equal(web->stdout_spec.path, "/var/log/vigil/web-%(process_num)d.log");
	assert_int_equal(web->stderr_spec.kind, OUTPUT_STDOUT);
	assert_int_equal(web->log_max_size, 512 * 1024);
	assert_int_equal(web->log_backups, 3);
	assert_int_equal(web->type, PROGRAM_NOTIFY);
	assert_int_equal(web->ready_timeout, 45 * SEC);
	assert_int_equal(web->heartbeat_timeout, 5 * SEC);
	assert_int_equal(web->heartbeat_signal, SIGQUIT);
	assert_int_equal(web->notify_access, NOTIFY_ACCESS_ALL);
	assert_false(web->daemon);
	assert_null(web->bind_to);

	pinger = config_find_program(c, "pinger");
	assert_non_null(pinger);
	assert_int_equal(pinger->line, 40);
	assert_true(pinger->daemon);
	assert_string_equal(pinger->bind_to, "web");
	assert_int_equal(pinger->numprocs, 3);
	/* daemon children ping every second: heartbeat_timeout defaults to 3s */
	assert_int_equal(pinger->heartbeat_timeout, 3 * SEC);
	assert_int_equal(pinger->stdout_spec.kind, OUTPUT_JOURNAL);
	assert_int_equal(pinger->stderr_spec.kind, OUTPUT_NULL);

	solo = config_find_program(c, "solo");
	assert_non_null(solo);
	assert_true(solo->daemon);
	assert_null(solo->bind_to);
	assert_int_equal(solo->heartbeat_timeout, 0); /* explicitly off */
	assert_int_equal(solo->restart, RESTART_NEVER);
	assert_int_equal(solo->stdout_spec.kind, OUTPUT_INHERIT);

	plain = config_find_program(c, "plain");
	assert_non_null(plain);
	assert_string_equal(plain->command, "sh -c 'echo \"hi there\"; exec sleep 1000'");
	assert_int_equal(plain->restart, RESTART_ON_FAILURE);
	assert_int_equal(plain->type, PROGRAM_SIMPLE);
	assert_int_equal(plain->notify_access, NOTIFY_ACCESS_MAIN);
	assert_int_equal(plain->stop_signal, SIGKILL);
	assert_int_equal(plain->priority, -5);
	assert_int_equal(plain->umask, 0);
	assert_false(plain->daemon);
	assert_int_equal(plain->heartbeat_timeout, 0);

	assert_null(config_find_program(c, "nope"));
	assert_null(config_find_program(c, "web:0"));

	config_free(c);
	free(path);
	free(content);
	free(group_name);
}

static void test_defaults(void **state)
{
	char *path = write_file("defaults/vigil.conf", "[program:a]\ncommand = /bin/true\n");
	struct config *c = load_ok(path);
	struct program_config *a;

	(void)state;
	assert_string_equal(c->socket, "/run/vigil/vigil.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_null(c->socket_group);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->nprograms, 1);

	a = c->programs[0];
	assert_string_equal(a->name, "a");
	assert_int_equal(a->line, 1);
	assert_string_equal(a->command, "/bin/true");
	assert_null(a->directory);
	assert_null(a->user);
	assert_null(a->group);
	assert_true(a->environment == NULL || a->environment[0] == NULL);
	assert_int_equal(a->umask, -1);
	assert_int_equal(a->numprocs, 1);
	assert_int_equal(a->priority, 100);
	assert_true(a->autostart);
	assert_int_equal(a->restart, RESTART_ON_FAILURE);
	for (int code = 0; code < 256; code++)
		assert_int_equal(exit_code_set_has(&a->success_exit_codes, code), code == 0);
	assert_int_equal(a->start_secs, 1 * SEC);
	assert_int_equal(a->restart_delay, 100 * MS);
	assert_int_equal(a->restart_delay_max, 30 * SEC);
	assert_int_equal(a->start_limit_burst, 5);
	assert_int_equal(a->start_limit_interval, 60 * SEC);
	assert_int_equal(a->stop_signal, SIGTERM);
	assert_int_equal(a->stop_timeout, 10 * SEC);
	assert_true(a->kill_group);
	assert_int_equal(a->log_max_size, 10 * 1024 * 1024);
	assert_int_equal(a->log_backups, 5);
	assert_int_equal(a->type, PROGRAM_SIMPLE);
	assert_int_equal(a->ready_timeout, 30 * SEC);
	assert_int_equal(a->heartbeat_timeout, 0);
	assert_int_equal(a->heartbeat_signal, SIGABRT);
	assert_int_equal(a->notify_access, NOTIFY_ACCESS_MAIN);
	assert_false(a->daemon);
	assert_null(a->bind_to);
	config_free(c);
	free(path);

	/* a daemon child gets heartbeat_timeout 3s unless set */
	path = write_file("defaults/daemon.conf",
			  "[program:d]\ncommand = /bin/true\ndaemon = yes\n"
			  "[program:e]\ncommand = /bin/true\ndaemon = yes\nheartbeat_timeout = 10s\n"
			  "[program:f]\ncommand = /bin/true\ndaemon = yes\nheartbeat_timeout = 0\n"
			  "[program:g]\ncommand = /bin/true\nheartbeat_timeout = 2s\n");
	c = load_ok(path);
	assert_int_equal(config_find_program(c, "d")->heartbeat_timeout, 3 * SEC);
	assert_int_equal(config_find_program(c, "e")->heartbeat_timeout, 10 * SEC);
	assert_int_equal(config_find_program(c, "f")->heartbeat_timeout, 0);
	assert_int_equal(config_find_program(c, "g")->heartbeat_timeout, 2 * SEC);
	assert_int_equal(config_find_program(c, "g")->daemon, false);
	config_free(c);
	free(path);

	/* an empty file and a [vigil]-only file are valid, with no programs */
	path = write_file("defaults/empty.conf", "");
	c = load_ok(path);
	assert_int_equal(c->nprograms, 0);
	config_free(c);
	free(path);
	path = write_file("defaults/vigil-only.conf", "# nothing\n[vigil]\nlog_level = warning\n");
	c = load_ok(path);
	assert_int_equal(c->nprograms, 0);
	assert_int_equal(c->log_level, LOG_WARNING);
	config_free(c);
	free(path);
}

static void test_paths_relative_to_file(void **state)
{
	char *path = write_file("rel/etc/vigil.conf",
				"[vigil]\n"
				"socket = run/vigil.sock\n"
				"[program:a]\n"
				"command = ./bin/a\n"
				"directory = srv/a\n"
				"stdout = file:log/a.log\n"
				"stderr = file:/abs/a.err\n");
	char *dir = xasprintf("%s/rel/etc", tmpdir);
	char *want;
	struct config *c = load_ok(path);
	struct program_config *a = c->programs[0];

	(void)state;
	want = xasprintf("%s/run/vigil.sock", dir);
	assert_string_equal(c->socket, want);
	free(want);
	want = xasprintf("%s/srv/a", dir);
	assert_string_equal(a->directory, want);
	free(want);
	want = xasprintf("%s/log/a.log", dir);
	assert_string_equal(a->stdout_spec.path, want);
	free(want);
	assert_string_equal(a->stderr_spec.path, "/abs/a.err");
	/* the command is stored as written; only its words matter */
	assert_string_equal(a->command, "./bin/a");
	config_free(c);
	free(dir);
	free(path);
}

static void test_values_forms(void **state)
{
	char *path = write_file("forms/vigil.conf",
				"[program:a]\n"
				"command = /bin/true\n"
				"priority = 5 ; inline comment\n"
				"stop_timeout = 1m30s\n"
				"start_secs = 0\n"
				"restart_delay = 0.5\n"
				"log_max_size = 1G\n"
				"autostart = OFF\n"
				"kill_group = True\n"
				"stop_signal = sigterm\n"
				"heartbeat_signal = 6\n"
				"success_exit_codes = 1,2,3\n"
				"umask = 777\n"
				"environment =\n");
	struct config *c = load_ok(path);
	struct program_config *a = c->programs[0];

	(void)state;
	assert_int_equal(a->priority, 5);
	assert_int_equal(a->stop_timeout, 90 * SEC);
	assert_int_equal(a->start_secs, 0);
	assert_int_equal(a->restart_delay, 500 * MS);
	assert_int_equal(a->log_max_size, UINT64_C(1) << 30);
	assert_false(a->autostart);
	assert_true(a->kill_group);
	assert_int_equal(a->stop_signal, SIGTERM);
	assert_int_equal(a->heartbeat_signal, SIGABRT);
	assert_false(exit_code_set_has(&a->success_exit_codes, 0));
	assert_true(exit_code_set_has(&a->success_exit_codes, 2));
	assert_int_equal(a->umask, 0777);
	assert_true(a->environment == NULL || a->environment[0] == NULL);
	config_free(c);
	free(path);
}

/* ---- error messages: file:line: [section] option: message --------------- */

static void test_error_format_design_example(void **state)
{
	/* DESIGN.md's example, down to the line number 14 */
	char *path = write_file("fmt/vigil.conf",
				"; line 1\n"
				"[vigil]\n"
				"log_level = info\n"
				"\n"
				"[program:web]\n"
				"command = /bin/true\n"
				"; 7\n"
				"; 8\n"
				"; 9\n"
				"priority = 10\n"
				"\n"
				"\n"
				"\n"
				"stop_timeout = ten\n"
				"autostart = yes\n");
	char *errors = load_bad(path);

	(void)state;
	assert_has_line(errors, "%s:14: [program:web] stop_timeout: \"ten\" is not a duration", path);
	assert_int_equal(count_lines(errors), 1);
	free(errors);
	free(path);
}

static void test_error_each_kind(void **state)
{
	(void)state;
	expect_one_error("kinds/dur.conf", "[program:a]\ncommand = x\nstart_secs = -1s\n",
			 "3: [program:a] start_secs: \"-1s\" ");
	expect_one_error("kinds/size.conf", "[program:a]\ncommand = x\nlog_max_size = 10Q\n",
			 "3: [program:a] log_max_size: \"10Q\" is not a size");
	expect_one_error("kinds/bool.conf", "[program:a]\ncommand = x\nautostart = maybe\n",
			 "3: [program:a] autostart: \"maybe\" is not a boolean");
	expect_one_error("kinds/sig.conf", "[program:a]\ncommand = x\nstop_signal = FOO\n",
			 "3: [program:a] stop_signal: \"FOO\" is not a signal");
	expect_one_error("kinds/sig0.conf", "[program:a]\ncommand = x\nheartbeat_signal = 0\n",
			 "3: [program:a] heartbeat_signal: \"0\"");
	expect_one_error("kinds/codes.conf", "[program:a]\ncommand = x\nsuccess_exit_codes = 0, 256\n",
			 "3: [program:a] success_exit_codes: \"256\"");
	expect_one_error("kinds/umask.conf", "[program:a]\ncommand = x\numask = 1777\n",
			 "3: [program:a] umask: \"1777\" is not a umask");
	expect_one_error("kinds/umask8.conf", "[program:a]\ncommand = x\numask = 089\n",
			 "3: [program:a] umask: \"089\" is not an octal mode");
	expect_one_error("kinds/numprocs.conf", "[program:a]\ncommand = x\nnumprocs = 0\n",
			 "3: [program:a] numprocs: \"0\" is not a whole number from 1 to 10000");
	expect_one_error("kinds/burst.conf", "[program:a]\ncommand = x\nstart_limit_burst = many\n",
			 "3: [program:a] start_limit_burst: \"many\"");
	expect_one_error("kinds/restart.conf", "[program:a]\ncommand = x\nrestart = sometimes\n",
			 "3: [program:a] restart: \"sometimes\" is not a restart policy");
	expect_one_error("kinds/type.conf", "[program:a]\ncommand = x\ntype = forking\n",
			 "3: [program:a] type: \"forking\" is not a type");
	expect_one_error("kinds/access.conf", "[program:a]\ncommand = x\nnotify_access = none\n",
			 "3: [program:a] notify_access: \"none\" is not a notify_access");
	expect_one_error("kinds/out.conf", "[program:a]\ncommand = x\nstdout = syslog\n",
			 "3: [program:a] stdout: \"syslog\" is not an output");
	expect_one_error("kinds/outfile.conf", "[program:a]\ncommand = x\nstderr = file:\n",
			 "3: [program:a] stderr: \"file:\" is not an output");
	expect_one_error("kinds/env.conf", "[program:a]\ncommand = x\nenvironment = A=1, 9B=2\n",
			 "3: [program:a] environment: \"9B=2\" is not KEY=value");
	expect_one_error("kinds/envq.conf", "[program:a]\ncommand = x\nenvironment = A=\"open\n",
			 "3: [program:a] environment: unterminated quote in value of A");
	expect_one_error("kinds/cmdq.conf", "[program:a]\ncommand = sh -c 'echo hi\n",
			 "2: [program:a] command: unterminated single quote");
	expect_one_error("kinds/cmdempty.conf", "[program:a]\ncommand =\n",
			 "2: [program:a] command: empty command");
	expect_one_error("kinds/level.conf", "[vigil]\nlog_level = verbose\n",
			 "2: [vigil] log_level: \"verbose\" is not a level");
	expect_one_error("kinds/mode.conf", "[vigil]\n\nsocket_mode = 999\n",
			 "3: [vigil] socket_mode: \"999\" is not an octal mode");
	expect_one_error("kinds/sock.conf", "[vigil]\nsocket =\n", "2: [vigil] socket: empty path");
	expect_one_error("kinds/expand.conf", "[program:a]\ncommand = /bin/echo %(foo)s\n",
			 "1: [program:a] command: unknown %%(...) variable");
	expect_one_error("kinds/expandfmt.conf",
			 "[program:a]\ncommand = /bin/echo\nstdout = file:/tmp/a-%(process_num)x.log\n",
			 "1: [program:a] stdout: bad %%(process_num) format");
}

static void test_unknown_option_and_section(void **state)
{
	char *path, *errors;

	(void)state;
	expect_one_error("unknown/opt.conf", "[program:web]\ncommand = /bin/true\ncomand = /bin/false\n",
			 "3: [program:web] unknown option \"comand\"");
	expect_one_error("unknown/vopt.conf", "[vigil]\nlog_level = info\nsocket_path = /x\n",
			 "3: [vigil] unknown option \"socket_path\"");
	/* an option of [program:x] is not valid in [vigil] and vice versa */
	expect_one_error("unknown/misplaced.conf", "[vigil]\ncommand = /bin/true\n",
			 "2: [vigil] unknown option \"command\"");
	expect_one_error("unknown/misplaced2.conf", "[program:a]\ncommand = /bin/true\ninclude = x\n",
			 "3: [program:a] unknown option \"include\"");
	/* unknown section: reported once, however many options it has */
	path = write_file("unknown/section.conf",
			  "[programs:web]\ncommand = /bin/true\nnumprocs = 2\n[program:ok]\ncommand = /bin/true\n");
	errors = load_bad(path);
	assert_has_error(errors, path, "unknown section [programs:web]");
	assert_int_equal(count_lines(errors), 1);
	free(errors);
	free(path);
	/* an option before any section */
	path = write_file("unknown/nosection.conf", "command = /bin/true\n");
	errors = load_bad(path);
	assert_has_error(errors, path, "option \"command\" outside a section");
	free(errors);
	free(path);
}

static void test_set_twice(void **state)
{
	(void)state;
	expect_one_error("twice/prog.conf",
			 "[program:web]\ncommand = /bin/true\npriority = 1\ncommand = /bin/false\n",
			 "4: [program:web] command: set twice in one section");
	expect_one_error("twice/prog2.conf",
			 "[program:web]\ncommand = /bin/true\nstop_timeout = 1s\n\nstop_timeout = 2s\n",
			 "5: [program:web] stop_timeout: set twice in one section");
	/* the same option in two different programs is fine */
	char *path = write_file("twice/ok.conf",
				"[program:a]\ncommand = /bin/true\n[program:b]\ncommand = /bin/true\n");
	struct config *c = load_ok(path);
	assert_int_equal(c->nprograms, 2);
	config_free(c);
	free(path);
}

static void test_duplicate_program(void **state)
{
	char *path, *errors;

	(void)state;
	path = write_file("dup/vigil.conf",
			  "[program:web]\n"
			  "command = /bin/true\n"
			  "[program:other]\n"
			  "command = /bin/true\n"
			  "[program:web]\n"
			  "command = /bin/false\n");
	errors = load_bad(path);
	assert_has_error(errors, path, "[program:web] is defined twice (first at %s:1)", path);
	assert_int_equal(count_lines(errors), 1);
	free(errors);
	free(path);
}

static void test_bad_program_name(void **state)
{
	static const char *const bad[] = { "bad name", "all", "a/b", "a:b", "", "$x", "é" };
	char long_name[80];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *content = xasprintf("[vigil]\nlog_level = info\n[program:%s]\ncommand = /bin/true\n", bad[i]);
		char *path = write_file("names/bad.conf", content);
		char *errors = load_bad(path);
		assert_has_error(errors, path, "[program:%s] bad program name", bad[i]);
		assert_int_equal(count_lines(errors), 1);
		free(errors);
		free(path);
		free(content);
	}
	/* letters, digits, _ . - are fine (names of 64 characters: see
	 * pending_config.c, inih cuts section names at 49) */
	memset(long_name, 'n', 40);
	long_name[40] = '\0';
	char *content = xasprintf("[program:web-1.v2_x]\ncommand = /bin/true\n[program:%s]\ncommand = /bin/true\n"
				  "[program:All]\ncommand = /bin/true\n", long_name);
	char *path = write_file("names/good.conf", content);
	struct config *c = load_ok(path);
	assert_non_null(config_find_program(c, "web-1.v2_x"));
	assert_non_null(config_find_program(c, long_name));
	assert_non_null(config_find_program(c, "All"));
	config_free(c);
	free(path);
	free(content);
}

static void test_missing_command(void **state)
{
	char *path, *errors;

	(void)state;
	path = write_file("nocmd/vigil.conf",
			  "[vigil]\nlog_level = info\n\n[program:web]\npriority = 3\n"
			  "[program:ok]\ncommand = /bin/true\n"
			  "[program:api]\nautostart = no\n");
	errors = load_bad(path);
	assert_has_line(errors, "%s:4: [program:web] command: missing", path);
	assert_has_line(errors, "%s:8: [program:api] command: missing", path);
	assert_int_equal(count_lines(errors), 2);
	free(errors);
	free(path);
}

static void test_bind_to(void **state)
{
	char *path;
	struct config *c;

	(void)state;
	expect_one_error("bind/missing.conf",
			 "[program:d]\ncommand = x\ndaemon = yes\nbind_to = ghost\n",
			 "1: [program:d] bind_to: no program named \"ghost\"");
	expect_one_error("bind/notdaemon.conf",
			 "[program:web]\ncommand = x\n[program:d]\ncommand = x\nbind_to = web\n",
			 "3: [program:d] bind_to: only daemon children");
	expect_one_error("bind/self.conf", "[program:d]\ncommand = x\ndaemon = yes\nbind_to = d\n",
			 "1: [program:d] bind_to: a program cannot be bound to itself");
	expect_one_error("bind/chain.conf",
			 "[program:web]\ncommand = x\n"
			 "[program:d1]\ncommand = x\ndaemon = yes\nbind_to = web\n"
			 "[program:d2]\ncommand = x\ndaemon = yes\nbind_to = d1\n",
			 "7: [program:d2] bind_to: \"d1\" is itself a daemon child");
	expect_one_error("bind/numprocs.conf",
			 "[program:web]\ncommand = x\nnumprocs = 4\n"
			 "[program:d]\ncommand = x\ndaemon = yes\nbind_to = web\nnumprocs = 2\n",
			 "4: [program:d] numprocs: must equal the numprocs of \"web\" (4)");

	/* bound to a program defined later, or in any order, is fine; one
	 * daemon child per instance of a numprocs > 1 program */
	path = write_file("bind/ok.conf",
			  "[program:d]\ncommand = x\ndaemon = yes\nbind_to = web\nnumprocs = 4\n"
			  "[program:e]\ncommand = x\ndaemon = yes\nbind_to = one\n"
			  "[program:web]\ncommand = x\nnumprocs = 4\n"
			  "[program:one]\ncommand = x\n");
	c = load_ok(path);
	assert_string_equal(config_find_program(c, "d")->bind_to, "web");
	assert_int_equal(config_find_program(c, "d")->numprocs, 4);
	assert_string_equal(config_find_program(c, "e")->bind_to, "one");
	config_free(c);
	free(path);
}

static void test_restart_delay_max(void **state)
{
	char *path;
	struct config *c;

	(void)state;
	expect_one_error("delay/bad.conf", "[program:a]\ncommand = x\nrestart_delay = 1m\n",
			 "1: [program:a] restart_delay_max: shorter than restart_delay");
	expect_one_error("delay/bad2.conf",
			 "[program:a]\ncommand = x\nrestart_delay = 2s\nrestart_delay_max = 1s\n",
			 "1: [program:a] restart_delay_max: shorter than restart_delay");
	path = write_file("delay/ok.conf", "[program:a]\ncommand = x\nrestart_delay = 2s\nrestart_delay_max = 2s\n");
	c = load_ok(path);
	assert_int_equal(c->programs[0]->restart_delay_max, 2 * SEC);
	config_free(c);
	free(path);
}

static void test_unknown_user_group(void **state)
{
	(void)state;
	expect_one_error("cred/user.conf", "[program:a]\ncommand = x\nuser = no_such_user_vigil\n",
			 "1: [program:a] user: no such user \"no_such_user_vigil\"");
	expect_one_error("cred/group.conf", "[program:a]\ncommand = x\ngroup = no_such_group_vigil\n",
			 "1: [program:a] group: no such group \"no_such_group_vigil\"");
	expect_one_error("cred/sockgroup.conf", "[vigil]\nsocket_group = no_such_group_vigil\n",
			 "2: [vigil] socket_group: no such group \"no_such_group_vigil\"");
}

static void test_stdout_stdout(void **state)
{
	char *path;
	struct config *c;

	(void)state;
	expect_one_error("out/bad.conf", "[program:a]\ncommand = x\nstdout = stdout\n",
			 "3: [program:a] stdout: \"stdout\"");
	path = write_file("out/ok.conf", "[program:a]\ncommand = x\nstdout = null\nstderr = stdout\n");
	c = load_ok(path);
	assert_int_equal(c->programs[0]->stdout_spec.kind, OUTPUT_NULL);
	assert_int_equal(c->programs[0]->stderr_spec.kind, OUTPUT_STDOUT);
	config_free(c);
	free(path);
}

static void test_long_lines(void **state)
{
	(void)state;
	for (size_t len = 1000; len <= 20000; len *= 4) {
		/* a long command of many words, then an error after it on line 4 */
		char *cmd = malloc(len + 1);
		for (size_t i = 0; i < len; i++)
			cmd[i] = i % 10 == 9 ? ' ' : 'a' + (char)(i % 10);
		memcpy(cmd, "/bin/echo ", 10);
		cmd[len - 1] = 'z';
		cmd[len] = '\0';
		char *content = xasprintf("[program:a]\ncommand = %s\n\npriority = x\n", cmd);
		char *path = write_file("long/err.conf", content);
		char *errors = load_bad(path);
		assert_has_line(errors, "%s:4: [program:a] priority: \"x\"", path);
		assert_int_equal(count_lines(errors), 1);
		free(errors);
		free(path);
		free(content);

		content = xasprintf("[program:a]\ncommand = %s\nenvironment = LONG=\"%s\"\n[program:b]\ncommand = /bin/true\n",
				    cmd, cmd);
		path = write_file("long/ok.conf", content);
		struct config *c = load_ok(path);
		assert_int_equal(c->nprograms, 2);
		assert_string_equal(config_find_program(c, "a")->command, cmd);
		assert_int_equal(strlen(config_find_program(c, "a")->environment[0]), len + 5);
		assert_int_equal(config_find_program(c, "b")->line, 4);
		config_free(c);
		free(path);
		free(content);
		free(cmd);
	}
}

static void test_multiple_errors(void **state)
{
	char *path, *errors;

	(void)state;
	/* value errors across sections and files, all in one report */
	path = write_file("multi/vigil.conf",
			  "[vigil]\n"
			  "log_level = loud\n"
			  "[program:a]\n"
			  "command = x\n"
			  "stop_timeout = ten\n"
			  "numprocs = -1\n"
			  "bogus = 1\n"
			  "[program:b]\n"
			  "command = x\n"
			  "autostart = perhaps\n");
	errors = load_bad(path);
	assert_has_line(errors, "%s:2: [vigil] log_level:", path);
	assert_has_line(errors, "%s:5: [program:a] stop_timeout: \"ten\" is not a duration", path);
	assert_has_line(errors, "%s:6: [program:a] numprocs:", path);
	assert_has_line(errors, "%s:7: [program:a] unknown option \"bogus\"", path);
	assert_has_line(errors, "%s:10: [program:b] autostart:", path);
	assert_int_equal(count_lines(errors), 5);
	free(errors);
	free(path);

	/* whole-config checks: every program's problem */
	path = write_file("multi/check.conf",
			  "[program:a]\nrestart_delay = 1h\n"
			  "[program:b]\ncommand = x\nuser = no_such_user_vigil\n"
			  "[program:c]\ncommand = x\nbind_to = a\n");
	errors = load_bad(path);
	assert_has_line(errors, "%s:1: [program:a] command: missing", path);
	assert_has_line(errors, "%s:1: [program:a] restart_delay_max: shorter than restart_delay", path);
	assert_has_line(errors, "%s:3: [program:b] user: no such user", path);
	assert_has_line(errors, "%s:6: [program:c] bind_to: only daemon children", path);
	assert_int_equal(count_lines(errors), 4);
	free(errors);
	free(path);
}

static void test_syntax_error(void **state)
{
	(void)state;
	expect_one_error("syntax/noeq.conf", "[program:a]\ncommand = x\njust some words\n",
			 "3: syntax error");
	expect_one_error("syntax/bracket.conf", "[program:a]\ncommand = x\n\n[program:b\npriority = 3\n",
			 "4: syntax error");
	/* a continuation line is an error, not a silent part of the value */
	expect_one_error("syntax/indent.conf", "[program:a]\ncommand = /bin/echo\n    more words\n",
			 "3: syntax error");
}

static void test_include(void **state)
{
	char *main_path, *a, *b, *sub, *errors, *dir;
	struct config *c;

	(void)state;
	main_path = write_file("inc/etc/vigil.conf",
			       "[vigil]\n"
			       "include = conf.d/*.conf\n"
			       "log_level = notice\n"
			       "[program:main]\n"
			       "command = /bin/true\n");
	a = write_file("inc/etc/conf.d/a.conf",
		       "[program:a]\ncommand = /bin/true\ndirectory = data\n"
		       "[vigil]\ninclude = more/*.conf\n");
	b = write_file("inc/etc/conf.d/b.conf", "\n[program:b]\ncommand = /bin/true\npriority = 7\n");
	free(write_file("inc/etc/conf.d/ignored.txt", "[program:ignored]\ncommand = /bin/true\n"));
	sub = write_file("inc/etc/conf.d/more/s.conf", "[program:s]\ncommand = /bin/true\n");
	free(write_file("inc/etc/none.conf", "[vigil]\ninclude = nothing-here/*.conf\n"));

	c = load_ok(main_path);
	assert_int_equal(c->nprograms, 4);
	assert_int_equal(c->log_level, LOG_NOTICE);
	assert_null(config_find_program(c, "ignored"));
	assert_string_equal(config_find_program(c, "a")->file, a);
	assert_int_equal(config_find_program(c, "a")->line, 1);
	dir = xasprintf("%s/inc/etc/conf.d/data", tmpdir);
	assert_string_equal(config_find_program(c, "a")->directory, dir); /* relative to a.conf */
	free(dir);
	assert_string_equal(config_find_program(c, "b")->file, b);
	assert_int_equal(config_find_program(c, "b")->line, 2);
	assert_int_equal(config_find_program(c, "b")->priority, 7);
	assert_string_equal(config_find_program(c, "s")->file, sub);
	assert_string_equal(config_find_program(c, "main")->file, main_path);
	config_free(c);

	/* the config loads the same from another working directory */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	c = load_ok(main_path);
	assert_int_equal(c->nprograms, 4);
	config_free(c);
	assert_int_equal(chdir(cwd), 0);

	/* an error inside an included file names that file and its line */
	char *bad = write_file("inc/etc/conf.d/more/bad.conf",
			       "; comment\n[program:bad]\ncommand = /bin/true\nstop_signal = NOPE\n");
	errors = load_bad(main_path);
	assert_has_line(errors, "%s:4: [program:bad] stop_signal: \"NOPE\" is not a signal", bad);
	assert_int_equal(count_lines(errors), 1);
	free(errors);
	unlink(bad);
	free(bad);

	/* a program defined in two files (c.conf is read after b.conf) */
	bad = write_file("inc/etc/conf.d/c.conf", "\n\n[program:b]\ncommand = /bin/true\n");
	errors = load_bad(main_path);
	assert_has_error(errors, bad, "[program:b] is defined twice (first at %s:2)", b);
	free(errors);
	unlink(bad);
	free(bad);

	/* a check error in an included file names the included file */
	bad = write_file("inc/etc/conf.d/more/nocmd.conf", "\n[program:nocmd]\npriority = 1\n");
	errors = load_bad(main_path);
	assert_has_line(errors, "%s:2: [program:nocmd] command: missing", bad);
	free(errors);
	unlink(bad);
	free(bad);

	/* an include that matches nothing in an existing folder is fine
	 * (a missing folder: see pending_config.c) */
	mkdirs(strcat(strcpy(cwd, tmpdir), "/inc/etc/nothing-here"));
	char *none = xasprintf("%s/inc/etc/none.conf", tmpdir);
	c = load_ok(none);
	assert_int_equal(c->nprograms, 0);
	config_free(c);
	free(none);

	/* an include loop is an error, not a hang or a crash */
	char *loop = write_file("inc/loop/vigil.conf", "[vigil]\ninclude = vigil.conf\n");
	errors = load_bad(loop);
	assert_non_null(strstr(errors, "[vigil] include: nested more than"));
	free(errors);
	free(loop);

	free(main_path);
	free(a);
	free(b);
	free(sub);
}

static void test_missing_file(void **state)
{
	char *errors = NULL;
	char *path = xasprintf("%s/does/not/exist.conf", tmpdir);

	(void)state;
	assert_null(config_load(path, &errors));
	assert_non_null(errors);
	assert_true(strncmp(errors, path, strlen(path)) == 0);
	assert_non_null(strstr(errors, "cannot open"));
	free(errors);
	free(path);
	config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_paths_relative_to_file),
		cmocka_unit_test(test_values_forms),
		cmocka_unit_test(test_error_format_design_example),
		cmocka_unit_test(test_error_each_kind),
		cmocka_unit_test(test_unknown_option_and_section),
		cmocka_unit_test(test_set_twice),
		cmocka_unit_test(test_duplicate_program),
		cmocka_unit_test(test_bad_program_name),
		cmocka_unit_test(test_missing_command),
		cmocka_unit_test(test_bind_to),
		cmocka_unit_test(test_restart_delay_max),
		cmocka_unit_test(test_unknown_user_group),
		cmocka_unit_test(test_stdout_stdout),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
