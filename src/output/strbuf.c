/* strbuf.c: see strbuf.h. */
#include "output/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sb_reserve(sb *b, size_t extra) {
  if (b->broken) return 0;
  if (b->len + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) {
      b->broken = 1;
      return 0;
    }
    cap *= 2;
  }
  char *s = realloc(b->s, cap);
  if (!s) {
    b->broken = 1;
    return 0;
  }
  b->s = s;
  b->cap = cap;
  return 1;
}

void sb_puts(sb *b, const char *str) {
  size_t n = strlen(str);
  if (!sb_reserve(b, n)) return;
  memcpy(b->s + b->len, str, n + 1);
  b->len += n;
}

void sb_append(sb *b, const char *data, size_t n) {
  if (!sb_reserve(b, n)) return;
  memcpy(b->s + b->len, data, n);
  b->len += n;
  b->s[b->len] = 0;
}

void sb_printf(sb *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->broken = 1;
    va_end(ap2);
    return;
  }
  if (sb_reserve(b, (size_t)n)) {
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void sb_json_string(sb *b, const char *str) {
  sb_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)(str ? str : ""); *p; p++) {
    char tmp[8];
    switch (*p) {
      case '"': sb_puts(b, "\\\""); break;
      case '\\': sb_puts(b, "\\\\"); break;
      case '\n': sb_puts(b, "\\n"); break;
      case '\r': sb_puts(b, "\\r"); break;
      case '\t': sb_puts(b, "\\t"); break;
      default:
        if (*p < 0x20) {
          snprintf(tmp, sizeof tmp, "\\u%04x", *p);
          sb_puts(b, tmp);
        } else {
          tmp[0] = (char)*p;
          tmp[1] = 0;
          sb_puts(b, tmp);
        }
    }
  }
  sb_puts(b, "\"");
}

void sb_json_string_or_null(sb *b, const char *str) {
  if (str)
    sb_json_string(b, str);
  else
    sb_puts(b, "null");
}

void sb_json_float(sb *b, double v, int decimals) {
  if (!isfinite(v)) {
    sb_puts(b, "null");
    return;
  }
  if (v == 0.0) v = 0.0; /* no "-0" */
  sb_printf(b, "%.*f", decimals, v);
}

char *sb_take(sb *b) {
  char *s = b->broken ? NULL : b->s;
  if (b->broken) free(b->s);
  if (s == NULL && !b->broken) s = calloc(1, 1);
  b->s = NULL;
  b->len = b->cap = 0;
  b->broken = 0;
  return s;
}
