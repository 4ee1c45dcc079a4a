/* isa.c: which instruction-set path runs under an emo_isa cap on this CPU (emo.h). The CPU's
 * features are read once by the compiler's runtime (__builtin_cpu_supports); the kernels that
 * dispatch (vision/image_ops.c, vision/optical_flow.c, nn/qconv.c, nn/dwq.c) take the cap and
 * ask here or apply their own finer rule (VNNI for int8). Off x86-64 every cap is scalar. */
#include "emo.h"

emo_isa emo_isa_pick(emo_isa cap) {
  if ((int)cap < 0 || cap >= EMO_ISA_COUNT) cap = EMO_ISA_SCALAR;
#if defined(__x86_64__) && defined(__GNUC__)
  if ((cap == EMO_ISA_AUTO || cap >= EMO_ISA_AVX512) && __builtin_cpu_supports("avx512f"))
    return EMO_ISA_AVX512;
  if ((cap == EMO_ISA_AUTO || cap >= EMO_ISA_AVX2) && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return EMO_ISA_AVX2;
#endif
  return EMO_ISA_SCALAR;
}

const char *emo_isa_name(emo_isa isa) {
  static const char *const names[EMO_ISA_COUNT] = {"auto", "scalar", "avx2", "avx512"};
  return (int)isa >= 0 && isa < EMO_ISA_COUNT ? names[isa] : "?";
}
