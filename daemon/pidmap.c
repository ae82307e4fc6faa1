#include "pidmap.h"

#include <stdint.h>
#include <stdlib.h>

struct pidmap_slot {
	pid_t key; /* 0: empty */
	void *value;
};

static size_t pidmap_home(const struct pidmap *m, pid_t key)
{
	/* pids are dense and sequential: a multiplicative hash spreads runs */
	return (size_t)(((uint32_t)key * 2654435761u) & (m->cap - 1));
}

static void pidmap_grow(struct pidmap *m)
{
	struct pidmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots)
		abort();
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			pidmap_put(m, old.slots[i].key, old.slots[i].value);
	free(old.slots);
}

void pidmap_put(struct pidmap *m, pid_t key, void *value)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap)
		pidmap_grow(m);
	for (i = pidmap_home(m, key); m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key) {
			m->slots[i].value = value;
			return;
		}
	}
	m->slots[i] = (struct pidmap_slot){ key, value };
	m->n++;
}

void *pidmap_get(const struct pidmap *m, pid_t key)
{
	if (!m->cap || key <= 0)
		return NULL;
	for (size_t i = pidmap_home(m, key); m->slots[i].key; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].key == key)
			return m->slots[i].value;
	return NULL;
}

void pidmap_remove(struct pidmap *m, pid_t key, const void *value)
{
	size_t mask = m->cap - 1, i, j;

	if (!m->cap || key <= 0)
		return;
	for (i = pidmap_home(m, key); m->slots[i].key != key; i = (i + 1) & mask)
		if (!m->slots[i].key)
			return;
	if (value && m->slots[i].value != value)
		return;
	/* shift back the entries of the run behind it that may move into the
	 * hole (their home is not between the hole and themselves) */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = pidmap_home(m, m->slots[j].key);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = (struct pidmap_slot){ 0, NULL };
	m->n--;
}

void pidmap_free(struct pidmap *m)
{
	free(m->slots);
	*m = (struct pidmap){ 0 };
}
