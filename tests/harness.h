/* harness.h: the few helpers every test uses: checks that count failures and print where,
 * skipping with a stated reason (exit code 77, which CTest reports as skipped), and the
 * locations of real test data (../shared/data) and of the model cache. */
#ifndef EMO_TEST_HARNESS_H
#define EMO_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

extern int th_failures;
extern int th_checks;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    th_checks++;                                                               \
    if (!(cond)) {                                                             \
      th_failures++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* Prints the reason and exits with 77 (skipped). */
void th_skip(const char *fmt, ...);

/* The instruction-set cap a kernel test runs its fast paths at (an emo_isa value): argv[1]
 * is auto (also when absent), scalar, avx2 or avx512. Exits 2 on another word, and skips
 * (77, with the reason) when this CPU lacks that path, so CTest registers each kernel test
 * once per cap (tests/CMakeLists.txt) and one machine runs every path it has. */
int th_isa_arg(int argc, char **argv);

/* Prints "N checks, M failed" and returns the exit status for main. */
int th_finish(const char *test_name);

/* Path of ../shared/data (or $EMO_SHARED_DATA) joined with rel, into a static buffer;
 * NULL when the data folder is absent. */
const char *th_data(const char *rel);

/* 1 when the model cache (params default / $EMO_MODELS) has every manifest file verified. */
int th_models_ready(void);

/* Reads a whole file into a malloc'd buffer; NULL on failure. */
unsigned char *th_read_file(const char *path, size_t *size);

/* emo_analyze_media for a test that looks at frames only: calls on_frame for every frame and
 * returns the status; *summary (may be NULL) is the frames' summary. */
struct emo_context;
struct emo_frame_result;
struct emo_video_summary;
int th_analyze_frames(struct emo_context *ctx, const char *url,
                      int (*on_frame)(const struct emo_frame_result *, void *), void *user,
                      const struct emo_video_summary **summary);

/* Deterministic pseudo-random numbers for kernel tests. */
float th_randf(unsigned *state, float lo, float hi);

#endif
