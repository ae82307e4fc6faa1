#include "notify_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool value_is(const char *line, size_t len, const char *assignment)
{
	return strlen(assignment) == len && memcmp(line, assignment, len) == 0;
}

static bool key_is(const char *line, size_t len, const char *key, const char **value)
{
	size_t k = strlen(key);

	if (len < k || memcmp(line, key, k) != 0)
		return false;
	*value = line + k;
	return true;
}

/* An unsigned decimal spanning exactly [s, s+len). */
static int parse_unsigned(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	char buf[24];
	char *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (*end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int notify_msg_line(const char *line, size_t len, struct notify_msg *msg)
{
	const char *v;
	uint64_t n;

	if (value_is(line, len, "READY=1"))
		msg->ready = true;
	else if (value_is(line, len, "STOPPING=1"))
		msg->stopping = true;
	else if (value_is(line, len, "WATCHDOG=1"))
		msg->watchdog = true;
	else if (value_is(line, len, "WATCHDOG=trigger"))
		msg->watchdog_trigger = true;
	else if (key_is(line, len, "WATCHDOG_USEC=", &v)) {
		if (parse_unsigned(v, len - (size_t)(v - line), UINT64_MAX / 2, &n) < 0)
			return -1;
		msg->has_watchdog_usec = true;
		msg->watchdog_usec = n;
	} else if (key_is(line, len, "MAINPID=", &v)) {
		if (parse_unsigned(v, len - (size_t)(v - line), INT32_MAX, &n) < 0 || n < 1)
			return -1;
		msg->has_mainpid = true;
		msg->mainpid = (pid_t)n;
	} else if (key_is(line, len, "STATUS=", &v)) {
		size_t n_chars = len - (size_t)(v - line);
		if (n_chars >= NOTIFY_STATUS_MAX)
			n_chars = NOTIFY_STATUS_MAX - 1;
		for (size_t i = 0; i < n_chars; i++)
			msg->status[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? ' ' : v[i];
		msg->status[n_chars] = '\0';
		msg->has_status = true;
	}
	return 0;
}

int notify_msg_parse(const char *buf, size_t len, struct notify_msg *msg)
{
	const char *p = buf, *end = buf + len;

	memset(msg, 0, sizeof(*msg));
	if (memchr(buf, '\0', len))
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n && notify_msg_line(p, n, msg) < 0)
			return -1;
		p += n + 1;
	}
	return 0;
}
