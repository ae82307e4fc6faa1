#define _GNU_SOURCE
#include "log.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output_stdio.h"

static int log_level = LOG_INFO;
static bool journal, colour;

static const struct {
	const char *name;
	int level;
	const char *colour; /* SGR parameters of the level on a terminal */
} log_levels[] = {
	{ "debug", LOG_DEBUG, "2" },	 { "info", LOG_INFO, "1" },	 { "notice", LOG_NOTICE, "1;36" },
	{ "warning", LOG_WARNING, "1;33" }, { "err", LOG_ERR, "1;31" },
};
#define N_LEVELS (sizeof(log_levels) / sizeof(log_levels[0]))

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
	const char *no_colour = getenv("NO_COLOR");

	journal = stderr_is_journal();
	colour = !journal && isatty(2) && !(no_colour && *no_colour);
	tzset(); /* localtime_r needs it, and reads the zone only once */
}

bool log_to_journal(void)
{
	return journal;
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
	for (size_t i = 0; i < N_LEVELS; i++)
		if (strcmp(log_levels[i].name, name) == 0)
			return log_levels[i].level;
	return -1;
}

static size_t log_level_index(int level)
{
	for (size_t i = 0; i < N_LEVELS; i++)
		if (log_levels[i].level == level)
			return i;
	return N_LEVELS - 1;
}

/* "2026-12-02T04:10:33.123+01:00": RFC 3339, local time, milliseconds */
static void log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	long off;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(buf + n, size - n, ".%03ld%c%02ld:%02ld", ts.tv_nsec / 1000000, off < 0 ? '-' : '+',
		 labs(off) / 60, labs(off) % 60);
}

static void log_prefix(struct evbuffer *out, int level, const char *stamp)
{
	size_t i = log_level_index(level);

	if (journal)
		evbuffer_add_printf(out, "<%d>", level);
	else if (colour)
		evbuffer_add_printf(out, "\033[2m%s\033[0m vigild: \033[%sm%s:\033[0m ", stamp, log_levels[i].colour,
				    log_levels[i].name);
	else
		evbuffer_add_printf(out, "%s vigild: %s: ", stamp, log_levels[i].name);
}

/* Every line of text (a last one without \n too) with its prefix, in
 * one write: lines of one message stay together. prefixed: vigild's log
 * format, else only the journal's <N>. */
static void log_write_lines(int level, const char *text, bool prefixed)
{
	struct evbuffer *out = evbuffer_new();
	char stamp[40] = "";

	if (!out)
		return;
	if (prefixed && !journal)
		log_timestamp(stamp, sizeof(stamp));
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		if (prefixed || journal)
			log_prefix(out, level, stamp);
		evbuffer_add(out, text, n);
		evbuffer_add(out, "\n", 1);
		text += n + (nl != NULL);
	}
	/* through the non-blocking sink shared with the programs' inherited
	 * stderr: a stalled reader never stalls vigild */
	output_stdio_write(2, (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out));
	evbuffer_free(out);
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_write_lines(level, line, true);
}

void log_lines(int level, const char *text)
{
	if (level <= log_level)
		log_write_lines(level, text, true);
}

void log_report(int level, const char *text)
{
	log_write_lines(level, text, false);
}
