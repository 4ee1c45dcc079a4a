/* speaking.c: the built-in mouth-motion speaking source (see speaking.h). Per track it keeps
 * the previous mouth patch and the smoothed motion, in a fixed table of SLOTS entries (the
 * least recently seen track gives its slot to a new one).
 *
 * Constants, from bench/persons.py on the labelled clips and the synthetic split screens (a
 * grid search over the smoothing, a per-track noise floor and the logistic's midpoint, scored
 * by the frame F1 of all clips but the muted-lips one): smoothing 0.2 s, no per-track floor
 * (subtracting a slowly rising per-track minimum, as speech enhancement's noise estimators do,
 * lowered F1 from 0.93 to 0.76: it rises into a long stretch of talking), midpoint 0.05. The
 * per-track normalisation that stays is in the patch: scaled by the face's width, zero mean and
 * unit contrast. */
#include "pipeline/speaking.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/mouth_motion.h"

#define SLOTS 64
#define GAP 0.5            /* seconds unseen after which a track's history restarts */
#define MOTION_MID 0.05f   /* smoothed motion (mm_motion units) that scores 0.5 */
#define MOTION_SCALE 0.02f /* ... and the logistic's scale */

typedef struct mouth_slot {
  int id; /* track id, 0 = free */
  double last_t;
  int has_prev;
  float prev[MM_H * MM_W];
  float ema;
  int n; /* motion samples since the history (re)started */
} mouth_slot;

typedef struct mouth_source {
  spk_source base;
  mouth_slot slot[SLOTS];
  float patch[MM_H * MM_W];
} mouth_source;

static mouth_slot *slot_of(mouth_source *m, int id, double t) {
  mouth_slot *oldest = &m->slot[0];
  for (int i = 0; i < SLOTS; i++) {
    if (m->slot[i].id == id) return &m->slot[i];
    if (m->slot[i].id == 0 && oldest->id != 0) oldest = &m->slot[i];
    if (oldest->id != 0 && m->slot[i].id != 0 && m->slot[i].last_t < oldest->last_t)
      oldest = &m->slot[i];
  }
  memset(oldest, 0, sizeof *oldest);
  oldest->id = id;
  oldest->last_t = t;
  return oldest;
}

static int mouth_push(spk_source *s, double t, const uint8_t *rgb, int w, int h, int stride,
                      const emo_track_face *faces, int n, float *evidence, emoi_err *err) {
  (void)err;
  mouth_source *m = (mouth_source *)s;
  for (int i = 0; i < n; i++) {
    evidence[i] = -1.0f;
    mouth_slot *sl = slot_of(m, faces[i].track_id, t);
    double dt = t - sl->last_t;
    if (!(dt >= 0.0) || dt > GAP) sl->has_prev = 0;
    sl->last_t = t;
    if (!mm_patch(rgb, w, h, stride, faces[i].box, (const float(*)[2])faces[i].keypoints,
                  m->patch)) {
      sl->has_prev = 0;
      sl->n = 0;
      continue;
    }
    if (sl->has_prev && dt > 0.0) {
      float motion = mm_motion(sl->prev, m->patch);
      if (sl->n == 0)
        sl->ema = motion;
      else
        sl->ema += (float)(1.0 - exp(-dt / SPK_SMOOTH)) * (motion - sl->ema);
      sl->n++;
      float x = (sl->ema - MOTION_MID) / MOTION_SCALE;
      evidence[i] = 1.0f / (1.0f + expf(-x));
    }
    memcpy(sl->prev, m->patch, sizeof sl->prev);
    sl->has_prev = 1;
  }
  return EMO_OK;
}

static void mouth_reset(spk_source *s) {
  mouth_source *m = (mouth_source *)s;
  memset(m->slot, 0, sizeof m->slot);
}

static void mouth_destroy(spk_source *s) {
  free(s);
}

static const spk_source_ops mouth_ops = {.method = "mouth_motion",
                                         .audio_visual = 0,
                                         .push_frame = mouth_push,
                                         .reset = mouth_reset,
                                         .destroy = mouth_destroy};

int spk_mouth_create(spk_source **out, emoi_err *err) {
  *out = NULL;
  mouth_source *m = calloc(1, sizeof *m);
  if (!m) return emoi_fail(err, EMO_ENOMEM, "out of memory for the speaking scores");
  m->base.ops = &mouth_ops;
  *out = &m->base;
  return EMO_OK;
}

void spk_source_destroy(spk_source **s) {
  if (!s || !*s) return;
  (*s)->ops->destroy(*s);
  *s = NULL;
}
