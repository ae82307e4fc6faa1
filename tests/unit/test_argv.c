/* Unit tests for common/argv.c: shell-style word splitting of `command`,
 * %(process_num)d / %(program_name)s expansion, and `environment`. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

/* Compares a NULL-terminated array against want[0..n-1]. */
static void check_strv(const char *what, const char *input, char **got, const char *const *want,
		       size_t n, int line)
{
	size_t i;

	if (!got)
		fail_msg("line %d: %s(\"%s\") gave NULL", line, what, input);
	for (i = 0; i < n; i++) {
		if (!got[i])
			fail_msg("line %d: %s(\"%s\"): only %zu items, want %zu", line, what, input, i, n);
		if (strcmp(got[i], want[i]) != 0)
			fail_msg("line %d: %s(\"%s\")[%zu] = \"%s\", want \"%s\"", line, what, input, i, got[i],
				 want[i]);
	}
	if (got[n])
		fail_msg("line %d: %s(\"%s\"): extra item [%zu] \"%s\"", line, what, input, n, got[n]);
}

static void split_ok(const char *s, const char *const *want, size_t n, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char **argv = NULL;

	if (argv_split(s, &argv, err, sizeof(err)) != 0)
		fail_msg("line %d: argv_split(\"%s\") failed: %s", line, s, err);
	check_strv("argv_split", s, argv, want, n, line);
	argv_free(argv);
}

static void split_bad(const char *s, const char *msg, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char **argv = (char **)0x1;

	if (argv_split(s, &argv, err, sizeof(err)) != -1)
		fail_msg("line %d: argv_split(\"%s\") accepted", line, s);
	if (argv != (char **)0x1)
		fail_msg("line %d: argv_split(\"%s\") wrote argv on error", line, s);
	if (!strstr(err, msg))
		fail_msg("line %d: argv_split(\"%s\") error \"%s\", want it to say \"%s\"", line, s, err, msg);
}

#define W(...) ((const char *const[]){ __VA_ARGS__ }), (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))
#define SPLIT_OK(s, ...) split_ok(s, W(__VA_ARGS__), __LINE__)
#define SPLIT_BAD(s, msg) split_bad(s, msg, __LINE__)

static void test_split_words(void **state)
{
	(void)state;
	SPLIT_OK("/bin/true", "/bin/true");
	SPLIT_OK("/usr/bin/python3 -m http.server 8080", "/usr/bin/python3", "-m", "http.server", "8080");
	SPLIT_OK("  a   b\t\tc  ", "a", "b", "c");
	SPLIT_OK("\ta\t", "a");
	SPLIT_OK("a\nb", "a", "b");
}

static void test_split_single_quotes(void **state)
{
	(void)state;
	SPLIT_OK("sh -c 'echo a; echo b'", "sh", "-c", "echo a; echo b");
	/* nothing is special inside single quotes */
	SPLIT_OK("'a \\ \"b\" $x'", "a \\ \"b\" $x");
	SPLIT_OK("'a\\'", "a\\");
	SPLIT_OK("'  '", "  ");
}

static void test_split_double_quotes(void **state)
{
	(void)state;
	SPLIT_OK("echo \"hello world\"", "echo", "hello world");
	SPLIT_OK("\"a\\\"b\"", "a\"b");
	SPLIT_OK("\"a\\\\b\"", "a\\b");
	SPLIT_OK("\"\\$HOME\"", "$HOME");
	SPLIT_OK("\"\\`x\\`\"", "`x`");
	/* other backslashes stay, as in sh */
	SPLIT_OK("\"a\\nb\"", "a\\nb");
	SPLIT_OK("\"a\\'b\"", "a\\'b");
	/* no expansion happens */
	SPLIT_OK("\"$HOME\"", "$HOME");
	SPLIT_OK("\"it's\"", "it's");
}

static void test_split_backslash(void **state)
{
	(void)state;
	SPLIT_OK("a\\ b", "a b");
	SPLIT_OK("\\\"x\\\"", "\"x\"");
	SPLIT_OK("\\'", "'");
	SPLIT_OK("a\\\\b", "a\\b");
	SPLIT_OK("\\a", "a");
	SPLIT_OK("x \\  y", "x", " ", "y");
}

static void test_split_empty_and_joined(void **state)
{
	(void)state;
	SPLIT_OK("''", "");
	SPLIT_OK("\"\"", "");
	SPLIT_OK("prog '' x", "prog", "", "x");
	SPLIT_OK("prog \"\" ''", "prog", "", "");
	SPLIT_OK("a'b'\"c\"", "abc");
	SPLIT_OK("--opt='a b'", "--opt=a b");
	SPLIT_OK("x''y", "xy");
	SPLIT_OK("'a'\\ 'b'", "a b");
}

static void test_split_long(void **state)
{
	char *cmd = malloc(5001);
	char err[PARSE_ERR_MAX];
	char **argv;

	(void)state;
	assert_non_null(cmd);
	memset(cmd, 'x', 5000);
	cmd[5000] = '\0';
	cmd[2000] = ' ';
	assert_int_equal(argv_split(cmd, &argv, err, sizeof(err)), 0);
	assert_non_null(argv[0]);
	assert_non_null(argv[1]);
	assert_null(argv[2]);
	assert_int_equal(strlen(argv[0]), 2000);
	assert_int_equal(strlen(argv[1]), 2999);
	argv_free(argv);

	/* many words */
	for (int i = 0; i < 5000; i += 2) {
		cmd[i] = 'w';
		cmd[i + 1] = ' ';
	}
	assert_int_equal(argv_split(cmd, &argv, err, sizeof(err)), 0);
	size_t n = 0;
	while (argv[n]) {
		assert_string_equal(argv[n], "w");
		n++;
	}
	assert_int_equal(n, 2500);
	argv_free(argv);
	free(cmd);
	argv_free(NULL);
}

static void test_split_errors(void **state)
{
	(void)state;
	SPLIT_BAD("", "empty command");
	SPLIT_BAD("   \t ", "empty command");
	SPLIT_BAD("echo 'abc", "unterminated single quote");
	SPLIT_BAD("'", "unterminated single quote");
	SPLIT_BAD("echo \"abc", "unterminated double quote");
	SPLIT_BAD("\"", "unterminated double quote");
	SPLIT_BAD("\"abc\\\"", "unterminated double quote");
	SPLIT_BAD("\"abc\\", "unterminated double quote");
	SPLIT_BAD("echo abc\\", "trailing backslash");
	SPLIT_BAD("\\", "trailing backslash");
	/* an error after good words frees them (checked under LeakSanitizer) */
	SPLIT_BAD("a b c d e f 'g", "unterminated single quote");
}

/* ---- %(...) expansion --------------------------------------------------- */

static void expand_ok(const char *s, const char *prog, int num, const char *want, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char *got = expand_program_vars(s, prog, num, err, sizeof(err));

	if (!got)
		fail_msg("line %d: expand_program_vars(\"%s\") failed: \"%s\"", line, s, err);
	if (strcmp(got, want) != 0)
		fail_msg("line %d: expand_program_vars(\"%s\") = \"%s\", want \"%s\"", line, s, got, want);
	free(got);
}

static void expand_bad(const char *s, const char *msg, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char *got = expand_program_vars(s, "web", 3, err, sizeof(err));

	if (got)
		fail_msg("line %d: expand_program_vars(\"%s\") accepted: \"%s\"", line, s, got);
	if (!strstr(err, msg))
		fail_msg("line %d: expand_program_vars(\"%s\") error \"%s\", want \"%s\"", line, s, err, msg);
}

#define EXPAND_OK(s, prog, num, want) expand_ok(s, prog, num, want, __LINE__)
#define EXPAND_BAD(s, msg) expand_bad(s, msg, __LINE__)

static void test_expand(void **state)
{
	(void)state;
	EXPAND_OK("/srv/worker --id %(process_num)d", "web", 3, "/srv/worker --id 3");
	EXPAND_OK("%(process_num)d", "web", 0, "0");
	EXPAND_OK("%(process_num)d", "web", 12345, "12345");
	EXPAND_OK("%(process_num)02d", "web", 3, "03");
	EXPAND_OK("%(process_num)02d", "web", 123, "123");
	EXPAND_OK("%(process_num)3d", "web", 7, "  7");
	EXPAND_OK("%(process_num)003d", "web", 7, "007");
	EXPAND_OK("%(program_name)s", "web", 0, "web");
	EXPAND_OK("/var/log/%(program_name)s-%(process_num)d.log", "api.v2", 4, "/var/log/api.v2-4.log");
	EXPAND_OK("%(process_num)d%(process_num)d", "w", 5, "55");
	EXPAND_OK("no variables", "web", 1, "no variables");
	EXPAND_OK("100% sure %d %s (x)", "web", 1, "100% sure %d %s (x)");
	EXPAND_OK("trailing %", "web", 1, "trailing %");
	/* the empty string and wide fields: see pending_argv.c */
}

static void test_expand_errors(void **state)
{
	(void)state;
	EXPAND_BAD("%(foo)s", "unknown %(...) variable");
	EXPAND_BAD("x %(host_node_name)s", "unknown %(...) variable");
	EXPAND_BAD("%(program_name)d", "unknown %(...) variable");
	EXPAND_BAD("%(process_num)s", "bad %(process_num) format");
	EXPAND_BAD("%(process_num)", "bad %(process_num) format");
	EXPAND_BAD("%(process_num)x", "bad %(process_num) format");
	EXPAND_BAD("%(process_num)-2d", "bad %(process_num) format");
	EXPAND_BAD("%(process_num)0002d", "bad %(process_num) format");
	EXPAND_BAD("%(process_num", "unknown %(...) variable");
	EXPAND_BAD("%(", "unknown %(...) variable");
	/* an error after some output frees it (LeakSanitizer) */
	EXPAND_BAD("a long prefix that fills the buffer past its first size........ %(x)", "unknown");
}

/* ---- environment -------------------------------------------------------- */

static void env_ok(const char *s, const char *const *want, size_t n, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char **env = NULL;

	if (parse_environment(s, &env, err, sizeof(err)) != 0)
		fail_msg("line %d: parse_environment(\"%s\") failed: %s", line, s, err);
	check_strv("parse_environment", s, env, want, n, line);
	argv_free(env);
}

static void env_bad(const char *s, const char *msg, int line)
{
	char err[PARSE_ERR_MAX] = "";
	char **env = NULL;

	if (parse_environment(s, &env, err, sizeof(err)) != -1)
		fail_msg("line %d: parse_environment(\"%s\") accepted", line, s);
	if (env)
		fail_msg("line %d: parse_environment(\"%s\") left an array behind", line, s);
	if (!strstr(err, msg))
		fail_msg("line %d: parse_environment(\"%s\") error \"%s\", want \"%s\"", line, s, err, msg);
}

#define ENV_OK(s, ...) env_ok(s, W(__VA_ARGS__), __LINE__)
#define ENV_BAD(s, msg) env_bad(s, msg, __LINE__)

static void test_environment(void **state)
{
	char err[PARSE_ERR_MAX];
	char **env = NULL;

	(void)state;
	ENV_OK("A=1, B=\"x y\"", "A=1", "B=x y");
	ENV_OK("A=1", "A=1");
	ENV_OK("A=1,B=2,C=3", "A=1", "B=2", "C=3");
	ENV_OK("  A=1 ,  B=2  ", "A=1", "B=2");
	ENV_OK("LIST=\"a,b,c\", X=1", "LIST=a,b,c", "X=1");
	ENV_OK("Q='single, quoted'", "Q=single, quoted");
	ENV_OK("Q='has \"double\" inside'", "Q=has \"double\" inside");
	ENV_OK("Q=\"esc \\\" and \\\\\"", "Q=esc \" and \\");
	ENV_OK("E=", "E=");
	ENV_OK("E=, F=1", "E=", "F=1");
	ENV_OK("E=\"\"", "E=");
	ENV_OK("E=''", "E=");
	ENV_OK("URL=http://x/?a=b", "URL=http://x/?a=b");
	ENV_OK("_U_9=ok", "_U_9=ok");
	ENV_OK("A=pre\"mid dle\"post", "A=premid dlepost");
	ENV_OK("A=1,", "A=1");
	ENV_OK("A=1,,B=2", "A=1", "B=2");
	/* blanks at the end of a quoted value: see pending_argv.c */
	ENV_OK("A=\"  x\"", "A=  x");

	/* empty input: an empty (NULL-terminated) array */
	assert_int_equal(parse_environment("", &env, err, sizeof(err)), 0);
	assert_non_null(env);
	assert_null(env[0]);
	argv_free(env);
	assert_int_equal(parse_environment(" , ", &env, err, sizeof(err)), 0);
	assert_non_null(env);
	assert_null(env[0]);
	argv_free(env);
}

static void test_environment_errors(void **state)
{
	(void)state;
	ENV_BAD("1A=x", "is not KEY=value");
	ENV_BAD("=x", "is not KEY=value");
	ENV_BAD("A-B=1", "is not KEY=value");
	ENV_BAD("A", "is not KEY=value");
	ENV_BAD("A=1, B", "is not KEY=value");
	ENV_BAD("A=1, B C=2", "is not KEY=value");
	ENV_BAD("A=\"x", "unterminated quote in value of A");
	ENV_BAD("A=1, LONGER_KEY='x, y", "unterminated quote in value of LONGER_KEY");
	ENV_BAD("A=1, B=2, C=3, D=\"oops", "unterminated quote");
	ENV_BAD("A=1, B=2, 3C=3", "is not KEY=value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_words),
		cmocka_unit_test(test_split_single_quotes),
		cmocka_unit_test(test_split_double_quotes),
		cmocka_unit_test(test_split_backslash),
		cmocka_unit_test(test_split_empty_and_joined),
		cmocka_unit_test(test_split_long),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_environment_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
