/* half.h: the 16-bit float formats model files store weights in, widened to float32. One
 * copy for every reader (tflite_reader.c, tfjs_reader.c, safetensors.c):
 *  - IEEE 754 binary16 ("float16", "F16"): 1 sign, 5 exponent (bias 15), 10 mantissa bits;
 *  - bfloat16 ("BF16"): the top 16 bits of a binary32.
 * Both conversions are exact for every input: float32 holds every binary16 value, subnormals
 * included; infinities stay infinite and NaN payloads are kept. Narrowing (float32 -> 16 bit)
 * is left out: nothing in emo writes these formats. tests/test_half.c checks all 65536 inputs
 * against a field-by-field reference. */
#ifndef EMO_NN_HALF_H
#define EMO_NN_HALF_H

#include <stdint.h>
#include <string.h>

/* The float32 whose bit pattern is u. */
static inline float nn_f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* IEEE binary16 -> binary32. */
static inline float nn_f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31u, m = h & 0x3ffu;
  if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float32 */
    float v = (float)m * 0x1p-24f;
    return s ? -v : v;
  }
  return nn_f32_from_bits(s | (e == 31 ? 0x7f800000u : (e + 112u) << 23) | m << 13);
}

/* bfloat16 -> binary32. */
static inline float nn_bf16_to_f32(uint16_t b) {
  return nn_f32_from_bits((uint32_t)b << 16);
}

#endif
