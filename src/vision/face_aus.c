/* face_aus.c: see face_aus.h for the mapping and its source. */
#include "vision/face_aus.h"

#include <math.h>
#include <stddef.h>

/* Blendshape indices (MediaPipe's order, vision/face_mesh.c). */
enum {
  B_BROW_DOWN_L = 1,
  B_BROW_DOWN_R,
  B_BROW_INNER_UP,
  B_BROW_OUTER_UP_L,
  B_BROW_OUTER_UP_R,
  B_CHEEK_PUFF,
  B_CHEEK_SQUINT_L,
  B_CHEEK_SQUINT_R,
  B_EYE_BLINK_L,
  B_EYE_BLINK_R,
  B_EYE_SQUINT_L = 19,
  B_EYE_SQUINT_R,
  B_EYE_WIDE_L,
  B_EYE_WIDE_R,
  B_JAW_OPEN = 25,
  B_MOUTH_DIMPLE_L = 28,
  B_MOUTH_DIMPLE_R,
  B_MOUTH_FROWN_L,
  B_MOUTH_FROWN_R,
  B_MOUTH_LOWER_DOWN_L = 34,
  B_MOUTH_LOWER_DOWN_R,
  B_MOUTH_PRESS_L,
  B_MOUTH_PRESS_R,
  B_MOUTH_ROLL_LOWER = 40,
  B_MOUTH_ROLL_UPPER,
  B_MOUTH_SHRUG_LOWER,
  B_MOUTH_SMILE_L = 44,
  B_MOUTH_SMILE_R,
  B_MOUTH_STRETCH_L,
  B_MOUTH_STRETCH_R,
  B_MOUTH_UPPER_UP_L,
  B_MOUTH_UPPER_UP_R,
  B_NOSE_SNEER_L,
  B_NOSE_SNEER_R
};

/* Each AU: the blendshapes averaged (one or two). */
static const short au_map[EMO_AU_COUNT][2] = {
    [EMO_AU1] = {B_BROW_INNER_UP, -1},
    [EMO_AU2] = {B_BROW_OUTER_UP_L, B_BROW_OUTER_UP_R},
    [EMO_AU4] = {B_BROW_DOWN_L, B_BROW_DOWN_R},
    [EMO_AU5] = {B_EYE_WIDE_L, B_EYE_WIDE_R},
    [EMO_AU6] = {B_CHEEK_SQUINT_L, B_CHEEK_SQUINT_R},
    [EMO_AU7] = {B_EYE_SQUINT_L, B_EYE_SQUINT_R},
    [EMO_AU9] = {B_NOSE_SNEER_L, B_NOSE_SNEER_R},
    [EMO_AU10] = {B_MOUTH_UPPER_UP_L, B_MOUTH_UPPER_UP_R},
    [EMO_AU12] = {B_MOUTH_SMILE_L, B_MOUTH_SMILE_R},
    [EMO_AU14] = {B_MOUTH_DIMPLE_L, B_MOUTH_DIMPLE_R},
    [EMO_AU15] = {B_MOUTH_FROWN_L, B_MOUTH_FROWN_R},
    [EMO_AU17] = {B_MOUTH_SHRUG_LOWER, -1},
    [EMO_AU20] = {B_MOUTH_STRETCH_L, B_MOUTH_STRETCH_R},
    [EMO_AU23] = {B_MOUTH_PRESS_L, B_MOUTH_PRESS_R},
    [EMO_AU25] = {B_MOUTH_LOWER_DOWN_L, B_MOUTH_LOWER_DOWN_R},
    [EMO_AU26] = {B_JAW_OPEN, -1},
    [EMO_AU28] = {B_MOUTH_ROLL_LOWER, B_MOUTH_ROLL_UPPER},
    [EMO_AU43] = {B_EYE_BLINK_L, B_EYE_BLINK_R},
};

static const char *const au_names[EMO_AU_COUNT] = {"AU1",  "AU2",  "AU4",  "AU5",  "AU6",  "AU7",
                                                   "AU9",  "AU10", "AU12", "AU14", "AU15", "AU17",
                                                   "AU20", "AU23", "AU25", "AU26", "AU28", "AU43"};

const char *emo_au_name(int au) {
  return au >= 0 && au < EMO_AU_COUNT ? au_names[au] : "unknown";
}

void fa_aus_from_blendshapes(const float *b, float *aus) {
  for (int a = 0; a < EMO_AU_COUNT; a++) {
    float v = b[au_map[a][0]];
    if (au_map[a][1] >= 0) v = 0.5f * (v + b[au_map[a][1]]);
    aus[a] = 5.0f * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
  }
}

/* EMFACS prototypes, -1 terminated. */
static const signed char proto[EMO_EXPR_COUNT][7] = {
    [EMO_EXPR_ANGRY] = {EMO_AU4, EMO_AU5, EMO_AU7, EMO_AU23, -1},
    [EMO_EXPR_DISGUST] = {EMO_AU9, EMO_AU10, EMO_AU15, -1},
    [EMO_EXPR_FEAR] = {EMO_AU1, EMO_AU2, EMO_AU4, EMO_AU5, EMO_AU20, EMO_AU26, -1},
    [EMO_EXPR_HAPPY] = {EMO_AU6, EMO_AU12, -1},
    [EMO_EXPR_SAD] = {EMO_AU1, EMO_AU4, EMO_AU15, -1},
    [EMO_EXPR_SURPRISE] = {EMO_AU1, EMO_AU2, EMO_AU5, EMO_AU26, -1},
    [EMO_EXPR_NEUTRAL] = {-1},
};

/* Logistic calibration {a, b} of each prototype's raw score, printed by dev/intensity_calib.py
 * (KDEF, odd-numbered subjects: posed E vs neutral). In comments: the raw score at 0.5. */
static const float calib[EMO_EXPR_COUNT][2] = {
    [EMO_EXPR_ANGRY] = {21.556f, -4.832f},    /* 0.224 */
    [EMO_EXPR_DISGUST] = {29.339f, -1.015f},  /* 0.035 */
    [EMO_EXPR_FEAR] = {26.921f, -1.985f},     /* 0.074 */
    [EMO_EXPR_HAPPY] = {21.264f, -4.927f},    /* 0.232 */
    [EMO_EXPR_SAD] = {13.506f, -1.364f},      /* 0.101 */
    [EMO_EXPR_SURPRISE] = {29.114f, -3.647f}, /* 0.125 */
};

void fa_intensity(const float *aus, float *intensity) {
  float top = 0.0f;
  for (int e = 0; e < EMO_EXPR_COUNT; e++) {
    if (e == EMO_EXPR_NEUTRAL) continue;
    float s = 0.0f;
    int n = 0;
    for (int k = 0; proto[e][k] >= 0; k++, n++) s += aus[proto[e][k]] / 5.0f;
    float raw = n ? s / (float)n : 0.0f;
    float v = 1.0f / (1.0f + expf(-(calib[e][0] * raw + calib[e][1])));
    intensity[e] = v == v ? v : 0.0f; /* NaN proxies: no evidence */
    if (intensity[e] > top) top = intensity[e];
  }
  intensity[EMO_EXPR_NEUTRAL] = 1.0f - top;
}
