/* Unit tests for daemon/health_target.c: the health_check forms of
 * DESIGN.md "Active health checks" (http://HOST:PORT/PATH, tcp://HOST:PORT,
 * exec:COMMAND), the addresses they resolve to, and the messages of bad
 * values. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health_target.h"
#include "parse.h"

static void parse_ok(const char *text, struct health_target *t)
{
	char err[PARSE_ERR_MAX] = "";

	if (health_target_parse(text, t, err, sizeof(err)) != 0)
		fail_msg("health_target_parse(\"%s\") failed: %s", text, err);
}

/* The whole error of a bad value must be want. */
static void parse_bad(const char *text, const char *want)
{
	struct health_target t;
	char err[PARSE_ERR_MAX] = "";

	if (health_target_parse(text, &t, err, sizeof(err)) == 0)
		fail_msg("health_target_parse(\"%s\") accepted it", text);
	if (strcmp(err, want) != 0)
		fail_msg("health_target_parse(\"%s\"):\n  got  %s\n  want %s", text, err, want);
	/* nothing is left to free on failure, and freeing again is harmless */
	assert_null(t.host);
	assert_null(t.path);
	assert_null(t.argv);
	health_target_free(&t);
}

static void assert_ipv4(const struct health_target *t, const char *addr, int port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->addr;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(t->addr.ss_family, AF_INET);
	assert_int_equal(t->addrlen, sizeof(*sin));
	assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)), addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void test_http(void **state)
{
	struct health_target t;

	(void)state;
	parse_ok("http://127.0.0.1:8080/healthz", &t);
	assert_int_equal(t.kind, HEALTH_HTTP);
	assert_ipv4(&t, "127.0.0.1", 8080);
	assert_string_equal(t.host, "127.0.0.1");
	assert_int_equal(t.port, 8080);
	assert_string_equal(t.path, "/healthz");
	assert_null(t.argv);
	health_target_free(&t);

	/* the query is part of what is requested; a fragment is not sent */
	parse_ok("http://10.1.2.3:80/a/b?x=1&y=%20#frag", &t);
	assert_ipv4(&t, "10.1.2.3", 80);
	assert_string_equal(t.path, "/a/b?x=1&y=%20");
	health_target_free(&t);
}

static void test_http_path_optional(void **state)
{
	struct health_target t;

	(void)state;
	parse_ok("http://127.0.0.1:9000", &t);
	assert_string_equal(t.path, "/");
	health_target_free(&t);
	parse_ok("http://127.0.0.1:9000/", &t);
	assert_string_equal(t.path, "/");
	health_target_free(&t);
	parse_ok("http://127.0.0.1:9000?ready", &t);
	assert_string_equal(t.path, "/?ready");
	health_target_free(&t);
}

static void test_ipv6(void **state)
{
	struct health_target t;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&t.addr;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	parse_ok("http://[::1]:8080/h", &t);
	assert_int_equal(t.addr.ss_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)), "::1");
	assert_int_equal(ntohs(sin6->sin6_port), 8080);
	/* kept with its brackets: that is how a Host: header writes it */
	assert_string_equal(t.host, "[::1]");
	assert_string_equal(t.path, "/h");
	health_target_free(&t);

	parse_ok("tcp://[fe80::1:2]:5432", &t);
	assert_int_equal(t.kind, HEALTH_TCP);
	assert_string_equal(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)), "fe80::1:2");
	assert_int_equal(t.port, 5432);
	health_target_free(&t);
}

static void test_tcp(void **state)
{
	struct health_target t;

	(void)state;
	parse_ok("tcp://127.0.0.1:5432", &t);
	assert_int_equal(t.kind, HEALTH_TCP);
	assert_ipv4(&t, "127.0.0.1", 5432);
	assert_string_equal(t.host, "127.0.0.1");
	assert_null(t.path);
	health_target_free(&t);
	parse_ok("tcp://127.0.0.1:1", &t);
	assert_int_equal(t.port, 1);
	health_target_free(&t);
	parse_ok("tcp://127.0.0.1:65535", &t);
	assert_int_equal(t.port, 65535);
	health_target_free(&t);
}

static void test_host_name_resolved(void **state)
{
	struct health_target t;

	(void)state;
	parse_ok("http://localhost:8080/x", &t);
	assert_true(t.addr.ss_family == AF_INET || t.addr.ss_family == AF_INET6);
	assert_true(t.addrlen > 0);
	assert_string_equal(t.host, "localhost");
	health_target_free(&t);
	parse_ok("tcp://localhost:22", &t);
	assert_int_equal(t.port, 22);
	health_target_free(&t);
}

static void test_exec(void **state)
{
	struct health_target t;

	(void)state;
	parse_ok("exec:/bin/sh -c 'test -e /run/ready' \"two words\"", &t);
	assert_int_equal(t.kind, HEALTH_EXEC);
	assert_string_equal(t.argv[0], "/bin/sh");
	assert_string_equal(t.argv[1], "-c");
	assert_string_equal(t.argv[2], "test -e /run/ready");
	assert_string_equal(t.argv[3], "two words");
	assert_null(t.argv[4]);
	assert_null(t.host);
	assert_null(t.path);
	health_target_free(&t);
	parse_ok("exec:  pg_isready", &t);
	assert_string_equal(t.argv[0], "pg_isready");
	assert_null(t.argv[1]);
	health_target_free(&t);
}

static void test_bad_forms(void **state)
{
	(void)state;
	parse_bad("htp://x", "\"htp://x\" is not a health check (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("", "\"\" is not a health check (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("127.0.0.1:80", "\"127.0.0.1:80\" is not a health check (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("https://127.0.0.1:443/",
		  "\"https://127.0.0.1:443/\": https is not supported (probe the plain http port, or use exec: with curl)");
	parse_bad("exec:", "exec: empty command");
	parse_bad("exec:   ", "exec: empty command");
	parse_bad("exec:echo 'open", "exec: unterminated single quote");
}

static void test_bad_host_and_port(void **state)
{
	(void)state;
	parse_bad("http://127.0.0.1/healthz",
		  "\"http://127.0.0.1/healthz\": no port (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("tcp://db", "\"tcp://db\": no port (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("tcp://db:", "\"tcp://db:\": no port (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("tcp://[::1]", "\"tcp://[::1]\": no port (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("tcp://:80", "\"tcp://:80\": no host (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("http://", "\"http://\": no host (use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	parse_bad("tcp://127.0.0.1:0", "\"tcp://127.0.0.1:0\": \"0\" is not a port (1-65535)");
	parse_bad("tcp://127.0.0.1:65536", "\"tcp://127.0.0.1:65536\": \"65536\" is not a port (1-65535)");
	parse_bad("tcp://127.0.0.1:99999999999999999999", "\"tcp://127.0.0.1:99999999999999999999\": \"99999999999999999999\" is not a port (1-65535)");
	parse_bad("tcp://127.0.0.1:-1", "\"tcp://127.0.0.1:-1\": \"-1\" is not a port (1-65535)");
	parse_bad("tcp://127.0.0.1:http", "\"tcp://127.0.0.1:http\": \"http\" is not a port (1-65535)");
	parse_bad("tcp://127.0.0.1:80/x", "\"tcp://127.0.0.1:80/x\": tcp://HOST:PORT takes no path");
	parse_bad("tcp://::1:80", "\"tcp://::1:80\": write an IPv6 address in brackets: [ADDRESS]:PORT");
	parse_bad("tcp://[::1:80", "\"tcp://[::1:80\": \"[\" without \"]\" around the IPv6 address");
	parse_bad("tcp://[::1]80", "\"tcp://[::1]80\": expected \":PORT\" after \"]\"");
	parse_bad("tcp://[nope]:80", "\"[nope]\" is not an IPv6 address");
	parse_bad("http://127.0.0.1:80/a b", "\"http://127.0.0.1:80/a b\": a space or control character in the path (write it as %20 etc.)");
}

static void test_cannot_resolve(void **state)
{
	struct health_target t;
	char err[PARSE_ERR_MAX] = "";
	const char *want = "cannot resolve \"no-such-host.invalid\": ";

	(void)state;
	assert_int_equal(health_target_parse("http://no-such-host.invalid:80/", &t, err, sizeof(err)), -1);
	if (strncmp(err, want, strlen(want)) != 0 || strlen(err) == strlen(want))
		fail_msg("got \"%s\", want \"%s<resolver's reason>\"", err, want);
	assert_null(t.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_path_optional),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_host_name_resolved),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_bad_forms),
		cmocka_unit_test(test_bad_host_and_port),
		cmocka_unit_test(test_cannot_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
