/* Unit tests for what config_load() refuses to read (daemon/config_file.c):
 * NUL bytes, files that are not regular (/dev/zero, /dev/urandom, a FIFO),
 * include loops and repeats, the bounds on files and bytes, and, when
 * vigild is root, files and folders others could write (as sshd's
 * StrictModes). Every test that could hang runs under an alarm(): a hang
 * kills the test binary instead of blocking the suite. */
#include "config_helpers.h"

#include <fcntl.h>
#include <time.h>

/* GCC with -fsanitize=undefined sees a NULL %s argument on paths that do
 * not exist (after cmocka's non-noreturn skip and assert helpers). */
#pragma GCC diagnostic ignored "-Wformat-overflow"

#define NOBODY 65534
#define DEADLINE_SECS 10

/* Writes len bytes (NULs included) to tmpdir/rel; returns its path. */
static char *write_bytes(const char *rel, const char *data, size_t len)
{
	char *path = write_file(rel, "");
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* The ownership and mode checks apply only when vigild runs as root. */
#define SKIP_UNLESS_ROOT()            \
	do {                          \
		if (geteuid() != 0) { \
			skip();       \
			return;       \
		}                     \
	} while (0)

/* Loads path, which must be rejected with exactly one error line that
 * starts with the printf-formatted want. */
static void expect_only(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void expect_only(const char *path, const char *fmt, ...)
{
	char *errors = load_bad(path), *want;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&want, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (!has_line(errors, want))
		fail_msg("no error line starting with\n  %s\nin:\n%s", want, errors);
	if (count_lines(errors) != 1)
		fail_msg("want exactly one error, got:\n%s", errors);
	free(want);
	free(errors);
}

/* ---- NUL bytes ------------------------------------------------------------ */

static void test_nul_byte_is_an_error_at_its_line(void **state)
{
	static const char text[] = "[program:first]\n"
				   "command = a\0b\n"
				   "[program:second]\n"
				   "command = /bin/true\n"
				   "stop_signal = NOPE\n";
	char *path = write_bytes("nul/a.conf", text, sizeof(text) - 1);
	char *errors;

	(void)state;
	alarm(DEADLINE_SECS);
	errors = load_bad(path);
	/* line 2 is reported, and the lines after it are lines of their own:
	 * [program:second] starts a section, so its command is not "set
	 * twice" in first and its bad signal is reported at line 5 */
	assert_has_line(errors, "%s:2: NUL byte in line", path);
	assert_has_line(errors, "%s:5: [program:second] stop_signal: \"NOPE\" is not a signal", path);
	if (count_lines(errors) != 2)
		fail_msg("want exactly two errors, got:\n%s", errors);
	free(errors);
	free(path);

	/* a NUL inside a header loses that section, not the next one's options */
	static const char header[] = "[program:a]\ncommand = /bin/true\n[program:b\0]\ncommand = /bin/true\n"
				     "[program:c]\ncommand = /bin/true\n";
	path = write_bytes("nul/b.conf", header, sizeof(header) - 1);
	expect_only(path, "%s:3: NUL byte in line", path);
	free(path);

	/* and a NUL as the very last byte of a file without a newline */
	path = write_bytes("nul/c.conf", "[vigil]\nlog_level = info\0", 25);
	expect_only(path, "%s:2: NUL byte in line", path);
	free(path);
	alarm(0);
}

/* ---- only regular files ----------------------------------------------------- */

static void test_include_of_devices_returns_at_once(void **state)
{
	char *path;

	(void)state;
	alarm(DEADLINE_SECS);
	path = write_file("dev/zero.conf", "[vigil]\ninclude = /dev/zero\n");
	expect_only(path, "%s:2: [vigil] include: /dev/zero: not a regular file (a character device)", path);
	free(path);
	path = write_file("dev/urandom.conf", "[vigil]\ninclude = /dev/urandom\n");
	expect_only(path, "%s:2: [vigil] include: /dev/urandom: not a regular file (a character device)", path);
	free(path);
	path = write_file("dev/folder.conf", "[vigil]\ninclude = /tmp\n");
	expect_only(path, "%s:2: [vigil] include: /tmp: not a regular file (a folder)", path);
	free(path);
	/* the main config too */
	expect_only("/dev/zero", "/dev/zero: not a regular file (a character device)");
	alarm(0);
}

static void test_include_of_fifo_returns_at_once(void **state)
{
	char *path = write_file("fifo/vigil.conf", "[vigil]\ninclude = x.conf\n");
	char *fifo = xasprintf("%s/fifo/x.conf", tmpdir);

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(DEADLINE_SECS); /* open() of a FIFO without a writer blocks */
	expect_only(path, "%s:2: [vigil] include: %s: not a regular file (a FIFO)", path, fifo);
	expect_only(fifo, "%s: not a regular file (a FIFO)", fifo);
	alarm(0);
	free(fifo);
	free(path);
}

/* ---- each file read once ---------------------------------------------------- */

static void test_six_files_including_star_conf(void **state)
{
	const char *names[] = { "a", "b", "c", "d", "e", "f" };
	struct timespec t0, t1;
	char *paths[6], *errors;

	(void)state;
	for (int i = 0; i < 6; i++) {
		char *rel = xasprintf("six/%s.conf", names[i]);
		paths[i] = write_file(rel, "[vigil]\ninclude = *.conf\n");
		free(rel);
	}
	alarm(DEADLINE_SECS); /* it took minutes before each file was read once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errors = load_bad(paths[0]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	print_message("six files including *.conf: %.3f ms\n",
		      (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	/* a.conf includes itself: a loop, reported at its include line */
	assert_has_line(errors, "%s:2: [vigil] include: %s: already being read (an include loop)", paths[0],
			paths[0]);
	/* f.conf, read last, sees all six on the stack; one error per loop */
	assert_has_line(errors, "%s:2: [vigil] include: %s: already being read (an include loop)", paths[5],
			paths[0]);
	assert_int_equal(count_lines(errors), 1 + 2 + 3 + 4 + 5 + 6);
	free(errors);
	for (int i = 0; i < 6; i++)
		free(paths[i]);
}

static void test_file_included_twice_is_read_once(void **state)
{
	char *main_path = write_file("twice/vigil.conf", "[vigil]\n"
							 "include = a.conf\n"
							 "include = b.conf\n"
							 "include = common.conf\n");
	struct config *c;

	(void)state;
	free(write_file("twice/a.conf", "[vigil]\ninclude = common.conf\n[program:a]\ncommand = /bin/true\n"));
	free(write_file("twice/b.conf", "[vigil]\ninclude = ./common.conf\n[program:b]\ncommand = /bin/true\n"));
	free(write_file("twice/common.conf", "[program:common]\ncommand = /bin/true\n"));
	c = load_ok(main_path);
	assert_int_equal(c->nprograms, 3);
	assert_non_null(config_find_program(c, "common"));
	config_free(c);
	free(main_path);
}

/* Distinct files nested deeper than 8 are still an error (not a loop). */
static void test_nesting_depth(void **state)
{
	char *paths[10];

	(void)state;
	for (int i = 0; i < 10; i++) {
		char *rel = xasprintf("deep/d%d.conf", i);
		char *text = xasprintf("[vigil]\ninclude = d%d.conf\n", i + 1);
		paths[i] = write_file(rel, i < 9 ? text : "[program:deep]\ncommand = /bin/true\n");
		free(text);
		free(rel);
	}
	expect_only(paths[0], "%s:2: [vigil] include: nested more than 8 deep", paths[8]);
	for (int i = 0; i < 10; i++)
		free(paths[i]);
}

/* ---- bounds ------------------------------------------------------------------ */

static void test_more_than_1000_files(void **state)
{
	char *main_path = write_file("many/vigil.conf", "[vigil]\ninclude = d/*.conf\n");

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char *rel = xasprintf("many/d/f%04d.conf", i);
		free(write_file(rel, "; nothing\n"));
		free(rel);
	}
	/* the main file and 999 includes are the limit */
	expect_only(main_path, "%s:2: [vigil] include: %s/many/d/f0999.conf: more than 1000 config files", main_path,
		    tmpdir);
	free(main_path);
}

static char *write_comments(const char *rel, size_t size)
{
	char *text = malloc(size + 1);
	char *path;

	assert_non_null(text);
	memset(text, 'x', size);
	for (size_t i = 0; i < size; i += 100) {
		text[i] = ';';
		if (i + 99 < size)
			text[i + 99] = '\n';
	}
	text[size] = '\0';
	path = write_file(rel, text);
	free(text);
	return path;
}

static void test_more_than_16_mib(void **state)
{
	char *main_path = write_file("big/vigil.conf", "[vigil]\ninclude = big.conf\n");
	char *big = write_comments("big/big.conf", (16 << 20) + 1);
	char *a, *b;

	(void)state;
	alarm(DEADLINE_SECS);
	expect_only(main_path, "%s:2: [vigil] include: %s: more than 16 MiB of config files", main_path, big);
	expect_only(big, "%s: more than 16 MiB of config files", big);
	/* the bound is on all files together */
	main_path = (free(main_path), write_file("big/two.conf", "[vigil]\ninclude = a.conf\ninclude = b.conf\n"));
	a = write_comments("big/a.conf", 9 << 20);
	b = write_comments("big/b.conf", 9 << 20);
	expect_only(main_path, "%s:3: [vigil] include: %s: more than 16 MiB of config files", main_path, b);
	alarm(0);
	unlink(big), unlink(a), unlink(b);
	free(a), free(b), free(big), free(main_path);
}

/* A line over the limit is one error; the line after it is its own line. */
static void test_long_line_then_header(void **state)
{
	char *line = malloc(70001), *text, *path;

	(void)state;
	memset(line, 'x', 70000);
	line[70000] = '\0';
	memcpy(line, "command = ", 10);
	text = xasprintf("[program:a]\n%s\n[program:b]\ncommand = /bin/true\npriority = x\n", line);
	path = write_file("long/a.conf", text);
	{
		char *errors = load_bad(path);
		assert_has_line(errors, "%s:2: [program:a] line longer than 65533 bytes", path);
		assert_has_line(errors, "%s:5: [program:b] priority:", path);
		assert_int_equal(count_lines(errors), 2);
		free(errors);
	}
	free(path), free(text), free(line);
}

/* ---- who may write the files (root only) ------------------------------------- */

static void test_group_writable_files(void **state)
{
	SKIP_UNLESS_ROOT();
	char *main_path = write_file("gw/vigil.conf", "[vigil]\ninclude = conf.d/*.conf\n");
	char *inc = write_file("gw/conf.d/a.conf", "[program:a]\ncommand = /bin/true\n");

	(void)state;
	assert_int_equal(chmod(inc, 0664), 0);
	expect_only(main_path,
		    "%s:2: [vigil] include: %s: writable by group/other (mode 0664): chmod go-w %s, "
		    "or run vigild with --insecure-config",
		    main_path, inc, inc);
	config_set_insecure(true);
	config_free(load_ok(main_path));
	config_set_insecure(false);
	assert_int_equal(chmod(inc, 0644), 0);
	config_free(load_ok(main_path));

	/* the main file: "FILE: ..." */
	assert_int_equal(chmod(main_path, 0602), 0);
	expect_only(main_path, "%s: writable by group/other (mode 0602): chmod go-w %s", main_path, main_path);
	assert_int_equal(chmod(main_path, 0644), 0);
	free(inc);
	free(main_path);
}

static void test_files_owned_by_others(void **state)
{
	SKIP_UNLESS_ROOT();
	char *main_path = write_file("own/vigil.conf", "[vigil]\ninclude = conf.d/a.conf\n");
	char *inc = write_file("own/conf.d/a.conf", "[program:a]\ncommand = /bin/true\n");
	char *dir = xasprintf("%s/own/conf.d", tmpdir);

	(void)state;
	assert_int_equal(chown(inc, NOBODY, NOBODY), 0);
	expect_only(main_path, "%s:2: [vigil] include: %s: owned by uid 65534 (nobody), not root: chown root %s",
		    main_path, inc, inc);
	config_set_insecure(true);
	config_free(load_ok(main_path));
	config_set_insecure(false);
	assert_int_equal(chown(inc, 0, 0), 0);

	/* a folder owned by another user: that user can replace its entries */
	assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
	expect_only(main_path,
		    "%s:2: [vigil] include: %s: folder %s is owned by uid 65534 (nobody), not root: chown root %s",
		    main_path, inc, dir, dir);
	assert_int_equal(chown(dir, 0, 0), 0);
	config_free(load_ok(main_path));
	free(dir);
	free(inc);
	free(main_path);
}

static void test_folder_writable_by_others(void **state)
{
	SKIP_UNLESS_ROOT();
	char *main_path = write_file("fw/vigil.conf", "[vigil]\ninclude = open/a.conf\n");
	char *inc = write_file("fw/open/a.conf", "[program:a]\ncommand = /bin/true\n");
	char *dir = xasprintf("%s/fw/open", tmpdir);
	struct config *c;

	(void)state;
	assert_int_equal(chmod(dir, 0777), 0);
	expect_only(main_path,
		    "%s:2: [vigil] include: %s: folder %s is writable by group/other without the sticky bit "
		    "(mode 0777): chmod go-w %s",
		    main_path, inc, dir, dir);
	/* a folder above the main file counts as well */
	expect_only(inc, "%s: folder %s is writable by group/other without the sticky bit", inc, dir);

	/* sticky, like /tmp: others cannot replace root's entries */
	assert_int_equal(chmod(dir, 01777), 0);
	c = load_ok(main_path);
	assert_non_null(config_find_program(c, "a"));
	config_free(c);
	/* ... but a file there owned by another user is still refused */
	assert_int_equal(chown(inc, NOBODY, NOBODY), 0);
	expect_only(main_path, "%s:2: [vigil] include: %s: owned by uid 65534 (nobody), not root", main_path, inc);
	assert_int_equal(chown(inc, 0, 0), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	free(dir);
	free(inc);
	free(main_path);
}

static void test_symlinks(void **state)
{
	SKIP_UNLESS_ROOT();
	char *target = write_file("sl/real/vigil.conf", "[program:a]\ncommand = /bin/true\n");
	char *etc = xasprintf("%s/sl/etc", tmpdir);
	char *link = xasprintf("%s/vigil.conf", etc);
	char *open_dir = xasprintf("%s/sl/open", tmpdir);
	char *open_target = xasprintf("%s/vigil.conf", open_dir);

	(void)state;
	mkdirs(etc);
	/* a root-owned link in root-owned folders to a root-owned file: fine */
	assert_int_equal(symlink("../real/vigil.conf", link), 0);
	config_free(load_ok(link));

	/* a link owned by another user (in a sticky folder it could swap it) */
	assert_int_equal(lchown(link, NOBODY, NOBODY), 0);
	expect_only(link, "%s: symlink %s is owned by uid 65534 (nobody), not root: chown -h root %s", link, link,
		    link);
	assert_int_equal(unlink(link), 0);

	/* the target's folders are checked too */
	mkdirs(open_dir);
	free(write_file("sl/open/vigil.conf", "[program:a]\ncommand = /bin/true\n"));
	assert_int_equal(chmod(open_dir, 0777), 0);
	assert_int_equal(symlink(open_target, link), 0);
	expect_only(link, "%s: folder %s is writable by group/other without the sticky bit", link, open_dir);
	assert_int_equal(chmod(open_dir, 0755), 0);
	config_free(load_ok(link));
	free(open_target), free(open_dir), free(link), free(etc), free(target);
}

/* An argument runs only the tests whose names match it (cmocka's filter). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_byte_is_an_error_at_its_line),
		cmocka_unit_test(test_include_of_devices_returns_at_once),
		cmocka_unit_test(test_include_of_fifo_returns_at_once),
		cmocka_unit_test(test_six_files_including_star_conf),
		cmocka_unit_test(test_file_included_twice_is_read_once),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_more_than_1000_files),
		cmocka_unit_test(test_more_than_16_mib),
		cmocka_unit_test(test_long_line_then_header),
		cmocka_unit_test(test_group_writable_files),
		cmocka_unit_test(test_files_owned_by_others),
		cmocka_unit_test(test_folder_writable_by_others),
		cmocka_unit_test(test_symlinks),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
