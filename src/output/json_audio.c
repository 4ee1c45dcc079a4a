/* json_audio.c: JSON Lines records of `emo audio` (emo_segment_json, emo_audio_summary_json)
 * and the RTTM text of a result (emo_audio_rttm, through output/rttm.c). Times to the
 * millisecond, probabilities to 4 decimals, prosody to 0.1. */
#include <stdio.h>
#include <stdlib.h>

#include "emo.h"
#include "learn/head.h"
#include "output/rttm.h"
#include "output/strbuf.h"

static const char *const speech_names[EMO_SPEECH_EMOTION_COUNT] = {
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "calm"};

const char *emo_speech_emotion_name(int e) {
  return e >= 0 && e < EMO_SPEECH_EMOTION_COUNT ? speech_names[e] : "unknown";
}

/* The labels in mask (0: all, for results made before the field existed). */
static void probs(sb *b, const float *p, unsigned mask) {
  if (!mask) mask = (1u << EMO_SPEECH_EMOTION_COUNT) - 1;
  sb_puts(b, "{");
  const char *sep = "";
  for (int k = 0; k < EMO_SPEECH_EMOTION_COUNT; k++) {
    if (!(mask & (1u << k))) continue;
    sb_printf(b, "%s\"%s\":", sep, speech_names[k]);
    sb_json_float(b, p[k], 4);
    sep = ",";
  }
  sb_puts(b, "}");
}

char *emo_segment_json(const emo_speech_segment *s) {
  if (!s) return NULL;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"segment\",\"start\":");
  sb_json_float(&b, s->start, 3);
  sb_puts(&b, ",\"end\":");
  sb_json_float(&b, s->end, 3);
  sb_printf(&b, ",\"speaker\":\"S%d\"", s->speaker);
  if (s->linked && s->track_id > 0) {
    sb_printf(&b, ",\"person\":\"P%d\",\"track_id\":%d,\"on_screen\":true,\"link\":", s->person,
              s->track_id);
    sb_json_float(&b, s->link, 3);
  } else if (s->linked) {
    sb_puts(&b, ",\"on_screen\":false");
  }
  if (s->linked && s->overlap_time > 0.0) {
    sb_puts(&b, ",\"overlap_time\":");
    sb_json_float(&b, s->overlap_time, 3);
    if (s->overlap_track_id > 0)
      sb_printf(&b, ",\"overlap_track_id\":%d,\"overlap_person\":\"P%d\"", s->overlap_track_id,
                s->overlap_person);
  }
  if (s->dominant >= 0) {
    sb_puts(&b, ",\"emotion\":");
    probs(&b, s->emotion, s->labels);
    sb_printf(&b, ",\"dominant\":\"%s\"", emo_speech_emotion_name(s->dominant));
  }
  const emo_prosody *p = &s->prosody;
  sb_puts(&b, ",\"prosody\":{\"f0_mean\":");
  sb_json_float(&b, p->f0_mean, 1);
  sb_puts(&b, ",\"f0_range\":[");
  sb_json_float(&b, p->f0_min, 1);
  sb_puts(&b, ",");
  sb_json_float(&b, p->f0_max, 1);
  sb_puts(&b, "],\"energy_db\":");
  sb_json_float(&b, p->energy_db, 1);
  sb_puts(&b, ",\"voiced_ratio\":");
  sb_json_float(&b, p->voiced_ratio, 3);
  sb_puts(&b, ",\"rate\":");
  sb_json_float(&b, p->rate, 2);
  sb_puts(&b, "}");
  if (s->head && s->custom) head_json_answer(&b, s->head, s->custom, s->custom_intensity);
  sb_puts(&b, "}");
  return sb_take(&b);
}

char *emo_audio_summary_json(const emo_audio_result *r) {
  if (!r) return NULL;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"summary\",\"duration\":");
  sb_json_float(&b, r->duration, 3);
  sb_printf(&b, ",\"segment_count\":%d,\"speakers\":[", r->segment_count);
  for (int i = 0; i < r->speaker_count; i++) {
    const emo_speaker_summary *s = &r->speakers[i];
    sb_printf(&b, "%s{\"speaker\":\"S%d\",\"talk_time\":", i ? "," : "", s->speaker);
    sb_json_float(&b, s->talk_time, 3);
    if (s->dominant >= 0) {
      sb_puts(&b, ",\"emotion\":");
      probs(&b, s->emotion, s->labels);
      sb_printf(&b, ",\"dominant\":\"%s\"", emo_speech_emotion_name(s->dominant));
    }
    if (s->head && s->mean_custom) head_json_object(&b, s->head, "mean_custom", s->mean_custom, 4);
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]");
  if (r->dominant >= 0) {
    sb_puts(&b, ",\"emotion\":");
    probs(&b, r->emotion, r->labels);
    sb_printf(&b, ",\"dominant\":\"%s\"", emo_speech_emotion_name(r->dominant));
  }
  if (r->interrupted) sb_puts(&b, ",\"interrupted\":true");
  sb_puts(&b, "}");
  return sb_take(&b);
}

char *emo_audio_rttm(const emo_audio_result *r, const char *file_id) {
  if (!r) return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  emoi_err err = {{0}};
  int rc = f ? rttm_write(f, file_id ? file_id : "audio", r, &err) : EMO_ENOMEM;
  if (f) fclose(f);
  if (rc != EMO_OK) {
    free(text);
    return NULL;
  }
  return text;
}
