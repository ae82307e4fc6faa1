/* What one config_load() found wrong, collected so that it can be written
 * in file order whoever found it (the parser, line by line, or
 * config_check, which sees the whole config): files in the order they
 * were read, within each file by line, errors of one line in the order
 * found. Also the names of program sections whose header could not be
 * read, so that a reference to one is not reported as a second error. */
#ifndef VIGIL_CONFIG_REPORT_H
#define VIGIL_CONFIG_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct config_report {
	struct config_report_error *errors;
	size_t nerrors, errors_cap;
	char **files; /* in the order they were read */
	size_t nfiles;
	char **unread; /* program names whose section was not read */
	size_t nunread;
};

/* file is being read: its errors come after those of the files before. */
void config_report_file(struct config_report *r, const char *file);
/* "FILE:LINE: message", or "FILE: message" for line 0. */
void config_report_add(struct config_report *r, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void config_report_vadd(struct config_report *r, const char *file, int line, const char *fmt, va_list ap);
void config_report_unread(struct config_report *r, const char *program);
bool config_report_is_unread(const struct config_report *r, const char *program);
/* Every error, one per line, sorted as above; malloc'd ("" when none). */
char *config_report_text(struct config_report *r);
void config_report_free(struct config_report *r);

#endif
