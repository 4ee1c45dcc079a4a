/* json_details.c: see json_details.h. Angles in degrees to 0.01, translation and residual in cm
 * to 0.01 (mm), landmarks in pixels to 0.1, blendshapes and intensities to 4 decimals, AU
 * proxies (0..5) to 3. */
#include "output/json_details.h"

void emoi_details_json(sb *b, const emo_face_details *d) {
  if (!d) return;
  if (d->level == EMO_DETAILS_NONE || !d->has_pose) {
    sb_puts(b, ",\"pose\":null");
  } else {
    const emo_head_pose *p = &d->pose;
    sb_puts(b, ",\"pose\":{\"pitch\":");
    sb_json_float(b, p->pitch, 2);
    sb_puts(b, ",\"yaw\":");
    sb_json_float(b, p->yaw, 2);
    sb_puts(b, ",\"roll\":");
    sb_json_float(b, p->roll, 2);
    sb_puts(b, ",\"translation\":[");
    for (int k = 0; k < 3; k++) {
      if (k) sb_puts(b, ",");
      sb_json_float(b, p->translation[k], 2);
    }
    sb_puts(b, "],\"residual\":");
    sb_json_float(b, p->residual, 3);
    sb_puts(b, "}");
  }
  if (d->level == EMO_DETAILS_NONE) {
    if (d->output_landmarks) sb_puts(b, ",\"landmarks\":null");
    return;
  }
  sb_puts(b, ",\"mesh_presence\":");
  sb_json_float(b, d->presence, 4);
  if (d->output_landmarks) {
    sb_puts(b, ",\"landmarks\":[");
    for (int i = 0; i < EMO_LANDMARK_COUNT; i++) {
      sb_puts(b, i ? ",[" : "[");
      for (int k = 0; k < 3; k++) {
        if (k) sb_puts(b, ",");
        sb_json_float(b, d->landmarks[i][k], 1);
      }
      sb_puts(b, "]");
    }
    sb_puts(b, "]");
  }
  if (d->level != EMO_DETAILS_FULL) return;
  sb_puts(b, ",\"blendshapes\":{");
  for (int i = 0; i < EMO_BLENDSHAPE_COUNT; i++) {
    sb_printf(b, "%s\"%s\":", i ? "," : "", emo_blendshape_name(i));
    sb_json_float(b, d->blendshapes[i], 4);
  }
  sb_puts(b, "},\"aus\":{");
  for (int i = 0; i < EMO_AU_COUNT; i++) {
    sb_printf(b, "%s\"%s\":", i ? "," : "", emo_au_name(i));
    sb_json_float(b, d->aus[i], 3);
  }
  sb_puts(b, "},\"intensity\":{");
  for (int i = 0; i < EMO_EXPR_COUNT; i++) {
    sb_printf(b, "%s\"%s\":", i ? "," : "", emo_expression_name(i));
    sb_json_float(b, d->intensity[i], 4);
  }
  sb_puts(b, "}");
}
