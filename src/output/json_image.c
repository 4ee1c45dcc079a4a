/* json_image.c: the JSON Lines record of one analysed photo (emo_image_result_json). The
 * field set is documented in include/emo.h; precision is chosen for readability: pixels to
 * 0.1, scores and probabilities to 4 decimals. */
#include <stdlib.h>

#include "emo.h"
#include "learn/head.h"
#include "output/json_details.h"
#include "output/strbuf.h"

static const char *detector_name(emo_detector d) {
  switch (d) {
    case EMO_DETECTOR_SHORT: return "short_range";
    case EMO_DETECTOR_FULL: return "full_range";
    default: return "auto";
  }
}

char *emo_image_result_json(const emo_image_result *r, const char *file) {
  if (!r) return NULL;
  sb b = {0};
  sb_puts(&b, "{\"file\":");
  sb_json_string_or_null(&b, file);
  sb_printf(&b, ",\"width\":%d,\"height\":%d,\"face_count\":%d,\"detector\":\"%s\",\"faces\":[",
            r->width, r->height, r->face_count, detector_name(r->detector_used));
  for (int i = 0; i < r->face_count; i++) {
    const emo_face *f = &r->faces[i];
    sb_puts(&b, i ? ",{\"box\":[" : "{\"box\":[");
    for (int k = 0; k < 4; k++) {
      if (k) sb_puts(&b, ",");
      sb_json_float(&b, f->box[k], 1);
    }
    sb_puts(&b, "],\"score\":");
    sb_json_float(&b, f->score, 4);
    sb_puts(&b, ",\"keypoints\":[");
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++) {
      sb_puts(&b, k ? ",[" : "[");
      sb_json_float(&b, f->keypoints[k][0], 1);
      sb_puts(&b, ",");
      sb_json_float(&b, f->keypoints[k][1], 1);
      sb_puts(&b, "]");
    }
    sb_puts(&b, "]");
    if (f->dominant >= 0) {
      sb_puts(&b, ",\"expression\":{");
      for (int k = 0; k < EMO_EXPR_COUNT; k++) {
        sb_printf(&b, "%s\"%s\":", k ? "," : "", emo_expression_name(k));
        sb_json_float(&b, f->expression[k], 4);
      }
      sb_printf(&b, "},\"dominant\":\"%s\"", emo_expression_name(f->dominant));
    }
    emoi_details_json(&b, f->details);
    if (f->head && f->custom) head_json_answer(&b, f->head, f->custom, f->custom_intensity);
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]}");
  return sb_take(&b);
}

char *emo_error_json(const char *file, int status, const char *message) {
  sb b = {0};
  sb_puts(&b, "{\"file\":");
  sb_json_string_or_null(&b, file);
  sb_puts(&b, ",\"error\":");
  sb_json_string(&b, emo_status_str(status));
  sb_puts(&b, ",\"message\":");
  sb_json_string(&b, message ? message : "");
  sb_puts(&b, "}");
  return sb_take(&b);
}

void emo_free(void *ptr) {
  free(ptr);
}
