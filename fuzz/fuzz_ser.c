/* fuzz_ser.c: libFuzzer harness for the speech-emotion weights reader (src/audio/ser.c, format
 * in src/audio/ser.h): any bytes must load or fail with a message, never crash, leak, hang or
 * read out of bounds. A file that loads is also run once on a short synthetic clip with the
 * reference kernels, so the graph it built must be runnable.
 * Seeds: fuzz/corpus/ser/ (tiny hand-made model files, training/make_ser_seeds.py). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/ser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ser_model *m = NULL;
  emoi_err e;
  e.msg[0] = '\0';
  if (ser_load(data, size, "fuzz", &m, &e) == 0) {
    if (nn_value_numel(&ser_graph(m)->values[ser_graph(m)->inputs[0]]) <= 64 * 1024) {
      nn_plan *plan = NULL;
      if (nn_plan_create(ser_graph(m), NN_BACKEND_REFERENCE, NULL, &plan, &e) == 0) {
        float pcm[2000], probs[SER_N_LABELS];
        for (int i = 0; i < 2000; i++) pcm[i] = 0.3f * sinf(0.05f * (float)i);
        if (ser_classify(m, plan, pcm, 2000, probs, &e) == 0) {
          float s = 0;
          for (int i = 0; i < SER_N_LABELS; i++) s += probs[i];
          if (!(fabsf(s - 1.0f) < 1e-3f) && isfinite(s)) __builtin_trap();
        }
      }
      nn_plan_destroy(&plan);
    }
  } else if (e.msg[0] == '\0') {
    __builtin_trap(); /* a failure must say why */
  }
  ser_destroy(&m);
  return 0;
}
