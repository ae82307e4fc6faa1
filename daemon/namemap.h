/* A map from a name to a pointer, O(1): open addressing with linear
 * probing, grown at half full. Names are borrowed, not copied: each must
 * live as long as its entry. No removal (maps are rebuilt instead). */
#ifndef VIGIL_NAMEMAP_H
#define VIGIL_NAMEMAP_H

#include <stddef.h>

struct namemap {
	struct namemap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* Sets name to value (replacing what it had). Aborts when out of memory. */
void namemap_put(struct namemap *m, const char *name, void *value);
void *namemap_get(const struct namemap *m, const char *name);
/* The same with a name of len bytes that need not end there. */
void *namemap_get_len(const struct namemap *m, const char *name, size_t len);
void namemap_clear(struct namemap *m); /* empty, keeps its memory */
void namemap_free(struct namemap *m);

#endif
