#define _GNU_SOURCE
#include "guard.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "cgroup.h"
#include "cgroup_tree.h"
#include "log.h"
#include "vigild.h"

/* The owner of the processes, who knows every group alive now. */
static guard_group_source group_source;

#define GUARD_MAX_GROUPS (1 << 20)
#define GUARD_RESTART_USEC (1000 * 1000)
/* Main processes get their stop_signal from PR_SET_PDEATHSIG as vigild
 * dies (DESIGN: a last chance to clean up); everything is SIGKILLed this
 * much later, well within the design's 100 ms. */
#define GUARD_GRACE_MS 50
/* At a normal exit, how long a full queue may take to get room for "x". */
#define GUARD_EXIT_WAIT_MS 1000
#define GUARD_EXIT_POLL_MS 50

static struct {
	int fd;	   /* vigild's end; -1 without a guard */
	pid_t pid; /* for log lines only: it is not our child */
	struct event *event; /* readable = EOF: the guard died */
	struct event *restart_timer;
	struct event *writable; /* room again after a lost record */
	int64_t started_at;
	unsigned long lost; /* records the guard never got */
	bool resync;	    /* a record was lost: send the whole set again */
} guard = { .fd = -1 };

/* ---- the guard process ---------------------------------------------- */

struct group_set {
	pid_t *pgids;
	size_t n, cap;
};

static void group_set_apply(struct group_set *s, const char *msg)
{
	long v = strtol(msg + 1, NULL, 10);

	if (msg[0] == 'r') { /* vigild lost records: the full set follows */
		s->n = 0;
		return;
	}
	if (v <= 1 || v > 0x7fffffff)
		return;
	if (msg[0] == '+' && s->n < GUARD_MAX_GROUPS) {
		if (s->n == s->cap) {
			pid_t *grown = realloc(s->pgids, (s->cap ? 2 * s->cap : 256) * sizeof(*grown));
			if (!grown)
				return;
			s->pgids = grown;
			s->cap = s->cap ? 2 * s->cap : 256;
		}
		s->pgids[s->n++] = (pid_t)v;
	} else if (msg[0] == '-') {
		for (size_t i = s->n; i-- > 0;) /* the newest are the likeliest */
			if (s->pgids[i] == (pid_t)v) {
				s->pgids[i] = s->pgids[--s->n];
				break;
			}
	}
}

/* Keeps 0-2 (stdin/stdout /dev/null, stderr for one line), sock and
 * cgroup_fd; closes every other descriptor vigild had. */
static void guard_close_fds(int sock, int cgroup_fd)
{
	int keep[2] = { sock, cgroup_fd };
	unsigned from = 3;

	if (keep[1] >= 0 && keep[1] < keep[0])
		keep[0] = cgroup_fd, keep[1] = sock;
	dup2(vigil.devnull, 0);
	dup2(vigil.devnull, 1);
	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static void guard_reset_signals(void)
{
	static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2,
				       SIGTSTP, SIGTTIN, SIGTTOU, SIGALRM, SIGCHLD };
	struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &ign, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Reads vigild's records until EOF; returns only if vigild died. */
static void guard_listen(int sock, struct group_set *groups)
{
	char msg[32];
	ssize_t n;

	for (;;) {
		n = recv(sock, msg, sizeof(msg) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* vigild is gone */
		msg[n] = '\0';
		if (msg[0] == 'x')
			_exit(0); /* a normal exit: vigild cleaned up itself */
		group_set_apply(groups, msg);
	}
}

static void __attribute__((noreturn)) guard_main(int sock, int cgroup_fd, pid_t vigild)
{
	const char *path = cgroup_subtree_path(); /* our copy of vigild's memory */
	struct timespec grace = { 0, GUARD_GRACE_MS * 1000000L };
	struct group_set groups = { 0 };
	size_t killed = 0;

	guard_reset_signals();
	setsid();
	prctl(PR_SET_NAME, "vigild-guard");
	guard_close_fds(sock, cgroup_fd);
	guard_listen(sock, &groups);
	while (nanosleep(&grace, &grace) < 0 && errno == EINTR)
		;
	if (cgroup_fd >= 0)
		cgroup_kill_tree(cgroup_fd);
	for (size_t i = 0; i < groups.n; i++)
		killed += kill(-groups.pgids[i], SIGKILL) == 0;
	/* a log file: vigild wrote through another open of it (output_stdio) */
	lseek(2, 0, SEEK_END);
	dprintf(2, "vigild-guard: vigild (pid %d) is gone: killed %s%s and %zu process groups\n", (int)vigild,
		cgroup_fd >= 0 ? "cgroup " : "no cgroup", path, killed);
	if (cgroup_fd >= 0 && cgroup_wait_empty(cgroup_fd, 2000)) {
		/* still holding the subtree's lock: a new vigild waits for this */
		cgroup_remove_tree(cgroup_fd);
		rmdir(path);
	}
	_exit(0);
}

/* ---- vigild's side --------------------------------------------------- */

static void guard_send(char op, pid_t pgid)
{
	char msg[24];
	int n = snprintf(msg, sizeof(msg), "%c%d", op, (int)pgid);

	if (guard.fd < 0 || send(guard.fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
		return;
	if (errno != EAGAIN && errno != ENOBUFS)
		return; /* the guard died: guard_on_event starts another */
	/* Full: the guard is stopped or starved. A lost "+" is a group it
	 * will not kill after a crash; a lost "-" a group it would kill
	 * although it ended, and its number may be another group's by then.
	 * Once there is room the guard gets the whole set again. */
	guard.lost++;
	if (!guard.resync && guard.writable && event_add(guard.writable, NULL) == 0)
		guard.resync = true;
	if ((guard.lost & (guard.lost - 1)) == 0) /* 1, 2, 4, ... */
		log_warn("guard not reading: %lu process-group records lost; after a crash of vigild those groups "
			 "may survive", guard.lost);
}

void guard_track_group(pid_t pgid)
{
	guard_send('+', pgid);
}

void guard_forget_group(pid_t pgid)
{
	guard_send('-', pgid);
}

static void guard_close(void)
{
	if (guard.event)
		event_free(guard.event);
	guard.event = NULL;
	if (guard.writable)
		event_free(guard.writable);
	guard.writable = NULL;
	guard.resync = false;
	if (guard.fd >= 0)
		close(guard.fd);
	guard.fd = -1;
}

static void guard_restart(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	guard_start(group_source); /* during a shutdown too: vigild may die before it ends */
}

static void guard_on_event(evutil_socket_t fd, short what, void *arg)
{
	char buf[32];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	struct timeval later = { GUARD_RESTART_USEC / 1000000, 0 };

	(void)what;
	(void)arg;
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	log_warn("the guard (pid %d) is gone; starting another", (int)guard.pid);
	guard_close();
	if (!guard.restart_timer)
		guard.restart_timer = evtimer_new(vigil.base, guard_restart, NULL);
	if (!guard.restart_timer)
		abort();
	/* one that keeps dying is restarted once a second, not in a loop */
	if (now_usec() - guard.started_at >= GUARD_RESTART_USEC)
		later.tv_sec = 0;
	evtimer_add(guard.restart_timer, &later);
}

/* A new guard knows nothing: tell it about every group alive now. */
static void guard_send_all_groups(void)
{
	if (group_source)
		group_source(guard_track_group);
}



/* Room in the guard's queue after lost records: "r" empties its set,
 * then every group alive now follows. A record lost again meanwhile
 * makes this run again. */
static void guard_on_writable(evutil_socket_t fd, short what, void *arg)
{
	unsigned long lost = guard.lost;

	(void)what;
	(void)arg;
	guard.resync = false;
	if (send(fd, "r", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
		if (errno == EAGAIN || errno == ENOBUFS)
			guard.resync = event_add(guard.writable, NULL) == 0;
		return;
	}
	guard_send_all_groups();
	if (!guard.resync)
		log_info("the guard reads again: it was told anew about every process group (%lu records had been lost)",
			 lost);
}

/* The middle process forks the guard and exits at once, so the guard is
 * reparented past vigild, which must not be a subreaper meanwhile. */
static pid_t guard_fork(int sv[2])
{
	int subreaper = 0, status = 0;
	pid_t mid, vigild = getpid();
	sigset_t all, old;

	prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
	if (subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	mid = fork();
	if (mid == 0) {
		char msg[24];
		pid_t g;
		close(sv[0]); /* else vigild's death would never reach the guard */
		g = fork();
		if (g == 0)
			guard_main(sv[1], cgroup_subtree_fd(), vigild);
		if (g > 0)
			(void)!send(sv[1], msg, (size_t)snprintf(msg, sizeof(msg), "p%d", (int)g), MSG_NOSIGNAL);
		_exit(g > 0 ? 0 : 1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (mid > 0)
		while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
			;
	/* after the middle one is reaped: the guard has been reparented */
	if (subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	return mid < 0 ? -1 : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int guard_start(guard_group_source source)
{
	group_source = source;
	char msg[32] = "";
	int sv[2];
	ssize_t n;

	if (getpid() == 1)
		return 0; /* init's death kills the namespace */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("cannot start the guard: socketpair: %s", strerror(errno));
		return -1;
	}
	if (guard_fork(sv) < 0) {
		log_warn("cannot start the guard: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	guard.fd = sv[0];
	n = recv(guard.fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	guard.pid = n > 1 && msg[0] == 'p' ? (pid_t)atoi(msg + 1) : 0;
	guard.started_at = now_usec();
	guard.event = event_new(vigil.base, guard.fd, EV_READ | EV_PERSIST, guard_on_event, NULL);
	guard.writable = event_new(vigil.base, guard.fd, EV_WRITE, guard_on_writable, NULL);
	if (!guard.event || !guard.writable || event_add(guard.event, NULL) < 0)
		abort();
	log_debug("guard started (pid %d)", (int)guard.pid);
	guard_send_all_groups();
	return 0;
}

/* The "x" of a normal exit must arrive: without it the guard takes the
 * end of the socket for vigild's death, and kills its groups, whose
 * numbers may be others' by then. A guard whose queue stays full (it is
 * stopped) is SIGKILLed instead; EAGAIN on a peek shows it is alive, as
 * only it holds the other end. */
/* The guard exits on goodbye; its end of the socket closes with it. Wait
 * for that, so that vigild is the last of its processes to go (under
 * systemd, a guard still there at vigild's exit is SIGKILLed and logged). */
static void guard_wait_gone(void)
{
	struct pollfd pfd = { .fd = guard.fd, .events = POLLIN };
	char buf[32];

	for (int waited = 0; waited < GUARD_EXIT_WAIT_MS; waited += GUARD_EXIT_POLL_MS) {
		if (poll(&pfd, 1, GUARD_EXIT_POLL_MS) <= 0)
			continue;
		if (pfd.revents & (POLLHUP | POLLERR) || recv(guard.fd, buf, sizeof(buf), MSG_DONTWAIT) == 0)
			return;
	}
}

static void guard_say_goodbye(void)
{
	struct pollfd pfd = { .fd = guard.fd, .events = POLLOUT };
	char c;

	for (int waited = 0;; waited += GUARD_EXIT_POLL_MS) {
		if (send(guard.fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
			guard_wait_gone();
			return;
		}
		if ((errno != EAGAIN && errno != ENOBUFS) || waited >= GUARD_EXIT_WAIT_MS)
			break;
		poll(&pfd, 1, GUARD_EXIT_POLL_MS);
	}
	if (guard.pid > 1 && recv(guard.fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN) {
		log_warn("the guard (pid %d) does not read; killing it", (int)guard.pid);
		kill(guard.pid, SIGKILL);
	}
}

void guard_free(void)
{
	if (guard.fd >= 0)
		guard_say_goodbye();
	guard_close();
	if (guard.restart_timer)
		event_free(guard.restart_timer);
	guard.restart_timer = NULL;
}
