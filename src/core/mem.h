/* mem.h: the grow-and-copy of emo's tables that grow by doubling as ids come in (the per-track
 * and per-speaker tables of pipeline/persons.c, the per-track sums of pipeline/analyze_video.c).
 * Several tables indexed by the same id grow together, all or none: each gets its new array from
 * emoi_grow_copy first, and only when every one succeeded are the old arrays freed and the
 * capacity raised, so a failed allocation leaves the tables as they were. Plain realloc is for
 * a table that grows alone. */
#ifndef EMO_CORE_MEM_H
#define EMO_CORE_MEM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A new array of n elements of size bytes, zeroed, that starts with a copy of the first n_old
 * elements of old (NULL old: nothing copied). NULL when out of memory or n_old > n. old is left
 * alone: the caller frees it. */
static inline void *emoi_grow_copy(const void *old, size_t n_old, size_t n, size_t size) {
  if (n_old > n) return NULL;
  void *p = calloc(n, size);
  if (p && old && n_old) memcpy(p, old, n_old * size);
  return p;
}

#endif
