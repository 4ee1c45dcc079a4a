/* fuzz_head.c: libFuzzer harness for the head file reader (src/learn/head_file.c, format in its
 * first comment): any bytes must load or fail with a message, never crash, leak or read out of
 * bounds. A head that loads is run once on a vector of ones: the probabilities it gives must be
 * finite and sum to 1 (a multi-label head's: each in [0, 1]).
 * Seeds: fuzz/corpus/head/ (tiny heads of each kind trained on synthetic data; multilabel.head
 * is logreg.head with the multi-label flag set). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emo_head *h = NULL;
  char err[512];
  err[0] = 0;
  if (emo_head_load_memory(data, size, NULL, &h, err, sizeof err) == EMO_OK) {
    int d = emo_head_dim(h), c = emo_head_classes(h);
    float *x = malloc(sizeof(float) * (size_t)d), *p = malloc(sizeof(float) * (size_t)c * 2);
    if (x && p) {
      for (int i = 0; i < d; i++) x[i] = 1.0f;
      int k = emo_head_predict(h, x, p, p + c);
      float s = 0.0f;
      int in01 = 1;
      for (int i = 0; i < c; i++) s += p[i], in01 &= p[i] >= 0.0f && p[i] <= 1.0f;
      /* a multi-label head's sigmoids are independent: each in [0, 1], no sum */
      int ok = emo_head_multilabel(h) ? in01 : fabsf(s - 1.0f) < 1e-3f;
      if (k < 0 || k >= c || !ok) __builtin_trap();
      char *j = emo_head_json_members(h, x);
      free(j);
    }
    free(x);
    free(p);
    emo_head_destroy(&h);
  } else if (err[0] == 0) {
    __builtin_trap(); /* every refusal says why */
  }
  return 0;
}
