#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "output_stdio.h"
#include "vigild.h"

static int log_level = LOG_INFO;
static bool log_to_journal;

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "debug", LOG_DEBUG },	   { "info", LOG_INFO }, { "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING }, { "err", LOG_ERR },
};

/* JOURNAL_STREAM is "dev:ino" of the journal's stream socket; it only
 * counts if stderr is still that socket (not redirected since). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(2, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(void)
{
	log_to_journal = stderr_is_journal();
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(log_levels[i].name, name) == 0)
			return log_levels[i].level;
	return -1;
}

static const char *log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return "err";
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048], out[2100];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_journal)
		n = snprintf(out, sizeof(out), "<%d>%s\n", level, line);
	else
		n = snprintf(out, sizeof(out), "vigild: %s: %s\n", log_level_name(level), line);
	if (n >= (int)sizeof(out))
		n = sizeof(out) - 1, out[n - 1] = '\n';
	/* once the loop runs, through the non-blocking sink shared with the
	 * programs' inherited stderr: a stalled reader never stalls vigild */
	if (vigil.base)
		output_stdio_write(2, out, (size_t)n);
	else
		fputs(out, stderr);
}
