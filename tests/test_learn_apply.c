/* test_learn_apply.c: heads applied by the analysis calls (emo_run_params.face_head /
 * voice_head, src/learn/features.c, pipeline/), whole-face photos (emo_run_params.whole_face)
 * and a wav2vec 2.0 model's pooled states in the voice vector, on real media from
 * ../shared/data:
 *   - a voice head trained on RAVDESS clips' vectors (emo_audio_features): emo_analyze_audio
 *     with voice_head must give, for a clip it never saw, exactly what emo_head_predict gives
 *     on that clip's vector, and write it as "custom" in the segment's JSON;
 *   - a face head trained on KDEF photos: emo_analyze_media on a GRID clip (one face, speech)
 *     must give every face of every frame the head's distribution, the track summary the mean
 *     of the frames' answers, the JSON and CSV records the head's labels, and the person
 *     records the face head's means while speaking/listening and the voice head's;
 *   - whole_face on a 48x48 CK+48 crop: one face, the whole image;
 *   - ser_model: the voice vector grows by the model's embed_dim, its definition names the
 *     file's hash; a head made without it reads only its own blocks, so it runs there with the
 *     same answer, and a head made with it is refused by a model without it (tiny model from
 *     tests/fixtures/wav2vec2_base.fix).
 * Skips without the data or the models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "fixture.h"
#include "harness.h"

#define MAXV 32

/* Trains a head on n vectors (dim) with labels y into *h; persons = index / per_person. */
static int train(const float *x, int n, int dim, const int *y, int n_classes,
                 const char *const *names, emo_modality mod, const char *def, emo_head **h) {
  int person[MAXV];
  for (int i = 0; i < n; i++) person[i] = i % 2;
  emo_train_set s = {n, dim, x, y, n_classes, names, person, NULL, mod, def, NULL};
  emo_train_params p = emo_train_params_default();
  p.kind = EMO_HEAD_LOGREG;
  char err[512];
  int rc = emo_head_train(&s, &p, h, err, sizeof err);
  if (rc != EMO_OK) printf("train: %s\n", err);
  return rc;
}

typedef struct media_check {
  int frames, faces, bad, segments, seg_custom, persons, person_custom, json_custom, csv_bad;
  int csv_cols;
  double sum[8];
  int n_sum, track;
  const emo_head *fh;
} media_check;

static int count_cols(const char *s) {
  int n = 1;
  for (; *s && *s != '\n'; s++) n += *s == ',';
  return n;
}

static int on_frame(const emo_frame_result *f, void *user) {
  media_check *m = user;
  if (f->frame < 0) return 0;
  m->frames++;
  for (int i = 0; i < f->face_count; i++) {
    const emo_track_face *x = &f->faces[i];
    m->faces++;
    int C = emo_head_classes(m->fh);
    if (x->head != m->fh || !x->custom) {
      m->bad++;
      continue;
    }
    double s = 0;
    for (int k = 0; k < C; k++) s += x->custom[k];
    if (fabs(s - 1.0) > 1e-3) m->bad++;
    if (i == 0) {
      m->track = x->track_id;
      for (int k = 0; k < C; k++) m->sum[k] += x->custom[k];
      m->n_sum++;
    }
  }
  char *j = emo_frame_json(f);
  if (f->face_count && j && strstr(j, "\"custom\":{\"happy\":") && strstr(j, "custom_dominant"))
    m->json_custom++;
  emo_free(j);
  char *csv = emo_frame_csv(f);
  for (const char *r = csv; r && *r; r = strchr(r, '\n') + 1)
    if (count_cols(r) != m->csv_cols) m->csv_bad++;
  emo_free(csv);
  return 0;
}

static int on_segment(const emo_speech_segment *s, void *user) {
  media_check *m = user;
  m->segments++;
  char *j = emo_segment_json(s);
  m->seg_custom += s->custom && j && strstr(j, "\"custom\":{\"angry\":") != NULL;
  emo_free(j);
  return 0;
}

static int on_person(const emo_person *p, void *user) {
  media_check *m = user;
  m->persons++;
  char *j = emo_person_json(p);
  if (j && (strstr(j, "custom_speaking") || strstr(j, "custom_listening")) &&
      strstr(j, "custom_voice"))
    m->person_custom++;
  emo_free(j);
  return 0;
}

int main(void) {
  char kdef[1024], rav[1024], grid[1024], ck[1024]; /* th_data's buffer is reused */
  const char *const rel[4] = {"faces/labelled/kdef-front/images", "ser/ravdess",
                              "av/grid/bbaf2n.mpg",
                              "faces/labelled/ck48/images/anger/S010_004_00000017.png"};
  char *const dst[4] = {kdef, rav, grid, ck};
  for (int i = 0; i < 4; i++) {
    const char *d = th_data(rel[i]);
    if (!d) th_skip("../shared/data absent (set EMO_SHARED_DATA)");
    snprintf(dst[i], 1024, "%s", d ? d : "");
  }
  if (!th_models_ready()) th_skip("models missing from the cache (run `emo models fetch`)");

  emo_model_params mp = emo_model_params_default();
  mp.features = 1;
  emo_model *m = NULL;
  emo_context *c = NULL;
  CHECK(emo_model_load(&mp, &m) == EMO_OK, "model load");
  CHECK(emo_context_create(m, NULL, &c) == EMO_OK, "context");
  if (!m || !c) return th_finish("test_learn_apply");

  /* voice head: angry (05) vs happy (03) vs neutral (01) of actors 1 and 2 */
  static const char *const vnames[3] = {"angry", "happy", "neutral"};
  static const char *const vcodes[3] = {"05", "03", "01"};
  int vd = emo_features_dim(m, EMO_MODALITY_VOICE), nv = 0, vy[MAXV];
  float *vx = calloc((size_t)MAXV * vd, sizeof *vx);
  emo_run_params rp = emo_run_params_default();
  rp.audio_whole = 1;
  for (int a = 1; a <= 2; a++)
    for (int k = 0; k < 3; k++)
      for (int st = 1; st <= 2; st++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/Actor_%02d/03-01-%s-%s-%02d-01-%02d.flac", rav, a,
                 vcodes[k], k == 2 ? "01" : "02", st, a);
        const emo_audio_result *r = NULL;
        const float *f = NULL;
        if (emo_audio_features(c, &rp, path, &r, &f) != EMO_OK || r->segment_count != 1) {
          printf("skipped %s: %s\n", path, emo_context_last_error(c));
          continue;
        }
        memcpy(vx + (size_t)nv * vd, f, (size_t)vd * sizeof *f);
        vy[nv++] = k;
      }
  CHECK(nv >= 9, "voice examples %d", nv);
  char vdef[1024], fdef[1024];
  emo_features_definition(m, EMO_MODALITY_VOICE, vdef, sizeof vdef);
  emo_features_definition(m, EMO_MODALITY_FACE, fdef, sizeof fdef);
  emo_head *vh = NULL, *fh = NULL;
  CHECK(train(vx, nv, vd, vy, 3, vnames, EMO_MODALITY_VOICE, vdef, &vh) == EMO_OK, "voice head");

  /* an unseen clip: the pipeline's answer is the head's on emo_audio_features' vector */
  char clip[4096];
  snprintf(clip, sizeof clip, "%s/Actor_03/03-01-05-02-01-01-03.flac", rav);
  const emo_audio_result *ar = NULL;
  const float *cf = NULL;
  float want[3], got[3];
  CHECK(emo_audio_features(c, &rp, clip, &ar, &cf) == EMO_OK && ar->segment_count == 1, "%s",
        emo_context_last_error(c));
  if (vh && cf) emo_head_predict(vh, cf, want, NULL);
  rp.voice_head = vh;
  CHECK(emo_analyze_audio(c, &rp, clip, NULL, &ar) == EMO_OK && ar->segment_count == 1, "%s",
        emo_context_last_error(c));
  if (vh && ar && ar->segment_count == 1 && ar->segments[0].custom) {
    memcpy(got, ar->segments[0].custom, sizeof got);
    float worst = 0;
    for (int k = 0; k < 3; k++) worst = fmaxf(worst, fabsf(got[k] - want[k]));
    printf("voice head on an unseen clip: angry %.3f happy %.3f neutral %.3f (worst diff %g)\n",
           got[0], got[1], got[2], worst);
    CHECK(worst < 1e-5f, "pipeline vs emo_audio_features: %g", worst);
    char *j = emo_segment_json(&ar->segments[0]);
    CHECK(j && strstr(j, "\"custom\":{\"angry\":") && strstr(j, "\"custom_dominant\":"), "%s",
          j ? j : "(null)");
    emo_free(j);
    /* one segment: the speaker's mean is that segment's answer */
    CHECK(ar->speaker_count == 1 && ar->speakers[0].mean_custom &&
              memcmp(ar->speakers[0].mean_custom, got, sizeof got) == 0,
          "speaker mean_custom");
    j = emo_audio_summary_json(ar);
    CHECK(j && strstr(j, "\"mean_custom\":{\"angry\":"), "%s", j ? j : "(null)");
    emo_free(j);
  } else {
    CHECK(0, "segment without the head's answer");
  }
  rp.voice_head = NULL;

  /* a face head from KDEF photos (happy, sad, neutral of 4 people) */
  static const char *const fnames[3] = {"happy", "sad", "neutral"};
  static const char *const fcodes[3] = {"HAS", "SAS", "NES"};
  static const char *const who[4] = {"AF01", "AM01", "AF02", "AM02"};
  int fd = emo_features_dim(m, EMO_MODALITY_FACE), nf = 0, fy[MAXV];
  float *fx = calloc((size_t)MAXV * fd, sizeof *fx);
  for (int p = 0; p < 4; p++)
    for (int k = 0; k < 3; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s%s.jpg", kdef, who[p], fcodes[k]);
      const emo_image_result *r = NULL;
      const float *f = NULL;
      if (emo_image_features(c, NULL, path, &r, &f) != EMO_OK || r->face_count < 1) continue;
      memcpy(fx + (size_t)nf * fd, f, (size_t)fd * sizeof *f);
      fy[nf++] = k;
    }
  CHECK(nf >= 9, "face examples %d", nf);
  CHECK(train(fx, nf, fd, fy, 3, fnames, EMO_MODALITY_FACE, fdef, &fh) == EMO_OK, "face head");

  /* a head of the wrong modality is refused */
  emo_run_params bad = emo_run_params_default();
  bad.face_head = vh;
  CHECK(emo_stream_begin(c, &bad) == EMO_EINVAL && strstr(emo_context_last_error(c), "voice head"),
        "voice head as face head: %s", emo_context_last_error(c));

  media_check mc = {0};
  mc.fh = fh;
  emo_run_params vp = emo_run_params_default();
  vp.analysis_fps = 5;
  vp.face_head = fh;
  vp.voice_head = vh;
  char *hdr = emo_csv_header_run(&vp);
  CHECK(hdr && strstr(hdr, ",custom_happy,custom_sad,custom_neutral,custom_dominant\n"), "%s",
        hdr ? hdr : "(null)");
  mc.csv_cols = hdr ? count_cols(hdr) : 0;
  emo_free(hdr);
  const emo_media_callbacks cb = {on_frame, on_segment, &mc, on_person, NULL};
  const emo_media_summary *sum = NULL;
  CHECK(emo_analyze_media(c, &vp, grid, &cb, &sum) == EMO_OK, "%s", emo_context_last_error(c));
  printf("grid clip: %d frames, %d faces, %d segments, %d persons\n", mc.frames, mc.faces,
         mc.segments, mc.persons);
  CHECK(mc.frames >= 10 && mc.faces >= mc.frames - 2 && mc.bad == 0, "faces %d bad %d", mc.faces,
        mc.bad);
  CHECK(mc.json_custom >= mc.frames - 2, "frames with custom in JSON %d", mc.json_custom);
  CHECK(mc.csv_bad == 0, "%d CSV rows with another column count than the header", mc.csv_bad);
  CHECK(mc.segments >= 1 && mc.seg_custom == mc.segments, "segments %d with custom %d", mc.segments,
        mc.seg_custom);
  CHECK(mc.persons >= 1 && mc.person_custom >= 1, "persons %d with custom %d", mc.persons,
        mc.person_custom);
  if (sum && sum->video && sum->video->track_count >= 1 && mc.n_sum > 0) {
    const emo_track_summary *t = NULL;
    for (int i = 0; i < sum->video->track_count; i++)
      if (sum->video->tracks[i].track_id == mc.track) t = &sum->video->tracks[i];
    CHECK(t && t->head == fh && t->mean_custom, "track summary without mean_custom");
    if (t && t->mean_custom && t->frames == mc.n_sum) {
      float worst = 0;
      for (int k = 0; k < 3; k++)
        worst = fmaxf(worst, fabsf(t->mean_custom[k] - (float)(mc.sum[k] / mc.n_sum)));
      printf("track %d mean_custom happy %.3f sad %.3f neutral %.3f\n", t->track_id,
             t->mean_custom[0], t->mean_custom[1], t->mean_custom[2]);
      CHECK(worst < 1e-5f, "mean_custom differs from the frames' mean by %g", worst);
    }
    char *j = emo_summary_json(sum->video);
    CHECK(j && strstr(j, "\"mean_custom\":{\"happy\":"), "summary JSON");
    emo_free(j);
  } else {
    CHECK(0, "no track");
  }

  /* whole_face: a 48x48 CK+48 crop is the face */
  emo_run_params wp = emo_run_params_default();
  wp.whole_face = 1;
  const emo_image_result *ir = NULL;
  const float *wf = NULL;
  CHECK(emo_image_features(c, &wp, ck, &ir, &wf) == EMO_OK && ir->face_count == 1 &&
            ir->faces[0].box[2] == (float)ir->width && ir->faces[0].dominant >= 0,
        "whole face: %s", emo_context_last_error(c));
  /* a photo with the face head: emo_analyze_file's faces carry the head's answer, equal to
   * the head applied to emo_image_features' vector */
  char photo[4096];
  snprintf(photo, sizeof photo, "%s/AF03HAS.jpg", kdef);
  float pw[3] = {0};
  CHECK(emo_image_features(c, NULL, photo, &ir, &wf) == EMO_OK && ir->face_count >= 1, "%s",
        emo_context_last_error(c));
  if (fh && wf) emo_head_predict(fh, wf, pw, NULL);
  emo_run_params ip = emo_run_params_default();
  ip.face_head = fh;
  CHECK(
      emo_analyze_file(c, &ip, photo, &ir) == EMO_OK && ir->face_count >= 1 && ir->faces[0].custom,
      "photo with head: %s", emo_context_last_error(c));
  if (ir && ir->face_count >= 1 && ir->faces[0].custom) {
    float worst = 0;
    for (int k = 0; k < 3; k++) worst = fmaxf(worst, fabsf(ir->faces[0].custom[k] - pw[k]));
    printf("photo AF03HAS: happy %.3f sad %.3f neutral %.3f (worst diff %g)\n",
           ir->faces[0].custom[0], ir->faces[0].custom[1], ir->faces[0].custom[2], worst);
    CHECK(worst < 1e-5f && ir->faces[0].custom[0] > 0.5f, "photo head: %g", worst);
    char *j = emo_image_result_json(ir, photo);
    CHECK(j && strstr(j, "\"custom_dominant\":\"happy\""), "photo JSON");
    emo_free(j);
  }

  free(vx);
  free(fx);
  emo_head_destroy(&fh);
  emo_context_destroy(&c);
  emo_model_destroy(&m);

  /* a user's wav2vec 2.0 model joins the voice vector (the small random model of
   * tests/fixtures/wav2vec2_base.fix, whose labels name emo's emotions) */
  char w2v[64], fpath[4096], msg[256];
  snprintf(w2v, sizeof w2v, "/tmp/emo_apply_w2v_%d.safetensors", (int)getpid());
  snprintf(fpath, sizeof fpath, "%s/tests/fixtures/wav2vec2_base.fix", EMO_SOURCE_DIR);
  fx_file *fix = NULL;
  CHECK(fx_load(fpath, &fix, msg, sizeof msg) == 0, "%s", msg);
  const fx_tensor *mt = fix ? fx_get(fix, "model") : NULL;
  FILE *wf_out = mt ? fopen(w2v, "wb") : NULL;
  CHECK(wf_out && fwrite(mt->u8, 1, (size_t)mt->numel, wf_out) == (size_t)mt->numel, "write %s",
        w2v);
  if (wf_out) fclose(wf_out);
  fx_free(&fix);
  mp = emo_model_params_default();
  mp.faces = 0;
  mp.reid = 0;
  mp.ser_model = w2v;
  CHECK(emo_model_load(&mp, &m) == EMO_OK, "model with %s", w2v);
  CHECK(m && emo_context_create(m, NULL, &c) == EMO_OK, "context");
  if (m && c) {
    int wd = emo_features_dim(m, EMO_MODALITY_VOICE);
    char def[1024];
    emo_features_definition(m, EMO_MODALITY_VOICE, def, sizeof def);
    printf("with wav2vec2: %d features: %s\n", wd, def);
    CHECK(wd > vd && strstr(def, "w2v_pooled") && strstr(def, ", wav2vec2 "), "%s", def);
    const float *f = NULL;
    CHECK(emo_audio_features(c, &rp, clip, &ar, &f) == EMO_OK && ar->segment_count == 1, "%s",
          emo_context_last_error(c));
    if (f) {
      double n2 = 0;
      int finite = 1;
      for (int i = vd; i < wd; i++) n2 += (double)f[i] * f[i], finite &= isfinite(f[i]) != 0;
      CHECK(finite && n2 > 0, "pooled block: finite %d, norm^2 %g", finite, n2);
    }
    /* a head reads the blocks its definition names: the one trained without wav2vec 2.0 runs
       on this model too, on the same blocks (built-in speech model, prosody), so with the same
       answer as on the model without it */
    emo_run_params hp = rp;
    hp.voice_head = vh;
    CHECK(emo_analyze_audio(c, &hp, clip, NULL, &ar) == EMO_OK && ar->segment_count == 1 &&
              ar->segments[0].custom && memcmp(ar->segments[0].custom, got, sizeof got) == 0,
          "head without w2v_pooled on a model with it: %s (angry %g vs %g)",
          emo_context_last_error(c), ar && ar->segment_count ? ar->segments[0].custom[0] : -1.0f,
          got[0]);
    /* and a head that reads w2v_pooled is refused by a model without it, naming the block */
    float wx[4 * 256];
    int wy[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4 * wd && wd <= 256; i++) wx[i] = (float)((i * 7) % 5) + (float)wy[i / wd];
    emo_head *wh = NULL;
    CHECK(wd <= 256 && train(wx, 4, wd, wy, 2, vnames, EMO_MODALITY_VOICE, def, &wh) == EMO_OK,
          "head with w2v_pooled");
    emo_context_destroy(&c);
    emo_model_destroy(&m);
    mp.ser_model = NULL;
    CHECK(emo_model_load(&mp, &m) == EMO_OK && emo_context_create(m, NULL, &c) == EMO_OK,
          "model without wav2vec 2.0");
    hp.voice_head = wh;
    CHECK(!c || (emo_analyze_audio(c, &hp, clip, NULL, &ar) == EMO_EINVAL &&
                 strstr(emo_context_last_error(c), "w2v_pooled")),
          "head with w2v_pooled, model without: %s", c ? emo_context_last_error(c) : "");
    emo_head_destroy(&wh);
  }
  emo_head_destroy(&vh);
  emo_context_destroy(&c);
  emo_model_destroy(&m);
  remove(w2v);
  return th_finish("test_learn_apply");
}
