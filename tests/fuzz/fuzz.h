/* What every fuzz target shares. A target defines LLVMFuzzerTestOneInput;
 * it is linked either with libFuzzer (-Dfuzz=enabled, clang) or with
 * replay_main.c, which feeds it every file of a corpus (always built, and
 * run by `meson test --suite fuzz`). */
#ifndef VIGIL_FUZZ_H
#define VIGIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test promised and broke: a crash for the
 * fuzzer to keep, with the reason on stderr. */
#define FUZZ_CHECK(cond)                                                                                  \
	do {                                                                                              \
		if (!(cond)) {                                                                            \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
			abort();                                                                          \
		}                                                                                         \
	} while (0)

/* The input as a C string, cut at its first NUL like a config value or
 * a command line would be. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
