/* argv_split and expand_program_vars. The property: every word argv_split
 * returns, quoted back with single quotes, splits into the same words. */
#include "parse.h"
#include "fuzz.h"

/* 'word' with each ' written as '\'' */
static void quote_word(FILE *out, const char *w)
{
	fputc('\'', out);
	for (; *w; w++)
		if (*w == '\'')
			fputs("'\\''", out);
		else
			fputc(*w, out);
	fputs("' ", out);
}

static void check_round_trip(char **argv)
{
	char err[PARSE_ERR_MAX], *line = NULL, **again;
	size_t len = 0, i;
	FILE *out = open_memstream(&line, &len);

	if (!out)
		abort();
	for (i = 0; argv[i]; i++)
		quote_word(out, argv[i]);
	fclose(out);
	FUZZ_CHECK(argv_split(line, &again, err, sizeof(err)) == 0);
	for (i = 0; argv[i]; i++)
		FUZZ_CHECK(again[i] && strcmp(argv[i], again[i]) == 0);
	FUZZ_CHECK(again[i] == NULL);
	argv_free(again);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte is the process number, the rest the command line */
	int process_num = size ? data[0] : 0;
	char *s = fuzz_cstring(size ? data + 1 : data, size ? size - 1 : 0);
	char err[PARSE_ERR_MAX], *expanded, **argv;

	if (argv_split(s, &argv, err, sizeof(err)) == 0) {
		FUZZ_CHECK(argv[0] != NULL);
		check_round_trip(argv);
		argv_free(argv);
	}
	expanded = expand_program_vars(s, "prog-name", process_num, err, sizeof(err));
	free(expanded);
	free(s);
	return 0;
}
