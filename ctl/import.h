/* vigilctl import-supervisord: a supervisord.conf (and the files its
 * [include] names) read into sections of options (import_read.c),
 * supervisord's %(...)s expansions and environment syntax
 * (import_expand.c), [program:x] sections converted to vigil's
 * (import_program.c), and the command that writes the whole vigil.conf
 * (cmd_import.c). */
#ifndef VIGIL_IMPORT_H
#define VIGIL_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One "key = value" as supervisord reads it: the key lowercased, the
 * continuation lines of the value joined with spaces. */
struct sv_option {
	char *key;
	char *value;
	const char *file;
	int line;
	bool handled; /* converted or commented already */
};

struct sv_section {
	char *name; /* "program:web", "supervisord", ... */
	const char *file; /* where it first appears */
	char *here; /* that file's folder, for %(here)s */
	int line;
	bool nested_include; /* an [include] in an included file: supervisord ignores it */
	struct sv_option *opts;
	size_t nopts;
};

struct sv_config {
	struct sv_section *sections;
	size_t nsections;
	char **files; /* every path read; sections and options point into these */
	size_t nfiles;
	int warnings;
};

/* Reads path and what its [include] names into config. 0, or -1 after
 * saying on stderr why a file cannot be read. */
int sv_config_read(struct sv_config *config, const char *path);
void sv_config_free(struct sv_config *config);
struct sv_section *sv_section_find(struct sv_config *config, const char *name);
struct sv_option *sv_option_find(struct sv_section *section, const char *key);

/* "FILE:LINE: warning: ..." on stderr, counted in config->warnings. */
void sv_warn(struct sv_config *config, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* What the %(...)s of a value stand for, in one section. */
struct sv_expand {
	const char *here;
	const char *program; /* program_name; NULL outside [program:x] */
	const char *group; /* group_name */
	int numprocs, numprocs_start;
	/* vigil expands %(program_name)s and %(process_num)d itself in this
	 * option: leave them for it */
	bool vigil_expands;
	bool renamed; /* vigil's name differs: %(program_name)s is written out */
	bool import_time; /* set when a value depends on where the import ran */
};

/* value with supervisord's expansions done (and %% made %), or NULL with
 * why set. malloc'd. */
char *sv_expand(struct sv_expand *x, const char *value, char *why, size_t whylen);

/* supervisord's environment value (KEY="val",KEY2=val) in vigil's syntax
 * (KEY="val", KEY2=val), or NULL with why set. malloc'd. */
char *sv_environment_to_vigil(const char *value, char *why, size_t whylen);

/* Where the converted lines go: the [vigil] part and the programs. */
struct import_out {
	struct sv_config *config;
	FILE *head; /* after [vigil] */
	FILE *body; /* the program sections and group notes */
	char **names; /* vigil program names written so far */
	size_t nnames;
	bool any_priority; /* a program sets priority: the others get supervisord's 999 */
};

/* "; not converted: KEY = VALUE (why)" and the warning naming its line. */
void import_not_converted(struct import_out *out, FILE *to, const char *section, struct sv_option *opt,
			  const char *why);
/* Whether value can be written as a vigil value (a line of its own, no
 * " ;" that would start a comment). */
bool import_value_fits(const char *value);
/* The [group:x] whose programs list names program, or NULL. */
const char *import_group_of(struct sv_config *config, const char *program);
void import_program(struct import_out *out, struct sv_section *section);

#endif
