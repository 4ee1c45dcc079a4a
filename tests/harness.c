/* harness.c: see harness.h. */
#include "harness.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "emo.h"

int th_failures = 0;
int th_checks = 0;

void th_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stdout, "SKIPPED: ");
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  exit(77);
}

int th_isa_arg(int argc, char **argv) {
  if (argc < 2) return EMO_ISA_AUTO;
  for (int i = 0; i < EMO_ISA_COUNT; i++) {
    if (strcmp(argv[1], emo_isa_name((emo_isa)i)) != 0) continue;
    const emo_isa got = emo_isa_pick((emo_isa)i);
    if (i != EMO_ISA_AUTO && got != (emo_isa)i)
      th_skip("this CPU has no %s path (the best under that cap is %s)", argv[1],
              emo_isa_name(got));
    printf("ISA cap %s: the %s path\n", argv[1], emo_isa_name(got));
    return i;
  }
  fprintf(stderr, "usage: %s [auto|scalar|avx2|avx512]\n", argv[0]);
  exit(2);
}

int th_finish(const char *test_name) {
  printf("%s: %d checks, %d failed\n", test_name, th_checks, th_failures);
  return th_failures ? 1 : 0;
}

const char *th_data(const char *rel) {
  static char buf[4096];
  const char *root = getenv("EMO_SHARED_DATA");
  char def[2048];
  if (!root || !*root) {
    snprintf(def, sizeof def, "%s/../shared/data", EMO_SOURCE_DIR);
    root = def;
  }
  struct stat st;
  if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  snprintf(buf, sizeof buf, "%s/%s", root, rel ? rel : "");
  return buf;
}

int th_models_ready(void) {
  emo_model_params p = emo_model_params_default();
  for (int i = 0; i < emo_models_count(); i++)
    if (emo_models_check(&p, i) != EMO_OK) return 0;
  return 1;
}

unsigned char *th_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long n = ftell(f);
  if (n < 0) {
    fclose(f);
    return NULL;
  }
  rewind(f);
  unsigned char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf && size) *size = (size_t)n;
  return buf;
}

float th_randf(unsigned *state, float lo, float hi) {
  *state = *state * 1664525u + 1013904223u;
  return lo + (hi - lo) * (float)((*state >> 8) & 0xFFFFFF) / (float)0xFFFFFF;
}

int th_analyze_frames(emo_context *ctx, const char *url,
                      int (*on_frame)(const emo_frame_result *, void *), void *user,
                      const emo_video_summary **summary) {
  const emo_media_callbacks cb = {on_frame, NULL, user, NULL, NULL};
  const emo_media_summary *ms = NULL;
  int rc = emo_analyze_media(ctx, NULL, url, &cb, &ms);
  if (summary) *summary = ms ? ms->video : NULL;
  return rc;
}
