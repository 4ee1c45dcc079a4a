/* fuzz_safetensors.c: libFuzzer harness for the safetensors reader (src/nn/safetensors.c).
 * Every input must give EMO_OK or a negative status with a message, never a crash, leak or
 * out-of-bounds access. An accepted file is walked: every tensor (up to 1M elements) is
 * converted to float32, its bytes must lie inside the input, it must be found by name, the
 * metadata keys the models read are looked up and st_get_f32 runs on the first tensor.
 * Seeds: fuzz/corpus/safetensors/ (written by tests/test_safetensors.c with
 * EMO_WRITE_ST_SEEDS, plus regressions; no real model weights). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "nn/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emoi_err e;
  e.msg[0] = 0;
  st_file *f = NULL;
  int rc = st_open_memory(data, size, 0, &f, &e);
  if (rc != EMO_OK) {
    if (f || rc >= 0 || !e.msg[0]) abort();
    return 0;
  }
  static float buf[1 << 20];
  for (int i = 0; i < st_count(f); i++) {
    const st_tensor *t = st_at(f, i);
    if (!t || t->rank < 0 || t->rank > ST_MAX_RANK || t->numel < 0 || t->numel > ST_MAX_ELEMS)
      abort();
    size_t bytes = (size_t)t->numel * (t->dtype == ST_F64 ? 8 : t->dtype == ST_F32 ? 4 : 2);
    if (t->data < data || bytes > size || (size_t)(t->data - data) > size - bytes) abort();
    if (st_find(f, t->name) != t) abort(); /* names are unique */
    if (t->numel <= (int64_t)(sizeof buf / sizeof buf[0])) st_to_f32(t, buf);
  }
  const char *s = st_meta(f, "format");
  if (s) (void)strlen(s);
  if ((s = st_meta(f, "labels"))) (void)strlen(s);
  if (st_count(f) > 0) {
    const st_tensor *t = st_at(f, 0);
    if (t->numel <= (1 << 20)) {
      e.msg[0] = 0;
      float *w = st_get_f32(f, t->name, t->rank, t->shape, &e);
      if (!w) abort();
      free(w);
    }
    int64_t wild[ST_MAX_RANK] = {-1, -1, -1, -1, -1, -1};
    e.msg[0] = 0;
    float *w = st_get_f32(f, t->name, t->rank + 1, wild, &e); /* rank mismatch */
    if (w || !e.msg[0]) abort();
  }
  st_close(&f);
  if (f) abort();
  return 0;
}
