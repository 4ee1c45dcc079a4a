/* lines.h: the media tests' record collector: every JSON line a callback or writer gives, kept
 * in order, then the lines of one type joined for a byte-for-byte comparison (test_media_once,
 * test_stream_media). */
#ifndef EMO_TEST_LINES_H
#define EMO_TEST_LINES_H

#include <stddef.h>

typedef struct th_lines {
  char **v;
  int n, cap;
} th_lines;

/* Appends a copy of line (len bytes) to the th_lines user; an emo_analyze_media_lines writer.
 * Returns 0, or 1 when out of memory (which stops the analysis). */
int th_lines_add(const char *line, size_t len, void *user);
void th_lines_free(th_lines *l);
/* The lines that contain type ("\"type\":\"frame\"" ...) in their order, each ended by a
 * newline, as one string to free (NULL when out of memory). */
char *th_lines_of_type(const th_lines *l, const char *type);
/* How many times what occurs in s. */
int th_count(const char *s, const char *what);

#endif
