/* daemon/hooks.c with a time limit of 300 ms instead of 30 s, run
 * through program_spawn_hook and reaped by the real reaper: a hook that
 * ignores SIGTERM is SIGKILLed with its whole group at the limit; one
 * hook per program at a time (on_failure skipped and counted, on_fatal
 * waiting for the running one); the environment of a hook. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hooks.h"
#include "program.h"
#include "program_spawn.h"
#include "reaper.h"
#include "vigild.h"

#define LIMIT_USEC (300 * 1000)
#define DEADLINE_USEC (20 * USEC_PER_SEC)

#define RUN_UNTIL(cond)                                                        \
	do {                                                                   \
		int64_t end_ = now_usec() + DEADLINE_USEC;                     \
		while (!(cond) && now_usec() < end_)                           \
			event_base_loop(vigil.base, EVLOOP_ONCE);              \
		assert_true(cond);                                             \
	} while (0)

static pid_t last_pid, reaped_pid;
static int reaped_status, idle_calls;
static pid_t reaped[64]; /* every hook pid reaped, in order */
static size_t nreaped;

static bool was_reaped(pid_t pid)
{
	for (size_t i = 0; i < nreaped; i++)
		if (reaped[i] == pid)
			return true;
	return false;
}

static pid_t spawn_recorded(char *const *argv, char *const *envp, int out_fd, char *err, size_t errlen)
{
	return last_pid = program_spawn_hook(argv, envp, out_fd, err, errlen);
}

static void on_exit_reaped(pid_t pid, int status)
{
	if (hooks_child_exited(pid, status)) {
		reaped_pid = pid;
		reaped_status = status;
		if (nreaped < sizeof(reaped) / sizeof(reaped[0]))
			reaped[nreaped++] = pid;
	}
}

static void on_idle(void)
{
	idle_calls++;
}

struct fake {
	struct program_config cfg;
	struct proc proc;
};

static struct fake *fake_new(const char *program, const char *on_failure, const char *on_fatal)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cfg.name = (char *)program;
	f->cfg.on_failure = (char *)on_failure;
	f->cfg.on_fatal = (char *)on_fatal;
	f->proc.cfg = &f->cfg;
	snprintf(f->proc.name, sizeof(f->proc.name), "%s", program);
	f->proc.state = STATE_BACKOFF;
	f->proc.restarts = 4;
	f->proc.last_exit = (struct last_exit){ .set = true, .cause = CAUSE_SIGNAL, .code = -1, .signo = SIGSEGV };
	return f;
}

static void test_limit_kills_the_group(void **state)
{
	struct fake *f = fake_new("stubborn", "sh -c 'trap \"\" TERM; sleep 30 & sleep 30'", NULL);
	int64_t t0 = now_usec(), took;
	pid_t pid;

	(void)state;
	hooks_failure(&f->proc, NULL);
	assert_int_equal(hooks_running(), 1);
	pid = last_pid;
	RUN_UNTIL(reaped_pid == pid);
	took = now_usec() - t0;
	assert_true(WIFSIGNALED(reaped_status) && WTERMSIG(reaped_status) == SIGKILL);
	assert_true(took >= LIMIT_USEC && took < 5 * USEC_PER_SEC);
	assert_int_equal(hooks_running(), 0);
	/* the background sleep too */
	RUN_UNTIL(kill(-pid, 0) < 0 && errno == ESRCH);
	free(f);
}

static void test_one_at_a_time(void **state)
{
	struct fake *f = fake_new("busy", "sleep 30", "sh -c 'exit 0'");
	struct fake *other = fake_new("other", "sh -c 'exit 0'", NULL);
	pid_t first, other_pid;

	(void)state;
	idle_calls = 0;
	hooks_failure(&f->proc, NULL);
	first = last_pid;
	assert_int_equal(hooks_running(), 1);
	hooks_failure(&f->proc, NULL);
	hooks_failure(&f->proc, NULL);
	assert_int_equal(hooks_skipped("busy"), 2);
	assert_int_equal(last_pid, first); /* nothing more was started */
	/* another program's hook is not held up */
	hooks_failure(&other->proc, NULL);
	other_pid = last_pid;
	assert_true(other_pid != first);
	assert_int_equal(hooks_running(), 2);
	assert_int_equal(hooks_skipped("other"), 0);
	/* on_fatal waits for the running hook, then runs */
	f->proc.state = STATE_FATAL;
	hooks_fatal(&f->proc);
	assert_int_equal(last_pid, other_pid); /* not started yet */
	assert_int_equal(hooks_skipped("busy"), 2);
	RUN_UNTIL(was_reaped(first)); /* killed at the limit */
	RUN_UNTIL(last_pid != other_pid); /* then the on_fatal */
	RUN_UNTIL(hooks_running() == 0);
	/* once: not while the on_fatal took over from the killed hook */
	assert_int_equal(idle_calls, 1);
	free(f);
	free(other);
}

static void test_environment(void **state)
{
	char path[] = "/tmp/vigil-unit-hooks-XXXXXX", command[256], line[256];
	struct fake *f;
	int fd = mkstemp(path), found = 0;
	FILE *in;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(command, sizeof(command), "sh -c 'env > %s'", path);
	f = fake_new("envy", command, NULL);
	hooks_failure(&f->proc, NULL);
	RUN_UNTIL(hooks_running() == 0);
	in = fopen(path, "re");
	assert_non_null(in);
	while (fgets(line, sizeof(line), in))
		found += !strcmp(line, "VIGIL_NAME=envy\n") + !strcmp(line, "VIGIL_PROGRAM=envy\n") +
			 !strcmp(line, "VIGIL_EVENT=failure\n") + !strcmp(line, "VIGIL_STATE=BACKOFF\n") +
			 !strcmp(line, "VIGIL_CAUSE=signal\n") + !strcmp(line, "VIGIL_EXIT_CODE=\n") +
			 !strcmp(line, "VIGIL_EXIT_SIGNAL=SEGV\n") + !strcmp(line, "VIGIL_RESTARTS=4\n");
	fclose(in);
	unlink(path);
	assert_int_equal(found, 8);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_kills_the_group),
		cmocka_unit_test(test_one_at_a_time),
		cmocka_unit_test(test_environment),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* as vigild: a hook's orphans are reaped here */
	vigil.base = vigil_event_base_new();
	vigil.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!vigil.base || vigil.devnull < 0 || reaper_init(on_exit_reaped) < 0)
		return perror("setup"), 1;
	hooks_set_actions(&(struct hooks_actions){ .spawn = spawn_recorded, .limit_usec = LIMIT_USEC, .idle = on_idle });
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hooks_free();
	reaper_free();
	event_base_free(vigil.base);
	close(vigil.devnull);
	return rc;
}
