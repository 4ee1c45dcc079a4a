/* bench_frames.c: per-frame cost of emo's whole photo path through the public API
 * (emo_analyze_rgb: detection + the expression network on every face found) on raw RGB
 * frames already in memory, measured the way the peers in ../shared/peers were (decode
 * excluded, a full warm-up pass over all frames, then the median over every frame of the
 * timed passes; faces counted on the first timed pass).
 *
 * For each detector (short, full, auto) and each thread count it loads a model, creates a
 * context with params.n_threads = that count, and times the frames. It then times the same
 * frames with EMO_EXPRESSION_NONE (detection only) and reports the difference divided by
 * the faces found as the per-face cost of the expression step (alignment warp + network),
 * still through the public API (each frame's median over the passes, summed over frames, so
 * one pass slowed by another process counts little).
 *
 * Input: raw RGB24 frames, each exactly W*H*3 bytes (default 1280x720, as
 * ../shared/peers/scripts/make_media.sh writes them to frames/fNN.rgb).
 *
 * Output: a table, then one machine-readable line per configuration:
 *   BENCH_FRAMES detector=short expression=fer threads=1 frames=30 passes=3 median_ms=...
 *     p10_ms=... p90_ms=... mean_ms=... fps=... faces=... full_frames=...
 *     detonly_median_ms=... expr_ms_per_face=...
 *
 * usage: bench_frames [--detector short|full|auto|all] [--expression fer|faceapi|ensemble|emo]
 *                     [--threads 1,2] [--passes N] [--size WxH] [--models DIR] FRAME.rgb... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "emo.h"

#define MAX_THREADS 8

static const char *det_names[EMO_DETECTOR_COUNT] = {"auto", "short", "full"};
static const char *expr_names[EMO_EXPRESSION_MODEL_COUNT] = {"fer", "faceapi", "ensemble", "none",
                                                             "emo"};

static char last_log[512];
static void keep_log(emo_log_level level, const char *msg, void *user) {
  (void)user;
  if (level <= EMO_LOG_ERROR) snprintf(last_log, sizeof last_log, "%s", msg);
}

typedef struct frames {
  uint8_t **rgb; /* (n) frames of (h, w, 3) bytes */
  int n, w, h;
} frames;

static void free_frames(frames *f) {
  if (f->rgb)
    for (int k = 0; k < f->n; k++) free(f->rgb[k]);
  free(f->rgb);
  f->rgb = NULL;
  f->n = 0;
}

/* Reads each file as one raw frame of exactly w*h*3 bytes. Returns 0 or -1 (message
 * printed). */
static int load_frames(frames *f, char **paths, int n) {
  size_t size = (size_t)f->w * (size_t)f->h * 3;
  f->rgb = calloc((size_t)n, sizeof *f->rgb);
  if (!f->rgb) return -1;
  for (int i = 0; i < n; i++) {
    FILE *fp = fopen(paths[i], "rb");
    if (!fp) {
      fprintf(stderr, "bench_frames: cannot open %s\n", paths[i]);
      return -1;
    }
    f->rgb[i] = malloc(size + 1);
    f->n++; /* owned from here on (free_frames frees it) */
    size_t got = f->rgb[i] ? fread(f->rgb[i], 1, size + 1, fp) : 0;
    fclose(fp);
    if (got != size) {
      fprintf(stderr, "bench_frames: %s: %zu bytes, expected %zu (%dx%d RGB24; see --size)\n",
              paths[i], got, size, f->w, f->h);
      return -1;
    }
  }
  return 0;
}

typedef struct run_result {
  bu_stats st;
  int faces;                /* on the first timed pass */
  int full_frames;          /* frames whose result says the full-range detector ran (auto) */
  double total_ms;          /* sum over every timed frame */
  double sum_frame_medians; /* sum over frames of each frame's median over the passes */
  int ok;
} run_result;

/* Warm-up pass, then `passes` timed passes over all frames with one context. t has room for
 * frames * passes timings. */
static run_result time_config(const frames *f, emo_detector det, emo_expression_model expr,
                              int threads, int passes, const char *models_dir, double *t) {
  run_result r;
  memset(&r, 0, sizeof r);
  emo_model_params p = emo_model_params_default();
  p.detector = det;
  p.expression = expr;
  p.models_dir = models_dir;
  p.log = keep_log;
  p.voice = p.reid = 0;
  emo_context_params cp = emo_context_params_default();
  cp.n_threads = threads;
  cp.log = keep_log;
  emo_run_params rp = emo_run_params_default();
  rp.detector = det;
  emo_model *m = NULL;
  emo_context *c = NULL;
  last_log[0] = 0;
  int rc = emo_model_load(&p, &m);
  if (rc == EMO_OK) rc = emo_context_create(m, &cp, &c);
  if (rc != EMO_OK) {
    printf("# detector %s expression %s: cannot load (%s): %s\n", det_names[det], expr_names[expr],
           emo_status_str(rc), last_log);
    goto done;
  }
  const emo_image_result *res = NULL;
  for (int i = 0; i < f->n; i++)
    if (emo_analyze_rgb(c, &rp, f->rgb[i], f->w, f->h, f->w * 3, &res) != EMO_OK) {
      printf("# detector %s: analysis failed: %s\n", det_names[det], emo_context_last_error(c));
      goto done;
    }
  int k = 0;
  for (int pass = 0; pass < passes; pass++)
    for (int i = 0; i < f->n; i++) {
      double t0 = bu_now_ms();
      rc = emo_analyze_rgb(c, &rp, f->rgb[i], f->w, f->h, f->w * 3, &res);
      t[k] = bu_now_ms() - t0;
      if (rc != EMO_OK) {
        printf("# detector %s: analysis failed: %s\n", det_names[det], emo_context_last_error(c));
        goto done;
      }
      r.total_ms += t[k++];
      if (pass == 0) {
        r.faces += res->face_count;
        r.full_frames += res->detector_used == EMO_DETECTOR_FULL;
      }
    }
  /* each frame's median over the passes (robust to a pass disturbed by other processes) */
  double col[64];
  for (int i = 0; i < f->n; i++) {
    int np = 0;
    for (int pass = 0; pass < passes && np < 64; pass++) col[np++] = t[pass * f->n + i];
    r.sum_frame_medians += bu_summarize(col, np).median;
  }
  r.st = bu_summarize(t, k); /* sorts t */
  r.ok = 1;
done:
  emo_context_destroy(&c);
  emo_model_destroy(&m);
  return r;
}

static int parse_size(const char *s, int *w, int *h) {
  return sscanf(s, "%dx%d", w, h) == 2 && *w > 0 && *h > 0 && *w <= 16384 && *h <= 16384 ? 0 : -1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_frames [--detector short|full|auto|all (default all)]\n"
          "                    [--expression fer|faceapi|ensemble|emo (default fer)]\n"
          "                    [--threads LIST (default 1,2)] [--passes N (default 3, <= 64)]\n"
          "                    [--size WxH (default 1280x720)] [--models DIR] FRAME.rgb...\n");
}

int main(int argc, char **argv) {
  int threads[MAX_THREADS] = {1, 2}, n_threads = 2, passes = 3;
  int dets[EMO_DETECTOR_COUNT] = {EMO_DETECTOR_SHORT, EMO_DETECTOR_FULL, EMO_DETECTOR_AUTO};
  int n_dets = 3;
  emo_expression_model expr = EMO_EXPRESSION_FER;
  const char *models_dir = NULL;
  frames f = {NULL, 0, 1280, 720};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(a, "--detector") && has) {
      const char *v = argv[++i];
      n_dets = 1;
      if (!strcmp(v, "short"))
        dets[0] = EMO_DETECTOR_SHORT;
      else if (!strcmp(v, "full"))
        dets[0] = EMO_DETECTOR_FULL;
      else if (!strcmp(v, "auto"))
        dets[0] = EMO_DETECTOR_AUTO;
      else if (!strcmp(v, "all"))
        n_dets = 3;
      else {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--expression") && has) {
      const char *v = argv[++i];
      if (!strcmp(v, "fer"))
        expr = EMO_EXPRESSION_FER;
      else if (!strcmp(v, "faceapi"))
        expr = EMO_EXPRESSION_FACEAPI;
      else if (!strcmp(v, "ensemble"))
        expr = EMO_EXPRESSION_ENSEMBLE;
      else if (!strcmp(v, "emo"))
        expr = EMO_EXPRESSION_EMO;
      else {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--threads") && has) {
      n_threads = bu_parse_list(argv[++i], threads, MAX_THREADS);
      if (n_threads < 1) {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--passes") && has) {
      passes = atoi(argv[++i]);
      if (passes < 1 || passes > 64) {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--size") && has) {
      if (parse_size(argv[++i], &f.w, &f.h)) {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--models") && has)
      models_dir = argv[++i];
    else {
      usage();
      return 2;
    }
  }
  if (i >= argc) {
    usage();
    return 2;
  }
  if (load_frames(&f, argv + i, argc - i)) {
    free_frames(&f);
    return 1;
  }
  double *t = malloc(sizeof(double) * (size_t)f.n * (size_t)passes);
  if (!t) {
    free_frames(&f);
    return 1;
  }

  printf(
      "# emo %s bench_frames: %d frames %dx%d RGB in memory, warm-up pass + %d timed "
      "pass(es), expression %s, times in ms per frame\n",
      EMO_VERSION_STRING, f.n, f.w, f.h, passes, expr_names[expr]);
  printf("%-8s %2s  %9s %9s %9s %9s %7s %6s %6s  %11s %12s\n", "detector", "th", "median", "p10",
         "p90", "mean", "fps", "faces", "full", "det-only", "expr/face");
  char lines[EMO_DETECTOR_COUNT * MAX_THREADS][512];
  int n_lines = 0;
  for (int d = 0; d < n_dets; d++)
    for (int ti = 0; ti < n_threads; ti++) {
      run_result r =
          time_config(&f, (emo_detector)dets[d], expr, threads[ti], passes, models_dir, t);
      if (!r.ok) continue;
      run_result r0 = time_config(&f, (emo_detector)dets[d], EMO_EXPRESSION_NONE, threads[ti],
                                  passes, models_dir, t);
      /* expression cost per face: sum over frames of (median with - median without) / faces */
      double per_face = r0.ok && r.faces > 0
                            ? (r.sum_frame_medians - r0.sum_frame_medians) / (double)r.faces
                            : -1.0;
      printf("%-8s %2d  %9.3f %9.3f %9.3f %9.3f %7.1f %6d %6d  %11.3f %12.4f\n", det_names[dets[d]],
             threads[ti], r.st.median, r.st.p10, r.st.p90, r.st.mean,
             r.st.median > 0 ? 1000.0 / r.st.median : 0.0, r.faces, r.full_frames,
             r0.ok ? r0.st.median : -1.0, per_face);
      fflush(stdout);
      snprintf(lines[n_lines++], sizeof lines[0],
               "BENCH_FRAMES detector=%s expression=%s threads=%d frames=%d passes=%d "
               "median_ms=%.3f p10_ms=%.3f p90_ms=%.3f mean_ms=%.3f fps=%.1f faces=%d "
               "full_frames=%d detonly_median_ms=%.3f expr_ms_per_face=%.4f",
               det_names[dets[d]], expr_names[expr], threads[ti], f.n, passes, r.st.median,
               r.st.p10, r.st.p90, r.st.mean, r.st.median > 0 ? 1000.0 / r.st.median : 0.0, r.faces,
               r.full_frames, r0.ok ? r0.st.median : -1.0, per_face);
    }
  printf(
      "# faces: on the first timed pass; full: frames where the full-range detector ran;\n"
      "# det-only: median with --expression none; expr/face: sum over frames of (median with"
      " - median without, over the passes) / faces\n");
  for (int k = 0; k < n_lines; k++) printf("%s\n", lines[k]);
  free(t);
  free_frames(&f);
  return n_lines ? 0 : 1;
}
