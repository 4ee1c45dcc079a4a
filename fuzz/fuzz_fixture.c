/* fuzz_fixture.c: libFuzzer harness for the test-fixture reader (tests/fixture.c, format in
 * tests/fixture.h): any bytes must load or fail with a message, never crash, leak or read out
 * of bounds. The reader is test code, not part of the library, so it is compiled in here.
 * Seeds: fuzz/corpus/fixture/ (small fixtures written by tools/ref/). */
#include <stddef.h>
#include <stdint.h>

#include "../tests/fixture.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fx_file *f = NULL;
  char err[256];
  if (fx_load_memory(data, size, "fuzz", &f, err, sizeof err) == 0) {
    volatile double sum = 0;
    for (int i = 0; i < f->n_tensors; i++) {
      const fx_tensor *t = &f->tensors[i];
      if (fx_get(f, t->name) == NULL) __builtin_trap(); /* every name must be found */
      for (int64_t e = 0; e < t->numel; e++) sum += t->dtype == FX_F32 ? t->f32[e] : t->u8[e];
    }
    (void)sum;
  }
  fx_free(&f);
  return 0;
}
