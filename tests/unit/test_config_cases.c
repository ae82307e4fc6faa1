/* Regression cases for bugs found by the first unit tests (now fixed).
 * Uses the helpers shared with test_config.c (config_helpers.h). */
#include "config_helpers.h"

/* A second [program:a] right after the first is merged into it silently:
 * config_handle only notices a new section when its name changes. */
static void pending_consecutive_duplicate(void **state)
{
	(void)state;
	expect_one_error("p/dupc.conf", "[program:a]\ncommand = /bin/true\n[program:a]\npriority = 5\n",
			 "3: [program:a] is defined twice");
}

/* [vigil] options may be set twice without a word (vigil_seen is unused). */
static void pending_vigil_set_twice(void **state)
{
	(void)state;
	expect_one_error("p/vtwice.conf", "[vigil]\nsocket = /tmp/a.sock\nsocket = /tmp/b.sock\n",
			 "3: [vigil] socket: set twice");
	expect_one_error("p/vtwice2.conf", "[vigil]\nlog_level = info\n\nlog_level = debug\n",
			 "4: [vigil] log_level: set twice");
}

/* Sections are only seen through their options: an empty unknown section,
 * an empty [program:x] (no command!) or an empty badly named one are
 * accepted, the program silently dropped. */
static void pending_empty_sections(void **state)
{
	(void)state;
	expect_one_error("p/emptysec.conf", "[foo]\n[program:a]\ncommand = /bin/true\n",
			 "1: unknown section [foo]");
	expect_one_error("p/emptyprog.conf", "[program:web]\n\n[program:ok]\ncommand = /bin/true\n",
			 "1: [program:web] command: missing");
	expect_one_error("p/emptybad.conf", "[program:bad name]\n", "1: [program:bad name] bad program name");
}

/* Errors about a whole section name the line of its first option, not of
 * the [section] header. */
static void pending_section_error_lines(void **state)
{
	(void)state;
	expect_one_error("p/secline.conf", "\n[foo]\n; comment\nx = 1\n", "2: unknown section [foo]");
	expect_one_error("p/badline.conf", "[program:bad name]\n\ncommand = /bin/true\n",
			 "1: [program:bad name] bad program name");
	char *path = write_file("p/dupline.conf",
				"[program:web]\ncommand = x\n[program:o]\ncommand = x\n[program:web]\n\ncommand = y\n");
	char *errors = load_bad(path);
	assert_has_line(errors, "%s:5: [program:web] is defined twice (first at %s:1)", path, path);
	free(errors);
	free(path);
}

/* A syntax error is dropped when the same file has any other error
 * (config_parse_file reports inih's error only if ctx.nerrors == 0). */
static void pending_syntax_and_value_errors(void **state)
{
	char *path = write_file("p/synplus.conf",
				"[program:a]\ncommand = /bin/true\nstop_timeout = ten\ngarbage\n");
	char *errors = load_bad(path);

	(void)state;
	assert_has_line(errors, "%s:3: [program:a] stop_timeout: \"ten\" is not a duration", path);
	assert_has_line(errors, "%s:4: syntax error", path);
	free(errors);
	free(path);
}

/* The socket-too-long error has no line number: "FILE: [vigil] socket: ...". */
static void pending_socket_too_long_line(void **state)
{
	char long_path[160];

	(void)state;
	memset(long_path, 'x', 120);
	long_path[120] = '\0';
	char *content = xasprintf("[vigil]\nlog_level = info\nsocket = /tmp/%s\n", long_path);
	expect_one_error("p/longsock.conf", content, "3: [vigil] socket: path longer than");
	free(content);
}

/* include = DIR/STAR.conf with DIR missing is an error ("cannot read ...: No
 * such file or directory", from GLOB_ERR), while the same glob in an
 * existing empty folder, or a literal missing file, is silently fine. */
static void pending_include_missing_folder(void **state)
{
	char *path = write_file("p/inc.conf", "[vigil]\ninclude = nothere/*.conf\n");
	struct config *c = load_ok(path);

	(void)state;
	assert_int_equal(c->nprograms, 0);
	config_free(c);
	free(path);
}

/* inih cuts section names at 49 bytes (MAX_SECTION 50), so program names
 * of 42..64 characters, which program_name_valid() accepts, are silently
 * truncated to 41 (and two such names may collide). */
static void pending_long_program_name(void **state)
{
	char name[61];

	(void)state;
	memset(name, 'n', 60);
	name[60] = '\0';
	char *content = xasprintf("[program:%s]\ncommand = /bin/true\n", name);
	char *path = write_file("p/longname.conf", content);
	struct config *c = load_ok(path);
	assert_int_equal(c->nprograms, 1);
	assert_string_equal(c->programs[0]->name, name);
	config_free(c);
	free(path);
	free(content);
}

/* A line longer than the 64 KiB limit is split, and its tail parsed as a
 * line of its own: here the command is silently cut and priority = 3 is
 * taken from the tail. It should be rejected, naming line 2. */
static void pending_overlong_line(void **state)
{
	const char *head = "command = /bin/echo ";
	size_t n = 65535;
	char *line = malloc(n + 1);

	(void)state;
	memset(line, 'x', n);
	memcpy(line, head, strlen(head));
	line[n] = '\0';
	char *content = xasprintf("[program:a]\n%spriority = 3\n", line);
	char *path = write_file("p/overlong.conf", content);
	char *errors = load_bad(path);
	assert_has_error(errors, path, "[program:a]");
	assert_true(has_line(errors, path) && strncmp(errors + strlen(path), ":2: ", 4) == 0);
	free(errors);
	free(path);
	free(content);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pending_consecutive_duplicate),
		cmocka_unit_test(pending_vigil_set_twice),
		cmocka_unit_test(pending_empty_sections),
		cmocka_unit_test(pending_section_error_lines),
		cmocka_unit_test(pending_syntax_and_value_errors),
		cmocka_unit_test(pending_socket_too_long_line),
		cmocka_unit_test(pending_include_missing_folder),
		cmocka_unit_test(pending_long_program_name),
		cmocka_unit_test(pending_overlong_line),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
