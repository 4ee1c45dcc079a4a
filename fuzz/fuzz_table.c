/* fuzz_table.c: libFuzzer harness for the readers of training inputs (src/learn/table.c): the
 * CSV parser and the NPY parser both get the bytes. Either parses or fails with a message;
 * a parsed table's every cell is a NUL-terminated string inside it, and a parsed array has
 * rows x cols floats.
 * Seeds: fuzz/corpus/table/ (a training CSV with quotes and CRLF, an index.csv, an NPY). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "emo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  err[0] = 0;
  emo_table *t = NULL;
  if (emo_table_parse(data, size, "fuzz.csv", &t, err, sizeof err) == EMO_OK) {
    size_t total = 0;
    for (int c = 0; c < emo_table_cols(t); c++) total += strlen(emo_table_header(t, c));
    for (int r = 0; r < emo_table_rows(t); r++) {
      if (emo_table_line(t, r) < 1) __builtin_trap();
      for (int c = 0; c < emo_table_cols(t); c++) total += strlen(emo_table_cell(t, r, c));
    }
    if (total > size) __builtin_trap();
    emo_table_destroy(&t);
  } else if (err[0] == 0) {
    __builtin_trap();
  }
  float *x = NULL;
  int rows = 0, cols = 0;
  err[0] = 0;
  if (emo_npy_parse_f32(data, size, &x, &rows, &cols, err, sizeof err) == EMO_OK) {
    volatile float s = 0.0f;
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) s += x[i];
    (void)s;
    emo_free(x);
  } else if (err[0] == 0) {
    __builtin_trap();
  }
  return 0;
}
