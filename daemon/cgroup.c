#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_tree.h"
#include "log.h"
#include "namemap.h"
#include "vigild.h"

#define CGROUP_LOCK_WAIT_MS 3000    /* a dead vigild's guard cleans up within 2 s */
#define CGROUP_EMPTY_WAIT_MS 2000

struct cgroup_watch {
	int wd;
	char dir[96];
};

/* What vigild remembers of a process's cgroup between two of its
 * processes, so that a process restarted at once reuses the cgroup of
 * the one that just ended instead of removing it and making it again
 * (two cgroup operations under the kernel's global cgroup mutex). */
struct cgroup_slot {
	char name[80]; /* the process's name: the key */
	bool killed;   /* cgroup.kill was written since it was made: the
			  kernel kills a child cloned into it */
	bool release_pending; /* ended: removed at the end of this turn unless
				 a process starts in it first */
	bool queued; /* on cg.pending (a start clears release_pending but
			leaves it there: queued twice, the list would loop) */
	struct cgroup_slot *next, *next_pending;
};

static struct {
	bool enabled;
	int dir_fd; /* the subtree, flock'ed while vigild lives */
	char path[PATH_MAX];
	int inotify_fd;
	struct event *inotify_event;
	struct cgroup_watch *watches; /* cgroups to remove once empty */
	size_t nwatches, capwatches;
	struct namemap slots; /* process name -> struct cgroup_slot */
	struct cgroup_slot *all_slots, *pending;
	struct event *release_event;
} cg = { .dir_fd = -1, .inotify_fd = -1 };

bool cgroup_enabled(void)
{
	return cg.enabled;
}

int cgroup_subtree_fd(void)
{
	return cg.enabled ? cg.dir_fd : -1;
}

const char *cgroup_subtree_path(void)
{
	return cg.enabled ? cg.path : "";
}

/* "prog-" keeps a program named "cgroup.procs" or "." from meeting the
 * kernel's own files; ':' (web:2) is a valid name character. */
static void cgroup_dir_name(const char *name, char *out, size_t len)
{
	snprintf(out, len, "prog-%s", name);
}

/* 64-bit FNV-1a: stable across versions and machines, which is all a
 * subtree name needs. */
static uint64_t path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* vigild's cgroup v2 path, from the "0::" line of /proc/self/cgroup. */
static int own_cgroup(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX + 8];
	int rc = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		rc = snprintf(out, len, "%s", line + 3) < (int)len ? 0 : -1;
		break;
	}
	fclose(f);
	return rc;
}

/* The cgroup2 mount that shows `own`: "<mount point><own below its root>". */
static int own_cgroup_dir(const char *own, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2 * PATH_MAX];
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char *fields[6] = { 0 }, *save = NULL, *dash = strstr(line, " - "), *tok;
		size_t rlen;
		int n = 0;
		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		*dash = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n < 5)
			continue;
		unescape_octal(fields[3]); /* root of the mount in the hierarchy */
		unescape_octal(fields[4]); /* mount point */
		rlen = strcmp(fields[3], "/") == 0 ? 0 : strlen(fields[3]);
		if (strncmp(own, fields[3], rlen) != 0 || (own[rlen] != '/' && own[rlen] != '\0'))
			continue;
		if (snprintf(out, len, "%s%s", fields[4], strcmp(own + rlen, "/") == 0 ? "" : own + rlen) < (int)len)
			rc = 0;
	}
	fclose(f);
	return rc;
}

/* Takes the subtree's lock, waiting for the guard of a vigild that died
 * to finish; the directory may be gone by then, so it is made again. */
static int subtree_open_locked(char *why, size_t whylen)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int waited = 0;
		if (mkdir(cg.path, 0755) < 0 && errno != EEXIST)
			return snprintf(why, whylen, "cannot create %s: %s", cg.path, strerror(errno)), -1;
		cg.dir_fd = open(cg.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg.dir_fd < 0)
			return snprintf(why, whylen, "cannot open %s: %s", cg.path, strerror(errno)), -1;
		while (flock(cg.dir_fd, LOCK_EX | LOCK_NB) < 0) {
			if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= CGROUP_LOCK_WAIT_MS)
				return snprintf(why, whylen, "%s is locked by another vigild or its guard", cg.path), -1;
			cgroup_sleep_ms(10);
			waited += 10;
		}
		if (faccessat(cg.dir_fd, "cgroup.procs", F_OK, 0) == 0)
			return 0;
		close(cg.dir_fd); /* removed while we waited */
		cg.dir_fd = -1;
	}
	return snprintf(why, whylen, "%s keeps disappearing", cg.path), -1;
}

/* A throw-away child joins a throw-away cgroup: proves spawns can
 * (no EBUSY from the no-internal-processes rule, no EACCES, no
 * EOPNOTSUPP from a threaded subtree). */
static int probe_join(char *why, size_t whylen)
{
	sigset_t all, old;
	int fd, status = 0, err = 0;
	pid_t pid;

	if (mkdirat(cg.dir_fd, "probe", 0755) < 0 && errno != EEXIST)
		return snprintf(why, whylen, "cannot create a cgroup in %s: %s", cg.path, strerror(errno)), -1;
	fd = openat(cg.dir_fd, "probe/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
	} else {
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, &old);
		pid = fork();
		if (pid == 0)
			_exit(write(fd, "0", 1) == 1 ? 0 : errno);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(fd);
		if (pid < 0)
			err = errno;
		else
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
		if (!err && (!WIFEXITED(status) || WEXITSTATUS(status)))
			err = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
	}
	unlinkat(cg.dir_fd, "probe", AT_REMOVEDIR);
	if (err)
		return snprintf(why, whylen, "a process cannot join a cgroup in %s: %s", cg.path, strerror(err)), -1;
	return 0;
}

/* Empty subtrees of other vigild instances that are gone (no lock on
 * them), killed with their guard: removed, so they do not pile up. One
 * with processes is left to the vigild of its socket. */
static void cgroup_collect_stale(const char *parent, const char *ours)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd;
		if (e->d_type != DT_DIR || strncmp(e->d_name, "vigil-", 6) != 0 || strcmp(e->d_name, ours) == 0)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && cgroup_populated(fd) == 0) {
			cgroup_remove_tree(fd);
			n += unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0;
		}
		close(fd);
	}
	closedir(d);
	if (n)
		log_debug("removed %d empty cgroup subtrees of vigild instances that are gone", n);
}

static void cgroup_on_inotify(evutil_socket_t fd, short what, void *arg);
static void cgroup_release_pending(evutil_socket_t fd, short what, void *arg);

static int cgroup_setup(const char *ctl_socket, char *why, size_t whylen)
{
	char own[PATH_MAX], dir[PATH_MAX];
	int left;

	if (own_cgroup(own, sizeof(own)) < 0)
		return snprintf(why, whylen, "no cgroup v2 line in /proc/self/cgroup"), -1;
	if (own_cgroup_dir(own, dir, sizeof(dir)) < 0)
		return snprintf(why, whylen, "no cgroup2 mount shows vigild's cgroup %s", own), -1;
	if (snprintf(cg.path, sizeof(cg.path), "%s/vigil-%012llx", dir,
		     (unsigned long long)(path_hash(ctl_socket) >> 16)) >= (int)sizeof(cg.path))
		return snprintf(why, whylen, "cgroup path too long"), -1;
	if (subtree_open_locked(why, whylen) < 0)
		return -1;
	cgroup_collect_stale(dir, strrchr(cg.path, '/') + 1);
	left = cgroup_count_tree(cg.dir_fd);
	if (left) {
		cgroup_kill_tree(cg.dir_fd);
		if (!cgroup_wait_empty(cg.dir_fd, CGROUP_EMPTY_WAIT_MS))
			log_warn("processes a previous vigild left in %s are still there after SIGKILL", cg.path);
		log_notice("killed %d process%s a previous vigild left in %s", left, left == 1 ? "" : "es", cg.path);
	}
	cgroup_remove_tree(cg.dir_fd);
	if (probe_join(why, whylen) < 0)
		return -1;
	/* Without inotify empty cgroups are only removed when vigild exits. */
	cg.release_event = event_new(vigil.base, -1, 0, cgroup_release_pending, NULL);
	cg.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (cg.inotify_fd >= 0) {
		cg.inotify_event = event_new(vigil.base, cg.inotify_fd, EV_READ | EV_PERSIST, cgroup_on_inotify, NULL);
		if (!cg.inotify_event || event_add(cg.inotify_event, NULL) < 0)
			abort();
	}
	return 0;
}

int cgroup_init(const char *ctl_socket)
{
	const char *env = getenv("VIGIL_CGROUP");
	char why[PATH_MAX + 128];

	if (env && strcmp(env, "off") == 0) {
		snprintf(why, sizeof(why), "VIGIL_CGROUP=off");
	} else if (cgroup_setup(ctl_socket, why, sizeof(why)) == 0) {
		cg.enabled = true;
		log_info("every process runs in a cgroup of its own under %s", cg.path);
		return 0;
	} else if (cg.dir_fd >= 0) {
		rmdir(cg.path);
		close(cg.dir_fd);
		cg.dir_fd = -1;
	}
	log_notice("no cgroups (%s): processes are killed by process group; one that leaves its group "
		   "(setsid, setpgid) is killed when vigild exits, but outlives a vigild killed with SIGKILL",
		   why);
	return -1;
}

static struct cgroup_slot *cgroup_slot(const char *name)
{
	struct cgroup_slot *slot = namemap_get(&cg.slots, name);

	if (slot)
		return slot;
	slot = calloc(1, sizeof(*slot));
	if (!slot)
		abort();
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->next = cg.all_slots;
	cg.all_slots = slot;
	namemap_put(&cg.slots, slot->name, slot);
	return slot;
}

int cgroup_open_dir(const char *name, bool *fresh, char *err, size_t errlen)
{
	struct cgroup_slot *slot;
	char dir[96];
	int fd;

	if (!cg.enabled)
		return -1;
	slot = cgroup_slot(name);
	slot->release_pending = false;
	cgroup_dir_name(name, dir, sizeof(dir));
	if (mkdirat(cg.dir_fd, dir, 0755) == 0)
		slot->killed = false;
	else if (errno != EEXIST)
		return snprintf(err, errlen, "cannot create cgroup %s/%s: %s", cg.path, dir, strerror(errno)), -1;
	/* made now, or left by a process that ended alone: clone3 may put
	 * the child in; one killed since it was made must be joined instead */
	*fresh = !slot->killed;
	fd = openat(cg.dir_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s/%s: %s", cg.path, dir, strerror(errno));
	return fd;
}

void cgroup_kill(const char *name)
{
	char dir[96];
	int fd;

	if (!cg.enabled)
		return;
	cgroup_dir_name(name, dir, sizeof(dir));
	fd = openat(cg.dir_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return; /* never spawned, or already removed */
	/* nothing left in it (the common end: the main process alone): no
	 * kill, and the cgroup stays fit for a restart's clone3 */
	if (cgroup_populated(fd) != 0) {
		cgroup_kill_tree(fd);
		cgroup_slot(name)->killed = true;
	}
	close(fd);
}

/* rmdir of an empty cgroup; one that is busy again (a new spawn) stays. */
static bool cgroup_try_remove(const char *dir)
{
	int fd = openat(cg.dir_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return true;
	cgroup_remove_tree(fd); /* cgroups a program made inside its own */
	close(fd);
	return unlinkat(cg.dir_fd, dir, AT_REMOVEDIR) == 0 || errno == ENOENT;
}

static struct cgroup_watch *cgroup_find_watch(int wd)
{
	for (size_t i = 0; i < cg.nwatches; i++)
		if (cg.watches[i].wd == wd)
			return &cg.watches[i];
	return NULL;
}

static void cgroup_release_now(const char *name)
{
	char dir[96], events[PATH_MAX + 128];
	struct cgroup_watch *w;
	int wd;

	cgroup_dir_name(name, dir, sizeof(dir));
	if (cgroup_try_remove(dir) || errno != EBUSY || cg.inotify_fd < 0)
		return;
	/* cgroup.events changes when the last process leaves (the killed
	 * ones are reaped by vigild, the subreaper). */
	snprintf(events, sizeof(events), "%s/%s/cgroup.events", cg.path, dir);
	wd = inotify_add_watch(cg.inotify_fd, events, IN_MODIFY);
	if (wd < 0) {
		log_debug("cannot watch %s: %s; removed at exit", events, strerror(errno));
		return;
	}
	if (!cgroup_find_watch(wd)) {
		if (cg.nwatches == cg.capwatches) {
			cg.capwatches = cg.capwatches ? 2 * cg.capwatches : 16;
			cg.watches = realloc(cg.watches, cg.capwatches * sizeof(*cg.watches));
			if (!cg.watches)
				abort();
		}
		w = &cg.watches[cg.nwatches++];
		w->wd = wd;
		snprintf(w->dir, sizeof(w->dir), "%s", dir);
	}
	/* it may have emptied before the watch existed */
	cgroup_try_remove(dir);
}

/* The end of the loop turn in which processes ended: remove the cgroups
 * no new process has started in meanwhile. */
static void cgroup_release_pending(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	while (cg.pending) {
		struct cgroup_slot *slot = cg.pending;
		cg.pending = slot->next_pending;
		slot->queued = false;
		if (!slot->release_pending)
			continue;
		slot->release_pending = false;
		cgroup_release_now(slot->name);
	}
}

void cgroup_release(const char *name)
{
	struct cgroup_slot *slot;

	if (!cg.enabled)
		return;
	if (!cg.release_event) {
		cgroup_release_now(name);
		return;
	}
	slot = cgroup_slot(name);
	slot->release_pending = true;
	if (!slot->queued) {
		slot->queued = true;
		slot->next_pending = cg.pending;
		cg.pending = slot;
	}
	event_active(cg.release_event, 0, 0);
}

static void cgroup_on_inotify(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			struct cgroup_watch *w = cgroup_find_watch(ev->wd);
			p += sizeof(*ev) + ev->len;
			if (!w)
				continue;
			if (ev->mask & IN_IGNORED) /* removed */
				*w = cg.watches[--cg.nwatches];
			else
				cgroup_try_remove(w->dir);
		}
	}
}

void cgroup_free(void)
{
	int left;

	if (cg.inotify_event)
		event_free(cg.inotify_event);
	if (cg.inotify_fd >= 0)
		close(cg.inotify_fd);
	free(cg.watches);
	cg.inotify_event = NULL;
	cg.inotify_fd = -1;
	cg.watches = NULL;
	cg.nwatches = cg.capwatches = 0;
	if (cg.release_event)
		event_free(cg.release_event);
	cg.release_event = NULL;
	cg.pending = NULL;
	while (cg.all_slots) {
		struct cgroup_slot *slot = cg.all_slots;
		cg.all_slots = slot->next;
		free(slot);
	}
	namemap_free(&cg.slots);
	if (!cg.enabled)
		return;
	left = cgroup_count_tree(cg.dir_fd);
	if (left) {
		cgroup_kill_tree(cg.dir_fd);
		log_info("killed %d leftover process%s in %s", left, left == 1 ? "" : "es", cg.path);
	}
	if (!cgroup_wait_empty(cg.dir_fd, CGROUP_EMPTY_WAIT_MS))
		log_warn("%s still has processes after SIGKILL; left in place", cg.path);
	cgroup_remove_tree(cg.dir_fd);
	if (rmdir(cg.path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", cg.path, strerror(errno));
	close(cg.dir_fd);
	cg.dir_fd = -1;
	cg.enabled = false;
}
