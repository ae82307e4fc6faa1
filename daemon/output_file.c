/* `file:PATH` destinations: opened without following what a program's
 * user could have planted, rotated inside the folder held open, written
 * with the count of what really reached the disk. See output_file.h. */
#define _GNU_SOURCE
#include "output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "output_stdio.h"

/* Symlinks followed while walking one path, as the kernel's limit. */
#define OUTPUT_FILE_MAX_LINKS 40

static int file_fail(struct output_file *f, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int file_fail(struct output_file *f, char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	snprintf(f->why, sizeof(f->why), "%s", err);
	/* the caller tells a refusal (EPERM) from a lack of fds (EMFILE:
	 * retried later) by errno */
	errno = saved;
	return -1;
}

/* Only root can change this folder's entries, so a symlink in it was put
 * there by root, who may point a log wherever it likes (/dev/stdout).
 * Not running as root, vigild cannot be led to write where its user
 * could not anyway: the path is followed as given. */
static bool folder_root_only(const struct stat *st)
{
	if (geteuid() != 0)
		return true;
	return st->st_uid == 0 && !(st->st_mode & S_IWOTH) && (!(st->st_mode & S_IWGRP) || st->st_gid == 0);
}

/* The folder of a log may be written by root and by the program's user,
 * nobody else: another user could swap the log for a link between our
 * checks and our open. Sticky folders (/tmp) are fine: others cannot
 * replace our entries there, and what they add is checked on open. */
static int folder_check(const struct stat *st, uid_t uid, char *why, size_t whylen)
{
	bool sticky = st->st_mode & S_ISVTX;

	if (geteuid() != 0)
		return 0;
	if (st->st_uid != 0 && st->st_uid != uid)
		return snprintf(why, whylen, "owned by uid %u", (unsigned)st->st_uid), -1;
	if (!sticky && (st->st_mode & S_IWGRP) && st->st_gid != 0)
		return snprintf(why, whylen, "writable by its group (gid %u)", (unsigned)st->st_gid), -1;
	if (!sticky && (st->st_mode & S_IWOTH))
		return snprintf(why, whylen, "writable by others"), -1;
	return 0;
}

/* A hard link to a file of root's, or a file of another user, moved
 * into a folder the program's user can write must not be appended to.
 * In a folder only root can write, whatever is there root put there: a
 * device, a FIFO, a file chowned to a service user. */
static int file_check(const struct stat *st, uid_t uid, bool root_only, char *why, size_t whylen)
{
	if (geteuid() != 0 || root_only)
		return 0;
	if (!S_ISREG(st->st_mode))
		return snprintf(why, whylen, "not a regular file, in a folder not only root can write"), -1;
	if (st->st_uid != 0 && st->st_uid != uid)
		return snprintf(why, whylen, "owned by uid %u, neither root nor the program's user", (unsigned)st->st_uid),
		       -1;
	if (st->st_nlink > 1)
		return snprintf(why, whylen, "it has %lu hard links", (unsigned long)st->st_nlink), -1;
	return 0;
}

static bool folder_on_proc(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

/* The target of the symlink name in folder fd, with rest (what is left of
 * the path after it, or NULL) appended: the new path still to walk. */
static char *link_splice(int fd, const char *name, const char *rest)
{
	char target[4096], *out;
	ssize_t n = readlinkat(fd, name, target, sizeof(target));

	if (n <= 0 || (size_t)n >= sizeof(target))
		return errno = n < 0 ? errno : ENAMETOOLONG, NULL;
	target[n] = '\0';
	if (asprintf(&out, "%s%s%s", target, rest ? "/" : "", rest ? rest : "") < 0)
		return NULL;
	return out;
}

/* Finds the folder (f->dirfd) and name (f->name) of f->path, one
 * component at a time, without ever letting the kernel follow a symlink
 * a user could have placed: in a folder only root can write, a symlink is
 * followed by walking its target by the same rules (on /proc, whose links
 * are the kernel's own, /dev/stdout's /proc/self/fd/1, the kernel follows
 * it); in any other folder it is refused. */
static int file_walk(struct output_file *f, char *err, size_t errlen)
{
	char *todo = strdup(f->path), *comp = todo, *rest;
	int fd = open(f->path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC), links = 0, rc = -1;

	if (!todo || fd < 0)
		file_fail(f, err, errlen, "cannot open %s: %s", f->path, strerror(errno));
	while (todo && fd >= 0) {
		struct stat st;
		bool root_only, is_link;
		int next;

		while (*comp == '/')
			comp++;
		if ((rest = strchr(comp, '/')))
			*rest++ = '\0';
		if (!*comp) {
			file_fail(f, err, errlen, "%s names no file", f->path);
			break;
		}
		root_only = fstat(fd, &st) == 0 && folder_root_only(&st);
		is_link = fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
		if (is_link && root_only && !folder_on_proc(fd)) {
			char *spliced = ++links > OUTPUT_FILE_MAX_LINKS ? (errno = ELOOP, NULL) : link_splice(fd, comp, rest);
			if (!spliced) {
				file_fail(f, err, errlen, "cannot follow %s: %s: %s", f->path, comp, strerror(errno));
				break;
			}
			free(todo);
			todo = comp = spliced;
			if (*comp == '/') { /* an absolute target: from the top again */
				close(fd);
				if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
					file_fail(f, err, errlen, "cannot open /: %s", strerror(errno));
			}
			continue;
		}
		if (!rest) { /* the file itself: output_file_reopen opens it */
			if (!(f->name = strdup(comp))) {
				file_fail(f, err, errlen, "cannot open %s: %s", f->path, strerror(errno));
				break;
			}
			f->dirfd = fd;
			fd = -1;
			rc = 0;
			break;
		}
		if (is_link && !root_only) {
			errno = EPERM;
			file_fail(f, err, errlen, "refusing %s: %s is a symlink in a folder not only root can write",
				  f->path, comp);
			break;
		}
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC | (is_link ? 0 : O_NOFOLLOW));
		if (next < 0)
			file_fail(f, err, errlen, "cannot open the folder of %s: %s: %s", f->path, comp, strerror(errno));
		close(fd);
		fd = next;
		comp = rest;
	}
	if (fd >= 0)
		close(fd);
	free(todo);
	return rc;
}

void output_file_init(struct output_file *f, char *path)
{
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->fd = f->dirfd = -1;
}

int output_file_reopen(struct output_file *f, uid_t uid, char *err, size_t errlen)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	char why[128];
	struct stat st;
	bool root_only;
	int fd;

	if (f->dirfd < 0)
		return output_file_open(f, uid, err, errlen);
	output_file_close(f);
	if (fstat(f->dirfd, &st) < 0)
		return file_fail(f, err, errlen, "cannot open %s: %s", f->path, strerror(errno));
	if (folder_check(&st, uid, why, sizeof(why)) < 0)
		return errno = EPERM, file_fail(f, err, errlen, "refusing %s: its folder is %s; only root and the program's user "
				 "may write the folder of a log", f->path, why);
	root_only = folder_root_only(&st);
	/* a symlink here was resolved by file_walk, but for the kernel's own */
	if (!root_only || !folder_on_proc(f->dirfd))
		flags |= O_NOFOLLOW;
	fd = openat(f->dirfd, f->name, flags, 0640);
	if (fd < 0 && errno == ELOOP && !root_only)
		return errno = EPERM, file_fail(f, err, errlen, "refusing %s: it is a symlink, in a folder not only root can write", f->path);
	if (fd < 0)
		return file_fail(f, err, errlen, "cannot open %s: %s", f->path, strerror(errno));
	if (fstat(fd, &st) < 0 || file_check(&st, uid, root_only, why, sizeof(why)) < 0) {
		close(fd);
		return errno = EPERM, file_fail(f, err, errlen, "refusing %s: %s", f->path, why);
	}
	f->fd = fd;
	f->rotatable = S_ISREG(st.st_mode);
	f->size = f->rotatable ? (unsigned long long)st.st_size : 0;
	return 0;
}

static void file_forget_folder(struct output_file *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
	free(f->name);
	f->name = NULL;
}

int output_file_open(struct output_file *f, uid_t uid, char *err, size_t errlen)
{
	output_file_close(f);
	file_forget_folder(f);
	if (!f->path)
		return file_fail(f, err, errlen, "no file named");
	if (file_walk(f, err, errlen) < 0)
		return -1;
	return output_file_reopen(f, uid, err, errlen);
}

void output_file_close(struct output_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void output_file_free(struct output_file *f)
{
	output_file_close(f);
	file_forget_folder(f);
	free(f->path);
	f->path = NULL;
}

int output_file_rotate(struct output_file *f, int backups, uid_t uid, char *err, size_t errlen)
{
	char from[4096], to[4096], open_err[512];
	int rc = 0;

	err[0] = '\0';
	if (backups == 0) {
		if (ftruncate(f->fd, 0) < 0)
			return file_fail(f, err, errlen, "cannot truncate: %s", strerror(errno));
		f->size = 0;
		return 0;
	}
	for (int i = backups - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", f->name, i);
		snprintf(to, sizeof(to), "%s.%d", f->name, i + 1);
		renameat(f->dirfd, from, f->dirfd, to); /* a backup not there yet is fine */
	}
	snprintf(to, sizeof(to), "%s.1", f->name);
	/* ENOENT: PATH was moved away (an external rotation): open anew */
	if (renameat(f->dirfd, f->name, f->dirfd, to) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "rename to %s: %s", to, strerror(errno));
		rc = -1;
	}
	if (output_file_reopen(f, uid, open_err, sizeof(open_err)) < 0) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "%s%s", used ? "; " : "", open_err);
		rc = -1;
	}
	return rc;
}

size_t output_file_write(struct output_file *f, const char *data, size_t len)
{
	size_t done, keep;
	off_t end;
	int saved;

	errno = 0;
	done = output_write_all(f->fd, data, len);
	if (done == len)
		return len;
	saved = errno ? errno : EIO;
	/* A piece of a line would be glued to whatever comes once there is
	 * space again: cut the file back to its last whole line. */
	for (keep = done; keep > 0 && data[keep - 1] != '\n'; keep--)
		;
	if (keep < done && f->rotatable && (end = lseek(f->fd, 0, SEEK_CUR)) >= (off_t)(done - keep) &&
	    ftruncate(f->fd, end - (off_t)(done - keep)) == 0)
		done = keep;
	errno = saved;
	return done;
}
