/* report-env FILE: writes what the process was started with to FILE as
 * "key value" lines, then sleeps:
 *   pid N / ppid N / uid R E / gid R E / groups G... / cwd PATH /
 *   umask OOOO / sigblk HEX / sigign HEX / fds N... / env NAME=VALUE */
#include <dirent.h>
#include <grp.h>
#include <limits.h>

#include "common.h"

extern char **environ;

static char out[1 << 16];
static size_t used;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void put(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + used, sizeof(out) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(out) - used)
		exit(93);
	used += (size_t)n;
}

/* Copies "Key:\tvalue" lines from /proc/self/status. */
static void status_field(const char *key, const char *as)
{
	char line[512];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		exit(94);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;
			v += strspn(v, " \t");
			put("%s %s", as, v);
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	int fds[1024], nfds = 0;
	gid_t groups[256];
	char cwd[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ng;

	if (argc < 2)
		return 2;
	/* First, before this program opens anything itself. */
	d = opendir("/proc/self/fd");
	if (!d)
		return 3;
	while ((de = readdir(d)) && nfds < 1024) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		fds[nfds++] = atoi(de->d_name);
	}
	closedir(d);

	put("pid %d\nppid %d\n", (int)getpid(), (int)getppid());
	put("uid %d %d\ngid %d %d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
	ng = getgroups(256, groups);
	put("groups");
	for (int i = 0; i < ng; i++)
		put(" %d", (int)groups[i]);
	put("\ncwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	status_field("Umask", "umask");
	status_field("SigBlk", "sigblk");
	status_field("SigIgn", "sigign");
	put("fds");
	for (int i = 0; i < nfds; i++)
		put(" %d", fds[i]);
	put("\n");
	for (char **e = environ; *e; e++)
		put("env %s\n", *e);
	write_file_atomic(argv[1], out, used);
	sleep_forever();
}
