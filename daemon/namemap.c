#include "namemap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct namemap_slot {
	const char *name; /* NULL: empty */
	size_t len;
	void *value;
};

static size_t namemap_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32));
}

static struct namemap_slot *namemap_find(const struct namemap *m, const char *name, size_t len)
{
	size_t i = namemap_hash(name, len) & (m->cap - 1);

	for (; m->slots[i].name; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].len == len && memcmp(m->slots[i].name, name, len) == 0)
			break;
	return &m->slots[i];
}

static void namemap_grow(struct namemap *m)
{
	struct namemap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots)
		abort();
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].name)
			namemap_put(m, old.slots[i].name, old.slots[i].value);
	free(old.slots);
}

void namemap_put(struct namemap *m, const char *name, void *value)
{
	size_t len = strlen(name);
	struct namemap_slot *s;

	if (2 * (m->n + 1) > m->cap)
		namemap_grow(m);
	s = namemap_find(m, name, len);
	if (!s->name)
		m->n++;
	*s = (struct namemap_slot){ name, len, value };
}

void *namemap_get_len(const struct namemap *m, const char *name, size_t len)
{
	return m->cap ? namemap_find(m, name, len)->value : NULL;
}

void *namemap_get(const struct namemap *m, const char *name)
{
	return namemap_get_len(m, name, strlen(name));
}

void namemap_clear(struct namemap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void namemap_free(struct namemap *m)
{
	free(m->slots);
	*m = (struct namemap){ 0 };
}
