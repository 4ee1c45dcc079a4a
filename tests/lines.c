/* lines.c: see lines.h. */
#include "lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int th_lines_add(const char *line, size_t len, void *user) {
  th_lines *l = user;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 1024;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return 1;
    l->v = v;
    l->cap = cap;
  }
  char *s = malloc(len + 1);
  if (!s) return 1;
  memcpy(s, line, len);
  s[len] = 0;
  l->v[l->n++] = s;
  return 0;
}

void th_lines_free(th_lines *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

char *th_lines_of_type(const th_lines *l, const char *type) {
  size_t n = 1;
  for (int i = 0; i < l->n; i++)
    if (strstr(l->v[i], type)) n += strlen(l->v[i]) + 1;
  char *s = malloc(n), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < l->n; i++)
    if (strstr(l->v[i], type)) p += sprintf(p, "%s\n", l->v[i]);
  *p = 0;
  return s;
}

int th_count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
  return n;
}
