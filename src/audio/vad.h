/* vad.h: voice activity detection with Silero VAD v5 (snakers4/silero-vad, MIT; the ONNX
 * export shipped in @ricky0123/vad-web) run on emo's engine (nn/onnx_reader.c -> nn_plan), and
 * speech segmentation with the hysteresis of silero-vad's get_speech_timestamps.
 *
 * Streaming contract (silero-vad's OnnxWrapper, 16 kHz): each call takes 512 new samples; the
 * network sees them prefixed by the last 64 samples of the previous call (zeros after a
 * reset) and carries an LSTM state (2, 1, 128) from call to call. Decoding and resampling to
 * 16 kHz mono is left to media/audio_decode.c. */
#ifndef EMO_AUDIO_VAD_H
#define EMO_AUDIO_VAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"

#define VAD_RATE 16000
#define VAD_WINDOW 512 /* new samples per call (32 ms) */
#define VAD_CONTEXT 64 /* samples of the previous call prefixed to the window */
#define VAD_STATE 256  /* floats of recurrent state, (2, 1, 128) */

/* Loads Silero VAD v5 ONNX bytes (borrowed during the call) as a finalized graph with the
 * 16 kHz branch resolved: inputs "input" (1, 576) and "state" (2, 1, 128), outputs the speech
 * probability (1, 1) and the next state (2, 1, 128). Errors as nn_onnx_load. */
int vad_load_graph(const void *data, size_t size, const char *source, nn_graph **out,
                   emoi_err *err);

typedef struct vad_state vad_state;

/* Binds g (borrowed, must outlive the state; from vad_load_graph) to a plan on XNNPACK
 * (reference kernels where XNNPACK lacks an op). threadpool: pthreadpool_t or NULL. One
 * vad_state per stream and thread. */
int vad_create(const nn_graph *g, void *threadpool, vad_state **out, emoi_err *err);
/* Same with an explicit backend (tests compare both). */
int vad_create_backend(const nn_graph *g, nn_backend backend, void *threadpool, vad_state **out,
                       emoi_err *err);
void vad_destroy(vad_state **v);

/* Runs one window: samples (VAD_WINDOW floats, 16 kHz mono, roughly [-1, 1]); writes the
 * speech probability in [0, 1] to *prob and advances the context and state. */
int vad_process(vad_state *v, const float *samples, float *prob, emoi_err *err);

/* Clears context and state (start of a new stream). */
void vad_reset(vad_state *v);

#define VAD_MAX_MS 600000 /* longest duration a segmentation parameter may name (10 min) */

/* Segmentation parameters; vad_seg_params_default() gives silero-vad's defaults. */
typedef struct vad_seg_params {
  float threshold;     /* 0.5: a window at or above starts/continues speech */
  float neg_threshold; /* 0.35 (threshold - 0.15): below it, silence may end speech */
  int min_speech_ms;   /* 250: shorter segments are dropped */
  int min_silence_ms;  /* 100: silence needed to close a segment */
  int speech_pad_ms;   /* 30: padding added on both sides (halved gaps when close) */
} vad_seg_params;

vad_seg_params vad_seg_params_default(void);

typedef struct vad_segment {
  int64_t start, end; /* [start, end) in samples at 16 kHz */
} vad_segment;

/* Turns per-window probabilities (probs[i] for samples [512 i, 512 (i + 1))) of a stream of
 * n_samples samples into speech segments, as silero-vad's get_speech_timestamps
 * (max_speech_duration_s = inf). Writes at most max_segs segments to segs (may be NULL when
 * max_segs is 0) and returns the total number found (>= 0), or a negative status. */
int vad_segments(const float *probs, int64_t n_windows, int64_t n_samples, const vad_seg_params *p,
                 vad_segment *segs, int max_segs, emoi_err *err);

#endif
