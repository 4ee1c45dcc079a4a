/* fuzz_feature_def.c: libFuzzer harness for feature definitions (src/learn/feature_set.c), the
 * strings a head file carries and `emo train --features` takes apart. Input: a definition, a
 * newline, a comma-separated list of block names. emo_features_select must refuse with a
 * message or return columns in increasing order and a definition that, selected again with the
 * same names, gives back itself and as many columns (never crash or read out of bounds).
 * Seeds: fuzz/corpus/feature_def/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

#define MAX_COLS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  char *names = strchr(s, '\n');
  if (names) *names++ = 0;
  char out[4096], again[4096], err[512];
  static int cols[MAX_COLS], cols2[MAX_COLS];
  err[0] = 0;
  int n =
      emo_features_select(s, names ? names : "", out, sizeof out, cols, MAX_COLS, err, sizeof err);
  if (n < 0) {
    if (!err[0]) __builtin_trap(); /* every refusal says why */
  } else {
    for (int i = 1; i < n; i++)
      if (cols[i] <= cols[i - 1]) __builtin_trap();
    int m = emo_features_select(out, names ? names : "", again, sizeof again, cols2, MAX_COLS, err,
                                sizeof err);
    if (m != n || strcmp(again, out) != 0) __builtin_trap();
    for (int i = 0; i < m; i++)
      if (cols2[i] != i) __builtin_trap();
  }
  free(s);
  return 0;
}
