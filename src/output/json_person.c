/* json_person.c: the person records of emo_analyze_media ({"type":"person",...},
 * emo_person_json), its final turns ({"type":"turn",...}, emo_turn_json) and its RTTM named by
 * persons (emo_persons_rttm). Field sets are documented
 * in include/emo.h; times to the millisecond, probabilities to 4 decimals, prosody to 0.1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "emo.h"
#include "learn/head.h"
#include "output/strbuf.h"

static void expr(sb *b, const char *name, const float *p, int dominant, const char *dname) {
  if (dominant < 0) return;
  sb_printf(b, ",\"%s\":{", name);
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    sb_printf(b, "%s\"%s\":", k ? "," : "", emo_expression_name(k));
    sb_json_float(b, p[k], 4);
  }
  sb_printf(b, "},\"%s\":\"%s\"", dname, emo_expression_name(dominant));
}

char *emo_person_json(const emo_person *p) {
  if (!p) return NULL;
  sb b = {0};
  sb_printf(&b, "{\"type\":\"person\",\"person\":\"P%d\",\"track_ids\":[", p->person);
  for (int i = 0; i < p->track_count; i++) sb_printf(&b, "%s%d", i ? "," : "", p->track_ids[i]);
  sb_puts(&b, "],\"speaker\":");
  if (p->speaker > 0)
    sb_printf(&b, "\"S%d\"", p->speaker);
  else
    sb_puts(&b, "null");
  if (p->speaker_count > 1) {
    sb_puts(&b, ",\"speakers\":[");
    for (int i = 0; i < p->speaker_count; i++)
      sb_printf(&b, "%s\"S%d\"", i ? "," : "", p->speakers[i]);
    sb_puts(&b, "]");
  }
  sb_printf(&b, ",\"on_screen\":%s,\"on_screen_time\":", p->on_screen ? "true" : "false");
  sb_json_float(&b, p->on_screen_time, 3);
  sb_puts(&b, ",\"talk_time\":");
  sb_json_float(&b, p->talk_time, 3);
  sb_puts(&b, ",\"overlap_time\":");
  sb_json_float(&b, p->overlap_time, 3);
  sb_puts(&b, ",\"link_confidence\":");
  sb_json_float(&b, p->link_confidence, 3);
  expr(&b, "expression_speaking", p->expression_speaking, p->dominant_speaking,
       "dominant_speaking");
  expr(&b, "expression_listening", p->expression_listening, p->dominant_listening,
       "dominant_listening");
  if (p->dominant >= 0) {
    unsigned mask = p->labels ? p->labels : (1u << EMO_SPEECH_EMOTION_COUNT) - 1;
    sb_puts(&b, ",\"emotion\":{");
    const char *sep = "";
    for (int k = 0; k < EMO_SPEECH_EMOTION_COUNT; k++) {
      if (!(mask & (1u << k))) continue;
      sb_printf(&b, "%s\"%s\":", sep, emo_speech_emotion_name(k));
      sb_json_float(&b, p->emotion[k], 4);
      sep = ",";
    }
    sb_printf(&b, "},\"dominant\":\"%s\"", emo_speech_emotion_name(p->dominant));
  }
  if (p->speaker > 0) {
    const emo_prosody *q = &p->prosody;
    sb_puts(&b, ",\"prosody\":{\"f0_mean\":");
    sb_json_float(&b, q->f0_mean, 1);
    sb_puts(&b, ",\"f0_range\":[");
    sb_json_float(&b, q->f0_min, 1);
    sb_puts(&b, ",");
    sb_json_float(&b, q->f0_max, 1);
    sb_puts(&b, "],\"energy_db\":");
    sb_json_float(&b, q->energy_db, 1);
    sb_puts(&b, ",\"voiced_ratio\":");
    sb_json_float(&b, q->voiced_ratio, 3);
    sb_puts(&b, ",\"rate\":");
    sb_json_float(&b, q->rate, 2);
    sb_puts(&b, "}");
  }
  if (p->face_head && p->custom_speaking)
    head_json_object(&b, p->face_head, "custom_speaking", p->custom_speaking, 4);
  if (p->face_head && p->custom_listening)
    head_json_object(&b, p->face_head, "custom_listening", p->custom_listening, 4);
  if (p->voice_head && p->custom_voice)
    head_json_object(&b, p->voice_head, "custom_voice", p->custom_voice, 4);
  sb_puts(&b, "}");
  return sb_take(&b);
}

char *emo_turn_json(const emo_person_turn *t) {
  if (!t) return NULL;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"turn\",\"start\":");
  sb_json_float(&b, t->start, 3);
  sb_puts(&b, ",\"end\":");
  sb_json_float(&b, t->end, 3);
  if (t->person > 0)
    sb_printf(&b, ",\"person\":\"P%d\"", t->person);
  else
    sb_puts(&b, ",\"person\":null");
  if (t->track_id > 0)
    sb_printf(&b, ",\"track_id\":%d", t->track_id);
  else
    sb_puts(&b, ",\"track_id\":null");
  if (t->speaker > 0)
    sb_printf(&b, ",\"speaker\":\"S%d\"", t->speaker);
  else
    sb_puts(&b, ",\"speaker\":null");
  sb_printf(&b, ",\"segment\":%d,\"overlap\":%s}", t->segment, t->overlap ? "true" : "false");
  return sb_take(&b);
}

char *emo_persons_rttm(const emo_media_summary *s, const char *file_id) {
  if (!s || !s->audio) return NULL;
  const emo_audio_result *r = s->audio;
  char id[256];
  snprintf(id, sizeof id, "%s", file_id && *file_id ? file_id : "media");
  for (char *c = id; *c; c++)
    if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' || *c == '\v' || *c == '\f') *c = '_';
  sb b = {0};
  sb_puts(&b, "");
  if (s->turns) {
    for (int i = 0; i < s->turn_count; i++) {
      const emo_person_turn *t = &s->turns[i];
      if (!isfinite(t->start) || !isfinite(t->end) || !(t->end > t->start)) continue;
      sb_printf(&b, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %c%d <NA> <NA>\n", id, t->start,
                t->end - t->start, t->person ? 'P' : 'S', t->person ? t->person : t->speaker);
    }
    return sb_take(&b);
  }
  for (int i = 0; i < r->segment_count; i++) {
    const emo_speech_segment *g = &r->segments[i];
    if (!isfinite(g->start) || !isfinite(g->end) || !(g->end > g->start)) continue;
    int person = 0;
    for (int k = 0; k < s->person_count; k++)
      if (s->persons[k].speaker == g->speaker) person = s->persons[k].person;
    sb_printf(&b, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %c%d <NA> <NA>\n", id, g->start,
              g->end - g->start, person ? 'P' : 'S', person ? person : g->speaker);
  }
  return sb_take(&b);
}
