/* Regression cases for bugs found by the first unit tests (now fixed).
 * Reuses the helpers of the main test file. */
#define main test_argv_main
#include "test_argv.c"
#undef main

/* expand_program_vars("") returns NULL (the error value) without setting
 * err: strbuf_puts(&b, "") allocates nothing, so b.data stays NULL. */
static void pending_expand_empty(void **state)
{
	(void)state;
	EXPAND_OK("", "web", 0, "");
}

/* Widths up to 3 digits are accepted, but the result is cut at 31 bytes
 * (char num[32]): "%(process_num)40d" with 7 gives 31 blanks and no 7. */
static void pending_expand_wide(void **state)
{
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "%40d", 7);
	EXPAND_OK("%(process_num)40d", "web", 7, want);
}

/* Trailing blanks are trimmed after the value is assembled, so blanks
 * inside quotes at its end are lost: A="x " gives "A=x". */
static void pending_environment_quoted_blanks(void **state)
{
	(void)state;
	ENV_OK("A=\"x \"", "A=x ");
	ENV_OK("A=\"  \", B=1", "A=  ", "B=1");
	ENV_OK("A=' pad '", "A= pad ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pending_expand_empty),
		cmocka_unit_test(pending_expand_wide),
		cmocka_unit_test(pending_environment_quoted_blanks),
	};
	(void)test_argv_main;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
