/* Unit tests for daemon/config.c and config_check.c: config_load() on
 * files written here, against the config section of DESIGN.md: the values
 * a valid config yields, defaults, relative paths and includes. The error
 * messages are tested in test_config_errors.c. */
#include "config_helpers.h"

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
		"command = pinger --for web\n"
		"numprocs = 3\n"
		"daemon = yes\n"
		"bind_to = web\n"
		"stdout = journal\n"
		"stderr = null\n"
		"\n"
		"[program:solo]\n"
		"command = external-pinger\n"
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
	assert_null(a->requires);
	assert_int_equal(a->nrequires, 0);
	assert_int_equal(a->requires_line, 0);
	assert_null(a->health_check);
	assert_int_equal(a->health_check_line, 0);
	assert_int_equal(a->health_interval, 10 * SEC);
	assert_int_equal(a->health_timeout, 2 * SEC);
	assert_int_equal(a->health_retries, 3);
	assert_int_equal(a->health_start_period, 0);
	assert_int_equal(a->health_action, HEALTH_ACTION_RESTART);
	assert_false(a->critical);
	assert_false(a->restart_set);
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
	char *exe = write_executable("rel/etc/srv/a/bin/a"); /* ./bin/a, in its directory */
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
	free(exe);
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

/* ---- include and missing files ----------------------------------------- */

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
	assert_non_null(strstr(errors, "already being read (an include loop)"));
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
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
