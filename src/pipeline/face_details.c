/* face_details.c: what emo_run_params.face_details asks of each face: the 478 landmarks from
 * the detector's region (vision/face_mesh.c), the head pose fitted to them
 * (vision/face_geometry.c) and, at the FULL level, the 52 blendshapes with the action-unit
 * proxies and expression intensities derived from them (vision/face_aus.c). Faces run one after
 * another on the context's plans. A face smaller than run.min_mesh_face, or whose mesh says no
 * face is there (presence below 0.5, MediaPipe's min_face_presence_confidence), gets details of
 * level EMO_DETAILS_NONE (written as "pose":null), never noise. */
#include <string.h>

#include "pipeline/internal.h"
#include "vision/face_aus.h"
#include "vision/face_mesh.h"

#define MIN_PRESENCE 0.5f

const char *emo_blendshape_name(int i) {
  return i >= 0 && i < FM_BLENDSHAPES ? fm_blendshape_names[i] : "unknown";
}

int emoi_face_details(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                      const bf_detection *dets, int n, const fm_roi *rois,
                      const emo_face_details **out, size_t out_stride, emoi_err *err) {
  const fm_bundle *b = c->model->landmarker;
  for (int i = 0; i < n; i++) {
    const emo_face_details **slot =
        (const emo_face_details **)(void *)((char *)(void *)out + (size_t)i * out_stride);
    *slot = NULL;
    if (c->run.face_details == EMO_DETAILS_NONE || !b) continue;
    const bf_detection *d = &dets[i];
    float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
    emo_face_details *fd = &c->details[i];
    memset(fd, 0, sizeof *fd); /* level NONE: asked, but no landmarks */
    fd->output_landmarks = c->run.output_landmarks;
    *slot = fd;
    if (!((bw < bh ? bw : bh) >= c->run.min_mesh_face)) continue;
    fm_roi roi;
    if (rois && rois[i].w > 0.0f)
      roi = rois[i];
    else
      fm_roi_from_detection(d, w, h, &roi);
    float lm[FM_LANDMARKS][3];
    int rc = fm_landmarks(b, c->mesh_plan, rgb, w, h, stride, &roi, lm, &fd->presence, err);
    if (rc != EMO_OK) return rc;
    if (!(fd->presence >= MIN_PRESENCE)) continue;
    for (int k = 0; k < FM_LANDMARKS; k++) {
      fd->landmarks[k][0] = lm[k][0] * (float)w;
      fd->landmarks[k][1] = lm[k][1] * (float)h;
      fd->landmarks[k][2] = lm[k][2] * (float)w;
    }
    fd->has_pose = fg_estimate_pose(&b->geometry, (const float(*)[3])lm, w, h, &fd->pose) == EMO_OK;
    fd->level = EMO_DETAILS_POSE;
    if (c->run.face_details == EMO_DETAILS_FULL) {
      rc = fm_blendshapes(b, c->blend_plan, (const float(*)[3])lm, w, h, fd->blendshapes, err);
      if (rc != EMO_OK) return rc;
      fa_aus_from_blendshapes(fd->blendshapes, fd->aus);
      fa_intensity(fd->aus, fd->intensity);
      fd->level = EMO_DETAILS_FULL;
    }
  }
  return EMO_OK;
}
