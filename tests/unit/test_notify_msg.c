/* notify_msg_parse: the sd_notify wire format. Each input is copied into
 * a heap buffer of exactly its length, so under ASan a read past the
 * datagram (the parser must not expect a terminating NUL) is caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify_msg.h"

static int parse_n(const char *data, size_t len, struct notify_msg *msg)
{
	char *buf = malloc(len ? len : 1);
	int rc;

	assert_non_null(buf);
	memcpy(buf, data, len);
	rc = notify_msg_parse(buf, len, msg);
	free(buf);
	return rc;
}

static int parse(const char *text, struct notify_msg *msg)
{
	return parse_n(text, strlen(text), msg);
}

static void assert_nothing_set(const struct notify_msg *m)
{
	assert_false(m->ready);
	assert_false(m->stopping);
	assert_false(m->watchdog);
	assert_false(m->watchdog_trigger);
	assert_false(m->has_watchdog_usec);
	assert_false(m->has_status);
	assert_false(m->has_mainpid);
}

static void test_each_key(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("READY=1", &m), 0);
	assert_true(m.ready);
	assert_false(m.watchdog);

	assert_int_equal(parse("STOPPING=1", &m), 0);
	assert_true(m.stopping);
	assert_false(m.ready);

	assert_int_equal(parse("WATCHDOG=1", &m), 0);
	assert_true(m.watchdog);
	assert_false(m.watchdog_trigger);

	assert_int_equal(parse("WATCHDOG=trigger", &m), 0);
	assert_true(m.watchdog_trigger);
	assert_false(m.watchdog);

	assert_int_equal(parse("WATCHDOG_USEC=2500000", &m), 0);
	assert_true(m.has_watchdog_usec);
	assert_int_equal(m.watchdog_usec, 2500000);
	assert_false(m.watchdog);

	assert_int_equal(parse("WATCHDOG_USEC=0", &m), 0);
	assert_true(m.has_watchdog_usec);
	assert_int_equal(m.watchdog_usec, 0);

	assert_int_equal(parse("MAINPID=4242", &m), 0);
	assert_true(m.has_mainpid);
	assert_int_equal(m.mainpid, 4242);

	assert_int_equal(parse("STATUS=serving 12 clients", &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, "serving 12 clients");
}

static void test_fresh_result_every_call(void **state)
{
	struct notify_msg m;

	(void)state;
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(parse("FOO=1", &m), 0);
	assert_nothing_set(&m);
	assert_int_equal(parse("READY=1\nWATCHDOG=1", &m), 0);
	assert_int_equal(parse("STATUS=x", &m), 0);
	assert_false(m.ready);
	assert_false(m.watchdog);
}

static void test_several_per_datagram(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("READY=1\nSTATUS=up and running\nWATCHDOG=1\nMAINPID=77\nWATCHDOG_USEC=5000000\n"
			       "STOPPING=1\nWATCHDOG=trigger",
			       &m),
			 0);
	assert_true(m.ready);
	assert_true(m.watchdog);
	assert_true(m.watchdog_trigger);
	assert_true(m.stopping);
	assert_true(m.has_mainpid);
	assert_int_equal(m.mainpid, 77);
	assert_true(m.has_watchdog_usec);
	assert_int_equal(m.watchdog_usec, 5000000);
	assert_true(m.has_status);
	assert_string_equal(m.status, "up and running");
}

static void test_last_assignment_wins(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("STATUS=first\nSTATUS=second", &m), 0);
	assert_string_equal(m.status, "second");
	assert_int_equal(parse("WATCHDOG_USEC=1\nWATCHDOG_USEC=2", &m), 0);
	assert_int_equal(m.watchdog_usec, 2);
	/* a longer first status leaves no tail behind the shorter second */
	assert_int_equal(parse("STATUS=a long first status\nSTATUS=ab", &m), 0);
	assert_string_equal(m.status, "ab");
}

static void test_newlines(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("WATCHDOG=1\n", &m), 0);
	assert_true(m.watchdog);
	assert_int_equal(parse("\n\nREADY=1\n\n\nWATCHDOG=1\n\n", &m), 0);
	assert_true(m.ready);
	assert_true(m.watchdog);
	assert_int_equal(parse("\n", &m), 0);
	assert_nothing_set(&m);
	assert_int_equal(parse("\n\n\n\n", &m), 0);
	assert_nothing_set(&m);
	/* the newline ends the value: it is not part of the status */
	assert_int_equal(parse("STATUS=abc\nREADY=1", &m), 0);
	assert_string_equal(m.status, "abc");
	assert_true(m.ready);
	/* CR LF line ends must not make the datagram fail as a whole */
	assert_int_equal(parse("WATCHDOG=1\r\nSTATUS=x\r\n", &m), 0);
}

static void test_empty_datagram(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse_n("", 0, &m), 0);
	assert_nothing_set(&m);
}

static void test_length_bounds_the_datagram(void **state)
{
	struct notify_msg m;
	const char text[] = "READY=1WATCHDOG=1";

	(void)state;
	/* only the first 7 bytes belong to the datagram */
	assert_int_equal(parse_n(text, 7, &m), 0);
	assert_true(m.ready);
	assert_false(m.watchdog);
	assert_int_equal(parse_n("WATCHDOG=1", 9, &m), 0); /* "WATCHDOG=" */
	assert_false(m.watchdog);
	assert_int_equal(parse_n("STATUS=abcdef", 10, &m), 0);
	assert_string_equal(m.status, "abc");
}

static void test_embedded_nul_drops_all(void **state)
{
	struct notify_msg m;
	static const char a[] = "READY=1\0WATCHDOG=1";
	static const char b[] = "WATCHDOG=1\nSTATUS=ab\0cd";
	static const char c[] = "\0";

	(void)state;
	assert_int_equal(parse_n(a, sizeof(a) - 1, &m), -1);
	assert_int_equal(parse_n(b, sizeof(b) - 1, &m), -1);
	assert_int_equal(parse_n(c, 1, &m), -1);
	/* a NUL at the very end too */
	assert_int_equal(parse_n("WATCHDOG=1", 11, &m), -1);
}

static void test_bad_numbers(void **state)
{
	static const char *const bad[] = {
		"WATCHDOG_USEC=",
		"WATCHDOG_USEC=abc",
		"WATCHDOG_USEC=-5",
		"WATCHDOG_USEC=+5",
		"WATCHDOG_USEC= 5",
		"WATCHDOG_USEC=5 ",
		"WATCHDOG_USEC=12x",
		"WATCHDOG_USEC=1.5",
		"WATCHDOG_USEC=0x10",
		"WATCHDOG_USEC=99999999999999999999999999",
		"WATCHDOG_USEC=18446744073709551615",
		"WATCHDOG_USEC=9223372036854775808",
		"MAINPID=",
		"MAINPID=0",
		"MAINPID=-1",
		"MAINPID=abc",
		"MAINPID=12ab",
		"MAINPID=2147483648",
		"MAINPID=99999999999999999999999",
		/* a bad value anywhere drops the whole datagram */
		"READY=1\nWATCHDOG=1\nMAINPID=zero",
		"WATCHDOG_USEC=x\nREADY=1",
	};
	struct notify_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &m) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

static void test_number_limits(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("MAINPID=2147483647", &m), 0);
	assert_int_equal(m.mainpid, 2147483647);
	assert_int_equal(parse("MAINPID=1", &m), 0);
	assert_int_equal(m.mainpid, 1);
	assert_int_equal(parse("WATCHDOG_USEC=9223372036854775807", &m), 0);
	assert_true(m.watchdog_usec == UINT64_C(9223372036854775807));
	assert_int_equal(parse("WATCHDOG_USEC=007", &m), 0);
	assert_int_equal(m.watchdog_usec, 7);
}

static void test_status_truncated(void **state)
{
	struct notify_msg m;
	char text[4096];
	size_t len;

	(void)state;
	memcpy(text, "STATUS=", 7);
	memset(text + 7, 'x', 2000);
	len = 7 + 2000;
	assert_int_equal(parse_n(text, len, &m), 0);
	assert_true(m.has_status);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
	for (size_t i = 0; i < NOTIFY_STATUS_MAX - 1; i++)
		assert_int_equal(m.status[i], 'x');

	/* exactly the longest that fits, and one more */
	assert_int_equal(parse_n(text, 7 + NOTIFY_STATUS_MAX - 1, &m), 0);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
	assert_int_equal(parse_n(text, 7 + NOTIFY_STATUS_MAX, &m), 0);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
	assert_int_equal(parse_n(text, 7 + NOTIFY_STATUS_MAX - 2, &m), 0);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 2);

	/* a long status does not swallow the keys after it */
	memcpy(text + len, "\nREADY=1", 8);
	assert_int_equal(parse_n(text, len + 8, &m), 0);
	assert_true(m.ready);
	assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
}

static void test_status_control_chars(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("STATUS=a\tb\x01" "c\x1b[31md\x7f" "e\rf", &m), 0);
	assert_string_equal(m.status, "a b c [31md e f");
	/* bytes >= 0x80 (UTF-8) pass through unchanged */
	assert_int_equal(parse("STATUS=\xe7\x9b\x91\xe6\x8e\xa7 ok", &m), 0);
	assert_string_equal(m.status, "\xe7\x9b\x91\xe6\x8e\xa7 ok");
	assert_int_equal(parse("STATUS=", &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, "");
	/* '=' inside the value is text */
	assert_int_equal(parse("STATUS=a=b=c", &m), 0);
	assert_string_equal(m.status, "a=b=c");
}

static void test_unknown_keys_ignored(void **state)
{
	struct notify_msg m;

	(void)state;
	assert_int_equal(parse("FOO=bar\nBARRIER=1\nERRNO=5\nRELOADING=1\nFDSTORE=1\nREADY=1", &m), 0);
	assert_true(m.ready);
	assert_int_equal(parse("no equals sign here\nWATCHDOG=1", &m), 0);
	assert_true(m.watchdog);
	assert_int_equal(parse("=\n==\n=1", &m), 0);
	assert_nothing_set(&m);
	/* near misses of known assignments are not those assignments */
	assert_int_equal(parse("READY=0\nREADY=10\nREADY=\nREADY\nready=1\n READY=1", &m), 0);
	assert_false(m.ready);
	assert_int_equal(parse("WATCHDOG=0\nWATCHDOG=11\nWATCHDOG=triggered\nWATCHDOG=1 ", &m), 0);
	assert_false(m.watchdog);
	assert_false(m.watchdog_trigger);
	assert_int_equal(parse("STOPPING=yes\nXSTATUS=x", &m), 0);
	assert_false(m.stopping);
	assert_false(m.has_status);
	/* a longer key that starts like a known one is another key */
	assert_int_equal(parse("WATCHDOG_USECS=abc\nMAINPIDX=zz\nSTATUSX=1", &m), 0);
	assert_nothing_set(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_key),
		cmocka_unit_test(test_fresh_result_every_call),
		cmocka_unit_test(test_several_per_datagram),
		cmocka_unit_test(test_last_assignment_wins),
		cmocka_unit_test(test_newlines),
		cmocka_unit_test(test_empty_datagram),
		cmocka_unit_test(test_length_bounds_the_datagram),
		cmocka_unit_test(test_embedded_nul_drops_all),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_number_limits),
		cmocka_unit_test(test_status_truncated),
		cmocka_unit_test(test_status_control_chars),
		cmocka_unit_test(test_unknown_keys_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
