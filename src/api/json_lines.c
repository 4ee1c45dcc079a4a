/* json_lines.c: the analysis calls with their results delivered as the JSON Lines records the
 * CLI prints (emo_analyze_file_lines, emo_analyze_media_lines, emo_analyze_audio_lines). Each
 * wraps the callback API (emo_analyze_file, emo_analyze_media, emo_analyze_audio) and the
 * writers of src/output/ (emo_frame_json, emo_event_json, emo_segment_json, emo_person_json,
 * emo_turn_json, ...) in the order
 * `emo image|video|audio` writes them, so a binding gets records byte-identical to the CLI's
 * without mirroring a result struct (tests/test_python_api.py compares them). The CLI's extra
 * outputs (CSV, RTTM, progress) stay in cli/video.c and cli/audio.c. */
#include <string.h>

#include "emo.h"

/* Sends s (owned, freed here) to fn; a NULL s (out of memory) is EMO_ENOMEM. */
static int send(emo_line_fn fn, void *user, char *s, int *stop) {
  if (!s) return EMO_ENOMEM;
  int r = fn ? fn(s, strlen(s), user) : 0;
  emo_free(s);
  if (r) *stop = 1;
  return EMO_OK;
}

int emo_analyze_file_lines(emo_context *ctx, const emo_run_params *rp, const char *path,
                           emo_line_fn fn, void *user) {
  if (!ctx || !path) return EMO_EINVAL;
  const emo_image_result *r = NULL;
  int stop = 0;
  int rc = emo_analyze_file(ctx, rp, path, &r);
  if (rc != EMO_OK) {
    int rc2 = send(fn, user, emo_error_json(path, rc, emo_context_last_error(ctx)), &stop);
    return rc2 != EMO_OK ? rc2 : rc;
  }
  return send(fn, user, emo_image_result_json(r, path), &stop);
}

typedef struct media_sink {
  emo_line_fn fn;
  void *user;
  int status; /* EMO_ENOMEM when a record could not be made */
  int stop;   /* fn asked to stop */
} media_sink;

static int sink_send(media_sink *k, char *s) {
  int rc = send(k->fn, k->user, s, &k->stop);
  if (rc != EMO_OK) k->status = rc;
  return k->stop || k->status != EMO_OK;
}

static int on_frame(const emo_frame_result *fr, void *user) {
  media_sink *k = user;
  int stop = 0;
  if (fr->frame >= 0) stop |= sink_send(k, emo_frame_json(fr));
  for (int i = 0; i < fr->event_count; i++) stop |= sink_send(k, emo_event_json(&fr->events[i]));
  return stop;
}

static int on_segment(const emo_speech_segment *s, void *user) {
  return sink_send(user, emo_segment_json(s));
}

static int on_person(const emo_person *p, void *user) {
  return sink_send(user, emo_person_json(p));
}

static int on_run(const char *line, size_t len, void *user) {
  media_sink *k = user;
  if (k->fn && k->fn(line, len, k->user)) k->stop = 1;
  return k->stop;
}

int emo_analyze_media_lines(emo_context *ctx, const emo_run_params *rp, const char *url,
                            emo_line_fn fn, void *user) {
  if (!ctx || !url) return EMO_EINVAL;
  media_sink k = {fn, user, EMO_OK, 0};
  const emo_media_callbacks cb = {on_frame, on_segment, &k, on_person, on_run};
  const emo_media_summary *sum = NULL;
  int rc = emo_analyze_media(ctx, rp, url, &cb, &sum);
  /* the final turns are known only at the end: after the person records, before the summary */
  for (int i = 0; sum && sum->turns && i < sum->turn_count && !k.stop && k.status == EMO_OK; i++)
    sink_send(&k, emo_turn_json(&sum->turns[i]));
  if (sum) {
    emo_video_summary s = *sum->video;
    s.interrupted = s.interrupted || sum->interrupted;
    sink_send(&k, emo_summary_json(&s));
  }
  return rc != EMO_OK ? rc : k.status;
}

int emo_analyze_audio_lines(emo_context *ctx, const emo_run_params *rp, const char *url,
                            emo_line_fn fn, void *user) {
  if (!ctx || !url) return EMO_EINVAL;
  media_sink k = {fn, user, EMO_OK, 0};
  const emo_media_callbacks cb = {NULL, on_segment, &k, NULL, on_run};
  const emo_audio_result *r = NULL;
  int rc = emo_analyze_audio(ctx, rp, url, &cb, &r);
  if (r) sink_send(&k, emo_audio_summary_json(r));
  return rc != EMO_OK ? rc : k.status;
}
