#define _GNU_SOURCE
#include "ctl_socket.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "vigild.h"

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

/* 1: something answers at path; 0: nothing does (stale or absent). */
static int socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int remove_stale(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return snprintf(err, errlen, "%s exists and is not a socket; remove it or set [vigil] socket", path), -1;
	if (socket_is_live(sa))
		return snprintf(err, errlen, "another vigild is already running on %s (stop it first, or set another [vigil] socket)",
				path), -1;
	log_info("removing stale socket %s left by a vigild that is gone", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno)), -1;
	return 0;
}

/* mkdir -p of the socket's folder (/run/vigil on a fresh boot), 0755 so
 * programs running as other users reach the notify socket inside. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno)), -1;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno)), -1;
	return 0;
}

int ctl_socket_open(const char *path, int mode, const char *group, gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd;

	if (fill_addr(&sa, path) < 0)
		return snprintf(err, errlen, "socket path too long: %s", path), -1;
	if (make_parent_dirs(path, err, errlen) < 0)
		return -1;
	if (remove_stale(path, &sa, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return snprintf(err, errlen, "socket: %s", strerror(errno)), -1;
	/* Never a moment with looser permissions than asked for. */
	old_umask = umask(0777 & ~(mode_t)mode);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old_umask);
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old_umask);
	if (chmod(path, (mode_t)mode) < 0 || (group && chown(path, (uid_t)-1, gid) < 0)) {
		snprintf(err, errlen, "cannot set mode/group of %s: %s", path, strerror(errno));
		goto fail;
	}
	/* The longest queue the kernel allows (net.core.somaxconn): a user
	 * flooding the socket with connects must not fill it before vigild
	 * accepts and refuses them, or root's connect() fails with EAGAIN. */
	if (listen(fd, SOMAXCONN > 4096 ? SOMAXCONN : 4096) < 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	unlink(path);
	close(fd);
	return -1;
}

/* Membership from NSS (files, LDAP, sssd) is looked up once per uid and
 * kept a few seconds: vigilctl polls while it waits. */
#define GROUP_CACHE_SIZE 16
#define GROUP_CACHE_USEC (5 * 1000000LL)

static struct {
	uid_t uid;
	gid_t group;
	bool member;
	long long until; /* monotonic usec; 0: empty */
} group_cache[GROUP_CACHE_SIZE];

static bool uid_in_group_lookup(uid_t uid, gid_t group);

static bool uid_in_group(uid_t uid, gid_t group)
{
	long long now = now_usec();
	unsigned slot = (unsigned)uid % GROUP_CACHE_SIZE;

	if (group_cache[slot].until > now && group_cache[slot].uid == uid && group_cache[slot].group == group)
		return group_cache[slot].member;
	group_cache[slot].uid = uid;
	group_cache[slot].group = group;
	group_cache[slot].member = uid_in_group_lookup(uid, group);
	group_cache[slot].until = now + GROUP_CACHE_USEC;
	return group_cache[slot].member;
}

static bool uid_in_group_lookup(uid_t uid, gid_t group)
{
	struct passwd *pw = getpwuid(uid);
	gid_t groups[256];
	int n = 256;

	if (!pw)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = 256;
	for (int i = 0; i < n; i++)
		if (groups[i] == group)
			return true;
	return false;
}

bool ctl_peer_allowed_cred(const struct ucred *cred, bool has_group, gid_t group)
{
	if (cred->uid == (uid_t)-1)
		return false;
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	if (!has_group)
		return false;
	return cred->gid == group || uid_in_group(cred->uid, group);
}

bool ctl_peer_allowed(int fd, bool has_group, gid_t group, struct ucred *peer)
{
	socklen_t len = sizeof(*peer);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, peer, &len) < 0) {
		*peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		return false;
	}
	return ctl_peer_allowed_cred(peer, has_group, group);
}
