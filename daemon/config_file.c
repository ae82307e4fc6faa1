/* Opening and reading config files; see config_file.h. A path is walked
 * one component at a time on descriptors (O_PATH, O_NOFOLLOW), as the
 * kernel would resolve it, following symlinks by hand: so each folder,
 * symlink and the file itself is checked as the very object used next,
 * and nothing can be swapped between the check and the read. Only a
 * regular file is ever opened for reading: a device, FIFO or socket is
 * refused from its O_PATH descriptor, which opens nothing (no blocking
 * FIFO open, no endless /dev/zero, no side effect of a device's open). */
#define _GNU_SOURCE
#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define CONFIG_SYMLINKS_MAX 40 /* as the kernel's MAXSYMLINKS */
#define INSECURE_HINT ", or run vigild with --insecure-config"

enum { WALK_GO_ON = -2 };

static bool config_insecure;

void config_set_insecure(bool insecure)
{
	config_insecure = insecure;
}

/* One path being resolved. */
struct walk {
	const char *path; /* as given: messages start with it */
	bool check;	  /* owner and mode checks (root, no --insecure-config) */
	int dirfd;	  /* the folder reached so far */
	char where[PATH_MAX]; /* its resolved path, "" for / */
	char *todo;	  /* what is left to resolve (malloc'd) ... */
	char *next;	  /* ... from here */
	int links;	  /* symlinks followed */
	char *err;
	size_t errlen;
};

static int walk_fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int walk_fail(struct walk *w, const char *fmt, ...)
{
	int n = snprintf(w->err, w->errlen, "%s: ", w->path);
	va_list ap;

	if (n >= 0 && (size_t)n < w->errlen) {
		va_start(ap, fmt);
		vsnprintf(w->err + n, w->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "a folder";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	default: return "not a file";
	}
}

/* Refuses what a user other than root could have written or replaced:
 * kind is "folder", "symlink", or NULL for the file itself (shown is
 * then the path as given). */
static int walk_check(struct walk *w, const char *kind, const char *shown, const struct stat *st)
{
	const char *subject = kind ? kind : "", *space = kind ? " " : "";
	const char *name = kind ? shown : "";
	struct passwd *pw;
	mode_t mode = st->st_mode & 07777;

	if (!w->check)
		return 0;
	if (st->st_uid != 0) {
		pw = getpwuid(st->st_uid);
		return walk_fail(w, "%s%s%s%sowned by uid %u (%s), not root: chown %sroot %s" INSECURE_HINT, subject,
				 space, name, kind ? " is " : "", (unsigned)st->st_uid, pw ? pw->pw_name : "no such user",
				 S_ISLNK(st->st_mode) ? "-h " : "", shown);
	}
	if (S_ISLNK(st->st_mode))
		return 0; /* a symlink's own mode means nothing */
	if (S_ISDIR(st->st_mode) && (mode & S_ISVTX))
		return 0; /* like /tmp: others cannot replace root's entries */
	if (mode & (S_IWGRP | S_IWOTH))
		return walk_fail(w, "%s%s%s%swritable by group/other%s (mode %04o): chmod go-w %s" INSECURE_HINT,
				 subject, space, name, kind ? " is " : "",
				 S_ISDIR(st->st_mode) ? " without the sticky bit" : "", (unsigned)mode, shown);
	return 0;
}

/* Starts (again) at /, as an absolute path or symlink does. */
static int walk_root(struct walk *w)
{
	struct stat st;

	if (w->dirfd >= 0)
		close(w->dirfd);
	w->where[0] = '\0';
	w->dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0 || fstat(w->dirfd, &st) < 0)
		return walk_fail(w, "cannot open /: %s", strerror(errno));
	return walk_check(w, "folder", "/", &st);
}

/* The next component of what is left, cut out in place; NULL at the end.
 * last: nothing follows it. */
static char *walk_next(struct walk *w, bool *last)
{
	char *comp = w->next + strspn(w->next, "/"), *end;

	if (!*comp)
		return NULL;
	end = strchr(comp, '/');
	if (end) {
		*end = '\0';
		w->next = end + 1;
	} else {
		w->next = comp + strlen(comp);
	}
	*last = w->next[strspn(w->next, "/")] == '\0';
	return comp;
}

/* Goes on with the symlink's target in place of the link. */
static int walk_symlink(struct walk *w, int fd, const char *shown, const struct stat *st)
{
	char target[PATH_MAX];
	ssize_t n;
	char *todo;

	if (walk_check(w, "symlink", shown, st) < 0)
		return -1;
	if (++w->links > CONFIG_SYMLINKS_MAX)
		return walk_fail(w, "cannot open: %s", strerror(ELOOP));
	n = readlinkat(fd, "", target, sizeof(target));
	if (n < 0 || (size_t)n >= sizeof(target) || n == 0)
		return walk_fail(w, "cannot read symlink %s: %s", shown,
				 strerror(n < 0 ? errno : n == 0 ? ENOENT : ENAMETOOLONG));
	target[n] = '\0';
	if (asprintf(&todo, "%s/%s", target, w->next) < 0)
		abort();
	free(w->todo);
	w->todo = w->next = todo;
	return target[0] == '/' ? walk_root(w) : 0;
}

static int walk_parent(struct walk *w, bool last)
{
	int fd = openat(w->dirfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *slash = strrchr(w->where, '/');

	if (fd < 0)
		return walk_fail(w, "cannot open: %s", strerror(errno));
	close(w->dirfd);
	w->dirfd = fd;
	if (slash)
		*slash = '\0';
	return last ? walk_fail(w, "not a regular file (a folder)") : WALK_GO_ON;
}

/* Opens the regular file the walk ended on for reading, and checks it
 * on the descriptor that will be read. */
static int walk_open_file(struct walk *w, const char *comp, const struct stat *seen, struct stat *st)
{
	int fd;

	if (!S_ISREG(seen->st_mode))
		return walk_fail(w, "not a regular file (%s)", file_kind(seen->st_mode));
	fd = openat(w->dirfd, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return walk_fail(w, "cannot open: %s", strerror(errno));
	if (fstat(fd, st) < 0 || st->st_dev != seen->st_dev || st->st_ino != seen->st_ino) {
		close(fd);
		return walk_fail(w, "cannot open: it was replaced while being opened");
	}
	if (walk_check(w, NULL, w->path, st) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One component: a folder to enter, a symlink to follow, or the file. */
static int walk_step(struct walk *w, const char *comp, bool last, struct stat *st)
{
	char shown[PATH_MAX];
	struct stat seen;
	int fd, rc;

	if (strcmp(comp, ".") == 0)
		return last ? walk_fail(w, "not a regular file (a folder)") : WALK_GO_ON;
	if (strcmp(comp, "..") == 0)
		return walk_parent(w, last);
	if ((size_t)snprintf(shown, sizeof(shown), "%s/%s", w->where, comp) >= sizeof(shown))
		return walk_fail(w, "cannot open: %s", strerror(ENAMETOOLONG));
	fd = openat(w->dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return walk_fail(w, "cannot open: %s", strerror(errno));
	if (fstat(fd, &seen) < 0) {
		rc = walk_fail(w, "cannot open: %s", strerror(errno));
	} else if (S_ISLNK(seen.st_mode)) {
		rc = walk_symlink(w, fd, shown, &seen) < 0 ? -1 : WALK_GO_ON;
	} else if (!last && !S_ISDIR(seen.st_mode)) {
		rc = walk_fail(w, "cannot open: %s", strerror(ENOTDIR));
	} else if (!last) {
		if (walk_check(w, "folder", shown, &seen) < 0) {
			close(fd);
			return -1;
		}
		close(w->dirfd);
		w->dirfd = fd;
		memcpy(w->where, shown, strlen(shown) + 1);
		return WALK_GO_ON;
	} else {
		rc = walk_open_file(w, comp, &seen, st);
	}
	close(fd);
	return rc;
}

/* Opens path for reading; the descriptor, or -1 with err. */
static int config_file_open(const char *path, struct stat *st, char *err, size_t errlen)
{
	struct walk w = {
		.path = path, .dirfd = -1, .err = err, .errlen = errlen,
		/* An unprivileged vigild can only be fooled into reading
		 * what its own user could write anyway. */
		.check = !config_insecure && geteuid() == 0,
	};
	char cwd[PATH_MAX], *comp;
	int rc = -1;
	bool last = true;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return walk_fail(&w, "cannot open: %s", strerror(errno));
	if (asprintf(&w.todo, "%s/%s", path[0] == '/' ? "" : cwd, path) < 0)
		abort();
	w.next = w.todo;
	if (walk_root(&w) == 0) {
		rc = WALK_GO_ON;
		while (rc == WALK_GO_ON && (comp = walk_next(&w, &last)))
			rc = walk_step(&w, comp, last, st);
		if (rc == WALK_GO_ON) /* ended on a folder, as "/" or "dir/.." */
			rc = walk_fail(&w, "not a regular file (a folder)");
	}
	if (w.dirfd >= 0)
		close(w.dirfd);
	free(w.todo);
	return rc;
}

/* Reads all of fd, within what is left of the byte bound. */
static int config_file_slurp(struct config_files *files, int fd, const char *path, const struct stat *st,
			     struct config_text *text, char *err, size_t errlen)
{
	size_t room = CONFIG_BYTES_MAX - files->bytes, len = 0, cap;
	char *buf;
	ssize_t n;

	if ((uint64_t)st->st_size > room)
		goto too_big;
	/* st_size is a hint: /proc and /sys files say 0, a file may grow */
	cap = (st->st_size > 0 ? (size_t)st->st_size : 4096) + 1;
	if (!(buf = malloc(cap + 1)))
		abort();
	while (len <= room) {
		if (len == cap) {
			cap = cap * 2 > room + 1 ? room + 1 : cap * 2;
			if (!(buf = realloc(buf, cap + 1)))
				abort();
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len > room) {
		free(buf);
		goto too_big;
	}
	buf[len] = '\0';
	files->bytes += len;
	text->data = buf;
	text->len = len;
	return 0;
too_big:
	files->limit_hit = true;
	snprintf(err, errlen, "%s: more than %d MiB of config files", path, CONFIG_BYTES_MAX >> 20);
	return -1;
}

/* Read before: skip it, or an include loop if it is still being read. */
static int config_file_seen(const struct config_files *files, const struct stat *st)
{
	for (size_t i = 0; i < files->nids; i++)
		if (files->ids[i].dev == st->st_dev && files->ids[i].ino == st->st_ino)
			return files->ids[i].reading ? -1 : 1;
	return 0;
}

int config_file_read(struct config_files *files, const char *path, struct config_text *text, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd, seen, rc = -1;

	*text = (struct config_text){ 0 };
	if (files->limit_hit)
		return CONFIG_FILE_SKIP; /* reported once, at the file that hit it */
	fd = config_file_open(path, &st, err, errlen);
	if (fd < 0)
		return -1;
	seen = config_file_seen(files, &st);
	if (seen < 0) {
		snprintf(err, errlen, "%s: already being read (an include loop)", path);
	} else if (seen > 0) {
		rc = CONFIG_FILE_SKIP;
	} else if (files->nids >= CONFIG_FILES_MAX) {
		files->limit_hit = true;
		snprintf(err, errlen, "%s: more than %d config files", path, CONFIG_FILES_MAX);
	} else if (config_file_slurp(files, fd, path, &st, text, err, errlen) == 0) {
		files->ids = realloc(files->ids, (files->nids + 1) * sizeof(*files->ids));
		if (!files->ids)
			abort();
		files->ids[files->nids] = (struct config_file_id){ st.st_dev, st.st_ino, true };
		text->id = files->nids++;
		rc = CONFIG_FILE_READ;
	}
	close(fd);
	return rc;
}

void config_file_done(struct config_files *files, struct config_text *text)
{
	if (text->data)
		files->ids[text->id].reading = false;
	free(text->data);
	text->data = NULL;
}

void config_files_free(struct config_files *files)
{
	free(files->ids);
	files->ids = NULL;
	files->nids = 0;
}
