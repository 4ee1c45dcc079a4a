/* asd.h: active speaker detection with LR-ASD (Liao et al., "LR-ASD: Lightweight and Robust
 * Network for Active Speaker Detection", IJCV 2025; code and weights github.com/Junhua-Liao/LR-ASD
 * at 1b6dcd2d8fc2, MIT): for one face track, a speaking score per video frame from the face's
 * 112x112 gray crops at 25 fps and the soundtrack's MFCC at 100 fps.
 *
 * How the fusion (pipeline/) uses it, per face track:
 *
 *     asd_model *m;  asd_load(path, &m, &err);  // path: emo_models_dir() + "/" ASD_FILE_DEFAULT;
 *                                               // once, shared by threads; EMO_EIO when absent
 *     asd_work *w;   asd_work_new(m, 100, isa, &w, &err); // once per thread, windows <= 100 ticks
 *     asd_stream_params sp = asd_stream_params_default();
 *     asd_stream *s; asd_stream_new(m, &sp, t_first_frame, &s, &err); // when the track starts
 *     for each video frame of the track (times increasing, seconds on the soundtrack's clock):
 *       uint8_t crop[ASD_CROP * ASD_CROP];
 *       asd_crop(gray, width, height, stride, box, crop);          // the box the tracker gives
 *       asd_stream_push_frame(s, crop, t, &err);
 *     and as the soundtrack arrives (16 kHz mono float in [-1, 1], from sample 0 of the file,
 *     the same samples for every track):  asd_stream_push_audio(s, pcm, n, &err);
 *     now and then (e.g. after each frame):
 *       asd_score sc[64]; int k = asd_stream_pop(s, w, sc, 64, &err);  // runs the network
 *     when the track ends: asd_stream_finish(s, &err); then asd_stream_pop until it returns 0;
 *     asd_stream_free(&s);   ...   asd_work_free(&w); asd_free(&m);
 *
 * Every pushed frame comes back from asd_stream_pop exactly once, in push order, as an
 * asd_score {t, score, prob, valid}: score is upstream's (the logit of "speaking"; upstream's demo
 * calls a face speaking when it is >= 0), prob = softmax probability of speaking; valid = 0 (score
 * NaN) when the frame could not be scored (the soundtrack ended before it).
 * Frames wait for their audio: at most window + hop ticks are held, then push_frame says
 * EMO_ELIMIT; when the soundtrack ends early or there is none, asd_stream_audio_end says so and
 * the frames past it come back unscored at once.
 *
 * Time and rates: LR-ASD sees 25 fps video (upstream converts every video with ffmpeg -r 25). The
 * stream resamples: tick k of the track is at t_first + k / 25 s and takes the pushed frame
 * nearest in time; each pushed frame gets the score of the tick nearest to it. The MFCC of the
 * track start at sample round(t_first * 16000) (upstream cuts the track's audio at the same
 * place), so ticks k and MFCC frames 4k .. 4k+3 line up as upstream's do.
 *
 * Windowing (bounded memory, bounded latency): upstream scores a whole track at once, or (its
 * Columbia demo) averages the scores of consecutive windows of 1, 2, 3, 4, 5 and 6 s. The network
 * is bidirectional over its window (GRU), so a stream scores windows of sp.window ticks every
 * sp.hop ticks and each tick keeps the score of the window in which it sits most centrally (the
 * first window also owns its head, the last its tail). A tick's score is final (window + hop) / 2
 * ticks after it (3 s with the defaults 100 / 50), window ticks (4 s) for the first ticks of a
 * track, once the audio up to there is in. Memory per stream: the crops and MFCC of window + hop
 * ticks and up to max_audio_ahead MFCC frames (2.3 MB with the defaults); the network's scratch
 * (0.9 MB a tick of window: 90 MB for 4 s) lives in the asd_work, one per thread, shared by all
 * of that thread's streams. tests/test_asd.c measures the windowing against whole-track scores
 * on a GRID track; dev/asd_windows.py on the labelled split-screen clips (README).
 *
 * The crop (asd_crop) is upstream's preprocessing (Columbia_test.py crop_video and
 * evaluate_network): box half-size s = max(w, h) / 2, centre (cx, cy); the image padded with gray
 * 110 by int(1.8 s) pixels; the square [cy - s, cy + 1.8 s) x [cx - 1.4 s, cx + 1.4 s) resized to
 * 224x224 (bilinear, OpenCV's INTER_LINEAR sampling), whose central 112x112 is the crop. Upstream
 * also median-filters s, cx and cy over 13 frames of the finished track; a tracker that smooths
 * its boxes does the same job, so this is left to the caller.
 *
 * Weights: asd_load reads upstream's checkpoint file (finetuning_TalkSet.model or
 * pretrain_AVA.model, PyTorch zip format) directly with nn/torch_ckpt.h: no PyTorch, no
 * conversion. BatchNorm (eval) is folded into the convolutions at load.
 *
 * Threads: an asd_model is immutable and shareable; an asd_work and an asd_stream belong to one
 * thread at a time. The visual encoder's convolutions (nearly all the work) run on emo's own
 * packed sgemm (nn/sgemm.h, one thread, bias and ReLU fused); the other products use OpenBLAS
 * (nn/dense.h: the thread count is the application's). Nothing reads the environment; nothing
 * prints.
 *
 * It leaves to others: face detection and tracking, decoding and resampling the soundtrack to
 * 16 kHz, the link from scores to speakers and persons (pipeline/), the MFCC (audio/mfcc.h). */
#ifndef EMO_AV_ASD_H
#define EMO_AV_ASD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/dense.h"
#include "nn/nn.h"

/* The checkpoints' file names in the model cache (models/manifest.json "imports": users put
 * upstream's files there with `emo models import FILE...`, which checks their sha256). */
#define ASD_FILE_TALKSET "lr_asd_finetuning_TalkSet.model" /* manifest name lr_asd_talkset */
#define ASD_FILE_AVA "lr_asd_pretrain_AVA.model"           /* manifest name lr_asd_ava */
#define ASD_FILE_DEFAULT ASD_FILE_TALKSET

#define ASD_CROP 112
#define ASD_FPS 25
#define ASD_MFCC_PER_TICK 4 /* MFCC frames (100 per s) per video tick */
#define ASD_MAX_WINDOW 250  /* ticks (10 s): the cap on sp.window */
#define ASD_MIN_TICKS 1     /* the fewest ticks the network scores */
#define ASD_MAX_FILE_BYTES ((size_t)64 << 20)

typedef struct asd_model asd_model;
typedef struct asd_work asd_work;
typedef struct asd_stream asd_stream;

/* Reads an LR-ASD checkpoint (PyTorch zip, at most ASD_MAX_FILE_BYTES). Returns EMO_OK and *out
 * (free with asd_free), or EMO_EIO (unreadable), EMO_EMODEL / EMO_EUNSUPPORTED (not an LR-ASD
 * state_dict: the message names the file and the tensor), EMO_ENOMEM. */
int asd_load(const char *path, asd_model **out, emoi_err *err);
/* The same from a checkpoint's bytes (only read during the call); label names it in messages. */
int asd_load_memory(const uint8_t *data, size_t size, const char *label, asd_model **out,
                    emoi_err *err);
void asd_free(asd_model **m);

/* Scratch for windows of up to max_ticks ticks (1 .. ASD_MAX_WINDOW), and the visual encoder's
 * products for NN_DENSE_FAST (nn/sgemm.h's kernels, packed here) on the best kernels under the
 * cap isa (NN_ISA_AUTO: none): AVX-512F, AVX2 + FMA or scalar, picked at run time. */
int asd_work_new(const asd_model *m, int max_ticks, nn_isa isa, asd_work **out, emoi_err *err);
void asd_work_free(asd_work **w);

/* Switches the work's visual encoder (on NN_DENSE_FAST) to int8 (on) or back to float (off): its
 * 12 convolutions on nn/qconv.h (weights s8 per output channel, each frame's activations u8 with
 * their own range; AVX512-VNNI, AVX2 or the scalar reference under the work's isa cap, the same
 * integers on each). Not upstream's arithmetic: the logits drift from the float path's (test_asd
 * bounds it). Returns EMO_OK or EMO_ENOMEM. */
int asd_work_set_int8(const asd_model *m, asd_work *w, int on, emoi_err *err);

/* The network on one window, as upstream's forward_audio_frontend / forward_visual_frontend /
 * forward_audio_visual_backend / lossAV.FC: crops (T, 112, 112) uint8 gray, mfcc (4T, 13);
 * writes logits (T, 2) (column 1 is upstream's score) and, when non-NULL, the visual and audio
 * embeddings (T, 128) each. T <= the work's max_ticks. path: NN_DENSE_FAST, or the plain
 * reference products for tests. Returns EMO_OK or EMO_EINVAL. */
int asd_forward(const asd_model *m, asd_work *w, nn_dense_path path, const uint8_t *crops, int T,
                const float *mfcc, float *logits, float *vis_emb, float *aud_emb, emoi_err *err);

/* A face box in pixels: [x0, x1) x [y0, y1). */
typedef struct asd_box {
  float x0, y0, x1, y1;
} asd_box;

/* Upstream's crop (see the top) of the gray image (width x height, row stride bytes) into
 * out (112 x 112). Returns EMO_OK, or EMO_EINVAL for a NULL pointer, a bad size or an empty or
 * non-finite box. */
int asd_crop(const uint8_t *gray, int width, int height, int stride, asd_box box, uint8_t *out);

typedef struct asd_stream_params {
  int window;          /* ticks per window, 1 .. ASD_MAX_WINDOW (and <= the work's): 100 (4 s) */
  int hop;             /* ticks between windows, 1 .. window: 50 */
  int max_frames;      /* pushed frames held unscored before push_frame says EMO_ELIMIT: 1000 */
  int max_audio_ahead; /* MFCC frames (100 a second) the soundtrack may run ahead of the
                          window being filled before push_audio says EMO_ELIMIT: 6000 (60 s) */
  nn_dense_path path;  /* NN_DENSE_FAST */
} asd_stream_params;

asd_stream_params asd_stream_params_default(void);

/* A stream for one face track whose first frame is at t_first seconds (>= 0) on the
 * soundtrack's clock. Returns EMO_OK, EMO_EINVAL (bad params) or EMO_ENOMEM. */
int asd_stream_new(const asd_model *m, const asd_stream_params *p, double t_first, asd_stream **out,
                   emoi_err *err);
void asd_stream_free(asd_stream **s);

/* The next frame's crop (112x112, copied) at time t (> the previous frame's, >= t_first).
 * EMO_EINVAL for a NULL crop or a time out of order, EMO_ELIMIT when max_frames frames wait
 * (pop first), EMO_EINVAL after asd_stream_finish. */
int asd_stream_push_frame(asd_stream *s, const uint8_t *crop, double t, emoi_err *err);

/* The soundtrack's next n samples (16 kHz mono, [-1, 1]); the first call gives sample 0 of the
 * file. Samples before the track start are skipped; MFCC are kept only as long as a window needs
 * them. EMO_EINVAL after asd_stream_finish. */
int asd_stream_push_audio(asd_stream *s, const float *pcm, int n, emoi_err *err);

/* The soundtrack has ended (or there is none): frames after the last audio are not kept and come
 * back from asd_stream_pop with valid = 0 (no EMO_ELIMIT waiting for audio that never comes).
 * Later push_audio calls are EMO_EINVAL. */
int asd_stream_audio_end(asd_stream *s, emoi_err *err);

/* The track has ended (no more frames; the audio pushed so far is all there is: implies
 * asd_stream_audio_end). */
int asd_stream_finish(asd_stream *s, emoi_err *err);

typedef struct asd_score {
  double t;    /* the pushed frame's time */
  float score; /* upstream's logit of speaking (>= 0: speaking), NaN when !valid */
  float prob;  /* softmax probability of speaking, NaN when !valid */
  int valid;
} asd_score;

/* Runs the network on every window that is complete (frames and audio) and writes up to max
 * finished frames' scores, in push order. Returns how many (0: none yet; after finish and when
 * every frame came back: 0 for good), or a negative status. */
int asd_stream_pop(asd_stream *s, asd_work *w, asd_score *out, int max, emoi_err *err);

#endif
