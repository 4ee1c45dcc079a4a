/* fuzz_torch_ckpt.c: libFuzzer harness for nn/torch_ckpt.c (the restricted PyTorch checkpoint
 * reader LR-ASD's weights come through) and av/asd.c's loader on top of it. An input that starts
 * with "PK" is a whole checkpoint (zip): pt_open_memory, then asd_load_memory; any other input is
 * a bare pickle for pt_parse_pickle, whose storages are zeros (at most 64 KiB each). Every input
 * must parse or fail with a negative status and a message; a parsed file's float tensors are all
 * copied out with pt_get_f32 (so every stride and offset is exercised under ASan). Seeds:
 * fuzz/corpus/torch_ckpt/ (tiny state_dicts of random tensors saved with torch.save 1.13, and
 * their data.pkl: no real weights). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "av/asd.h"
#include "nn/torch_ckpt.h"

static uint8_t zeros[1 << 16];
static volatile float sink; /* every copied element is read into it */

static int fake_storage(void *user, const char *key, pt_dtype dtype, int64_t numel,
                        const uint8_t **data, size_t *size, emoi_err *err) {
  (void)user;
  (void)key;
  size_t n = (size_t)numel * (size_t)pt_dtype_size(dtype);
  if (n > sizeof zeros) return emoi_fail(err, EMO_ELIMIT, "storage over the harness's cap");
  *data = zeros;
  *size = n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emoi_err e;
  e.msg[0] = 0;
  pt_file *f = NULL;
  int zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
  int rc = zip ? pt_open_memory(data, size, "fuzz.model", &f, &e)
               : pt_parse_pickle(data, size, fake_storage, NULL, &f, &e);
  if (rc != EMO_OK) {
    if (f || rc >= 0 || !e.msg[0]) abort();
    return 0;
  }
  for (int i = 0; i < pt_count(f); i++) {
    const pt_tensor *t = pt_at(f, i);
    if (!t || pt_find(f, t->name) == NULL) abort();
    if (t->dtype == PT_I64 || t->dtype == PT_I32) continue;
    float *x = pt_get_f32(f, t->name, t->rank, t->shape, &e);
    if (!x) abort();
    for (int64_t k = 0; k < t->numel; k++) sink = x[k];
    free(x);
  }
  pt_close(&f);
  if (zip) {
    asd_model *m = NULL;
    e.msg[0] = 0;
    rc = asd_load_memory(data, size, "fuzz.model", &m, &e);
    if (rc != EMO_OK && (m || rc >= 0 || !e.msg[0])) abort();
    asd_free(&m);
  }
  return 0;
}
