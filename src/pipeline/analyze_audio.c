/* analyze_audio.c: emo_analyze_audio: decode (media/audio_decode.c, 16 kHz mono), find speech
 * with Silero VAD (audio/vad.c), say who speaks when (audio/diarize.c), and give each speech
 * segment its emotion (audio/ser.c, emo's own model) and prosody (audio/prosody.c); then the
 * per-speaker and whole-file duration-weighted summaries.
 *
 * Memory: a file is read twice. Pass 1 streams Silero VAD and the diarizer's MFCC features
 * (the only thing kept per frame: 19 floats per 10 ms, 27 MB per hour); diarization clusters
 * those; pass 2 decodes again and describes each segment in pieces of at most 60 s, so no
 * more than a minute of samples is held (measured: peak RSS 68 MB for 30 s, 81 MB for 30 min,
 * against 191 MB when the samples are held). Sources that cannot be read twice (URLs,
 * devices) and --whole keep the recording's samples (230 MB per hour, up to
 * params.max_audio_seconds) for the call, released when it returns. Both paths give the same
 * result bit for bit (tests/test_audio.c). A soundtrack whose samples another thread pulls from
 * the frames' demuxer (emoi_analyze_audio_pulled, for emo_analyze_media on a source read once)
 * takes the single-pass path, with Silero run as the samples come. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/diarize.h"
#include "audio/prosody.h"
#include "audio/ser.h"
#include "audio/vad.h"
#include "core/log.h"
#include "media/audio_decode.h"
#include "pipeline/internal.h"

#define SR 16000
#define READ_CHUNK 16384
#define SER_MIN_SAMPLES 8000 /* shorter segments are padded (centred) to 0.5 s for SER */

/* Grows *buf to hold at least need floats. */
static int reserve(float **buf, size_t *cap, size_t need) {
  if (need <= *cap) return EMO_OK;
  size_t c = *cap ? *cap : 1 << 20;
  while (c < need) c *= 2;
  float *n = realloc(*buf, c * sizeof *n);
  if (!n) return EMO_ENOMEM;
  *buf = n;
  *cap = c;
  return EMO_OK;
}

static int decode_all(emo_context *c, const char *url, emoi_err *err) {
  aud_reader *r = NULL;
  c->pcm_len = 0;
  media_io io;
  emoi_media_io(c, &io);
  int rc = aud_open(url, &io, &r, err);
  if (rc != EMO_OK) return rc;
  size_t max = (size_t)(c->run.max_audio_seconds * SR);
  for (;;) {
    rc = reserve(&c->pcm, &c->pcm_cap, c->pcm_len + READ_CHUNK);
    if (rc != EMO_OK) {
      emoi_fail(err, rc, "%s: out of memory after %.0f s of audio", url, (double)c->pcm_len / SR);
      break;
    }
    if (atomic_load(&c->interrupt)) break;
    int got = aud_read(r, c->pcm + c->pcm_len, READ_CHUNK, err);
    if (got <= 0) {
      rc = got; /* 0 = end; negative = damaged after the decodable part */
      break;
    }
    c->pcm_len += (size_t)got;
    if (c->pcm_len > max) {
      rc = emoi_fail(err, EMO_ELIMIT, "%s: longer than max_audio_seconds (%.0f s)", url,
                     c->run.max_audio_seconds);
      break;
    }
  }
  aud_close(&r);
  return rc;
}

/* decode_all for samples pulled from another thread (emoi_pulled), with Silero run on each
 * whole window as it comes (the same windows, in the same order, as find_speech runs them on
 * the held samples): *probs_out (*n_win_out,) as speech_from_probs takes them. */
static int decode_pulled(emo_context *c, const emoi_pulled *src, float **probs_out,
                         int64_t *n_win_out, emoi_err *err) {
  c->pcm_len = 0;
  *probs_out = NULL;
  *n_win_out = 0;
  size_t max = (size_t)(c->run.max_audio_seconds * SR);
  float *probs = NULL;
  size_t probs_cap = 0;
  int64_t n_win = 0;
  int rc = EMO_OK;
  vad_reset(c->vad);
  for (;;) {
    rc = reserve(&c->pcm, &c->pcm_cap, c->pcm_len + READ_CHUNK);
    if (rc != EMO_OK) {
      emoi_fail(err, rc, "%s: out of memory after %.0f s of audio", src->name,
                (double)c->pcm_len / SR);
      break;
    }
    if (atomic_load(&c->interrupt)) break;
    int got = src->pull(c->pcm + c->pcm_len, READ_CHUNK, err, src->user);
    if (got <= 0) {
      rc = got; /* 0 = end; negative = damaged after the decodable part */
      break;
    }
    c->pcm_len += (size_t)got;
    int64_t w = (int64_t)c->pcm_len / VAD_WINDOW;
    rc = reserve(&probs, &probs_cap, (size_t)w + 1);
    for (; rc == EMO_OK && n_win < w; n_win++)
      rc = vad_process(c->vad, c->pcm + n_win * VAD_WINDOW, &probs[n_win], err);
    if (rc != EMO_OK) break;
    if (src->on_vad) src->on_vad(probs, n_win, src->user);
    if (c->pcm_len > max) {
      rc = emoi_fail(err, EMO_ELIMIT, "%s: longer than max_audio_seconds (%.0f s)", src->name,
                     c->run.max_audio_seconds);
      break;
    }
  }
  if (!probs) probs = malloc(sizeof *probs);
  if (!probs && rc == EMO_OK) rc = emoi_fail(err, EMO_ENOMEM, "out of memory");
  *probs_out = probs;
  *n_win_out = n_win;
  return rc;
}

/* Silero segmentation (params.vad_*). The defaults are tuned for diarization: silero-vad's own
 * (threshold 0.5, 30 ms padding, 100 ms minimum silence) cut speech at every pause and miss
 * quiet, distant talkers: on the AMI tuning excerpts (trn00..04) they missed 23 % of the
 * reference speech (17 % outside overlapped speech, which one-speaker-at-a-time output cannot
 * cover), mostly turn edges and short pauses inside turns that NIST-style references count as
 * speech. For who-spoke-when the speech-activity error (miss + false alarm under the 0.25 s
 * collar) is lowest with threshold 0.2 and 500 ms of padding, which also closes gaps shorter
 * than 1 s (dev/vad_sad_grid.py; chosen on trn00..04 only). The segments are also the
 * emotion segments, which thereby become whole turns instead of fragments. */
int emoi_vad_seg_params(const emo_run_params *p, vad_seg_params *sp, emoi_err *err) {
  if (!(p->vad_threshold > 0.0f && p->vad_threshold < 1.0f) || p->vad_min_speech_ms < 0 ||
      p->vad_min_silence_ms < 0 || p->vad_pad_ms < 0 || p->vad_min_speech_ms > 600000 ||
      p->vad_min_silence_ms > 600000 || p->vad_pad_ms > 600000)
    return emoi_fail(err, EMO_EINVAL,
                     "VAD options out of range (threshold in (0, 1), durations 0..600000 ms)");
  *sp = vad_seg_params_default();
  sp->threshold = p->vad_threshold;
  sp->neg_threshold = 0.7f * p->vad_threshold; /* silero-vad's hysteresis ratio (0.35 / 0.5) */
  sp->min_speech_ms = p->vad_min_speech_ms;
  sp->min_silence_ms = p->vad_min_silence_ms;
  sp->speech_pad_ms = p->vad_pad_ms;
  return EMO_OK;
}

/* Speech regions (diarization input) from Silero's probabilities of n_win windows of a
 * recording of n_samples; frees probs. */
static int speech_from_probs(emo_context *c, float *probs, int64_t n_win, int64_t n_samples, int rc,
                             dia_segment **out, int *n_out, emoi_err *err) {
  vad_seg_params sp;
  if (rc == EMO_OK) rc = emoi_vad_seg_params(&c->run, &sp, err);
  int n = rc == EMO_OK ? vad_segments(probs, n_win, n_samples, &sp, NULL, 0, err) : rc;
  vad_segment *vs = n > 0 ? malloc((size_t)n * sizeof *vs) : NULL;
  dia_segment *ds = n > 0 ? malloc((size_t)n * sizeof *ds) : NULL;
  if (n > 0 && (!vs || !ds)) n = emoi_fail(err, EMO_ENOMEM, "out of memory for VAD");
  if (n > 0) n = vad_segments(probs, n_win, n_samples, &sp, vs, n, err);
  for (int i = 0; i < n; i++) {
    ds[i].start = (double)vs[i].start / SR;
    ds[i].end = (double)vs[i].end / SR;
    ds[i].speaker = 0;
  }
  free(probs);
  free(vs);
  if (n < 0) {
    free(ds);
    return n;
  }
  *out = ds;
  *n_out = n;
  return EMO_OK;
}

/* Speech regions by Silero VAD of the samples in c->pcm. */
static int find_speech(emo_context *c, dia_segment **out, int *n_out, emoi_err *err) {
  int64_t n_win = (int64_t)c->pcm_len / VAD_WINDOW;
  float *probs = malloc(((size_t)n_win + 1) * sizeof *probs);
  if (!probs) return emoi_fail(err, EMO_ENOMEM, "out of memory for VAD");
  vad_reset(c->vad);
  int rc = EMO_OK;
  for (int64_t i = 0; i < n_win && rc == EMO_OK; i++)
    rc = vad_process(c->vad, c->pcm + i * VAD_WINDOW, &probs[i], err);
  return speech_from_probs(c, probs, n_win, (int64_t)c->pcm_len, rc, out, n_out, err);
}

/* Pass 1 over a file, streaming: Silero's probability of every window and the diarizer's
 * features, nothing else (about 27 MB per hour). Returns like decode_all: EMO_OK at the end,
 * or the decoding error after the decodable part (*n_samples then counts that part). */
static int scan(emo_context *c, const char *url, float **probs_out, int64_t *n_win_out,
                dia_feats *df, int64_t *n_samples, emoi_err *err) {
  *probs_out = NULL;
  *n_win_out = *n_samples = 0;
  aud_reader *r = NULL;
  media_io io;
  emoi_media_io(c, &io);
  int rc = aud_open(url, &io, &r, err);
  if (rc != EMO_OK) return rc;
  float *buf = malloc((READ_CHUNK + VAD_WINDOW) * sizeof *buf);
  float *probs = NULL;
  size_t probs_cap = 0;
  int64_t n_win = 0, total = 0, max = (int64_t)(c->run.max_audio_seconds * SR);
  int carry = 0; /* samples of an unfinished VAD window at buf[0] */
  if (!buf) rc = emoi_fail(err, EMO_ENOMEM, "out of memory");
  vad_reset(c->vad);
  while (rc == EMO_OK && !atomic_load(&c->interrupt)) {
    int got = aud_read(r, buf + carry, READ_CHUNK, err);
    if (got <= 0) {
      rc = got;
      break;
    }
    total += got;
    if (total > max) {
      rc = emoi_fail(err, EMO_ELIMIT, "%s: longer than max_audio_seconds (%.0f s)", url,
                     c->run.max_audio_seconds);
      break;
    }
    rc = dia_feats_push(df, buf + carry, got, err);
    int avail = carry + got, w = avail / VAD_WINDOW;
    if (rc == EMO_OK) rc = reserve(&probs, &probs_cap, (size_t)(n_win + w + 1));
    for (int i = 0; rc == EMO_OK && i < w; i++)
      rc = vad_process(c->vad, buf + i * VAD_WINDOW, &probs[n_win++], err);
    carry = avail - w * VAD_WINDOW;
    memmove(buf, buf + w * VAD_WINDOW, (size_t)carry * sizeof *buf);
  }
  aud_close(&r);
  free(buf);
  if (!probs) probs = malloc(sizeof *probs);
  if (!probs && rc == EMO_OK) rc = emoi_fail(err, EMO_ENOMEM, "out of memory");
  *probs_out = probs;
  *n_win_out = n_win;
  *n_samples = total;
  return rc;
}

/* Speech emotion of n samples at x with the user's wav2vec2 model: segments longer than
 * W2V_CHUNK are classified in chunks (attention is quadratic in length) whose distributions
 * are averaged, weighted by their length; shorter than one frame of the model's conv stack is
 * centred in silence. */
#define W2V_CHUNK (16000 * 20)
static int w2v_emotion(emo_context *c, const float *x, int n, float *emotion, emoi_err *err) {
  const w2v_model *m = c->model->w2v;
  const int nl = w2v_n_labels(m);
  float logits[W2V_MAX_LABELS], acc[W2V_MAX_LABELS] = {0};
  const int need = w2v_min_samples(m);
  float *padded = NULL;
  if (n < need) {
    padded = calloc((size_t)need, sizeof *padded);
    if (!padded) return emoi_fail(err, EMO_ENOMEM, "out of memory");
    if (n > 0) memcpy(padded + (need - n) / 2, x, (size_t)n * sizeof *x);
    x = padded;
    n = need;
  }
  int chunks = (n + W2V_CHUNK - 1) / W2V_CHUNK;
  for (int k = 0; k < chunks; k++) {
    int a = (int)((int64_t)n * k / chunks), b = (int)((int64_t)n * (k + 1) / chunks);
    int rc = w2v_classify(m, x + a, (size_t)(b - a), NULL, logits, NULL, err);
    if (rc != EMO_OK) {
      free(padded);
      return rc;
    }
    float mx = logits[0], z = 0.0f;
    for (int i = 1; i < nl; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < nl; i++) z += (logits[i] = expf(logits[i] - mx));
    for (int i = 0; i < nl; i++) acc[i] += logits[i] / z * (float)(b - a) / (float)n;
  }
  free(padded);
  for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++) emotion[e] = 0.0f;
  for (int i = 0; i < nl; i++) emotion[c->model->w2v_map[i]] = acc[i];
  return EMO_OK;
}

/* Bit mask of the speech emotions the classifier scores. */
static unsigned emotion_labels(const emo_context *c) {
  if (!c->model->w2v) return (1u << EMO_SPEECH_EMOTION_COUNT) - 1;
  unsigned m = 0;
  for (int i = 0; i < w2v_n_labels(c->model->w2v); i++) m |= 1u << c->model->w2v_map[i];
  return m;
}

/* A segment is described in pieces of at most PIECE samples (60 s), so that describing it
 * never needs more samples than that: the emotion distributions of the pieces are averaged
 * weighted by their length; the prosody is the length-weighted mean of the pieces' (F0
 * statistics weighted by voiced time). A segment of one piece is described exactly as a
 * whole. */
#define PIECE (SR * 60)
typedef struct seg_acc {
  double dur, voiced_dur;
  double emotion[EMO_SPEECH_EMOTION_COUNT];
  double f0_mean, f0_min, f0_max, energy_db, voiced_ratio, rate;
} seg_acc;

/* Emotion and prosody of the n samples at x (one piece of a segment), added to acc. */
static int describe_piece(emo_context *c, const float *x, int n, seg_acc *acc, emoi_err *err) {
  float emotion[EMO_SPEECH_EMOTION_COUNT];
  const float *xs = x;
  float padded[SER_MIN_SAMPLES];
  if (n < SER_MIN_SAMPLES) { /* centre a short segment in silence */
    memset(padded, 0, sizeof padded);
    if (n > 0) memcpy(padded + (SER_MIN_SAMPLES - n) / 2, x, (size_t)n * sizeof *x);
    xs = padded;
  }
  int ns = n < SER_MIN_SAMPLES ? SER_MIN_SAMPLES : (n > SER_MAX_SAMPLES ? SER_MAX_SAMPLES : n);
  int rc = c->model->w2v ? w2v_emotion(c, x, n, emotion, err)
                         : ser_classify(c->model->ser, c->ser_plan, xs, ns, emotion, err);
  if (rc != EMO_OK) return rc;
  prosody pr;
  rc = prosody_measure(x, n > 0 ? n : 0, &pr, err);
  if (rc != EMO_OK) return rc;
  double d = n > 0 ? (double)n / SR : 1e-9, v = d * pr.voiced_ratio;
  acc->dur += d;
  acc->voiced_dur += v;
  for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++) acc->emotion[e] += d * emotion[e];
  acc->f0_mean += v * pr.f0_mean;
  acc->f0_min += v * pr.f0_min;
  acc->f0_max += v * pr.f0_max;
  acc->energy_db += d * pr.energy_db;
  acc->voiced_ratio += d * pr.voiced_ratio;
  acc->rate += d * pr.rate;
  return EMO_OK;
}

static void describe_finish(const emo_context *c, const seg_acc *acc, emo_speech_segment *s) {
  double d = acc->dur > 0 ? acc->dur : 1, v = acc->voiced_dur;
  for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++) s->emotion[e] = (float)(acc->emotion[e] / d);
  s->labels = emotion_labels(c);
  s->dominant = emoi_argmax(s->emotion, EMO_SPEECH_EMOTION_COUNT);
  s->prosody.f0_mean = v > 0 ? (float)(acc->f0_mean / v) : 0.0f;
  s->prosody.f0_min = v > 0 ? (float)(acc->f0_min / v) : 0.0f;
  s->prosody.f0_max = v > 0 ? (float)(acc->f0_max / v) : 0.0f;
  s->prosody.energy_db = (float)(acc->energy_db / d);
  s->prosody.voiced_ratio = (float)(acc->voiced_ratio / d);
  s->prosody.rate = (float)(acc->rate / d);
}

/* Where the segments' samples come from: the recording held in memory (mem), or a second
 * sequential decode of the file (r), whose ranges [p0, p1) never go back. */
typedef struct sample_source {
  const float *mem; /* (n,) when held */
  int64_t n;        /* samples in the recording */
  aud_reader *r;    /* else: the second decode */
  float *chunk;     /* (READ_CHUNK,) last decoded block */
  int64_t start;    /* sample index of chunk[0] */
  int chunk_n, ended;
  float *piece; /* (PIECE,) the samples of one piece */
} sample_source;

/* Samples [p0, p1) (p0 <= p1 <= src->n); *got of them are available (fewer only when the
 * second decode ends early, e.g. at a damaged tail already reported by pass 1). */
static const float *piece_samples(sample_source *src, int64_t p0, int64_t p1, int *got) {
  if (src->mem) {
    *got = (int)(p1 - p0);
    return src->mem + p0;
  }
  emoi_err ignored;
  int64_t done = 0;
  while (p0 + done < p1) {
    int64_t q = p0 + done, end = src->start + src->chunk_n;
    if (q >= src->start && q < end) {
      int64_t k = (end < p1 ? end : p1) - q;
      memcpy(src->piece + done, src->chunk + (q - src->start), (size_t)k * sizeof(float));
      done += k;
      continue;
    }
    if (src->ended) break;
    src->start = end;
    src->chunk_n = aud_read(src->r, src->chunk, READ_CHUNK, &ignored);
    if (src->chunk_n <= 0) {
      src->chunk_n = 0;
      src->ended = 1;
    }
  }
  *got = (int)done;
  return src->piece;
}

/* Who hears of each segment as soon as it is described (emo_analyze_media), and how many
 * were described before an interruption. */
typedef struct seg_sink {
  emoi_segment_fn fn; /* may be NULL */
  void *user;
  int n_done;
} seg_sink;

/* Emotion and prosody of segs[0..n) (sorted, disjoint), each in pieces of at most PIECE; stops
 * early (EMO_OK, sink->n_done < n) when the context is interrupted or sink->fn says stop. */
static int describe_segments(emo_context *c, sample_source *src, emo_speech_segment *segs, int n,
                             seg_sink *sink, emoi_err *err) {
  /* With a voice head: each piece's voice vector (learn/features.c, as emo_audio_features
   * computes it), averaged over the pieces by length, then the head's answer. */
  const emo_head *hd = c->run.voice_head;
  const int dim = hd ? emo_head_dim(hd) : 0, C = hd ? emo_head_classes(hd) : 0;
  if (hd) {
    size_t need = (size_t)n * 2 * (size_t)C, fneed = 2 * (size_t)dim;
    if (need > c->seg_custom_cap) {
      float *p = realloc(c->seg_custom, need * sizeof *p);
      if (!p) return emoi_fail(err, EMO_ENOMEM, "out of memory for the voice head");
      c->seg_custom = p;
      c->seg_custom_cap = need;
    }
    if (fneed > c->feats_cap) {
      float *p = realloc(c->feats, fneed * sizeof *p);
      if (!p) return emoi_fail(err, EMO_ENOMEM, "out of memory for the voice head");
      c->feats = p;
      c->feats_cap = fneed;
    }
  }
  for (int i = 0; i < n; i++) {
    if (atomic_load(&c->interrupt)) return EMO_OK;
    emo_speech_segment *s = &segs[i];
    int64_t a = (int64_t)(s->start * SR), b = (int64_t)(s->end * SR);
    if (a < 0) a = 0;
    if (b > src->n) b = src->n;
    if (b < a) b = a;
    seg_acc acc;
    memset(&acc, 0, sizeof acc);
    int64_t pieces = (b - a + PIECE - 1) / PIECE;
    if (pieces < 1) pieces = 1;
    float *vec = hd ? c->feats : NULL, *piece_vec = hd ? c->feats + dim : NULL;
    if (hd) memset(vec, 0, (size_t)dim * sizeof *vec);
    for (int64_t k = 0; k < pieces; k++) {
      int got;
      const float *x =
          piece_samples(src, a + (b - a) * k / pieces, a + (b - a) * (k + 1) / pieces, &got);
      seg_acc one;
      memset(&one, 0, sizeof one);
      int rc = describe_piece(c, x, got, &one, err);
      if (rc == EMO_OK && hd) {
        emo_speech_segment tmp; /* the piece's prosody, as the voice vector holds it */
        describe_finish(c, &one, &tmp);
        rc = emoi_voice_vector(c, c->voice_head_blocks, x, got, &tmp.prosody, piece_vec, err);
        float wgt = b > a ? (float)got / (float)(b - a) : 1.0f;
        for (int j = 0; rc == EMO_OK && j < dim; j++) vec[j] += wgt * piece_vec[j];
      }
      if (rc != EMO_OK) return rc;
      acc.dur += one.dur;
      acc.voiced_dur += one.voiced_dur;
      for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++) acc.emotion[e] += one.emotion[e];
      acc.f0_mean += one.f0_mean;
      acc.f0_min += one.f0_min;
      acc.f0_max += one.f0_max;
      acc.energy_db += one.energy_db;
      acc.voiced_ratio += one.voiced_ratio;
      acc.rate += one.rate;
    }
    describe_finish(c, &acc, s);
    if (hd) {
      float *p = c->seg_custom + (size_t)i * 2 * C, *it = p + C;
      int has_it = emo_head_has_intensity(hd);
      emo_head_predict(hd, vec, p, has_it ? it : NULL);
      s->head = hd;
      s->custom = p;
      s->custom_intensity = has_it ? it : NULL;
    }
    sink->n_done = i + 1;
    if (sink->fn && sink->fn(s, sink->user)) {
      atomic_store(&c->interrupt, 1);
      return EMO_OK;
    }
  }
  return EMO_OK;
}

/* Pass 2: describes the segments from the held samples, or by decoding the file again. */
static int describe_all(emo_context *c, const char *url, int two_pass, int64_t n_samples,
                        emo_speech_segment *segs, int n, seg_sink *sink, emoi_err *err) {
  sample_source src = {0};
  src.n = n_samples;
  if (!two_pass) {
    src.mem = c->pcm;
    return describe_segments(c, &src, segs, n, sink, err);
  }
  media_io io;
  emoi_media_io(c, &io);
  int rc = aud_open(url, &io, &src.r, err);
  if (rc != EMO_OK) return rc;
  src.chunk = malloc(READ_CHUNK * sizeof *src.chunk);
  src.piece = malloc(PIECE * sizeof *src.piece);
  rc = src.chunk && src.piece ? describe_segments(c, &src, segs, n, sink, err)
                              : emoi_fail(err, EMO_ENOMEM, "out of memory");
  aud_close(&src.r);
  free(src.chunk);
  free(src.piece);
  return rc;
}

static int summarise(emo_context *c) {
  emo_audio_result *r = &c->audio;
  int max_spk = 0;
  for (int i = 0; i < r->segment_count; i++)
    if (c->segs[i].speaker > max_spk) max_spk = c->segs[i].speaker;
  emo_speaker_summary *sp = realloc(c->speakers, ((size_t)max_spk + 1) * sizeof *sp);
  if (!sp) return EMO_ENOMEM;
  c->speakers = sp;
  memset(sp, 0, ((size_t)max_spk + 1) * sizeof *sp);
  memset(r->emotion, 0, sizeof r->emotion);
  double total = 0.0;
  for (int i = 0; i < r->segment_count; i++) {
    const emo_speech_segment *s = &c->segs[i];
    double d = s->end - s->start;
    emo_speaker_summary *k = &sp[s->speaker - 1];
    k->speaker = s->speaker;
    k->labels = s->labels;
    k->talk_time += d;
    total += d;
    for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++) {
      k->emotion[e] += (float)(d * s->emotion[e]);
      r->emotion[e] += (float)(d * s->emotion[e]);
    }
  }
  for (int k = 0; k < max_spk; k++) {
    sp[k].dominant = -1;
    if (sp[k].talk_time > 0.0) {
      for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++)
        sp[k].emotion[e] = (float)(sp[k].emotion[e] / sp[k].talk_time);
      sp[k].dominant = emoi_argmax(sp[k].emotion, EMO_SPEECH_EMOTION_COUNT);
    }
  }
  r->dominant = -1;
  r->labels = emotion_labels(c);
  if (total > 0.0) {
    for (int e = 0; e < EMO_SPEECH_EMOTION_COUNT; e++)
      r->emotion[e] = (float)(r->emotion[e] / total);
    r->dominant = emoi_argmax(r->emotion, EMO_SPEECH_EMOTION_COUNT);
  }
  const emo_head *hd = c->run.voice_head;
  if (hd && max_spk > 0) { /* the voice head's duration-weighted mean per speaker */
    const int C = emo_head_classes(hd);
    float *m = realloc(c->spk_custom, (size_t)max_spk * C * sizeof *m);
    if (!m) return EMO_ENOMEM;
    c->spk_custom = m;
    memset(m, 0, (size_t)max_spk * C * sizeof *m);
    for (int i = 0; i < r->segment_count; i++) {
      const emo_speech_segment *s = &c->segs[i];
      const emo_speaker_summary *k = &sp[s->speaker - 1];
      if (!s->custom || !(k->talk_time > 0.0)) continue;
      float wgt = (float)((s->end - s->start) / k->talk_time);
      for (int j = 0; j < C; j++) m[(size_t)(s->speaker - 1) * C + j] += wgt * s->custom[j];
    }
    for (int k = 0; k < max_spk; k++)
      if (sp[k].talk_time > 0.0) {
        sp[k].head = hd;
        sp[k].mean_custom = m + (size_t)k * C;
      }
  }
  r->speaker_count = max_spk;
  r->speakers = sp;
  return EMO_OK;
}

static int analyze(emo_context *c, const char *url, const emoi_pulled *pulled, int whole,
                   seg_sink *sink, const emo_audio_result **out);

/* emo_analyze_audio's segments behind its run record. */
typedef struct audio_gate {
  emo_context *c;
  const emo_media_callbacks *cb;
  const char *url;
  int sent;
} audio_gate;

static int gate_segment(const emo_speech_segment *s, void *user) {
  audio_gate *g = user;
  if (!g->sent) {
    g->sent = 1;
    if (emoi_run_deliver(g->c, g->cb, "audio", g->url, g->c->audio.duration, 1)) return 1;
  }
  return g->cb->on_segment ? g->cb->on_segment(s, g->cb->user) : 0;
}

int emo_analyze_audio(emo_context *c, const emo_run_params *rp, const char *url,
                      const emo_media_callbacks *cb, const emo_audio_result **out) {
  if (!c || !url || !out) return EMO_EINVAL;
  *out = NULL;
  atomic_store(&c->interrupt, 0);
  int rc = emoi_run_begin(c, rp);
  if (rc != EMO_OK) return rc;
  c->caller = pthread_self(); /* the segments' callback runs here */
  if (!cb || !cb->on_run)
    return emoi_analyze_audio(c, url, cb ? cb->on_segment : NULL, cb ? cb->user : NULL, out);
  /* The run record goes before the first segment (the duration is known after pass 1), or
   * after the analysis when there is none. */
  audio_gate g = {c, cb, url, 0};
  rc = emoi_analyze_audio(c, url, gate_segment, &g, out);
  if (!g.sent && *out) {
    g.sent = 1;
    if (emoi_run_deliver(c, cb, "audio", url, (*out)->duration, 1)) c->audio.interrupted = 1;
  }
  return rc;
}

int emoi_analyze_audio(emo_context *c, const char *url, emoi_segment_fn on_segment, void *user,
                       const emo_audio_result **out) {
  seg_sink sink = {on_segment, user, 0};
  int rc = analyze(c, url, NULL, c->run.audio_whole, &sink, out);
  if (c) { /* the samples are not needed by the result */
    free(c->pcm);
    c->pcm = NULL;
    c->pcm_len = c->pcm_cap = 0;
  }
  return rc;
}

int emoi_analyze_audio_pulled(emo_context *c, const emoi_pulled *src, emoi_segment_fn on_segment,
                              void *user, const emo_audio_result **out) {
  if (!src || !src->pull) return EMO_EINVAL;
  seg_sink sink = {on_segment, user, 0};
  int rc = analyze(c, src->name ? src->name : "soundtrack", src, 0, &sink, out);
  if (c) {
    free(c->pcm);
    c->pcm = NULL;
    c->pcm_len = c->pcm_cap = 0;
  }
  return rc;
}

/* url is read (twice when it is a regular file and not whole), or, with pulled, the samples
 * come from pulled and url only names them. */
static int analyze(emo_context *c, const char *url, const emoi_pulled *pulled, int whole,
                   seg_sink *sink, const emo_audio_result **out) {
  if (!c || !url || !out) return EMO_EINVAL;
  *out = NULL;
  emoi_err err = {{0}};
  if (!c->model->ser || !c->vad) {
    emoi_fail(&err, EMO_EINVAL,
              "the model was loaded without the speech models (emo_model_params.voice)");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  /* A file is read twice, so that no more than a piece of its samples is ever held: pass 1
   * streams VAD and diarization features, pass 2 the segments' samples. --whole and sources
   * that cannot be read twice (URLs, devices) keep the samples of the whole recording. */
  struct stat st;
  const int two_pass = !pulled && !whole && stat(url, &st) == 0 && S_ISREG(st.st_mode);
  dia_feats df;
  memset(&df, 0, sizeof df);
  float *probs = NULL;
  int64_t n_win = 0, n_samples = 0;
  int decode_rc;
  if (two_pass) {
    decode_rc = dia_feats_init(&df, &err);
    if (decode_rc == EMO_OK) decode_rc = scan(c, url, &probs, &n_win, &df, &n_samples, &err);
    if (decode_rc != EMO_OK && (n_samples == 0 || !probs)) {
      free(probs);
      dia_feats_free(&df);
      return emoi_ctx_fail(c, decode_rc, &err);
    }
  } else {
    decode_rc = pulled ? decode_pulled(c, pulled, &probs, &n_win, &err) : decode_all(c, url, &err);
    if (decode_rc != EMO_OK && c->pcm_len == 0) {
      free(probs);
      return emoi_ctx_fail(c, decode_rc, &err);
    }
    n_samples = (int64_t)c->pcm_len;
  }
  emoi_err decode_err = err;
  emo_audio_result *r = &c->audio;
  memset(r, 0, sizeof *r);
  r->duration = (double)n_samples / SR;
  dia_segment *speech = NULL;
  int n_speech = 0, rc = EMO_OK;
  dia_result dr = {0};
  if (two_pass) {
    rc = speech_from_probs(c, probs, n_win, n_samples, EMO_OK, &speech, &n_speech, &err);
    if (rc == EMO_OK && n_speech > 0) {
      dia_config cfg;
      dia_config_default(&cfg);
      rc = dia_run_features(&cfg, df.rows, df.nf, r->duration, speech, n_speech, &dr, &err);
    }
    dia_feats_free(&df);
  } else if (whole) {
    n_speech = c->pcm_len > 0;
    dr.segs = n_speech ? malloc(sizeof *dr.segs) : NULL;
    if (n_speech && !dr.segs) return emoi_ctx_fail(c, EMO_ENOMEM, &err);
    if (n_speech) {
      dr.segs[0].start = 0.0;
      dr.segs[0].end = r->duration;
      dr.segs[0].speaker = 0;
      dr.n = 1;
      dr.n_speakers = 1;
    }
  } else {
    if (pulled) /* Silero already ran as the samples came */
      rc = speech_from_probs(c, probs, n_win, n_samples, EMO_OK, &speech, &n_speech, &err);
    else
      rc = find_speech(c, &speech, &n_speech, &err);
    if (rc == EMO_OK && n_speech > 0) {
      dia_config cfg;
      dia_config_default(&cfg);
      rc = dia_run(&cfg, c->pcm, (int)c->pcm_len, speech, n_speech, &dr, &err);
    }
  }
  free(speech);
  if (rc == EMO_OK && dr.n > c->segs_cap) {
    emo_speech_segment *s = realloc(c->segs, (size_t)dr.n * sizeof *s);
    if (!s)
      rc = emoi_fail(&err, EMO_ENOMEM, "out of memory for %d segments", dr.n);
    else {
      c->segs = s;
      c->segs_cap = dr.n;
    }
  }
  for (int i = 0; rc == EMO_OK && i < dr.n; i++) {
    emo_speech_segment *s = &c->segs[i];
    memset(s, 0, sizeof *s);
    s->start = dr.segs[i].start;
    s->end = dr.segs[i].end;
    s->speaker = dr.segs[i].speaker + 1;
  }
  const int stopped = atomic_load(&c->interrupt);
  if (rc == EMO_OK && dr.n > 0 && !stopped)
    rc = describe_all(c, url, two_pass, n_samples, c->segs, dr.n, sink, &err);
  r->interrupted = atomic_load(&c->interrupt);
  r->segment_count = rc == EMO_OK ? (r->interrupted ? sink->n_done : dr.n) : 0;
  r->segments = c->segs;
  dia_result_free(&dr);
  if (rc == EMO_OK) rc = summarise(c);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  if (r->segment_count == 0 && !r->interrupted)
    emoi_log(&c->log, EMO_LOG_WARN, "%s: no speech found", url);
  *out = r;
  if (decode_rc != EMO_OK) return emoi_ctx_fail(c, decode_rc, &decode_err);
  c->last_error[0] = 0;
  return EMO_OK;
}
