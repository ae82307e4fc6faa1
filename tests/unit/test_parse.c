/* Unit tests for common/parse.c: the value parsers behind every config
 * option (DESIGN.md, "Config": durations, sizes, booleans, signals,
 * exit-code lists, octal modes, integer ranges). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

/* ---- durations ---------------------------------------------------------- */

static void dur_ok(const char *s, int64_t want, int line)
{
	char err[PARSE_ERR_MAX] = "";
	int64_t got = -12345;

	if (parse_duration(s, &got, err, sizeof(err)) != 0)
		fail_msg("line %d: parse_duration(\"%s\") failed: %s", line, s, err);
	if (got != want)
		fail_msg("line %d: parse_duration(\"%s\") = %lld, want %lld", line, s, (long long)got,
			 (long long)want);
}

static void dur_bad(const char *s, int line)
{
	char err[PARSE_ERR_MAX] = "";
	int64_t got = -12345;

	if (parse_duration(s, &got, err, sizeof(err)) != -1)
		fail_msg("line %d: parse_duration(\"%s\") accepted, gave %lld", line, s, (long long)got);
	if (got != -12345)
		fail_msg("line %d: parse_duration(\"%s\") wrote its output on error", line, s);
	if (err[0] == '\0')
		fail_msg("line %d: parse_duration(\"%s\") failed without a message", line, s);
}

#define DUR_OK(s, want) dur_ok(s, want, __LINE__)
#define DUR_BAD(s) dur_bad(s, __LINE__)

static void test_duration_units(void **state)
{
	(void)state;
	DUR_OK("250us", 250);
	DUR_OK("250ms", 250 * MS);
	DUR_OK("5s", 5 * SEC);
	DUR_OK("5sec", 5 * SEC);
	DUR_OK("2m", 120 * SEC);
	DUR_OK("2min", 120 * SEC);
	DUR_OK("1h", 3600 * SEC);
	DUR_OK("1d", 86400 * SEC);
	DUR_OK("90", 90 * SEC); /* a bare number is seconds */
	DUR_OK("0", 0);
	DUR_OK("0s", 0);
	DUR_OK("0ms", 0);
	DUR_OK("100ms", 100 * MS);
	DUR_OK("30s", 30 * SEC);
}

static void test_duration_decimals_and_sums(void **state)
{
	(void)state;
	DUR_OK("1.5s", 1500 * MS);
	DUR_OK("1.5", 1500 * MS);
	DUR_OK("0.25s", 250 * MS);
	DUR_OK(".5s", 500 * MS);
	DUR_OK("2.5ms", 2500);
	DUR_OK("1.5h", 5400 * SEC);
	DUR_OK("1m30s", 90 * SEC);
	DUR_OK("1h30m", 5400 * SEC);
	DUR_OK("1h1m1s1ms1us", 3661 * SEC + MS + 1);
	DUR_OK("1m 30s", 90 * SEC);
	DUR_OK("  5s  ", 5 * SEC);
	/* ten years is the cap: still fine */
	DUR_OK("3650d", INT64_C(3650) * 86400 * SEC);
}

static void test_duration_bad(void **state)
{
	(void)state;
	DUR_BAD("");
	DUR_BAD("   ");
	DUR_BAD("ten");
	DUR_BAD("-1s");
	DUR_BAD("-1");
	DUR_BAD("+1s");
	DUR_BAD("5x");
	DUR_BAD("5S");
	DUR_BAD("1e3");
	DUR_BAD("0x10");
	DUR_BAD("5 3");
	DUR_BAD("s");
	DUR_BAD("ms");
	DUR_BAD(".");
	DUR_BAD("1..5s");
	DUR_BAD("1.5.5s");
	DUR_BAD("inf");
	DUR_BAD("nan");
	DUR_BAD("5s,");
	DUR_BAD("5s;");
	/* overflow: longer than ten years, huge numbers, absurd digit counts */
	DUR_BAD("3651d");
	DUR_BAD("100000000000000000000");
	DUR_BAD("9223372036854775807us9223372036854775807us");
	DUR_BAD("99999999999999999999999999999999999999999999999999s");
	DUR_BAD("1000000h");
}

static void test_duration_error_message(void **state)
{
	char err[PARSE_ERR_MAX] = "";
	int64_t v;

	(void)state;
	assert_int_equal(parse_duration("ten", &v, err, sizeof(err)), -1);
	/* config errors read `stop_timeout: "ten" is not a duration` */
	assert_non_null(strstr(err, "\"ten\" is not a duration"));
	/* a NULL/zero-sized error buffer is allowed */
	assert_int_equal(parse_duration("ten", &v, NULL, 0), -1);
	/* a tiny buffer truncates, never overflows */
	char tiny[4] = "xxx";
	assert_int_equal(parse_duration("ten", &v, tiny, sizeof(tiny)), -1);
	assert_int_equal(strlen(tiny), 3);
}

/* ---- sizes -------------------------------------------------------------- */

static void size_ok(const char *s, uint64_t want, int line)
{
	char err[PARSE_ERR_MAX] = "";
	uint64_t got = 12345;

	if (parse_size(s, &got, err, sizeof(err)) != 0)
		fail_msg("line %d: parse_size(\"%s\") failed: %s", line, s, err);
	if (got != want)
		fail_msg("line %d: parse_size(\"%s\") = %llu, want %llu", line, s, (unsigned long long)got,
			 (unsigned long long)want);
}

static void size_bad(const char *s, int line)
{
	char err[PARSE_ERR_MAX] = "";
	uint64_t got = 12345;

	if (parse_size(s, &got, err, sizeof(err)) != -1)
		fail_msg("line %d: parse_size(\"%s\") accepted, gave %llu", line, s, (unsigned long long)got);
	if (got != 12345)
		fail_msg("line %d: parse_size(\"%s\") wrote its output on error", line, s);
	if (err[0] == '\0')
		fail_msg("line %d: parse_size(\"%s\") failed without a message", line, s);
}

#define SIZE_OK(s, want) size_ok(s, want, __LINE__)
#define SIZE_BAD(s) size_bad(s, __LINE__)

static void test_size(void **state)
{
	(void)state;
	SIZE_OK("0", 0);
	SIZE_OK("512", 512);
	SIZE_OK("512B", 512);
	SIZE_OK("512K", 512 * 1024);
	SIZE_OK("512k", 512 * 1024);
	SIZE_OK("10M", UINT64_C(10) << 20);
	SIZE_OK("1G", UINT64_C(1) << 30);
	SIZE_OK("2T", UINT64_C(2) << 40);
	SIZE_OK("1KB", 1024);
	SIZE_OK("1KiB", 1024);
	SIZE_OK("1kib", 1024);
	SIZE_OK("10MB", UINT64_C(10) << 20);
	SIZE_OK("10MiB", UINT64_C(10) << 20);
	SIZE_OK("1GiB", UINT64_C(1) << 30);
	SIZE_OK(" 10M ", UINT64_C(10) << 20);
	SIZE_OK("16777215T", UINT64_C(16777215) << 40);
	SIZE_OK("18446744073709551615", UINT64_MAX);
}

static void test_size_bad(void **state)
{
	(void)state;
	SIZE_BAD("");
	SIZE_BAD("  ");
	SIZE_BAD("10Q");
	SIZE_BAD("-5");
	SIZE_BAD("+5");
	SIZE_BAD("M");
	SIZE_BAD("ten");
	SIZE_BAD("10 M");
	SIZE_BAD("10MM");
	SIZE_BAD("10iB");
	SIZE_BAD("10Mx");
	SIZE_BAD("1.5G");
	SIZE_BAD("0x10");
	/* overflow */
	SIZE_BAD("18446744073709551616");
	SIZE_BAD("99999999999999999999999");
	SIZE_BAD("16777216T");
	SIZE_BAD("17179869184G");
	SIZE_BAD("18446744073709551615K");
}

/* ---- booleans ----------------------------------------------------------- */

static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True", "ON", "yEs" };
	static const char *const no[] = { "no", "false", "off", "0", "NO", "False", "OFF", "nO" };
	static const char *const bad[] = { "", "y", "n", "2", "maybe", "yes ", " no", "enable", "-1",
					   "10", "t", "f", "nope" };
	char err[PARSE_ERR_MAX];
	bool b;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		if (parse_bool(yes[i], &b, err, sizeof(err)) != 0 || !b)
			fail_msg("parse_bool(\"%s\") should be true", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		if (parse_bool(no[i], &b, err, sizeof(err)) != 0 || b)
			fail_msg("parse_bool(\"%s\") should be false", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		b = true;
		if (parse_bool(bad[i], &b, err, sizeof(err)) != -1)
			fail_msg("parse_bool(\"%s\") accepted", bad[i]);
		assert_true(b); /* untouched */
		assert_non_null(strstr(err, "is not a boolean"));
	}
}

/* ---- signals ------------------------------------------------------------ */

static void sig_ok(const char *s, int want, int line)
{
	char err[PARSE_ERR_MAX] = "";
	int got = -1;

	if (parse_signal(s, &got, err, sizeof(err)) != 0)
		fail_msg("line %d: parse_signal(\"%s\") failed: %s", line, s, err);
	if (got != want)
		fail_msg("line %d: parse_signal(\"%s\") = %d, want %d", line, s, got, want);
}

static void sig_bad(const char *s, int line)
{
	char err[PARSE_ERR_MAX] = "";
	int got = -1;

	if (parse_signal(s, &got, err, sizeof(err)) != -1)
		fail_msg("line %d: parse_signal(\"%s\") accepted, gave %d", line, s, got);
	if (got != -1)
		fail_msg("line %d: parse_signal(\"%s\") wrote its output on error", line, s);
	if (err[0] == '\0')
		fail_msg("line %d: parse_signal(\"%s\") failed without a message", line, s);
}

#define SIG_OK(s, want) sig_ok(s, want, __LINE__)
#define SIG_BAD(s) sig_bad(s, __LINE__)

static void test_signal(void **state)
{
	(void)state;
	SIG_OK("TERM", SIGTERM);
	SIG_OK("SIGTERM", SIGTERM);
	SIG_OK("sigterm", SIGTERM);
	SIG_OK("term", SIGTERM);
	SIG_OK("SigTerm", SIGTERM);
	SIG_OK("15", SIGTERM);
	SIG_OK("HUP", SIGHUP);
	SIG_OK("SIGHUP", SIGHUP);
	SIG_OK("1", SIGHUP);
	SIG_OK("KILL", SIGKILL);
	SIG_OK("9", SIGKILL);
	SIG_OK("ABRT", SIGABRT);
	SIG_OK("INT", SIGINT);
	SIG_OK("QUIT", SIGQUIT);
	SIG_OK("USR1", SIGUSR1);
	SIG_OK("SIGUSR2", SIGUSR2);
	SIG_OK("WINCH", SIGWINCH);
	SIG_OK("64", 64);
}

static void test_signal_bad(void **state)
{
	(void)state;
	SIG_BAD("0");
	SIG_BAD("65");
	SIG_BAD("-1");
	SIG_BAD("-15");
	SIG_BAD("99999999999999999999");
	SIG_BAD("FOO");
	SIG_BAD("SIGFOO");
	SIG_BAD("");
	SIG_BAD("SIG");
	SIG_BAD("15x");
	SIG_BAD("TERMX");
	SIG_BAD("SIGSIGTERM");
}

static void test_signal_name(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(signal_name(SIGTERM, buf, sizeof(buf)), "TERM");
	assert_string_equal(signal_name(SIGKILL, buf, sizeof(buf)), "KILL");
	assert_string_equal(signal_name(SIGHUP, buf, sizeof(buf)), "HUP");
	assert_string_equal(signal_name(SIGABRT, buf, sizeof(buf)), "ABRT");
	assert_string_equal(signal_name(SIGUSR1, buf, sizeof(buf)), "USR1");
	/* unknown numbers give SIGNUM, never "SIG?" */
	assert_string_equal(signal_name(0, buf, sizeof(buf)), "SIG0");
	assert_string_equal(signal_name(200, buf, sizeof(buf)), "SIG200");
	/* every name it gives parses back to the same number */
	for (int i = 1; i < NSIG; i++) {
		char err[PARSE_ERR_MAX];
		const char *name = signal_name(i, buf, sizeof(buf));
		int back = -1;
		assert_non_null(name);
		assert_true(name[0] != '\0');
		if (strncmp(name, "SIG", 3) == 0)
			continue; /* SIGNN fallbacks for realtime signals */
		if (parse_signal(name, &back, err, sizeof(err)) != 0)
			fail_msg("signal_name(%d) = \"%s\" does not parse back: %s", i, name, err);
		if (back != i)
			fail_msg("signal_name(%d) = \"%s\" parses back to %d", i, name, back);
	}
}

/* ---- exit codes --------------------------------------------------------- */

static void assert_codes(const struct exit_code_set *set, const int *want, size_t n)
{
	for (int code = -2; code < 260; code++) {
		bool expected = false;
		for (size_t i = 0; i < n; i++)
			if (want[i] == code)
				expected = true;
		if (exit_code_set_has(set, code) != expected)
			fail_msg("exit code %d: has=%d, want %d", code, exit_code_set_has(set, code), expected);
	}
}

static void test_exit_codes(void **state)
{
	struct exit_code_set set;
	char err[PARSE_ERR_MAX];

	(void)state;
	assert_int_equal(parse_exit_codes("0", &set, err, sizeof(err)), 0);
	assert_codes(&set, (int[]){ 0 }, 1);

	assert_int_equal(parse_exit_codes("0, 2 3", &set, err, sizeof(err)), 0);
	assert_codes(&set, (int[]){ 0, 2, 3 }, 3);

	assert_int_equal(parse_exit_codes("255,1", &set, err, sizeof(err)), 0);
	assert_codes(&set, (int[]){ 1, 255 }, 2);

	assert_int_equal(parse_exit_codes("  7 ,, 8\t9  ", &set, err, sizeof(err)), 0);
	assert_codes(&set, (int[]){ 7, 8, 9 }, 3);

	assert_int_equal(parse_exit_codes("3 3 3", &set, err, sizeof(err)), 0);
	assert_codes(&set, (int[]){ 3 }, 1);

	/* every code round-trips */
	for (int c = 0; c < 256; c++) {
		char s[8];
		snprintf(s, sizeof(s), "%d", c);
		assert_int_equal(parse_exit_codes(s, &set, err, sizeof(err)), 0);
		assert_codes(&set, &c, 1);
	}
}

static void test_exit_codes_bad(void **state)
{
	static const char *const bad[] = { "256", "-1", "x", "", "  ", ",", ", ,", "0, 256", "1,x",
					   "1.5", "0x1", "99999999999999999999999" };
	struct exit_code_set set, before;
	char err[PARSE_ERR_MAX];

	(void)state;
	memset(&before, 0, sizeof(before));
	exit_code_set_add(&before, 42);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set = before;
		err[0] = '\0';
		if (parse_exit_codes(bad[i], &set, err, sizeof(err)) != -1)
			fail_msg("parse_exit_codes(\"%s\") accepted", bad[i]);
		if (memcmp(&set, &before, sizeof(set)) != 0)
			fail_msg("parse_exit_codes(\"%s\") changed the set on error", bad[i]);
		if (err[0] == '\0')
			fail_msg("parse_exit_codes(\"%s\") failed without a message", bad[i]);
	}
	assert_int_equal(parse_exit_codes("0, 256", &set, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"256\""));
}

static void test_exit_code_set(void **state)
{
	struct exit_code_set set;

	(void)state;
	memset(&set, 0, sizeof(set));
	assert_false(exit_code_set_has(&set, 0));
	exit_code_set_add(&set, 0);
	exit_code_set_add(&set, 7);
	exit_code_set_add(&set, 8);
	exit_code_set_add(&set, 255);
	assert_codes(&set, (int[]){ 0, 7, 8, 255 }, 4);
	assert_false(exit_code_set_has(&set, -1));
	assert_false(exit_code_set_has(&set, 256));
	assert_false(exit_code_set_has(&set, 1000));
}

/* ---- octal modes and integer ranges ------------------------------------- */

static void test_octal_mode(void **state)
{
	static const struct {
		const char *s;
		int mode;
	} good[] = {
		{ "022", 022 }, { "0660", 0660 }, { "660", 0660 }, { "0", 0 }, { "000", 0 },
		{ "7777", 07777 }, { "0755", 0755 }, { "0777 ", 0777 },
	};
	static const char *const bad[] = { "", "8", "0778", "0x1ff", "abc", "-1", "10000", "077 7",
					   "rwx", "99999999999999999999999" };
	char err[PARSE_ERR_MAX];
	int mode;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		mode = -1;
		if (parse_octal_mode(good[i].s, &mode, err, sizeof(err)) != 0)
			fail_msg("parse_octal_mode(\"%s\") failed: %s", good[i].s, err);
		if (mode != good[i].mode)
			fail_msg("parse_octal_mode(\"%s\") = %o, want %o", good[i].s, mode, good[i].mode);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mode = -1;
		err[0] = '\0';
		if (parse_octal_mode(bad[i], &mode, err, sizeof(err)) != -1)
			fail_msg("parse_octal_mode(\"%s\") accepted as %o", bad[i], mode);
		assert_int_equal(mode, -1);
		assert_true(err[0] != '\0');
	}
}

static void test_int_range(void **state)
{
	char err[PARSE_ERR_MAX];
	long v;

	(void)state;
	assert_int_equal(parse_int_range("5", 1, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_int_range("1", 1, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_int_range("10", 1, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_int_range("-1000000", -1000000, 1000000, &v, err, sizeof(err)), 0);
	assert_int_equal(v, -1000000);
	assert_int_equal(parse_int_range(" 7 ", 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 7);

	v = 99;
	assert_int_equal(parse_int_range("0", 1, 10, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "\"0\" is not a whole number from 1 to 10");
	assert_int_equal(parse_int_range("11", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("  ", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("5x", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("5.0", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("five", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("0x5", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("99999999999999999999999", 1, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_int_range("-99999999999999999999999", -10, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(v, 99); /* untouched by every failure */
	assert_int_equal(parse_int_range("5x", 1, 10, &v, NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_decimals_and_sums),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_error_message),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_signal_bad),
		cmocka_unit_test(test_signal_name),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_exit_codes_bad),
		cmocka_unit_test(test_exit_code_set),
		cmocka_unit_test(test_octal_mode),
		cmocka_unit_test(test_int_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
