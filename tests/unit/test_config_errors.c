/* Unit tests for the error messages of config_load() (daemon/config.c and
 * config_check.c): "file:line: [section] option: message", as DESIGN.md
 * puts it. The values of valid configs are tested in test_config.c. */
#include "config_helpers.h"

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
			 "3: [program:a] type: \"forking\" is not a type (simple|notify|oneshot)");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
