/* Config value parsers. Kept free of vigild state so they can be unit
 * tested directly and shared with vigilctl. */
#define _GNU_SOURCE
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Ten years: long enough for any timeout, short enough that sums of
 * durations never overflow an int64 of microseconds. */
#define DURATION_MAX_USEC (INT64_C(10) * 365 * 24 * 3600 * USEC_PER_SEC)

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *skip_space(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

static int64_t duration_unit(const char *u, size_t len)
{
	static const struct {
		const char *name;
		int64_t usec;
	} units[] = {
		{ "us", 1 },
		{ "ms", USEC_PER_MSEC },
		{ "s", USEC_PER_SEC },
		{ "sec", USEC_PER_SEC },
		{ "m", 60 * USEC_PER_SEC },
		{ "min", 60 * USEC_PER_SEC },
		{ "h", 3600 * USEC_PER_SEC },
		{ "d", 86400 * USEC_PER_SEC },
	};
	if (len == 0)
		return USEC_PER_SEC; /* a bare number is seconds */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
			return units[i].usec;
	return -1;
}

/* Accepts "250ms", "1.5s", "2m", "1h", "90" and sums such as "1m30s". */
int parse_duration(const char *s, int64_t *usec, char *err, size_t errlen)
{
	const char *p = skip_space(s);
	long double total = 0;
	bool any = false;

	while (*p) {
		char *end;
		const char *unit;
		int64_t mult;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return fail(err, errlen, "\"%s\" is not a duration (use e.g. 250ms, 5s, 1.5s, 2m, 1h)", s);
		/* Only plain decimals: strtold alone would also take "1e3" or hex. */
		size_t numlen = strspn(p, "0123456789.");
		char num[32];
		if (numlen >= sizeof(num))
			return fail(err, errlen, "\"%s\" is too long a duration", s);
		memcpy(num, p, numlen);
		num[numlen] = '\0';
		errno = 0;
		long double v = strtold(num, &end);
		if (end != num + numlen || errno)
			return fail(err, errlen, "\"%s\" is not a duration (use e.g. 250ms, 5s, 1.5s, 2m, 1h)", s);
		end = (char *)p + numlen;
		unit = end;
		while (isalpha((unsigned char)*end))
			end++;
		mult = duration_unit(unit, (size_t)(end - unit));
		if (mult < 0)
			return fail(err, errlen, "\"%s\" has an unknown time unit \"%.*s\" (use us, ms, s, m, h, d)",
				    s, (int)(end - unit), unit);
		total += v * (long double)mult;
		if (total > (long double)DURATION_MAX_USEC)
			return fail(err, errlen, "\"%s\" is too long a duration", s);
		any = true;
		p = skip_space(end);
		if (mult == USEC_PER_SEC && unit == end && *p)
			return fail(err, errlen, "\"%s\" is not a duration (use e.g. 250ms, 5s, 1.5s, 2m, 1h)", s);
	}
	if (!any)
		return fail(err, errlen, "empty value is not a duration");
	*usec = (int64_t)(total + 0.5L);
	return 0;
}

int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	const char *p = skip_space(s);
	char *end;
	uint64_t mult = 1;

	if (!isdigit((unsigned char)*p))
		return fail(err, errlen, "\"%s\" is not a size (use e.g. 512K, 10M, 1G)", s);
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno)
		return fail(err, errlen, "\"%s\" is too large a size", s);
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = UINT64_C(1) << 10; end++; break;
	case 'M': mult = UINT64_C(1) << 20; end++; break;
	case 'G': mult = UINT64_C(1) << 30; end++; break;
	case 'T': mult = UINT64_C(1) << 40; end++; break;
	default: break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*skip_space(end))
		return fail(err, errlen, "\"%s\" is not a size (use e.g. 512K, 10M, 1G)", s);
	if (v > UINT64_MAX / mult)
		return fail(err, errlen, "\"%s\" is too large a size", s);
	*bytes = v * mult;
	return 0;
}

int parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return fail(err, errlen, "\"%s\" is not a boolean (use yes/no, true/false, on/off, 1/0)", s);
}

int parse_signal(const char *s, int *signo, char *err, size_t errlen)
{
	const char *name = s;

	if (isdigit((unsigned char)*s)) {
		long v;
		if (parse_int_range(s, 1, NSIG - 1, &v, NULL, 0) < 0)
			return fail(err, errlen, "\"%s\" is not a signal number (1-%d)", s, NSIG - 1);
		*signo = (int)v;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev && strcasecmp(abbrev, name) == 0)
			return *signo = i, 0;
	}
	return fail(err, errlen, "\"%s\" is not a signal (use e.g. TERM, SIGHUP or 15)", s);
}

const char *signal_name(int signo, char *buf, size_t buflen)
{
	const char *abbrev = sigabbrev_np(signo);

	if (abbrev)
		return abbrev;
	snprintf(buf, buflen, "SIG%d", signo);
	return buf;
}

int parse_int_range(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *skip_space(end) || errno || v < min || v > max)
		return fail(err, errlen, "\"%s\" is not a whole number from %ld to %ld", s, min, max);
	*out = v;
	return 0;
}

bool exit_code_set_has(const struct exit_code_set *set, int code)
{
	if (code < 0 || code > 255)
		return false;
	return set->bits[code / 8] & (1u << (code % 8));
}

void exit_code_set_add(struct exit_code_set *set, int code)
{
	set->bits[code / 8] |= (uint8_t)(1u << (code % 8));
}

/* "0, 2 3" -> {0, 2, 3}: commas and/or spaces separate codes. */
int parse_exit_codes(const char *s, struct exit_code_set *set, char *err, size_t errlen)
{
	struct exit_code_set result = { { 0 } };
	const char *p = s;
	bool any = false;

	while (*(p = skip_space(p))) {
		char tok[16];
		size_t n = strcspn(p, ", \t");
		long v;

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(tok) || (snprintf(tok, sizeof(tok), "%.*s", (int)n, p),
					 parse_int_range(tok, 0, 255, &v, NULL, 0) < 0))
			return fail(err, errlen, "\"%.*s\" in \"%s\" is not an exit code (0-255)", (int)n, p, s);
		exit_code_set_add(&result, (int)v);
		any = true;
		p += n;
	}
	if (!any)
		return fail(err, errlen, "empty list of exit codes");
	*set = result;
	return 0;
}

int parse_octal_mode(const char *s, int *mode, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (end == s || *skip_space(end) || errno || v < 0 || v > 07777)
		return fail(err, errlen, "\"%s\" is not an octal mode (e.g. 022, 0660)", s);
	*mode = (int)v;
	return 0;
}
