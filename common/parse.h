/* Value parsing shared by vigild and vigilctl: durations, sizes, booleans,
 * signals, exit-code sets, octal modes, and shell-style argv splitting.
 * Every parser returns 0 on success or -1 with a human message in err. */
#ifndef VIGIL_PARSE_H
#define VIGIL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USEC_PER_MSEC INT64_C(1000)
#define USEC_PER_SEC INT64_C(1000000)

/* Error buffer size every parser expects. */
#define PARSE_ERR_MAX 256

/* Exit codes 0..255 as a bit set. */
struct exit_code_set {
	uint8_t bits[32];
};

int parse_duration(const char *s, int64_t *usec, char *err, size_t errlen);
int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);
int parse_bool(const char *s, bool *out, char *err, size_t errlen);
int parse_signal(const char *s, int *signo, char *err, size_t errlen);
int parse_exit_codes(const char *s, struct exit_code_set *set, char *err, size_t errlen);
int parse_octal_mode(const char *s, int *mode, char *err, size_t errlen);
int parse_int_range(const char *s, long min, long max, long *out, char *err, size_t errlen);

bool exit_code_set_has(const struct exit_code_set *set, int code);
void exit_code_set_add(struct exit_code_set *set, int code);

/* "TERM" for SIGTERM; "SIG?" never: unknown numbers give "SIGNUM". */
const char *signal_name(int signo, char *buf, size_t buflen);

/* Split a command line the way a POSIX shell splits words (single quotes,
 * double quotes with \" \\ \$ \` escapes, backslash outside quotes), with no
 * expansion. On success *argv_out is a NULL-terminated array that
 * argv_free() releases. */
int argv_split(const char *s, char ***argv_out, char *err, size_t errlen);
void argv_free(char **argv);

/* Expands %(process_num)d (with an optional width such as %(process_num)02d)
 * and %(program_name)s. Returns a malloc'd string or NULL with err set. */
char *expand_program_vars(const char *s, const char *program, int process_num,
			  char *err, size_t errlen);

/* Parses "A=1, B=\"x y\"" into a NULL-terminated malloc'd array of "K=V". */
int parse_environment(const char *s, char ***env_out, char *err, size_t errlen);

#endif
