/* internal.h: the insides of the public handles (emo_model, emo_context) shared by the files
 * of pipeline/. A model owns the parsed graphs (immutable after load); a context owns the
 * plans, worker threads and scratch, so analysing a frame allocates nothing. */
#ifndef EMO_PIPELINE_INTERNAL_H
#define EMO_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "audio/ser.h"
#include "audio/vad.h"
#include "audio/wav2vec2.h"
#include "core/err.h"
#include "core/log.h"
#include "core/workers.h"
#include "emo.h"
#include "learn/feature_set.h"
#include "media/media_io.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

/* The networks emo runs, indexing emo_model.graphs and emo_context.plans. */
typedef enum emoi_net {
  EMOI_NET_DET_SHORT = 0,
  EMOI_NET_DET_FULL,
  EMOI_NET_FER,
  EMOI_NET_FACEAPI,
  EMOI_NET_EMBED, /* face descriptor (human's faceres), for re-identification in video */
  EMOI_NET_COUNT
} emoi_net;

struct emo_model {
  emo_model_params params; /* copy; models_dir points at models_dir_buf */
  char models_dir_buf[4096];
  nn_graph *graphs[EMOI_NET_COUNT]; /* NULL when not needed by params */
  nn_graph *vad_graph;              /* Silero VAD (params.voice) */
  ser_model *ser;                   /* emo's speech-emotion model, compiled into the library */
  w2v_model *w2v;               /* params.ser_model when given (replaces ser for classification) */
  int w2v_map[W2V_MAX_LABELS];  /* emo_speech_emotion of each of its labels */
  char w2v_sha256[65];          /* of its file, named by the voice feature definition */
  struct fm_bundle *landmarker; /* face_landmarker.task (params.landmarks), else NULL */
  int tap[EMOI_NET_COUNT];      /* graph output of the penultimate layer (params.features or
                                   EMO_EXPRESSION_EMO), 0 = none (learn/features.c) */
  emo_head *expr_head;          /* the built-in expression head (EMO_EXPRESSION_EMO), else NULL */
  unsigned expr_blocks;         /* the feature blocks it reads (learn/feature_set.h) */
  int expr_map[EMO_EXPR_COUNT]; /* emo_expression of each of its classes */
  bf_anchor anchors_short[896];
  bf_anchor anchors_full[2304];
};

#define EMOI_LOGQ_MAX 32    /* FFmpeg messages held for the calling thread; more are dropped */
#define EMOI_MAX_FACES 2048 /* emo_context_params.max_faces at most */
#define EMOI_MAX_WORKERS 16 /* expression plans for faces classified in parallel */
#define EMOI_MAX_TILES 9    /* detector tiles of a large photo (analyze_image.c: 3 x 3 at most) */

/* emo_video_features' tap (learn/features.c): while on, classify_faces hands each analysed
 * frame's faces to emoi_video_tap, which sums every track's vectors (sum: (ids, dim), row
 * id - 1; cnt frames, first/last times, last box) and with per_frame keeps every row too
 * (x: (cap, dim), rows: (cap,), n of them). out is the pooled row handed back. */
typedef struct emoi_vtap {
  int on, per_frame;
  double *sum;
  int *cnt;
  double *first, *last;
  float (*box)[4];
  int ids;
  float *x;
  emo_video_feature_row *rows;
  int n, cap;
  emo_video_feature_row out;
} emoi_vtap;

/* Frees a tap's arrays (the struct itself is the context's). */
void emoi_vtap_free(emoi_vtap *t);

struct emo_context {
  emo_model *model; /* borrowed */
  emo_context_params params;
  emoi_logger log;    /* params' callback */
  emo_run_params run; /* options of the analysis call in progress (or of the stream) */
  nn_plan *plans[EMOI_NET_COUNT];
  /* Copies of the expression plans, one set per worker thread, so that the faces of a frame
   * are classified in parallel (coarse grain beats splitting each small network's ops
   * across threads). n_workers = 0 when single-threaded. */
  nn_plan *expr_plans[EMOI_MAX_WORKERS][3]; /* FER, face-api, face embedding (the last only
                                               for EMO_EXPRESSION_EMO) */
  int n_workers;
  wk_set *workers; /* n_workers blocking threads (the caller is worker 0), or NULL */
  /* The tiles of a large photo run the full-range detector in parallel (analyze_image.c):
   * worker 0 on plans[EMOI_NET_DET_FULL], worker w > 0 on det_plans[w]; each worker decodes into
   * its own det_scratch row, each tile keeps its faces in its own tile_dets row. Made by the
   * first tiled photo (a full-range plan's buffers are about 37 MB: a video context, which never
   * tiles, does not pay them); NULL until then, and when single-threaded. */
  nn_plan *det_plans[EMOI_MAX_WORKERS];
  bf_detection *det_scratch;             /* (n_workers, BF_MAX_ANCHORS) */
  bf_detection *tile_dets;               /* (EMOI_MAX_TILES, max_faces) */
  bf_detection dets[BF_MAX_ANCHORS * 2]; /* candidates of up to two detectors */
  emo_face *faces;                       /* (max_faces,) */
  bf_detection *face_dets;               /* (max_faces,) faces to classify (video) */
  float (*face_probs)[EMO_EXPR_COUNT];   /* (max_faces, 7) */
  int *face_dominant;                    /* (max_faces,) */
  nn_plan *mesh_plan, *blend_plan;       /* the landmarker's networks (model->landmarker) */
  emo_face_details *details;             /* (max_faces,) per-face details of the last call */
  emo_image_result result;
  struct emoi_stream *stream; /* video state, created by the first emo_stream_begin */
  /* speech (analyze_audio.c) */
  vad_state *vad;
  nn_plan *ser_plan;
  float *pcm; /* (pcm_len,) 16 kHz mono samples of the file being analysed */
  size_t pcm_len, pcm_cap;
  emo_speech_segment *segs; /* (segs_cap,) */
  int segs_cap;
  emo_speaker_summary *speakers;
  emo_audio_result audio;
  /* media (analyze_media.c) */
  atomic_int interrupt;    /* set by emo_context_interrupt, cleared when an analysis starts */
  pthread_t caller;        /* the thread of the call in progress (emoi_media_io) */
  pthread_mutex_t logq_mu; /* FFmpeg messages from other threads, for the caller's */
  char *logq[EMOI_LOGQ_MAX];
  int logq_level[EMOI_LOGQ_MAX];
  int logq_n, logq_dropped;
  emo_context *soundtrack; /* speech-only context for the soundtrack's thread, made lazily */
  /* media_io.audio_tap of the call in progress (emoi_media_io), set by emo_analyze_media for a
   * source read once; NULL otherwise */
  void (*audio_tap)(const AVPacket *pkt, const AVStream *st, void *user);
  void *audio_tap_user;
  struct media_run *stream_media; /* the stream begun by emo_stream_begin_media, else NULL */
  struct psn_state *persons;      /* faces and voices joined (pipeline/persons.h), made lazily */
  int said_fallback;              /* bits: which speaking-source messages were logged once */
  emo_media_summary media;
  /* feature vectors (learn/features.c) */
  float *feats; /* (feats_cap,) the last call's vectors, row after row */
  size_t feats_cap;
  unsigned face_head_blocks, voice_head_blocks; /* what c->run's heads read (emoi_run_begin) */
  /* emoi_expressions with EMO_EXPRESSION_EMO: face i's vector of fvec_blocks (the built-in
   * head's blocks and the face head's) at row i, for the fvec_n faces of its last call (0: none
   * kept), so emoi_face_custom on the same faces computes nothing again */
  float *fvec;
  size_t fvec_cap;
  unsigned fvec_blocks;
  int fvec_n;
  emoi_vtap vtap; /* emo_video_features' tap */
  float *custom;  /* (custom_cap,) video: face i's head probabilities at 2 C i, intensities
                     at 2 C i + C (emoi_face_custom) */
  size_t custom_cap;
  float *seg_custom; /* (seg_custom_cap,) the same for speech segments (analyze_audio.c) */
  size_t seg_custom_cap;
  float *spk_custom; /* (speakers, C) the speakers' mean voice-head answers */
  char last_error[512];
};

/* Detects faces in an image into ctx->dets (image pixels) with the params' detector policy
 * (analyze_image.c); tiling = 0 forbids the tiled pass (video); far = 1 tells the AUTO policy
 * that no close-up is expected (video: the last full procedure found only small faces), so it
 * goes straight to full range. Returns the count or a negative status; *used tells which
 * model ran last. */
int emoi_detect(emo_context *c, const uint8_t *rgb, int w, int h, int stride, int tiling, int far,
                emo_detector *used, emoi_err *err);

/* The face feature vector of the blocks in mask `blocks` (learn/feature_set.h; FS_FACE_ALL: the
 * emo_features_dim floats of emo_image_features) of detection d into out, with the given plans
 * of FER, face-api and the face embedding; only the networks those blocks come from run
 * (learn/features.c). */
int emoi_face_vector(const emo_model *m, unsigned blocks, nn_plan *fer, nn_plan *fa, nn_plan *embed,
                     const uint8_t *rgb, int w, int h, int stride, const bf_detection *d,
                     float *out, emoi_err *err);

/* The lengths of the feature blocks this model computes into dim (0 for the others), and
 * their mask (learn/features.c). */
unsigned emoi_features_blocks(const emo_model *m, int dim[FS_N_BLOCKS]);

/* The blocks head h reads (its feature definition), into *mask, after checking that this
 * model computes them with the same networks: EMO_EMODEL (other models or another feature
 * version: retrain) or EMO_EINVAL (a network not loaded), err saying which (learn/features.c). */
int emoi_head_blocks(const emo_model *m, const emo_head *h, unsigned *mask, emoi_err *err);

/* Makes room in ctx->fvec for n face vectors of blocks and marks it empty (learn/features.c):
 * emoi_expressions keeps there the built-in head's vectors (with the face head's blocks) for
 * emoi_face_custom. */
int emoi_face_vectors_reserve(emo_context *c, unsigned blocks, int n);

/* Classifies the expression of detections dets (n) with the params' expression model(s) into
 * probs[i] and dominant[i] (-1 with EMO_EXPRESSION_NONE); faces run in parallel when the
 * context has worker threads. details (NULL, or n pointers details_stride bytes apart, each
 * NULL or a face's details): where a face has landmarks and c->run.landmark_crops is set, its
 * crop is aligned by the landmarks instead of the detector's keypoints. */
int emoi_expressions(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                     const bf_detection *dets, int n, const emo_face_details *const *details,
                     size_t details_stride, float (*probs)[EMO_EXPR_COUNT], int *dominant,
                     emoi_err *err);

/* Computes c->run.face_details for detections dets (n, image pixels) into c->details[i] and
 * sets *out[i] to it, or to NULL for a face that is too small or gives no landmarks
 * (face_details.c). out is a stride-separated array of pointers: out_stride bytes apart.
 * rois (n, may be NULL) overrides the landmark network's region of face i when rois[i].w > 0
 * (video: the region from the previous frame's landmarks, MediaPipe's tracking). */
struct fm_roi;
int emoi_face_details(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                      const bf_detection *dets, int n, const struct fm_roi *rois,
                      const emo_face_details **out, size_t out_stride, emoi_err *err);

/* Creates a context that holds only the speech scratch (VAD, speech emotion): the soundtrack
 * context of emo_analyze_media (context.c). */
int emoi_context_create_speech(emo_model *model, const emo_context_params *p, emo_context **out);

/* Checks rp (NULL = defaults) against its documented ranges and the networks the model has,
 * and makes it the context's c->run; EMO_EINVAL with the context's message otherwise. */
int emoi_run_begin(emo_context *c, const emo_run_params *rp);
/* The run record of an analysis of kind "image"|"video"|"audio" (output/json_run.c):
 * soundtrack says whether a video's soundtrack is analysed; duration < 0 is unknown. A string
 * to emo_free, NULL when memory runs out. */
char *emoi_run_json(const emo_context *ctx, const emo_run_params *rp, const char *kind,
                    const char *file, double duration, int soundtrack);
/* Sends that record of c's current run (c->run) to cb->on_run when there is one; returns its
 * answer (non-zero: stop). A record that cannot be made (out of memory) is not sent. */
int emoi_run_deliver(const emo_context *c, const emo_media_callbacks *cb, const char *kind,
                     const char *url, double duration, int soundtrack);

/* EMO_OK when the model has the detectors c->run.detector needs, else EMO_EINVAL with the
 * context's message saying which. */
int emoi_run_needs_faces(emo_context *c);

/* emo_analyze_media's two halves: the frames of url through on_frame (analyze_video.c), and
 * the soundtrack with each segment through on_segment as soon as it is described
 * (analyze_audio.c; on_segment may be NULL), both with the options in c->run. Both stop when
 * c->interrupt is set. */
typedef int (*emoi_frame_fn)(const emo_frame_result *f, void *user);
int emoi_analyze_video(emo_context *c, const char *url, emoi_frame_fn on_frame, void *user,
                       const emo_video_summary **summary);
typedef int (*emoi_segment_fn)(const emo_speech_segment *s, void *user);
int emoi_analyze_audio(emo_context *c, const char *url, emoi_segment_fn on_segment, void *user,
                       const emo_audio_result **out);

/* The soundtrack of a source read once (emo_analyze_media's one demuxer): its samples come
 * from another thread through pull, which blocks until it has some and returns how many (> 0,
 * at most max, 16 kHz mono), 0 at the end, or a negative status with err filled. Silero runs
 * as the samples come, and on_vad (may be NULL) hears of its probabilities so far (probs (n_win,)
 * for samples [512 i, 512 (i + 1)), valid during the call) after each block. The samples are
 * kept (as for a URL, up to c->run.max_audio_seconds); the rest is emoi_analyze_audio's
 * single-pass reading, so the result equals the file's. name is for messages. */
typedef int (*emoi_pull_fn)(float *buf, int max, emoi_err *err, void *user);
typedef void (*emoi_vad_fn)(const float *probs, int64_t n_win, void *user);
typedef struct emoi_pulled {
  const char *name;
  emoi_pull_fn pull;
  emoi_vad_fn on_vad;
  void *user;
} emoi_pulled;
int emoi_analyze_audio_pulled(emo_context *c, const emoi_pulled *src, emoi_segment_fn on_segment,
                              void *user, const emo_audio_result **out);

/* Silero's segmentation options of c->run (vad_threshold, vad_*_ms) as vad_segments takes them:
 * EMO_OK, or EMO_EINVAL when out of range. */
int emoi_vad_seg_params(const emo_run_params *p, vad_seg_params *sp, emoi_err *err);

/* The media_io (media/media_io.h) of a call on c: c->run's protocols, timeout and playlist
 * rule, emo_context_interrupt as its interrupt, and a log sink that delivers FFmpeg's
 * messages on the calling thread (recorded here): those from other threads wait for
 * emoi_logq_drain. */
void emoi_media_io(emo_context *c, media_io *io);
void emoi_logq_drain(emo_context *c);

/* The speaking evidence of the faces of the frame last pushed (parallel to its faces; see
 * pipeline/speaking.h), the source's method name and kind; NULL when none (persons off). */
const float *emoi_stream_evidence(const emo_context *c, const char **method, int *audio_visual);
/* The stream's speaking source itself (NULL when none), for sources whose scores come late
 * (spk_source_ops.hold). */
struct spk_source *emoi_stream_speaking(const emo_context *c);

/* Starts the video state of a stream on c with the options in c->run (url: the media file,
 * NULL for frames pushed by the caller) (analyze_video.c). */
int emoi_stream_start(emo_context *c, const char *url);
/* A stream begun by emo_stream_begin_media (analyze_media.c): emo_stream_push hands each
 * analysed frame to emoi_media_frame (non-zero: a callback asked to stop); emoi_media_abort
 * ends it without delivering anything more (a new analysis on c, its destruction). */
int emoi_media_frame(emo_context *c, const emo_frame_result *f);
void emoi_media_abort(emo_context *c);

/* What the decoding thread made of a frame (analyze_video.c's frame_prep): its downscaled luma
 * (see media/video_decode.h; data NULL: none), and, when the reader ran frame_prep, the frame's
 * colour grid and flow pyramid (pyr NULL: none). */
typedef struct frame_pre {
  const uint8_t *data;
  int w, h, k;
  ptrdiff_t stride;
  struct of_pyramid **pyr; /* the prepared pyramid, swapped into the stream when flow needs it */
  int *pyr_ok; /* *pyr holds this frame (0 once swapped out, or when its build failed) */
  const struct fg_grid *grid;
} frame_pre;
/* emo_stream_push with the decoder's luma for optical flow (gray may be NULL: made from rgb), as
 * emo_analyze_media's frames get it (tests/test_stream_media.c pushes frames the file reader
 * decoded, to compare with the file's analysis line for line). */
int emoi_stream_push_gray(emo_context *c, const uint8_t *rgb, int w, int h, int stride, double t,
                          const frame_pre *gray, const emo_frame_result **out);

/* Frees the video state (analyze_video.c). */
void emoi_stream_free(struct emoi_stream **s);

/* With c->run.face_head: the face vector of each of dets (n) and the head's answer into
 * c->custom: face i's probabilities at 2 C i, its intensities at 2 C i + C (C classes)
 * (learn/features.c). dets must be those of the last emoi_expressions call on c, whose kept
 * vectors (ctx->fvec) it uses when they hold the head's blocks. */
int emoi_face_custom(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                     const bf_detection *dets, int n, emoi_err *err);

/* emo_video_features' tap (learn/features.c): the whole face vector of each of the n faces
 * of an analysed frame at time t (dets: their detections, as emoi_expressions got them),
 * summed by track and, per frame, kept. */
int emoi_video_tap(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                   const emo_track_face *faces, const bf_detection *dets, int n, double t,
                   emoi_err *err);

/* Points f->head, custom, custom_intensity (an emo_face or emo_track_face) at face i's answer
 * in c->custom. */
#define EMOI_SET_CUSTOM(c, f, i)                                                   \
  do {                                                                             \
    const emo_head *hd_ = (c)->run.face_head;                                      \
    const int C_ = emo_head_classes(hd_);                                          \
    (f)->head = hd_;                                                               \
    (f)->custom = (c)->custom + (size_t)(i)*2 * C_;                                \
    (f)->custom_intensity = emo_head_has_intensity(hd_) ? (f)->custom + C_ : NULL; \
  } while (0)

/* The voice vector of the blocks in mask `blocks` (FS_VOICE_ALL & what the model computes:
 * the emo_features_dim(VOICE) floats) of n samples at x (16 kHz) whose prosody is p, into v;
 * zeros for fewer than 400 samples (learn/features.c). */
int emoi_voice_vector(emo_context *c, unsigned blocks, const float *x, int n, const emo_prosody *p,
                      float *v, emoi_err *err);

/* Records err as the context's last error and returns code. */
int emoi_ctx_fail(emo_context *ctx, int code, const emoi_err *err);

/* The index of the largest of p[0, n) (the first of equals; 0 when n < 1): the dominant class
 * of a distribution (a segment's or a speaker's voice emotion, a person's face expression). */
static inline int emoi_argmax(const float *p, int n) {
  int b = 0;
  for (int k = 1; k < n; k++)
    if (p[k] > p[b]) b = k;
  return b;
}

#endif
