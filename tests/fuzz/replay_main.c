/* Replays a corpus without libFuzzer: calls LLVMFuzzerTestOneInput once
 * per file of each folder (or file) named on the command line, so a plain
 * gcc build and the ASan+UBSan build check every input ever kept. Each
 * input is copied into a buffer of exactly its size, so a read past its end
 * is caught under ASan. Exits 1 if nothing was replayed: an empty or
 * missing corpus is a mistake, not a pass. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *data;
	size_t done = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data)
		abort();
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
		if (n <= 0) {
			fprintf(stderr, "replay: %s: short read\n", path);
			return close(fd), free(data), -1;
		}
		done += (size_t)n;
	}
	close(fd);
	LLVMFuzzerTestOneInput(data, done);
	free(data);
	return 0;
}

static int filter_regular(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns how many inputs were replayed, or -1. */
static long replay_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	long count = 0;
	int n;

	if (stat(path, &st) < 0)
		return fprintf(stderr, "replay: %s: %s\n", path, strerror(errno)), -1;
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	/* in name order, so a run is the same everywhere */
	n = scandir(path, &names, filter_regular, alphasort);
	if (n < 0)
		return fprintf(stderr, "replay: %s: %s\n", path, strerror(errno)), -1;
	for (int i = 0; i < n; i++) {
		char *file;
		if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
			abort();
		if (count >= 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode))
			count = replay_file(file) < 0 ? -1 : count + 1;
		free(file);
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		long n = replay_path(argv[i]);
		if (n < 0)
			return 1;
		printf("replayed %ld inputs from %s\n", n, argv[i]);
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return 0;
}
