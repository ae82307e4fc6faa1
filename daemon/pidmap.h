/* A map from a pid (> 0) to a pointer, O(1): open addressing with linear
 * probing, grown at half full, deletion without tombstones. */
#ifndef VIGIL_PIDMAP_H
#define VIGIL_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct pidmap {
	struct pidmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* Sets key to value (replacing what it had). Aborts when out of memory. */
void pidmap_put(struct pidmap *m, pid_t key, void *value);
void *pidmap_get(const struct pidmap *m, pid_t key);
/* Removes key if it maps to value (value NULL: whatever it maps to). */
void pidmap_remove(struct pidmap *m, pid_t key, const void *value);
void pidmap_free(struct pidmap *m);

#endif
