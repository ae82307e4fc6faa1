/* cgroup.c's deferred release (needs a writable cgroup2 hierarchy, else
 * skipped): a cgroup released, taken again by a start and released again
 * within one loop turn is removed once at the end of the turn. Regression:
 * the slot went on the pending list twice, the list pointed at itself and
 * the end of the turn spun for ever (vigild hung with its loop blocked). */
#define _GNU_SOURCE
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "vigild.h"

static bool cgroup_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/prog-%s", cgroup_subtree_path(), name);
	return stat(path, &st) == 0;
}

static void test_release_taken_and_released_again_in_one_turn(void **state)
{
	char dir[] = "/tmp/vigil-unit-cgroup-XXXXXX", sock[PATH_MAX], err[256] = "";
	bool fresh;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	vigil.base = vigil_event_base_new();
	if (cgroup_init(sock) < 0) {
		event_base_free(vigil.base);
		rmdir(dir);
		skip();
	}
	fd = cgroup_open_dir("web", &fresh, err, sizeof(err));
	if (fd < 0)
		fail_msg("cgroup_open_dir: %s", err);
	close(fd);
	cgroup_release("web");				       /* its process ended */
	fd = cgroup_open_dir("web", &fresh, err, sizeof(err)); /* restarted at once */
	assert_true(fd >= 0);
	close(fd);
	cgroup_release("web"); /* and ended at once, all in one turn */
	alarm(10);	       /* a hang fails the test instead of stalling it */
	event_base_loop(vigil.base, EVLOOP_NONBLOCK);
	alarm(0);
	assert_false(cgroup_exists("web"));
	cgroup_free();
	event_base_free(vigil.base);
	vigil.base = NULL;
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_taken_and_released_again_in_one_turn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
