/* bench_photo.c: one photo through the public API (emo_analyze_file: read, decode, detect with
 * the automatic detector choice, tiles included, and every face's expression), on contexts of 1
 * and of N threads made from one model, runs interleaved. For each it prints the median wall time,
 * the median process CPU time of a call (all threads' CPU) and the median CPU time of the calling
 * thread (which takes part as worker 0: with the work split, its share is the critical path an
 * idle machine's wall time would show), and checks that every context finds the same faces. Written
 * for the group photo of issue 16 (../shared/data/faces/groups/ group-1.jpg, 14 faces): its
 * detector tiles and faces run across the context's threads. On a shared, loaded machine wall time
 * is noise and CPU time is the figure to compare; both are printed. It measures and prints; it
 * asserts nothing.
 *
 * usage: bench_photo [--runs N] [--threads 1,2] [--isa auto|scalar|avx2|avx512] [--xnn-avx2]
 *                    [--models DIR] PHOTO
 * --xnn-avx2 hides AVX-512 from XNNPACK (bench_util.h), so that with --isa avx2 the whole call
 * runs what an AVX2-only CPU runs. */
#define _GNU_SOURCE /* dladdr1, for bu_xnn_hide_avx512 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "emo.h"

#define MAX_CTX 8

static double now_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
  int runs = 15, threads[MAX_CTX] = {1, 2}, n_ctx = 2, xnn_avx2 = 0;
  emo_isa isa = EMO_ISA_AUTO;
  const char *models = NULL, *photo = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      n_ctx = bu_parse_list(argv[++i], threads, MAX_CTX);
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *w = argv[++i];
      isa = EMO_ISA_COUNT;
      for (int k = 0; k < EMO_ISA_COUNT; k++)
        if (!strcmp(w, emo_isa_name((emo_isa)k))) isa = (emo_isa)k;
    } else if (!strcmp(argv[i], "--xnn-avx2"))
      xnn_avx2 = 1;
    else if (!strcmp(argv[i], "--models") && i + 1 < argc)
      models = argv[++i];
    else if (argv[i][0] != '-' && !photo)
      photo = argv[i];
    else
      photo = NULL, i = argc;
  }
  if (!photo || n_ctx < 1 || runs < 1 || runs > 1000 || isa == EMO_ISA_COUNT) {
    fprintf(stderr,
            "usage: bench_photo [--runs N] [--threads 1,2] [--isa auto|scalar|avx2|avx512] "
            "[--xnn-avx2] [--models DIR] PHOTO\n");
    return 2;
  }
  const char *why = "";
  if (xnn_avx2 && !bu_xnn_hide_avx512(&why)) {
    fprintf(stderr, "bench_photo: --xnn-avx2: %s\n", why);
    return 1;
  }
  emo_model_params mp = emo_model_params_default();
  mp.models_dir = models;
  mp.voice = 0;
  emo_model *m = NULL;
  int rc = emo_model_load(&mp, &m);
  if (rc != EMO_OK) {
    fprintf(stderr, "bench_photo: model: %s\n", emo_status_str(rc));
    return 1;
  }
  emo_context *ctx[MAX_CTX] = {0};
  for (int i = 0; i < n_ctx; i++) {
    emo_context_params cp = emo_context_params_default();
    cp.n_threads = threads[i];
    cp.isa = isa;
    if ((rc = emo_context_create(m, &cp, &ctx[i])) != EMO_OK) {
      fprintf(stderr, "bench_photo: context: %s\n", emo_status_str(rc));
      return 1;
    }
  }
  emo_run_params rp = emo_run_params_default();
  static double wall[MAX_CTX][1000], cpu[MAX_CTX][1000], own[MAX_CTX][1000];
  int faces[MAX_CTX] = {0}, same = 1;
  float box0[4] = {0};
  for (int r = -1; r < runs; r++) /* r = -1: warm-up */
    for (int i = 0; i < n_ctx; i++) {
      const emo_image_result *res = NULL;
      double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID),
             t0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
      rc = emo_analyze_file(ctx[i], &rp, photo, &res);
      double t1 = now_ms(CLOCK_THREAD_CPUTIME_ID), c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID),
             w1 = now_ms(CLOCK_MONOTONIC);
      if (rc != EMO_OK) {
        fprintf(stderr, "bench_photo: %s\n", emo_context_last_error(ctx[i]));
        return 1;
      }
      if (r < 0) {
        faces[i] = res->face_count;
        if (i == 0 && res->face_count) memcpy(box0, res->faces[0].box, sizeof box0);
        if (i > 0 && (faces[i] != faces[0] ||
                      (res->face_count && memcmp(box0, res->faces[0].box, sizeof box0))))
          same = 0;
        continue;
      }
      wall[i][r] = w1 - w0;
      cpu[i][r] = c1 - c0;
      own[i][r] = t1 - t0;
    }
  char cpu_name[256];
  printf(
      "# bench_photo: %s, cpu %s, emo's kernels: the %s path (--isa %s), XNNPACK: %s; %d "
      "interleaved runs; faces found: %d (%s in every context)\n",
      photo, bu_cpu_model(cpu_name, sizeof cpu_name), emo_isa_name(emo_isa_pick(isa)),
      emo_isa_name(isa), xnn_avx2 ? "AVX2 + FMA3 (--xnn-avx2)" : "its own pick", runs, faces[0],
      same ? "the same" : "NOT the same");
  printf("%8s %14s %14s %16s %18s\n", "threads", "wall ms (med)", "CPU ms (med)", "CPU ms p10-p90",
         "caller CPU ms (med)");
  for (int i = 0; i < n_ctx; i++) {
    bu_stats w = bu_summarize(wall[i], runs), c = bu_summarize(cpu[i], runs),
             o = bu_summarize(own[i], runs);
    printf("%8d %14.1f %14.1f %8.1f-%-7.1f %18.1f\n", threads[i], w.median, c.median, c.p10, c.p90,
           o.median);
  }
  for (int i = 0; i < n_ctx; i++) emo_context_destroy(&ctx[i]);
  emo_model_destroy(&m);
  return same ? 0 : 1;
}
