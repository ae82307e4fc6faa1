/* The options of a [program:NAME] section: one table of names, how each
 * value is parsed and where in struct program_config it is stored
 * (config_option.c). config.c finds a section's options here; checks
 * that need the whole config are config_check.c's. */
#ifndef VIGIL_CONFIG_OPTION_H
#define VIGIL_CONFIG_OPTION_H

#include <stdbool.h>
#include <stddef.h>

struct program_config;

/* The index of the option called name (below 64, so a section can keep
 * the options it has seen in a bit set), or -1 for an unknown option. */
int program_option_find(const char *name);

/* The name of option index option, or NULL past the last (for lists). */
const char *program_option_name(int option);
/* True if option name was written in pc's section with a refused value. */
bool program_option_bad(const struct program_config *pc, const char *name);
/* Marks option name as written with a refused value. */
void program_option_set_bad(struct program_config *pc, const char *name);

/* Parses value into the option's field of pc. file and line are where it
 * is written: relative paths are taken from file's folder, and options
 * whose errors are reported later (requires, health_check) keep the line.
 * Returns 0, or -1 with err saying what is wrong with the value. */
int program_option_set(struct program_config *pc, int option, const char *value, const char *file, int line,
		       char *err, size_t errlen);

/* path, relative to the folder of file when it is not absolute; malloc'd. */
char *config_resolve_path(const char *file, const char *path);

#endif
