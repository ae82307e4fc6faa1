/* Placeholder until the probes land. */
#include "health_target.h"

#include <stdio.h>
#include <string.h>

int health_target_parse(const char *text, struct health_target *out, char *err, size_t errlen)
{
	(void)text;
	memset(out, 0, sizeof(*out));
	snprintf(err, errlen, "not supported yet");
	return -1;
}

void health_target_free(struct health_target *t)
{
	(void)t;
}
