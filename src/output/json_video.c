/* json_video.c: JSON Lines records of a video timeline (emo_frame_json, emo_event_json,
 * emo_summary_json) and the CSV rows of --csv (emo_frame_csv). Field sets are documented in
 * include/emo.h; pixels to 0.1, probabilities to 4 decimals, times to 3 decimals (ms). */
#include <stdlib.h>
#include <string.h>

#include "emo.h"
#include "learn/head.h"
#include "output/json_details.h"
#include "output/strbuf.h"

static void probs(sb *b, const float *p) {
  sb_puts(b, "{");
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    sb_printf(b, "%s\"%s\":", k ? "," : "", emo_expression_name(k));
    sb_json_float(b, p[k], 4);
  }
  sb_puts(b, "}");
}

char *emo_frame_json(const emo_frame_result *f) {
  if (!f) return NULL;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"frame\",\"t\":");
  sb_json_float(&b, f->t, 3);
  sb_printf(&b, ",\"frame\":%lld,\"face_count\":%d,\"detector_ran\":%s,\"faces\":[",
            (long long)f->frame, f->face_count, f->detector_ran ? "true" : "false");
  for (int i = 0; i < f->face_count; i++) {
    const emo_track_face *x = &f->faces[i];
    sb_printf(&b, "%s{\"track_id\":%d,\"box\":[", i ? "," : "", x->track_id);
    for (int k = 0; k < 4; k++) {
      if (k) sb_puts(&b, ",");
      sb_json_float(&b, x->box[k], 1);
    }
    sb_puts(&b, "],\"score\":");
    sb_json_float(&b, x->score, 4);
    sb_puts(&b, ",\"keypoints\":[");
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++) {
      sb_puts(&b, k ? ",[" : "[");
      sb_json_float(&b, x->keypoints[k][0], 1);
      sb_puts(&b, ",");
      sb_json_float(&b, x->keypoints[k][1], 1);
      sb_puts(&b, "]");
    }
    sb_printf(&b, "],\"detected\":%s", x->detected ? "true" : "false");
    if (x->identity > 0 && x->identity != x->track_id)
      sb_printf(&b, ",\"identity\":%d", x->identity);
    if (x->gallery_name) sb_printf(&b, ",\"gallery\":\"%s\"", x->gallery_name);
    if (x->gallery_also) sb_printf(&b, ",\"gallery_also\":\"%s\"", x->gallery_also);
    if (f->persons) {
      sb_printf(&b, ",\"person\":\"P%d\",\"speaking\":", x->person);
      if (x->speaking >= 0.0f)
        sb_json_float(&b, x->speaking, 3);
      else
        sb_puts(&b, "null");
    }
    if (x->dominant >= 0) {
      sb_puts(&b, ",\"expression\":");
      probs(&b, x->expression);
      sb_printf(&b, ",\"dominant\":\"%s\",\"smoothed\":", emo_expression_name(x->dominant));
      probs(&b, x->smoothed);
    }
    emoi_details_json(&b, x->details);
    if (x->head && x->custom) head_json_answer(&b, x->head, x->custom, x->custom_intensity);
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]}");
  return sb_take(&b);
}

static const char *event_name(emo_event_type t) {
  switch (t) {
    case EMO_EVENT_NO_FACE: return "no_face";
    case EMO_EVENT_TRACK_START: return "track_start";
    case EMO_EVENT_TRACK_END: return "track_end";
    case EMO_EVENT_SHOT_CUT: return "shot_cut";
    default: return "unknown";
  }
}

char *emo_event_json(const emo_event *e) {
  if (!e) return NULL;
  sb b = {0};
  sb_printf(&b, "{\"type\":\"event\",\"event\":\"%s\"", event_name(e->type));
  if (e->type != EMO_EVENT_NO_FACE && e->type != EMO_EVENT_SHOT_CUT)
    sb_printf(&b, ",\"track_id\":%d", e->track_id);
  sb_puts(&b, ",\"start\":");
  sb_json_float(&b, e->start, 3);
  if (e->type != EMO_EVENT_TRACK_START && e->type != EMO_EVENT_SHOT_CUT) {
    sb_puts(&b, ",\"end\":");
    sb_json_float(&b, e->end, 3);
  }
  sb_puts(&b, "}");
  return sb_take(&b);
}

char *emo_summary_json(const emo_video_summary *s) {
  if (!s) return NULL;
  sb b = {0};
  sb_printf(&b,
            "{\"type\":\"summary\",\"frames_analysed\":%lld,\"frames_no_face\":%lld,"
            "\"frames_one_face\":%lld,\"frames_multi_face\":%lld,\"duration\":",
            (long long)s->frames_analysed, (long long)s->frames_no_face,
            (long long)s->frames_one_face, (long long)s->frames_multi_face);
  sb_json_float(&b, s->duration, 3);
  sb_puts(&b, ",\"no_face_spans\":[");
  for (int i = 0; i < s->no_face_span_count; i++) {
    sb_puts(&b, i ? ",[" : "[");
    sb_json_float(&b, s->no_face_spans[i].start, 3);
    sb_puts(&b, ",");
    sb_json_float(&b, s->no_face_spans[i].end, 3);
    sb_puts(&b, "]");
  }
  sb_printf(&b, "],\"track_count\":%d,\"tracks\":[", s->track_count);
  for (int i = 0; i < s->track_count; i++) {
    const emo_track_summary *t = &s->tracks[i];
    sb_printf(&b, "%s{\"track_id\":%d,\"first\":", i ? "," : "", t->track_id);
    sb_json_float(&b, t->first_t, 3);
    sb_puts(&b, ",\"last\":");
    sb_json_float(&b, t->last_t, 3);
    sb_printf(&b, ",\"frames\":%lld", (long long)t->frames);
    if (t->identity > 0 && t->identity != t->track_id)
      sb_printf(&b, ",\"identity\":%d", t->identity);
    if (t->gallery_name) sb_printf(&b, ",\"gallery\":\"%s\"", t->gallery_name);
    if (t->gallery_also) sb_printf(&b, ",\"gallery_also\":\"%s\"", t->gallery_also);
    if (t->dominant >= 0) {
      sb_puts(&b, ",\"mean_expression\":");
      probs(&b, t->mean_expression);
      sb_printf(&b, ",\"dominant\":\"%s\"", emo_expression_name(t->dominant));
    }
    if (t->pose_frames > 0) {
      static const char *const nm[3] = {"pitch", "yaw", "roll"};
      sb_printf(&b, ",\"pose_frames\":%lld,\"mean_pose\":{", (long long)t->pose_frames);
      for (int k = 0; k < 3; k++) {
        sb_printf(&b, "%s\"%s\":", k ? "," : "", nm[k]);
        sb_json_float(&b, t->mean_pose[k], 2);
      }
      sb_puts(&b, "},\"pose_range\":{");
      for (int k = 0; k < 3; k++) {
        sb_printf(&b, "%s\"%s\":[", k ? "," : "", nm[k]);
        sb_json_float(&b, t->pose_min[k], 2);
        sb_puts(&b, ",");
        sb_json_float(&b, t->pose_max[k], 2);
        sb_puts(&b, "]");
      }
      sb_puts(&b, "}");
    }
    if (t->au_frames > 0) {
      sb_puts(&b, ",\"mean_aus\":{");
      for (int k = 0; k < EMO_AU_COUNT; k++) {
        sb_printf(&b, "%s\"%s\":", k ? "," : "", emo_au_name(k));
        sb_json_float(&b, t->mean_aus[k], 3);
      }
      sb_puts(&b, "}");
    }
    if (t->embedding) { /* the pooled descriptor: an earlier run as a gallery (emo.h) */
      sb_puts(&b, ",\"embedding\":[");
      for (int k = 0; k < 1024; k++) {
        if (k) sb_puts(&b, ",");
        sb_json_float(&b, t->embedding[k], 5);
      }
      sb_puts(&b, "]");
    }
    if (t->head && t->mean_custom) {
      head_json_object(&b, t->head, "mean_custom", t->mean_custom, 4);
      int best = 0;
      for (int k = 1; k < emo_head_classes(t->head); k++)
        if (t->mean_custom[k] > t->mean_custom[best]) best = k;
      sb_puts(&b, ",\"custom_dominant\":");
      sb_json_string(&b, emo_head_class_name(t->head, best));
    }
    sb_puts(&b, "}");
  }
  sb_printf(&b, "],\"shot_cuts\":%d,\"embeddings\":%lld", s->shot_cut_count,
            (long long)s->embeddings);
  if (s->speaking_method) sb_printf(&b, ",\"speaking_method\":\"%s\"", s->speaking_method);
  if (s->interrupted) sb_puts(&b, ",\"interrupted\":true");
  sb_puts(&b, "}");
  return sb_take(&b);
}

const char *emo_csv_header(void) {
  return "t,frame,track_id,x,y,w,h,score,detected,angry,disgust,fear,happy,sad,surprise,"
         "neutral,dominant,speaking,person\n";
}

const char *emo_csv_header_details(void) {
  return "t,frame,track_id,x,y,w,h,score,detected,angry,disgust,fear,happy,sad,surprise,"
         "neutral,dominant,speaking,person,pose_Rx,pose_Ry,pose_Rz,pose_Tx,pose_Ty,pose_Tz,pose_"
         "residual,"
         "AU01_r,AU02_r,AU04_r,AU05_r,AU06_r,AU07_r,AU09_r,AU10_r,AU12_r,AU14_r,AU15_r,AU17_r,"
         "AU20_r,AU23_r,AU25_r,AU26_r,AU28_r,AU43_r,intensity_angry,intensity_disgust,"
         "intensity_fear,intensity_happy,intensity_sad,intensity_surprise,intensity_neutral\n";
}

char *emo_csv_header_run(const emo_run_params *rp) {
  emo_run_params d = emo_run_params_default();
  if (!rp) rp = &d;
  const char *base = rp->face_details ? emo_csv_header_details() : emo_csv_header();
  sb b = {0};
  sb_printf(&b, "%.*s", (int)strlen(base) - 1, base);
  const emo_head *h = rp->face_head;
  for (int pass = 0; h && pass < 2; pass++) {
    if (pass && !emo_head_has_intensity(h)) break;
    for (int k = 0; k < emo_head_classes(h); k++) {
      const char *nm = emo_head_class_name(h, k);
      int quote = strpbrk(nm, ",\"\r\n") != NULL; /* RFC 4180 */
      sb_puts(&b, quote ? ",\"" : ",");
      sb_puts(&b, pass ? "custom_intensity_" : "custom_");
      for (; *nm; nm++) {
        if (*nm == '"') sb_puts(&b, "\"");
        sb_printf(&b, "%c", *nm);
      }
      if (quote) sb_puts(&b, "\"");
    }
    if (!pass) sb_puts(&b, ",custom_dominant");
  }
  sb_puts(&b, "\n");
  return sb_take(&b);
}

/* The details columns of one face (leading commas; empty cells when absent). */
static void csv_details(sb *b, const emo_face_details *d) {
  const double rad = 3.14159265358979323846 / 180.0;
  if (d->level != EMO_DETAILS_NONE && d->has_pose) {
    const emo_head_pose *p = &d->pose;
    sb_printf(b, ",%.5f,%.5f,%.5f,%.1f,%.1f,%.1f,%.2f", p->pitch * rad, p->yaw * rad, p->roll * rad,
              10.0 * p->translation[0], 10.0 * p->translation[1], 10.0 * p->translation[2],
              10.0 * p->residual);
  } else {
    sb_puts(b, ",,,,,,,");
  }
  for (int k = 0; k < EMO_AU_COUNT; k++) {
    if (d->level == EMO_DETAILS_FULL)
      sb_printf(b, ",%.3f", d->aus[k]);
    else
      sb_puts(b, ",");
  }
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    if (d->level == EMO_DETAILS_FULL)
      sb_printf(b, ",%.4f", d->intensity[k]);
    else
      sb_puts(b, ",");
  }
}

char *emo_frame_csv(const emo_frame_result *f) {
  if (!f) return NULL;
  sb b = {0};
  sb_puts(&b, "");
  for (int i = 0; i < f->face_count; i++) {
    const emo_track_face *x = &f->faces[i];
    sb_printf(&b, "%.3f,%lld,%d,%.1f,%.1f,%.1f,%.1f,%.4f,%d", f->t, (long long)f->frame,
              x->track_id, x->box[0], x->box[1], x->box[2], x->box[3], x->score, x->detected);
    for (int k = 0; k < EMO_EXPR_COUNT; k++) sb_printf(&b, ",%.4f", x->expression[k]);
    sb_printf(&b, ",%s,", x->dominant >= 0 ? emo_expression_name(x->dominant) : "");
    if (f->persons && x->speaking >= 0.0f) sb_printf(&b, "%.3f", x->speaking);
    if (f->persons)
      sb_printf(&b, ",P%d", x->person);
    else
      sb_puts(&b, ",");
    if (x->details) csv_details(&b, x->details);
    if (x->head && x->custom) {
      int C = emo_head_classes(x->head), best = 0;
      for (int k = 0; k < C; k++) {
        sb_printf(&b, ",%.4f", x->custom[k]);
        if (x->custom[k] > x->custom[best]) best = k;
      }
      sb_printf(&b, ",%s", emo_head_class_name(x->head, best));
      for (int k = 0; x->custom_intensity && k < C; k++)
        sb_printf(&b, ",%.3f", x->custom_intensity[k]);
    }
    sb_puts(&b, "\n");
  }
  return sb_take(&b);
}
