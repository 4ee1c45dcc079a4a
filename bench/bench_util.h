/* bench_util.h: helpers shared by the benchmarks in bench/: a monotonic clock and the thread's
 * CPU clock, the CPU's model name, order statistics (median, p10, p90) of a set of timings, and
 * parsing of "1,2"-style lists. Header-only (static inline) so each bench_*.c stays one executable.
 * Benchmarks measure and print; they never assert a time (that is the tests' rule, see
 * CONVENTIONS.md). */
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

/* Milliseconds of CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): what a loaded
 * machine's wall clock hides (time spent waiting for a core is not counted). */
static inline double bu_thread_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* ---- Timing the AVX2 path of XNNPACK on an AVX-512 machine -------------------------------
 * XNNPACK picks its kernels once, at xnn_initialize, from cpuinfo's table of the CPU's features
 * (cpuinfo_isa, a writable global of libcpuinfo.so). bu_xnn_hide_avx512 clears the AVX-512 flags
 * of that table before XNNPACK reads it, so XNNPACK then runs the AVX2 + FMA3 kernels an AVX2-only
 * CPU gets: a benchmark-only switch (the library never does this) for the README's "AVX2" rows.
 * The table's layout is that of Debian 12's cpuinfo 0.0~git20220617 on x86-64 (74 bools); the
 * symbol's size is checked against it and nothing is written on a mismatch. Call it first, before
 * any plan is made. Returns 1 when done, 0 when not possible (the reason in why). Needs
 * _GNU_SOURCE defined before the first #include (dladdr1; glibc then sets __USE_GNU, which the
 * code below tests, so a file that defines it too late just gets the stub). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__USE_GNU)
#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>

struct bu_cpuinfo_x86_isa {
  bool rdtscp, rdpid, sysenter, msr, clzero, clflush, clflushopt, mwait, mwaitx, fxsave, xsave,
      three_d_now, three_d_now_plus, prefetch, prefetchw, prefetchwt1, sse3, ssse3, sse4_1, sse4_2,
      sse4a, misaligned_sse, avx, fma3, fma4, xop, f16c, avx2, avx512f, avx512pf, avx512er,
      avx512cd, avx512dq, avx512bw, avx512vl, avx512ifma, avx512vbmi, avx512vbmi2, avx512bitalg,
      avx512vpopcntdq, avx512vnni, avx512bf16, avx512vp2intersect, avx512_4vnniw, avx512_4fmaps;
  bool rest[29]; /* hle .. lwp */
};

static inline int bu_xnn_hide_avx512(const char **why) {
  void *h = dlopen("libcpuinfo.so.0", RTLD_NOW | RTLD_NOLOAD);
  *why = "libcpuinfo.so.0 is not loaded";
  if (!h) return 0;
  bool (*init)(void) = (bool (*)(void))dlsym(h, "cpuinfo_initialize");
  void *isa = dlsym(h, "cpuinfo_isa");
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  *why = "cpuinfo_isa is not the size this benchmark knows (another cpuinfo version)";
  if (!init || !isa || !dladdr1(isa, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
      sym->st_size != sizeof(struct bu_cpuinfo_x86_isa))
    return 0;
  *why = "cpuinfo_initialize failed";
  if (!init()) return 0;
  struct bu_cpuinfo_x86_isa *p = (struct bu_cpuinfo_x86_isa *)isa;
  memset(&p->avx512f, 0,
         offsetof(struct bu_cpuinfo_x86_isa, avx512_4fmaps) + 1 -
             offsetof(struct bu_cpuinfo_x86_isa, avx512f));
  *why = "";
  return 1;
}
#else
static inline int bu_xnn_hide_avx512(const char **why) {
  *why = "not an x86-64 glibc build with _GNU_SOURCE";
  return 0;
}
#endif

#endif
