/* bench_util.h: helpers shared by the benchmarks in bench/: a monotonic clock, the CPU's
 * model name, order statistics (median, p10, p90) of a set of timings, and parsing of "1,2"-style
 * lists. Header-only (static inline) so each bench_*.c stays one executable. Benchmarks measure and
 * print; they never assert a time (that is the tests' rule, see CONVENTIONS.md). */
#ifndef EMO_BENCH_UTIL_H
#define EMO_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
static inline double bu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* The CPU's model name from /proc/cpuinfo into buf ("unknown CPU" elsewhere); returns buf. */
static inline const char *bu_cpu_model(char *buf, size_t size) {
  snprintf(buf, size, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return buf;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    const char *c = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !c) continue;
    c++;
    while (*c == ' ' || *c == '\t') c++;
    snprintf(buf, size, "%.*s", (int)strcspn(c, "\n"), c);
    break;
  }
  fclose(f);
  return buf;
}

static inline int bu_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct bu_stats {
  int n;
  double median, p10, p90, min, max, mean;
} bu_stats;

/* Sorts t (n timings) in place and returns its order statistics. The p-quantile is the
 * sample of rank round(p * (n - 1)) (nearest rank), so with n = 30 p10 is the 4th
 * fastest. n == 0 gives all zeros. */
static inline bu_stats bu_summarize(double *t, int n) {
  bu_stats s;
  memset(&s, 0, sizeof s);
  if (n <= 0) return s;
  qsort(t, (size_t)n, sizeof *t, bu_cmp_double);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += t[i];
  s.n = n;
  s.min = t[0];
  s.max = t[n - 1];
  s.mean = sum / n;
  s.p10 = t[(int)(0.1 * (n - 1) + 0.5)];
  s.p90 = t[(int)(0.9 * (n - 1) + 0.5)];
  /* even n: mean of the two middle samples */
  s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  return s;
}

/* Parses a comma-separated list of positive ints ("1,2") into out (capacity cap); returns
 * the count, or -1 on a malformed list. */
static inline int bu_parse_list(const char *s, int *out, int cap) {
  int n = 0;
  while (*s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 1 || v > 1024 || n >= cap) return -1;
    out[n++] = (int)v;
    s = end;
    if (*s == ',')
      s++;
    else if (*s)
      return -1;
  }
  return n;
}

#endif
