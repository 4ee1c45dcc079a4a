/* args.c: the command line's parsers of option values (args.h): one per kind of value, so
 * that every command refuses a bad or missing value with the same message. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad_value(const char *a, const char *v) {
  fprintf(stderr, "emo: invalid value for %s: \"%s\"\n", a, v);
  return -1;
}

/* Any string (a path, a list). */
int cli_opt_string(const char *a, const char *v, const char **out) {
  if (!v) {
    fprintf(stderr, "emo: option %s needs a value\n", a);
    return -1;
  }
  *out = v;
  return 0;
}

/* One of n names: *out is its index. */
int cli_opt_choice(const char *a, const char *v, const char *const *names, int n, int *out) {
  if (cli_opt_string(a, v, &v)) return -1;
  for (int k = 0; k < n; k++)
    if (strcmp(v, names[k]) == 0) {
      *out = k;
      return 0;
    }
  return bad_value(a, v);
}

/* A decimal integer in [lo, hi]. */
int cli_opt_long(const char *a, const char *v, long long lo, long long hi, long long *out) {
  if (cli_opt_string(a, v, &v)) return -1;
  if (!*v) return bad_value(a, v);
  char *end = NULL;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || *end || n < lo || n > hi) return bad_value(a, v);
  *out = n;
  return 0;
}

/* A number in [lo, hi]. */
int cli_opt_float(const char *a, const char *v, float lo, float hi, float *out) {
  if (cli_opt_string(a, v, &v)) return -1;
  if (!*v) return bad_value(a, v);
  char *end = NULL;
  errno = 0;
  float f = strtof(v, &end);
  if (errno || *end || !(f >= lo && f <= hi)) return bad_value(a, v);
  *out = f;
  return 0;
}
