/* fuzz_wav2vec2.c: libFuzzer harness for the wav2vec 2.0 model loader (src/audio/wav2vec2.c on
 * top of nn/safetensors.c): any bytes must load or fail with a message, never crash, leak, hang
 * or read out of bounds. A model that loads is run once on 0.1 s of a synthetic tone (its
 * logits may be anything: mutated weights may well be inf or NaN). Seeds: fuzz/corpus/wav2vec2/
 * (the tiny test models of tests/fixtures/wav2vec2_small*.fix: their "model" tensor, written out as
 * files). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/wav2vec2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  w2v_model *m = NULL;
  emoi_err e;
  e.msg[0] = '\0';
  if (w2v_load_memory(data, size, &m, &e) == 0) {
    float pcm[1600], logits[W2V_MAX_LABELS];
    for (int i = 0; i < 1600; i++) pcm[i] = 0.3f * sinf(0.05f * (float)i);
    int need = w2v_min_samples(m);
    if (need <= 1600 && w2v_embed_dim(m) <= 256) {
      if (w2v_classify(m, pcm, 1600, NULL, logits, NULL, &e) != 0 && e.msg[0] == '\0')
        __builtin_trap();
    }
  } else if (e.msg[0] == '\0') {
    __builtin_trap(); /* a failure must say why */
  }
  w2v_free(&m);
  return 0;
}
