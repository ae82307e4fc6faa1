/* Every value parser of common/ on the same string, checking that a value
 * accepted is in the range the parser promises. */
#include <signal.h>

#include "parse.h"
#include "fuzz.h"

static void fuzz_numbers(const char *s)
{
	char err[PARSE_ERR_MAX];
	int64_t usec;
	uint64_t bytes;
	long v;
	int mode;

	if (parse_duration(s, &usec, err, sizeof(err)) == 0)
		FUZZ_CHECK(usec >= 0);
	(void)parse_size(s, &bytes, err, sizeof(err));
	if (parse_octal_mode(s, &mode, err, sizeof(err)) == 0)
		FUZZ_CHECK(mode >= 0 && mode <= 07777);
	if (parse_int_range(s, -5, 5, &v, err, sizeof(err)) == 0)
		FUZZ_CHECK(v >= -5 && v <= 5);
	if (parse_int_range(s, 0, 1000000, &v, err, sizeof(err)) == 0)
		FUZZ_CHECK(v >= 0 && v <= 1000000);
	/* a tiny buffer: messages are cut, never overflow */
	(void)parse_int_range(s, 1, 1, &v, err, 3);
}

static void fuzz_names(const char *s)
{
	char err[PARSE_ERR_MAX], buf[16];
	struct exit_code_set set;
	bool b;
	int signo;

	(void)parse_bool(s, &b, err, sizeof(err));
	if (parse_signal(s, &signo, err, sizeof(err)) == 0) {
		FUZZ_CHECK(signo >= 1 && signo < NSIG);
		FUZZ_CHECK(signal_name(signo, buf, sizeof(buf)) != NULL);
	}
	if (parse_exit_codes(s, &set, err, sizeof(err)) == 0) {
		int n = 0;
		for (int code = -1; code <= 256; code++)
			n += exit_code_set_has(&set, code);
		FUZZ_CHECK(n >= 1 && !exit_code_set_has(&set, -1) && !exit_code_set_has(&set, 256));
	}
}

static void fuzz_environment(const char *s)
{
	char err[PARSE_ERR_MAX];
	char **env;

	if (parse_environment(s, &env, err, sizeof(err)) < 0)
		return;
	for (char **e = env; *e; e++) {
		FUZZ_CHECK(strchr(*e, '=') != NULL && **e != '=');
		free(*e);
	}
	free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);

	fuzz_numbers(s);
	fuzz_names(s);
	fuzz_environment(s);
	free(s);
	return 0;
}
