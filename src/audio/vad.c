/* vad.c: Silero VAD v5 on emo's engine and speech segmentation (see vad.h for the contract).
 *
 * vad_process keeps the OnnxWrapper's streaming state itself: a 576-sample input buffer whose
 * first 64 samples are the tail of the previous input, and the (2, 1, 128) LSTM state copied
 * from the graph's second output back into its second input after every window.
 * vad_segments follows silero-vad's utils_vad.py get_speech_timestamps (v5, 16 kHz,
 * max_speech_duration_s = inf): a window >= threshold triggers speech at its first sample;
 * while triggered, the first window below neg_threshold marks a tentative end, cancelled by a
 * later window >= threshold; once the tentative end is min_silence samples old the segment
 * closes there and is kept if longer than min_speech; an open segment at the end runs to the
 * end of the stream; then each segment is padded by speech_pad (gaps shorter than two pads
 * are split in the middle).
 *
 * Left to others: decoding/resampling (media/audio_decode.c), CLI/report wiring. */
#include "audio/vad.h"

#include <stdlib.h>
#include <string.h>

#include "nn/onnx_reader.h"

struct vad_state {
  nn_plan *plan;
  int in_x, in_state;                /* plan input indices */
  int out_p, out_state;              /* plan output indices */
  float x[VAD_CONTEXT + VAD_WINDOW]; /* (1, 576): context then window */
  float state[VAD_STATE];            /* (2, 1, 128) */
};

int vad_load_graph(const void *data, size_t size, const char *source, nn_graph **out,
                   emoi_err *err) {
  nn_onnx_options o;
  memset(&o, 0, sizeof o);
  o.shapes[0].name = "input";
  o.shapes[0].rank = 2;
  o.shapes[0].dims[0] = 1;
  o.shapes[0].dims[1] = VAD_CONTEXT + VAD_WINDOW;
  o.shapes[1].name = "state";
  o.shapes[1].rank = 3;
  o.shapes[1].dims[0] = 2;
  o.shapes[1].dims[1] = 1;
  o.shapes[1].dims[2] = 128;
  o.n_shapes = 2;
  o.consts[0].name = "sr";
  o.consts[0].value = VAD_RATE;
  o.n_consts = 1;
  return nn_onnx_load_ex(data, size, source, &o, out, err);
}

void vad_destroy(vad_state **pv) {
  if (!pv || !*pv) return;
  nn_plan_destroy(&(*pv)->plan);
  free(*pv);
  *pv = NULL;
}

static int64_t numel(const nn_value *v) {
  return nn_value_numel(v);
}

int vad_create_backend(const nn_graph *g, nn_backend backend, void *threadpool, vad_state **out,
                       emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "vad_create: out is NULL");
  *out = NULL;
  if (!g || !g->finalized)
    return emoi_fail(err, EMO_EINVAL, "vad_create: graph missing or not finalized");
  vad_state *v = calloc(1, sizeof *v);
  if (!v) return emoi_fail(err, EMO_ENOMEM, "vad_create: out of memory");
  v->in_x = v->in_state = v->out_p = v->out_state = -1;
  for (int i = 0; i < g->n_inputs; i++) {
    int64_t n = numel(&g->values[g->inputs[i]]);
    if (n == VAD_CONTEXT + VAD_WINDOW)
      v->in_x = i;
    else if (n == VAD_STATE)
      v->in_state = i;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    int64_t n = numel(&g->values[g->outputs[i]]);
    if (n == 1)
      v->out_p = i;
    else if (n == VAD_STATE)
      v->out_state = i;
  }
  if (g->n_inputs != 2 || g->n_outputs != 2 || v->in_x < 0 || v->in_state < 0 || v->out_p < 0 ||
      v->out_state < 0) {
    free(v);
    return emoi_fail(err, EMO_EMODEL,
                     "%s: not a Silero VAD v5 graph (expects inputs (1,576) + (2,1,128), outputs "
                     "(1,1) + (2,1,128))",
                     g->source);
  }
  int st = nn_plan_create(g, backend, threadpool, &v->plan, err);
  if (st) {
    free(v);
    return st;
  }
  vad_reset(v);
  *out = v;
  return EMO_OK;
}

int vad_create(const nn_graph *g, void *threadpool, vad_state **out, emoi_err *err) {
  return vad_create_backend(g, NN_BACKEND_XNNPACK, threadpool, out, err);
}

void vad_reset(vad_state *v) {
  if (!v) return;
  memset(v->x, 0, sizeof v->x);
  memset(v->state, 0, sizeof v->state);
}

int vad_process(vad_state *v, const float *samples, float *prob, emoi_err *err) {
  if (!v || !samples || !prob) return emoi_fail(err, EMO_EINVAL, "vad_process: NULL argument");
  memcpy(v->x + VAD_CONTEXT, samples, VAD_WINDOW * sizeof(float));
  memcpy(nn_plan_input(v->plan, v->in_x), v->x, sizeof v->x);
  memcpy(nn_plan_input(v->plan, v->in_state), v->state, sizeof v->state);
  int st = nn_plan_run(v->plan, err);
  if (st) return st;
  float p = nn_plan_output(v->plan, v->out_p)[0];
  memcpy(v->state, nn_plan_output(v->plan, v->out_state), sizeof v->state);
  memmove(v->x, v->x + VAD_WINDOW, VAD_CONTEXT * sizeof(float)); /* tail of this input */
  *prob = p != p ? 0.0f : p; /* NaN (non-finite input) reads as silence */
  return EMO_OK;
}

vad_seg_params vad_seg_params_default(void) {
  vad_seg_params p;
  p.threshold = 0.5f;
  p.neg_threshold = 0.35f;
  p.min_speech_ms = 250;
  p.min_silence_ms = 100;
  p.speech_pad_ms = 30;
  return p;
}

static int push(vad_segment *segs, int max_segs, int *n, int64_t s, int64_t e, vad_segment **all,
                int *cap, emoi_err *err) {
  (void)segs;
  (void)max_segs;
  if (*n >= *cap) {
    int nc = *cap ? *cap * 2 : 64;
    vad_segment *na = realloc(*all, (size_t)nc * sizeof *na);
    if (!na) return emoi_fail(err, EMO_ENOMEM, "vad_segments: out of memory");
    *all = na;
    *cap = nc;
  }
  (*all)[*n].start = s;
  (*all)[*n].end = e;
  (*n)++;
  return EMO_OK;
}

int vad_segments(const float *probs, int64_t n_windows, int64_t n_samples, const vad_seg_params *pp,
                 vad_segment *segs, int max_segs, emoi_err *err) {
  if ((!probs && n_windows > 0) || n_windows < 0 || n_samples < 0 || max_segs < 0 ||
      (max_segs > 0 && !segs))
    return emoi_fail(err, EMO_EINVAL, "vad_segments: invalid arguments");
  vad_seg_params p = pp ? *pp : vad_seg_params_default();
  if (p.min_speech_ms < 0 || p.min_silence_ms < 0 || p.speech_pad_ms < 0 ||
      p.min_speech_ms > VAD_MAX_MS || p.min_silence_ms > VAD_MAX_MS || p.speech_pad_ms > VAD_MAX_MS)
    return emoi_fail(err, EMO_EINVAL, "VAD durations must be within 0..%d ms", VAD_MAX_MS);
  const int64_t W = VAD_WINDOW;
  /* ms to samples in double (16000 * 600000 does not fit an int) */
  double min_speech = (double)VAD_RATE * p.min_speech_ms / 1000.0;
  double min_silence = (double)VAD_RATE * p.min_silence_ms / 1000.0;
  int64_t pad = (int64_t)((double)VAD_RATE * p.speech_pad_ms / 1000.0);
  vad_segment *all = NULL;
  int n = 0, cap = 0, st = EMO_OK, triggered = 0;
  int64_t start = 0, temp_end = 0;
  for (int64_t i = 0; i < n_windows; i++) {
    float pr = probs[i];
    int64_t pos = W * i;
    if (pr >= p.threshold && temp_end) temp_end = 0;
    if (pr >= p.threshold && !triggered) {
      triggered = 1;
      start = pos;
      continue;
    }
    if (pr < p.neg_threshold && triggered) {
      if (!temp_end) temp_end = pos;
      if ((double)(pos - temp_end) < min_silence) continue;
      if ((double)(temp_end - start) > min_speech &&
          (st = push(segs, max_segs, &n, start, temp_end, &all, &cap, err)))
        goto done;
      temp_end = 0;
      triggered = 0;
    }
  }
  if (triggered && (double)(n_samples - start) > min_speech &&
      (st = push(segs, max_segs, &n, start, n_samples, &all, &cap, err)))
    goto done;
  for (int i = 0; i < n; i++) {
    if (i == 0) all[i].start = all[i].start - pad > 0 ? all[i].start - pad : 0;
    if (i != n - 1) {
      int64_t gap = all[i + 1].start - all[i].end;
      if (gap < 2 * pad) {
        all[i].end += gap / 2;
        all[i + 1].start = all[i + 1].start - gap / 2 > 0 ? all[i + 1].start - gap / 2 : 0;
      } else {
        all[i].end = all[i].end + pad < n_samples ? all[i].end + pad : n_samples;
        all[i + 1].start = all[i + 1].start - pad > 0 ? all[i + 1].start - pad : 0;
      }
    } else {
      all[i].end = all[i].end + pad < n_samples ? all[i].end + pad : n_samples;
    }
  }
  for (int i = 0; i < n && i < max_segs; i++) segs[i] = all[i];
  st = n;
done:
  free(all);
  return st;
}
