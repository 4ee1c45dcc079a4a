/* strbuf.h: a growable string for the writers in output/ (JSON now; CSV and the report
 * later). Appends never fail silently: after a failed allocation the buffer is marked
 * broken and sb_take returns NULL. */
#ifndef EMO_OUTPUT_STRBUF_H
#define EMO_OUTPUT_STRBUF_H

#include <stddef.h>

typedef struct sb {
  char *s;
  size_t len, cap;
  int broken;
} sb;

void sb_puts(sb *b, const char *str);
/* Appends n bytes of data (which may hold no NUL). */
void sb_append(sb *b, const char *data, size_t n);
void sb_printf(sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends str as a JSON string literal with quotes, escaping quotes, backslashes and
 * control characters; bytes >= 0x80 pass through (file names are written as given). */
void sb_json_string(sb *b, const char *str);
/* The same, or null when str is NULL. */
void sb_json_string_or_null(sb *b, const char *str);
/* Appends a float with the given number of decimals, or null when not finite. */
void sb_json_float(sb *b, double v, int decimals);
/* Returns the string (caller frees) or NULL if any append failed; resets b. */
char *sb_take(sb *b);

#endif
