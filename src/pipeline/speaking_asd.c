/* speaking_asd.c: the LR-ASD speaking source (see speaking.h, av/asd.h): per face track an
 * asd_stream fed with asd_crop of the frame's luma at the track's box and with the soundtrack's
 * 16 kHz samples from sample 0.
 *
 * The soundtrack: the source opens the media file a second time (its own aud_reader) and reads
 * its samples as the frames advance, a few seconds ahead of the frame time, so that a window's
 * audio is there when its frames are; every stream gets the same samples from sample 0 (the
 * stream skips those before its track's start). The samples read are kept for the tracks that
 * start later (64 KB a second of sound: 230 MB for an hour; bounded by max_audio_seconds).
 * Without a file (emo_stream_push) there is no sound: every score is -1.
 *
 * Windows: tiles of WINDOW ticks (2 s) without overlap, so every frame goes through the network
 * once (the README's measurement on the labelled debate clip: 2 s tiles F1 0.892, AP 0.916,
 * against 0.878 / 0.894 for 4 s windows every 2 s at twice the cost).
 *
 * Latency: a frame's score is final once its tile is complete (at most WINDOW ticks after it) or
 * its track ends (a track missing from a frame is finished at once: its last, partial tile is
 * scored then). The final scores go into a ring (track, time, probability) that final_scores
 * reads; the media call holds each frame for ops.hold seconds (a tile and a few frames) before it
 * delivers it, so the per-frame "speaking" is the score of that very frame. push_frame's
 * evidence (for a caller that does not hold) is the track's most recent final score.
 *
 * The network's visual encoder runs in int8 (asd_work_set_int8: 1.35x less CPU than float on
 * an AVX2 machine; the persons benchmark's frame F1 and AP within 0.01 of float's, README).
 * The gate (LR-ASD in float adds about 0.12 s of CPU per second per face: +4.3 s on the 17.6 s
 * two-face split-screen interview, README): a frame
 * goes through the network only where its answer can change who is joined to whom, that is
 * while the soundtrack has speech (Silero VAD, the model the soundtrack's analysis uses, run
 * again here on the samples this source reads, 5 s ahead of the frames, so the decision never
 * waits for the other thread: speech within VAD_SPAN of the frame) and two or more faces of at
 * least MIN_FACE pixels are in it. Elsewhere a face's score is the mouth motion (speaking.c),
 * set to 0 without speech as the fusion does; a track leaves the network's frames as it leaves
 * the picture (its partial tile is scored then). The summary's method stays "lr_asd": the
 * scores are LR-ASD's wherever two faces compete during speech, and the mouth motion's
 * elsewhere (a single visible face, or silence). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/vad.h"
#include "av/asd.h"
#include "media/audio_decode.h"
#include "pipeline/speaking.h"

#define SLOTS 16    /* live streams; the least recently seen track gives its slot up */
#define GAP 1.0     /* seconds unseen after which a track's stream is closed */
#define AHEAD 5.0   /* seconds of sound given to the streams ahead of the frame time */
#define CHUNK 16000 /* samples read from the file at a time */
#define WINDOW 50   /* ticks (2 s at 25 fps) per tile */
#define MIN_FACE                                                                              \
  24.0f           /* pixels: a narrower face is not scored (upscaled 5x, its mouth is a blur; \
                     the mouth-motion source's limit too) */
#define RING 8192 /* final scores kept for final_scores (more than 16 tracks x 30 fps x hold) */
#define LOOK_BACK 20.0 /* seconds: final_scores searches no further back than this */
#define VAD_ON 0.2f    /* Silero probability of speech (emo_run_params.vad_threshold's default) */
#define VAD_SPAN 0.5   /* seconds either side of a frame (vad_pad_ms's default) */

typedef struct fin_score {
  int id; /* track id, 0 = empty */
  double t;
  float prob; /* -1: no score (no sound at that time) */
} fin_score;

typedef struct asd_slot {
  int id; /* track id, 0 = free */
  double last_t;
  asd_stream *st;
  int64_t fed;   /* samples pushed into st */
  int audio_end; /* st was told the soundtrack ended */
  int finished;  /* the track was missing from a frame: st finished and drained */
  float prob;    /* the latest final score's probability, -1 = none yet */
} asd_slot;

typedef struct asd_source {
  spk_source base;
  asd_model *model;
  asd_work *work;
  asd_stream_params sp;
  aud_reader *aud; /* NULL once the soundtrack is read to its end (or there is none) */
  float *pcm;      /* (n_pcm,) the samples read so far, from sample 0 */
  int64_t n_pcm, cap_pcm, max_pcm;
  uint8_t *gray; /* (h, w) this frame's luma */
  size_t cap_gray;
  uint8_t crop[ASD_CROP * ASD_CROP];
  asd_score sc[64];
  asd_slot slot[SLOTS];
  fin_score ring[RING]; /* final scores, the newest at (n_ring - 1) % RING */
  int64_t n_ring;
  /* The gate (see the top): the soundtrack's voice activity and the mouth motion. */
  vad_state *vad; /* NULL: no VAD model, every frame counts as voiced */
  float *vprob;   /* (cap_vprob,) Silero's speech probability of each 512-sample window */
  int64_t n_vprob, cap_vprob;
  spk_source *mouth; /* the mouth-motion source, run on every frame */
  float *mouth_ev;   /* (cap_faces,) its evidence for this frame */
  int cap_faces;
  int64_t n_asd, n_mouth; /* face-frames scored by each (for the tests and the log) */
} asd_source;

static void slot_close(asd_slot *sl) {
  asd_stream_free(&sl->st);
  memset(sl, 0, sizeof *sl);
}

/* Reads the soundtrack up to sample `upto` (or its end). */
static int read_audio(asd_source *a, int64_t upto, emoi_err *err) {
  while (a->aud && a->n_pcm < upto) {
    if (a->n_pcm + CHUNK > a->cap_pcm) {
      if (a->n_pcm + CHUNK > a->max_pcm) break; /* longer than max_audio_seconds: ends here */
      int64_t cap = a->cap_pcm ? 2 * a->cap_pcm : 16 * CHUNK;
      float *p = realloc(a->pcm, (size_t)cap * sizeof *p);
      if (!p) return emoi_fail(err, EMO_ENOMEM, "out of memory for the soundtrack (LR-ASD)");
      a->pcm = p;
      a->cap_pcm = cap;
    }
    int n = aud_read(a->aud, a->pcm + a->n_pcm, CHUNK, err);
    if (n <= 0) { /* the end, or damage: the samples read so far are all there is */
      aud_close(&a->aud);
      break;
    }
    a->n_pcm += n;
  }
  if (a->aud && a->n_pcm + CHUNK > a->max_pcm && a->n_pcm + CHUNK > a->cap_pcm) aud_close(&a->aud);
  return EMO_OK;
}

/* Runs the VAD over the samples read so far (whole 512-sample windows). */
static int run_vad(asd_source *a, emoi_err *err) {
  if (!a->vad) return EMO_OK;
  while ((a->n_vprob + 1) * VAD_WINDOW <= a->n_pcm) {
    if (a->n_vprob == a->cap_vprob) {
      int64_t cap = a->cap_vprob ? 2 * a->cap_vprob : 1024;
      float *p = realloc(a->vprob, (size_t)cap * sizeof *p);
      if (!p) return emoi_fail(err, EMO_ENOMEM, "out of memory for the voice activity (LR-ASD)");
      a->vprob = p;
      a->cap_vprob = cap;
    }
    int rc = vad_process(a->vad, a->pcm + a->n_vprob * VAD_WINDOW, &a->vprob[a->n_vprob], err);
    if (rc != EMO_OK) return rc;
    a->n_vprob++;
  }
  return EMO_OK;
}

/* 1 when the soundtrack has speech within VAD_SPAN of t (or there is no VAD to ask). */
static int voiced(const asd_source *a, double t) {
  if (!a->vad) return 1;
  int64_t lo = (int64_t)((t - VAD_SPAN) * AUD_RATE / VAD_WINDOW);
  int64_t hi = (int64_t)((t + VAD_SPAN) * AUD_RATE / VAD_WINDOW);
  if (lo < 0) lo = 0;
  for (int64_t k = lo; k <= hi && k < a->n_vprob; k++)
    if (a->vprob[k] >= VAD_ON) return 1;
  return 0;
}

static void ring_put(asd_source *a, int id, double t, float prob) {
  fin_score *f = &a->ring[a->n_ring++ % RING];
  f->id = id;
  f->t = t;
  f->prob = prob;
}

static int feed(asd_source *a, asd_slot *sl, int64_t upto, emoi_err *err) {
  if (upto > a->n_pcm) upto = a->n_pcm;
  while (sl->fed < upto) {
    int n = (int)(upto - sl->fed < CHUNK ? upto - sl->fed : CHUNK);
    int rc = asd_stream_push_audio(sl->st, a->pcm + sl->fed, n, err);
    if (rc != EMO_OK) return rc;
    sl->fed += n;
  }
  if (!a->aud && sl->fed == a->n_pcm && !sl->audio_end) {
    sl->audio_end = 1;
    return asd_stream_audio_end(sl->st, err);
  }
  return EMO_OK;
}

static int drain(asd_source *a, asd_slot *sl, emoi_err *err) {
  for (;;) {
    int k = asd_stream_pop(sl->st, a->work, a->sc, 64, err);
    if (k < 0) return k;
    if (k == 0) return EMO_OK;
    for (int j = 0; j < k; j++) {
      int ok = a->sc[j].valid && isfinite(a->sc[j].prob);
      if (ok) sl->prob = a->sc[j].prob;
      ring_put(a, sl->id, a->sc[j].t, ok ? a->sc[j].prob : -1.0f);
    }
  }
}

/* The track of sl ended (or the frames did): its remaining audio, the last tile, its scores. */
static int finish_slot(asd_source *a, asd_slot *sl, emoi_err *err) {
  if (!sl->id || sl->finished || !sl->st) return EMO_OK;
  sl->finished = 1;
  int rc = sl->audio_end ? EMO_OK : feed(a, sl, a->n_pcm, err);
  if (rc == EMO_OK) rc = asd_stream_finish(sl->st, err);
  if (rc == EMO_OK) rc = drain(a, sl, err);
  return rc;
}

static asd_slot *slot_of(asd_source *a, int id, double t, emoi_err *err, int *rc) {
  asd_slot *free_sl = NULL, *oldest = NULL;
  for (int i = 0; i < SLOTS; i++) {
    asd_slot *sl = &a->slot[i];
    if (sl->id == id && !sl->finished && t - sl->last_t <= GAP) return sl;
    if (sl->id == id) slot_close(sl); /* unseen too long: a new stream */
    if (sl->id == 0) {
      if (!free_sl) free_sl = sl;
    } else if (!oldest || sl->last_t < oldest->last_t) {
      oldest = sl;
    }
  }
  asd_slot *sl = free_sl ? free_sl : oldest;
  slot_close(sl);
  *rc = asd_stream_new(a->model, &a->sp, t, &sl->st, err);
  if (*rc != EMO_OK) return NULL;
  sl->id = id;
  sl->last_t = -1.0; /* no frame yet */
  sl->prob = -1.0f;
  return sl;
}

static int asd_push(spk_source *s, double t, const uint8_t *rgb, int w, int h, int stride,
                    const emo_track_face *faces, int n, float *evidence, emoi_err *err) {
  asd_source *a = (asd_source *)s;
  for (int i = 0; i < n; i++) evidence[i] = -1.0f;
  if (!(t >= 0.0)) return EMO_OK;
  size_t need = (size_t)w * (size_t)h;
  if (need > a->cap_gray) {
    uint8_t *g = realloc(a->gray, need);
    if (!g) return emoi_fail(err, EMO_ENOMEM, "out of memory for the LR-ASD crops");
    a->gray = g;
    a->cap_gray = need;
  }
  for (int y = 0; y < h; y++) { /* OpenCV's BGR2GRAY weights, as upstream's crops */
    const uint8_t *p = rgb + (size_t)y * (size_t)stride;
    uint8_t *q = a->gray + (size_t)y * (size_t)w;
    for (int x = 0; x < w; x++, p += 3)
      q[x] = (uint8_t)((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
  }
  int64_t upto = (int64_t)((t + AHEAD) * AUD_RATE);
  int rc = read_audio(a, upto, err);
  if (rc == EMO_OK) rc = run_vad(a, err);
  if (rc != EMO_OK) return rc;
  if (n > a->cap_faces) {
    float *e = realloc(a->mouth_ev, (size_t)n * sizeof *e);
    if (!e) return emoi_fail(err, EMO_ENOMEM, "out of memory for the speaking scores");
    a->mouth_ev = e;
    a->cap_faces = n;
  }
  rc = a->mouth->ops->push_frame(a->mouth, t, rgb, w, h, stride, faces, n, a->mouth_ev, err);
  if (rc != EMO_OK) return rc;
  /* The gate: LR-ASD only while someone is heard and two or more faces could be the one. */
  int seen = 0, speech = voiced(a, t), sound = (int64_t)(t * AUD_RATE) < a->n_pcm;
  for (int i = 0; i < n; i++) seen += faces[i].track_id > 0 && faces[i].box[2] >= MIN_FACE;
  int run_asd = sound && speech && seen >= 2;
  for (int i = 0; i < n; i++) {
    if (faces[i].track_id <= 0) continue;
    const float *b = faces[i].box;
    asd_box box = {b[0], b[1], b[0] + b[2], b[1] + b[3]};
    if (!(b[2] >= MIN_FACE)) continue; /* too small to say anything: null */
    if (!run_asd) { /* the mouth motion, gated by the voice as the fusion gates it; no sound
                       at t (none, or it ended): null, as LR-ASD's */
      float e = a->mouth_ev[i] < 0.0f || !sound ? -1.0f : speech ? a->mouth_ev[i] : 0.0f;
      ring_put(a, faces[i].track_id, t, e);
      evidence[i] = e;
      a->n_mouth++;
      continue;
    }
    a->n_asd++;
    if (asd_crop(a->gray, w, h, w, box, a->crop) != EMO_OK) continue;
    asd_slot *sl = slot_of(a, faces[i].track_id, t, err, &rc);
    if (!sl) return rc;
    if (t <= sl->last_t) continue; /* not after the previous frame */
    sl->last_t = t;
    rc = asd_stream_push_frame(sl->st, a->crop, t, err);
    if (rc == EMO_OK) rc = feed(a, sl, upto, err);
    if (rc == EMO_OK) rc = drain(a, sl, err);
    if (rc != EMO_OK) return rc;
    evidence[i] = sl->prob;
  }
  /* Tracks not in this frame: finished now, so that their last frames get scores. */
  for (int i = 0; i < SLOTS; i++) {
    asd_slot *sl = &a->slot[i];
    if (sl->id && !sl->finished && sl->last_t != t && (rc = finish_slot(a, sl, err)) != EMO_OK)
      return rc;
  }
  return EMO_OK;
}

static int asd_final(spk_source *s, double t, const emo_track_face *faces, int n, float *evidence) {
  asd_source *a = (asd_source *)s;
  for (int i = 0; i < n; i++) {
    evidence[i] = -1.0f;
    int64_t lo = a->n_ring > RING ? a->n_ring - RING : 0;
    for (int64_t k = a->n_ring - 1; k >= lo; k--) {
      const fin_score *f = &a->ring[k % RING];
      if (f->id == faces[i].track_id && f->t == t) {
        evidence[i] = f->prob;
        break;
      }
      if (f->t < t - LOOK_BACK) break;
    }
  }
  return EMO_OK;
}

static int asd_flush(spk_source *s, emoi_err *err) {
  asd_source *a = (asd_source *)s;
  for (int i = 0; i < SLOTS; i++) {
    int rc = finish_slot(a, &a->slot[i], err);
    if (rc != EMO_OK) return rc;
  }
  return EMO_OK;
}

static void asd_reset(spk_source *s) {
  asd_source *a = (asd_source *)s;
  for (int i = 0; i < SLOTS; i++) slot_close(&a->slot[i]);
  a->n_ring = 0;
  if (a->mouth) a->mouth->ops->reset(a->mouth);
  if (a->vad) vad_reset(a->vad);
  a->n_vprob = 0; /* the samples stay: the VAD reads them again */
}

static void asd_destroy(spk_source *s) {
  asd_source *a = (asd_source *)s;
  asd_reset(s);
  spk_source_destroy(&a->mouth);
  vad_destroy(&a->vad);
  free(a->vprob);
  free(a->mouth_ev);
  aud_close(&a->aud);
  asd_work_free(&a->work);
  asd_free(&a->model);
  free(a->pcm);
  free(a->gray);
  free(a);
}

/* The sound comes from the file itself (see the top), so push_audio is not used. */
static const spk_source_ops asd_ops = {.method = "lr_asd",
                                       .audio_visual = 1,
                                       .push_frame = asd_push,
                                       .reset = asd_reset,
                                       .destroy = asd_destroy,
                                       .hold = (double)WINDOW / ASD_FPS + 0.3,
                                       .final_scores = asd_final,
                                       .flush = asd_flush};

int spk_asd_create(spk_source **out, const char *model_path, const char *url, const media_io *io,
                   double max_audio_seconds, const struct nn_graph *vad_graph, nn_isa isa,
                   emoi_err *err) {
  *out = NULL;
  asd_source *a = calloc(1, sizeof *a);
  if (!a) return emoi_fail(err, EMO_ENOMEM, "out of memory for the LR-ASD source");
  a->base.ops = &asd_ops;
  a->sp = asd_stream_params_default();
  a->sp.window = a->sp.hop = WINDOW;
  a->max_pcm = (int64_t)(max_audio_seconds * AUD_RATE) + CHUNK;
  int rc = asd_load(model_path, &a->model, err);
  if (rc == EMO_EIO)
    rc = emoi_fail(err, EMO_EIO,
                   "%.300s: no LR-ASD weights; download finetuning_TalkSet.model from "
                   "github.com/Junhua-Liao/LR-ASD and install it with `emo models import FILE`",
                   model_path);
  if (rc == EMO_OK) rc = asd_work_new(a->model, a->sp.window, isa, &a->work, err);
  if (rc == EMO_OK) rc = asd_work_set_int8(a->model, a->work, 1, err); /* see the top */
  if (rc == EMO_OK) rc = spk_mouth_create(&a->mouth, err);
  if (rc == EMO_OK && vad_graph) rc = vad_create(vad_graph, NULL, &a->vad, err);
  if (rc == EMO_OK && url) {
    emoi_err aerr = {{0}};
    if (aud_open(url, io, &a->aud, &aerr) != EMO_OK) a->aud = NULL; /* no sound: scores -1 */
  }
  if (rc != EMO_OK) {
    asd_destroy(&a->base);
    return rc;
  }
  *out = &a->base;
  return EMO_OK;
}
