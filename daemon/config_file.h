/* Reading config files safely: regular files only, each read once, within
 * bounds on files and bytes, and, when vigild is root, only files that no
 * one but root could have written (as sshd's StrictModes): the file, every
 * folder above it and every symlink on the way must be owned by root, and
 * none writable by group/other (a folder with the sticky bit, like /tmp,
 * may be). config.c parses what this hands it. */
#ifndef VIGIL_CONFIG_FILE_H
#define VIGIL_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CONFIG_FILES_MAX 1000
#define CONFIG_BYTES_MAX (16 << 20)

/* Every file one config_load() has opened, so each is read once and a
 * file that includes itself (directly or not) is seen as a loop. */
struct config_files {
	struct config_file_id {
		dev_t dev;
		ino_t ino;
		bool reading; /* on the include stack now */
	} *ids;
	size_t nids;
	size_t bytes;
	bool limit_hit; /* a bound was reported: read nothing more */
};

/* One file's text: len bytes (NULs are the parser's to report) and a NUL
 * after them. */
struct config_text {
	char *data;
	size_t len;
	size_t id; /* index in config_files.ids */
};

enum { CONFIG_FILE_READ = 0, CONFIG_FILE_SKIP = 1 };

/* Reads path whole into text. Returns CONFIG_FILE_READ, CONFIG_FILE_SKIP
 * (read before, or a bound was already reported: nothing to parse), or -1
 * with err "PATH: what is wrong[: what to do]". */
int config_file_read(struct config_files *files, const char *path, struct config_text *text, char *err,
		     size_t errlen);
/* The file is parsed: free its text, take it off the include stack. */
void config_file_done(struct config_files *files, struct config_text *text);
void config_files_free(struct config_files *files);

#endif
