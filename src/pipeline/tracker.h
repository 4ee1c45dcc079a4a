/* tracker.h: multi-face tracking for video: gives every person a stable id across frames.
 * On detection frames, detections are associated with live tracks by box overlap (IoU) with
 * an optimal assignment (pipeline/assignment.h); a face embedding (vision/face_embed.h),
 * computed through a caller callback only when a track is born or an association is
 * ambiguous, resolves crossings and re-identifies people who come back after their track
 * ended. Between detections the caller moves boxes (optical flow) with trk_set_box. Also keeps
 * per-track expression statistics (mean, exponential smoothing) and emits track start/end
 * events. Running the detector, the embedding network and the flow is left to the caller
 * (pipeline/analyze_video.c). The association scheme is SORT's (Bewley et al., "Simple Online
 * and Realtime Tracking", ICIP 2016) without the Kalman filter (flow predicts the boxes),
 * with DeepSORT-style appearance (Wojke et al., ICIP 2017) used sparingly.
 *
 * Track life: a detection that matches no track starts one at once (no tentative period:
 * for video sampled at a few frames per second a second confirming detection would delay or
 * lose short appearances; the detector's score threshold already filters). A track missed
 * by a detection frame becomes "lost": it is not reported (trk_count/trk_get) nor moved by
 * flow, but a later detection can take it back (by IoU, confirmed by the embedding when one
 * is available). A lost track unseen for longer than params.timeout ends (event TRACK_END,
 * end = last time seen); its embedding joins a list of the 256 most recently ended tracks,
 * and a newborn face whose embedding has cosine similarity >= reid_threshold with one of them
 * takes that id back (event TRACK_START again, with the same id). So an id may have several
 * start/end spans; its summary covers them all. Ids start at 1 and are never given to a
 * different track.
 *
 * Verification (a track never changes person silently): a detection that continues a
 * visible track by overlap is checked against the track's appearance whenever the evidence
 * that it is the same face is weak: the caller marked the track (trk_mark_verify: flow
 * unsure or failed, an abrupt frame change below the cut test), the detection jumped from the
 * flow-predicted box (centre moved by more than TRK_JUMP of the box side, or the side changed
 * by more than TRK_SCALE_JUMP times), the track went undetected for longer than TRK_GAP, its
 * head turned (keypoint yaw changed by more than TRK_YAW_JUMP since its last embedding), or
 * its last embedding is older than TRK_REVERIFY. When the embedding's cosine similarity with
 * the track is below verify_threshold, the detection does not continue it: the track is
 * lost (it ends after the timeout unless its own face comes back) and the detection
 * re-identifies another track or starts one. When no embedding can be had (the callback
 * declines tiny, blurred or profile faces), the overlap decision stands.
 *
 * Deferred re-identification (pooled descriptors): one descriptor of a face of 40-60 pixels
 * is not trustworthy (different people score up to 0.70 on the sitcom reel), but the mean of a
 * few, taken at different frames of one track, is (docs/face_embedding.md, "Pooled"). So each
 * track samples up to TRK_POOL_N descriptors, at least TRK_POOL_DT apart, at detection frames
 * (the callback's pooled mode accepts smaller faces than a single decision does), and keeps
 * their L2-normalised mean. A track that started under a new id is provisional: once it has
 * TRK_POOL_DECIDE samples, and again at each further one, its pooled descriptor is compared
 * with those of the ended and lost tracks; when the best identity scores >= pool_threshold,
 * TRK_POOL_MARGIN above any other identity, and no visible track has that identity, the track
 * takes it (trk_track.ident, the summary's identity): frames already reported keep their
 * track id, later ones carry the identity, and the summary lets a reader relabel the earlier
 * ones. A track settles (no more comparisons) when it matched or has TRK_POOL_N samples. At the
 * end of a video the caller may join identities further (pipeline/track_cluster.h: shot
 * threading, clothes and cannot-links); the tracker's identities are where it starts. */
#ifndef EMO_PIPELINE_TRACKER_H
#define EMO_PIPELINE_TRACKER_H

#include <stdint.h>

#include "core/err.h"
#include "emo.h"
#include "vision/blazeface.h"
#include "vision/face_embed.h"

#define TRK_MAX_TRACKS 64     /* live tracks (visible + lost) at most; detections used per frame */
#define TRK_MAX_ENDED 256     /* ended tracks remembered for re-identification */
#define TRK_AMBIG_MARGIN 0.3f /* IoU gap below which two candidates are "ambiguous" */
#define TRK_JUMP 0.35f        /* verification: centre moved by this fraction of the box side */
#define TRK_SCALE_JUMP 1.3f   /* verification: box side changed by this factor */
#define TRK_GAP 0.5           /* verification: seconds undetected (moved by flow or lost) */
#define TRK_YAW_JUMP 0.3f     /* verification: change of the keypoint yaw proxy (trk_yaw) */
#define TRK_REVERIFY 2.0      /* verification: seconds since the track's last embedding */
#define TRK_POOL_N 4          /* pooled descriptors sampled per track at most */
#define TRK_POOL_DECIDE 3     /* samples before a provisional track is compared */
#define TRK_POOL_DT 0.15      /* seconds between a track's pooled samples at least */
#define TRK_POOL_MARGIN 0.03f /* the best identity's lead over the next one */

typedef struct trk_params {
  double timeout; /* seconds a lost track waits before it ends (emo_run_params.track_timeout) */
  float iou_min;  /* least IoU for a detection to continue a track, in (0, 1] (0.3) */
  float reid_threshold;   /* cosine similarity to re-identify (emo_run_params.reid_threshold) */
  float verify_threshold; /* below this similarity a detection is another person's (0.5) */
  float pool_threshold;   /* pooled descriptors: least similarity to re-identify (0.70); > 1
                             turns deferred re-identification off */
  float smoothing;        /* time constant of the smoothed expression, s; 0 = none */
  int max_tracks;         /* live tracks at most, 1..TRK_MAX_TRACKS */
} trk_params;

/* timeout 1 s, iou_min 0.3, reid_threshold 0.6, verify_threshold 0.5, pool_threshold 0.7,
 * smoothing 0.5 s, max_tracks 64. */
trk_params trk_params_default(void);

typedef struct trk_track {
  int id;                    /* >= 1 */
  int alive;                 /* 1 (tracks returned by trk_get are live) */
  float box[4];              /* x, y, width, height in image pixels (as emo_track_face and
                                vision/optical_flow.h; detections' corners are converted) */
  float kp[BF_KEYPOINTS][2]; /* keypoints, image pixels */
  float score;               /* score of the last detection */
  double first_t;            /* first time this id was seen (over all its spans) */
  double span_t;             /* start of the current span (last TRACK_START) */
  double last_seen_t;        /* last frame it was present (detected or moved by flow) */
  double last_det_t;         /* last frame it was detected */
  int64_t frames;            /* frames present, over all spans */
  int has_emb;               /* emb is set */
  float emb[FEM_DIM];        /* L2-normalised appearance (running blend of confirmed embeddings) */
  float smoothed[EMO_EXPR_COUNT]; /* exponentially smoothed expression (valid if has_expr) */
  int has_expr;
  double expr_t;           /* time of the last expression sample */
  int detected_now;        /* 1: box from this frame's detector; 0: moved by flow */
  int visible;             /* internal: 0 while lost */
  int verify;              /* internal: verify the next detection that continues it */
  int after_cut;           /* internal: lost at a shot cut (continued only by appearance) */
  double emb_t;            /* internal: time of its last embedding (births and verifications) */
  float emb_yaw;           /* internal: trk_yaw of the face at that embedding */
  int ident;               /* identity: id, or the earlier id its pooled descriptor matched */
  int det_i;               /* internal: index of its detection in the last detection frame */
  int n_pool;              /* pooled descriptors sampled (0..TRK_POOL_N) */
  double pool_t;           /* internal: time of the last pooled sample */
  int settled;             /* internal: identity decided (revived, matched, or out of samples) */
  float pool[FEM_DIM];     /* L2-normalised mean of the pooled samples (valid if n_pool > 0) */
  float pool_sum[FEM_DIM]; /* internal: their sum */
} trk_track;

typedef struct trk_state trk_state;

/* Allocates a tracker (fixed capacity) into *out (caller frees with trk_destroy). Returns
 * EMO_OK, EMO_EINVAL (params out of range, named in err) or EMO_ENOMEM. */
int trk_create(const trk_params *p, trk_state **out, emoi_err *err);
/* Frees *s and sets it to NULL; safe on NULL. */
void trk_destroy(trk_state **s);
/* Forgets every track, id and statistic (ids restart at 1); keeps the allocations. */
void trk_reset(trk_state *s);

/* Computes the L2-normalised FEM_DIM embedding of detection det_index (of the dets passed to
 * trk_update_detections) into out; returns 0 or a negative status. EMO_EUNSUPPORTED means
 * "no embedding available" (e.g. re-identification is off): the tracker goes on with IoU
 * alone; any other negative status aborts the update and is returned. pooled = 1 asks for a
 * sample to be averaged with others of the same track (a smaller face may serve); 0 for a
 * descriptor that decides alone. */
typedef int (*trk_embed_fn)(void *user, int det_index, int pooled, float *out);

/* Optional (trk_set_embed_many): the embeddings of n detections of one trk_update_detections
 * call at once, det_index[k] (distinct) with pooled as in trk_embed_fn, into out[det_index[k]],
 * each one's status into rc[k] (as trk_embed_fn would return it); called with that call's user.
 * The tracker calls it instead of embed wherever it knows ahead that it will need two or more
 * (births, ambiguous or weak associations, pooled samples), so that the caller may compute
 * them in parallel. Each result must be what embed would give: the association is the same. */
typedef void (*trk_embed_many_fn)(void *user, const int *det_index, int pooled, int n,
                                  float (*out)[FEM_DIM], int *rc);

/* Sets (or, with NULL, clears) s's trk_embed_many_fn; used only when embed is not NULL. */
void trk_set_embed_many(trk_state *s, trk_embed_many_fn many);

/* A detection frame at media time t (non-decreasing): dets (n, image pixels, borrowed; only
 * the first TRK_MAX_TRACKS are used) are associated with the live tracks; see the file
 * comment. embed may be NULL (no appearance: no re-identification, IoU only); it is called
 * at most once per detection per frame, and only for newborn faces, ambiguous associations
 * (a detection overlapping two tracks, or two detections one track, with IoUs closer than
 * TRK_AMBIG_MARGIN) and detections about to continue a lost track. Events of this call:
 * trk_events. Detections with a non-finite or empty box are ignored. Returns EMO_OK, EMO_EINVAL,
 * EMO_ENOMEM or the callback's error. */
int trk_update_detections(trk_state *s, double t, const bf_detection *dets, int n,
                          trk_embed_fn embed, void *user, emoi_err *err);

/* A shot cut at time t: every visible track becomes lost, and may be continued after the cut
 * only by a face whose embedding agrees (cosine >= reid_threshold): never by overlap alone,
 * the next shot's face near the old box being someone else as often as not. Events:
 * trk_events. Returns EMO_OK, EMO_EINVAL or EMO_ENOMEM. */
int trk_cut(trk_state *s, double t, emoi_err *err);

/* A flow frame at time t: the caller has already moved each visible track (trk_set_box).
 * Counts the frame for visible tracks, ends lost tracks past the timeout, sets
 * detected_now = 0. Returns EMO_OK or EMO_EINVAL (t not finite). */
int trk_update_flow(trk_state *s, double t);

/* Moves visible track idx (0 <= idx < trk_count) to box (x, y, w, h) and its keypoints by
 * the flow's motion: kp' = c + (dx, dy) + scale * (kp - c), c the old box centre (as
 * of_track_box's of_box_result: box, dx, dy, scale). Ignores a
 * bad idx or a non-finite box. */
void trk_set_box(trk_state *s, int idx, const float box[4], float dx, float dy, float scale);

/* Asks for verification of visible track idx at its next detection (see the file comment).
 * Ignores a bad idx. */
void trk_mark_verify(trk_state *s, int idx);

/* Head-turn proxy of a detection from its keypoints: the nose tip's offset from the eyes'
 * midpoint along the eye line, in eye distances (about 0 frontal, +-0.5 at a half profile);
 * 0 when the eyes coincide. */
float trk_yaw(const bf_detection *d);

/* Whether a visible track still samples pooled descriptors (its identity is not settled):
 * the caller then detects more often. */
int trk_wants_samples(const trk_state *s);

/* Verifications done since trk_create or trk_reset, and how many ended a continuation. */
void trk_verify_counts(const trk_state *s, int64_t *checked, int64_t *rejected);

/* Records this frame's expression (7 probabilities) of visible track idx at time t: adds to
 * the id's mean, and smooths: smoothed += alpha * (probs - smoothed), alpha = 1 -
 * exp(-dt / smoothing), dt since the track's previous sample (the first sample is taken as
 * is; smoothing 0 = no smoothing). */
void trk_add_expression(trk_state *s, int idx, double t, const float probs[EMO_EXPR_COUNT]);

/* Adds visible track idx's face details of this frame (pose, AU proxies) to its summary. */
void trk_add_details(trk_state *s, int idx, const emo_face_details *d);

/* Visible tracks of the current frame, ordered by id. trk_get returns NULL for a bad idx. */
int trk_count(const trk_state *s);
const trk_track *trk_get(const trk_state *s, int idx);

/* Events produced by the last update/finish call (ends before starts, except a lost track
 * ended early to make room for a newborn one when max_tracks are live); *ev owned by s, valid
 * until the next call. Returns their count. */
int trk_events(const trk_state *s, const emo_event **ev);

/* Ends every live track (events, end = last time seen). Time t is that of the last frame. */
int trk_finish(trk_state *s, double t);

/* One summary per id ever given (index id - 1, ordered by id): first/last time, frames,
 * mean expression (all 0 and dominant -1 without samples), identity, pooled embedding (of its
 * last span that had one; NULL without). *out owned by s. Returns the count. */
int trk_summaries(const trk_state *s, const emo_track_summary **out);

#endif
