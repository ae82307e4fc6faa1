/* The whole config loader: the input is written to vigil.conf in a private
 * folder (0700, owned by whoever runs the fuzzer, the file 0600: a root
 * vigild may refuse config files others could write) and loaded with
 * config_load, as vigild does at start and on reload. Includes resolve
 * relative to that folder. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "fuzz.h"

static char fuzz_dir[] = "/tmp/vigil-fuzz-config-XXXXXX";
static char fuzz_path[sizeof(fuzz_dir) + 16];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void fuzz_cleanup(void)
{
	nftw(fuzz_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_setup(void)
{
	if (!mkdtemp(fuzz_dir))
		perror("mkdtemp"), abort();
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/vigil.conf", fuzz_dir);
	atexit(fuzz_cleanup);
	/* errors come back in the errors string; vigild's log would only
	 * slow the fuzzer down */
	log_set_level(LOG_EMERG);
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t done = 0;

	if (fd < 0)
		perror(fuzz_path), abort();
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n < 0)
			perror(fuzz_path), abort();
		done += (size_t)n;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *errors = NULL;
	struct config *config;

	if (!ready++)
		fuzz_setup();
	write_input(data, size);
	config = config_load(fuzz_path, &errors);
	/* all or nothing: a config, or at least one error line */
	FUZZ_CHECK(config || (errors && *errors));
	if (config) {
		for (size_t i = 0; i < config->nprograms; i++)
			FUZZ_CHECK(config_find_program(config, config->programs[i]->name) != NULL);
	}
	config_free(config);
	free(errors);
	return 0;
}
