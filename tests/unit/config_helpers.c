/* Helpers shared by the config unit tests; see config_helpers.h. */
#include "config_helpers.h"

#include <ftw.h>

char tmpdir[] = "/tmp/vigil-unit-config-XXXXXX";

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

void mkdirs(const char *path)
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
char *write_file(const char *rel, const char *content)
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
struct config *load_ok(const char *path)
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
char *load_bad(const char *path)
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

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* True if some line of errors starts with want. */
bool has_line(const char *errors, const char *want)
{
	size_t n = strlen(want);

	for (const char *l = errors; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, want, n) == 0)
			return true;
	return false;
}

/* True if some line of errors is "FILE:N: " followed by msg, for any N:
 * for errors about a whole section, whose line is checked elsewhere. */
bool has_error_any_line(const char *errors, const char *file, const char *msg)
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

/* Writes content to rel, expects it rejected with exactly one error whose
 * line starts with "PATH:" followed by the printf-formatted rest. */
void expect_one_error(const char *rel, const char *content, const char *fmt, ...)
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

const char *user_name(uid_t uid)
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

char *write_executable(const char *rel)
{
	char *path = write_file(rel, "#!/bin/sh\nexit 0\n");

	if (chmod(path, 0755) < 0)
		fail_msg("chmod %s: %s", path, strerror(errno));
	return path;
}

/* The commands the tests' configs name ("command = x") must exist, as
 * config_load checks: they are in tmpdir/bin, first in PATH. */
int group_setup(void **state)
{
	static const char *const commands[] = { "x", "y", "a", "pinger", "external-pinger" };
	const char *path = getenv("PATH");
	char *bin, *newpath;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char *rel = xasprintf("bin/%s", commands[i]);
		free(write_executable(rel));
		free(rel);
	}
	bin = xasprintf("%s/bin", tmpdir);
	newpath = xasprintf("%s:%s", bin, path ? path : "/bin:/usr/bin");
	setenv("PATH", newpath, 1);
	free(newpath);
	free(bin);
	return 0;
}

int group_teardown(void **state)
{
	(void)state;
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
