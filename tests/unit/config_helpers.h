/* Helpers shared by the config unit tests (test_config.c,
 * test_config_errors.c, test_config_cases.c): config files written to a
 * temp folder, loaded with config_load(), and checks on the error text. */
#ifndef VIGIL_TESTS_CONFIG_HELPERS_H
#define VIGIL_TESTS_CONFIG_HELPERS_H

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

/* The folder the test files are written to, made by group_setup. */
extern char tmpdir[];

char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mkdirs(const char *path);
/* Writes tmpdir/rel (creating folders) and returns its malloc'd path. */
char *write_file(const char *rel, const char *content);
/* The same, mode 0755 (a shell script that exits 0). */
char *write_executable(const char *rel);
/* Loads a config that must be valid. */
struct config *load_ok(const char *path);
/* Loads a config that must be rejected; returns the error text. */
char *load_bad(const char *path);
int count_lines(const char *s);
/* True if some line of errors starts with want. */
bool has_line(const char *errors, const char *want);
/* True if some line of errors is "FILE:N: " followed by msg, for any N:
 * for errors about a whole section, whose line is checked elsewhere. */
bool has_error_any_line(const char *errors, const char *file, const char *msg);
/* Writes content to rel, expects it rejected with exactly one error whose
 * line starts with "PATH:" followed by the printf-formatted rest. */
void expect_one_error(const char *rel, const char *content, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *user_name(uid_t uid);
/* cmocka group setup/teardown: make and remove tmpdir; setup also puts
 * tmpdir/bin first in PATH, with executables x, y, a, pinger and
 * external-pinger for configs to name. */
int group_setup(void **state);
int group_teardown(void **state);

#define assert_has_line(errors, ...)                                                          \
	do {                                                                                  \
		char *want_ = xasprintf(__VA_ARGS__);                                         \
		if (!has_line(errors, want_))                                                 \
			fail_msg("no error line starting with\n  %s\nin:\n%s", want_, errors); \
		free(want_);                                                                  \
	} while (0)

#define assert_has_error(errors, file, ...)                                                    \
	do {                                                                                   \
		char *msg_ = xasprintf(__VA_ARGS__);                                           \
		if (!has_error_any_line(errors, file, msg_))                                   \
			fail_msg("no error line \"%s:N: %s\" in:\n%s", file, msg_, errors);      \
		free(msg_);                                                                    \
	} while (0)

#endif
