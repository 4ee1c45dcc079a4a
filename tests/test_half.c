/* test_half.c: the 16-bit float widenings of nn/half.h, which every model-file reader uses.
 * All 65536 binary16 and bfloat16 patterns are compared bit for bit with a reference that
 * rebuilds each value from its fields in double arithmetic (sign * 2^(e-15) * (1 + m/1024),
 * subnormals 2^-14 * m/1024), so the two sides share no code. NaNs are compared by class and
 * payload: the payload's 10 bits must land in the top of float32's mantissa. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "nn/half.h"

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static double f16_reference(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0)
    v = ldexp((double)m, -24);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = ldexp(1.0 + m / 1024.0, e - 15);
  return s ? -v : v;
}

int main(void) {
  int bad_f16 = 0, bad_bf16 = 0;
  for (uint32_t i = 0; i < 65536; i++) {
    uint16_t h = (uint16_t)i;
    float got = nn_f16_to_f32(h);
    double want = f16_reference(h);
    int ok;
    if (isnan(want))
      ok = isnan(got) && (bits_of(got) >> 31) == (uint32_t)(h >> 15) &&
           ((bits_of(got) >> 13) & 1023u) == (h & 1023u);
    else
      ok = (double)got == want && !!signbit(got) == !!signbit(want);
    if (!ok && bad_f16++ < 5) CHECK(0, "f16 0x%04x: got %a want %a", (unsigned)h, got, want);

    /* bfloat16 is float32's top half: the same sign, exponent and top 7 mantissa bits. */
    float b = nn_bf16_to_f32(h);
    double bw = (h & 0x7f80) == 0x7f80
                    ? ((h & 0x7f) ? NAN : INFINITY)
                    : ((h & 0x7f80) ? ldexp(1.0 + (h & 0x7f) / 128.0, ((h >> 7) & 0xff) - 127)
                                    : ldexp((double)(h & 0x7f), -133));
    if (h >> 15) bw = -bw;
    ok = isnan(bw) ? isnan(b) && bits_of(b) == (uint32_t)h << 16
                   : (double)b == bw && !!signbit(b) == !!signbit(bw);
    if (!ok && bad_bf16++ < 5) CHECK(0, "bf16 0x%04x: got %a want %a", (unsigned)h, b, bw);
  }
  CHECK(bad_f16 == 0, "%d binary16 patterns wrong", bad_f16);
  CHECK(bad_bf16 == 0, "%d bfloat16 patterns wrong", bad_bf16);
  /* A few landmarks by value, readable without the reference. */
  CHECK(nn_f16_to_f32(0x3c00) == 1.0f && nn_f16_to_f32(0xc000) == -2.0f, "1 and -2");
  CHECK(nn_f16_to_f32(0x7bff) == 65504.0f, "largest finite binary16");
  CHECK(nn_f16_to_f32(0x0001) == 0x1p-24f, "smallest subnormal binary16");
  CHECK(nn_bf16_to_f32(0x3f80) == 1.0f, "bfloat16 1");
  return th_finish("test_half");
}
