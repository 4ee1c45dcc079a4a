/* mouth_motion.h: a classical visual speaking cue: how much the mouth region of a face changes
 * from one analysed frame to the next. A small gray patch is sampled around the mouth keypoint,
 * aligned by the eye line (rotation) and sized by the face box (scale), normalised to zero mean
 * and unit contrast (lighting), and compared with the same face's patch of the previous frame
 * at the best of a few small shifts (so keypoint jitter and slow head motion cost little).
 * The classical fallback of active speaker detection when no network is available (as in the
 * lip-motion baselines of the AVA-ActiveSpeaker paper, Roth et al., ICASSP 2020). Combining it
 * with voice activity and per-track normalisation is left to pipeline/speaking.c. */
#ifndef EMO_VISION_MOUTH_MOTION_H
#define EMO_VISION_MOUTH_MOTION_H

#include <stdint.h>

#define MM_W 24           /* patch columns (across the mouth) */
#define MM_H 16           /* patch rows */
#define MM_MIN_FACE 24.0f /* faces narrower than this (pixels) give no usable patch */

/* Samples the mouth patch of a face (box x, y, w, h and the 6 BlazeFace keypoints in image
 * pixels) from rgb (h rows of w*3 bytes, stride apart) into patch (MM_H * MM_W, normalised).
 * Returns 1 when the patch is usable, 0 when the face is too small, not finite, or its mouth
 * lies mostly outside the image. Allocates nothing; thread-safe. */
int mm_patch(const uint8_t *rgb, int w, int h, int stride, const float box[4], const float kp[6][2],
             float *patch);

/* Motion between two patches of the same face: the mean absolute difference (in units of
 * the patches' contrast) at the best shift of up to 2 cells in each direction, over the
 * inner cells. 0 = identical; about 0.2-0.4 for a still face, more for a talking mouth. */
float mm_motion(const float *prev, const float *cur);

#endif
