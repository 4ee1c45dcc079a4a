/* fixture.h: reader for emo's reference-output fixture files (tests/fixtures/NAME.fix), the small
 * binary files that tools/ref/ writes once from independent reference runtimes (TensorFlow.js,
 * the TFLite interpreter, MediaPipe) and that tests compare emo's engine with. CI needs only
 * these files, never the reference runtimes. Writing them is left to tools/ref/fixture.cjs.
 *
 * File format, version 1 (all integers little-endian, no padding anywhere):
 *
 *   magic      8 bytes   "EMOFIX\0\0"
 *   version    uint32    1
 *   n_tensors  uint32
 *   n_tensors times:
 *     name_len uint32    1..255
 *     name     name_len bytes, no NUL
 *     dtype    uint32    0 = float32 (IEEE-754 binary32, little-endian), 1 = uint8
 *     rank     uint32    0..6
 *     dims     rank x uint32 (product = element count; rank 0 holds one element)
 *     data     element count x (4 bytes for float32, 1 byte for uint8)
 *
 * Nothing may follow the last tensor. Tensor names are unique within a file.
 *
 * Conventions of the fixtures tools/ref writes (see tools/ref/README.md):
 *   "info"            uint8 (n): UTF-8 text, which runtime and versions produced the file;
 *   "s<k>.input"      uint8 (1, h, w, c): sample k's input at low resolution;
 *   "s<k>.map"        float32 (2): scale, offset. The model input (1, H, W, c) with H = f*h,
 *                     W = f*w (f an integer, the same on both axes) is, in float32 arithmetic,
 *                     x[0][y][x][ch] = (float)in[0][y/f][x/f][ch] * scale + offset
 *                     (the product rounded to float32 before the addition);
 *   "s<k>.out<i>"     float32: output i of the model on sample k, in the model's output order.
 *
 * Reading is bounds-checked throughout: a truncated, oversized or malformed file gives an error
 * message, never a crash. A version mismatch says how to regenerate the fixtures. */
#ifndef EMO_TEST_FIXTURE_H
#define EMO_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define FX_VERSION 1
#define FX_MAX_RANK 6
#define FX_MAX_TENSORS 4096
#define FX_MAX_FILE_BYTES (64 * 1024 * 1024)

typedef enum fx_dtype { FX_F32 = 0, FX_U8 = 1, FX_DTYPE_COUNT } fx_dtype;

typedef struct fx_tensor {
  char name[256];
  fx_dtype dtype;
  int rank;
  int64_t dims[FX_MAX_RANK];
  int64_t numel;
  const float *f32;  /* (numel) when dtype is FX_F32, else NULL; host order, aligned */
  const uint8_t *u8; /* (numel) when dtype is FX_U8, else NULL */
} fx_tensor;

typedef struct fx_file {
  fx_tensor *tensors; /* (n_tensors) */
  int n_tensors;
  void *storage; /* one allocation holding every tensor's data */
} fx_file;

/* Reads and validates a fixture file. On success *out owns everything (free with fx_free)
 * and 0 is returned; on failure returns -1, *out is NULL and err holds a message naming the
 * file and the field at fault. */
int fx_load(const char *path, fx_file **out, char *err, size_t errlen);

/* Same from size bytes at data (borrowed, only read during the call); source names the
 * bytes in messages (may be NULL). */
int fx_load_memory(const void *data, size_t size, const char *source, fx_file **out, char *err,
                   size_t errlen);

/* The tensor with this name, or NULL. */
const fx_tensor *fx_get(const fx_file *f, const char *name);

/* Frees a file read by fx_load and sets *f to NULL; NULL and *f == NULL are fine. */
void fx_free(fx_file **f);

#endif
