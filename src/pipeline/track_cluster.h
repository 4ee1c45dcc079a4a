/* track_cluster.h: final identities of a video's tracks by shot threading and constrained
 * agglomerative clustering, run once at the end of a video (the summary's "identity").
 *
 * Edited scenes cut back and forth between a few camera setups (shot / reverse-shot); a shot
 * from a setup seen before shows the same people at about the same places. So, as in
 * Everingham, Sivic & Zisserman ("Hello! My name is... Buffy", BMVC 2006), Tapaswi et al.
 * ("Total Cluster", FG 2015) and Cinbis, Verbeek & Schmid ("Unsupervised metric learning for
 * face identification in TV video", ICCV 2011):
 *  - shots are threaded: two shots whose first or last frames look alike (vision/frame_layout.h:
 *    distance <= thread_max or correlation >= thread_corr) are from one setup;
 *  - a track in a shot and a track in a threaded shot whose mean boxes sit at a similar place
 *    and size (centres within box_shift face sides, sides within a factor box_scale), each the
 *    only such track of its shot for the other, are linked (must-link evidence);
 *  - a track that starts where another ended shortly before in the same shot (cont_gap: a
 *    detector miss or a doubtful continuation the tracker did not bridge), each the only such
 *    track for the other, is linked to it too (a continuation link, must-link evidence like a
 *    thread link);
 *  - two tracks seen in one frame are never one person (cannot-link, a hard constraint);
 *  - clusters start as the tracker's identities and are merged greedily, best first, with
 *    average-linkage similarity of the tracks' pooled face descriptors: a pair merges when
 *    similar enough alone (face_only), or linked by a thread and similar enough (face_linked),
 *    or linked without descriptors on either side to compare (link_alone), or wearing alike
 *    clothes (the colour histogram under the face, Bhattacharyya coefficient >= clothes, as
 *    Everingham et al.'s clothing descriptor) with faces that do not disagree, or when two of
 *    their member tracks wear alike clothes (>= clothes_track, single linkage over the tracks'
 *    own histograms: a cluster's summed clothes mix its close-ups and its wide shots under
 *    other light, where one track of each light matches the other's), or, last, when both
 *    cues are weak but agree (descriptors >= both_face and two member tracks' clothes
 *    >= both_clothes); never across a cannot-link.
 * What is a shot and what is a face are the caller's (pipeline/analyze_video.c: the shot-cut
 * detector and the tracker); this file keeps what it needs of them as the video goes.
 *
 * Cost: per analysed frame, a copy of the caller's grid (2.3 KB) and, every TCL_CLOTHES_EVERY
 * frames of a track, 144 pixel reads for its clothes; two layouts a shot (no pixel reads);
 * memory O(shots + tracks x shots they appear in + co-visible pairs), about 4 KB a shot. At
 * the end, O(S^2) descriptor distances for S shots (at most TCL_MAX_SHOTS are threaded), the
 * continuation test O(K^2) for the K tracks of each shot, and
 * for N tracks (at most TCL_MAX_IDS, those with the most frames; others keep the tracker's
 * identity) O(N^2 D) for the descriptor similarities (D = FEM_DIM) and O(N^3) for the merges. */
#ifndef EMO_PIPELINE_TRACK_CLUSTER_H
#define EMO_PIPELINE_TRACK_CLUSTER_H

#include "core/err.h"
#include "core/log.h"
#include "vision/frame_layout.h"

#define TCL_MAX_SHOTS 4096  /* shots threaded at most (later shots are not) */
#define TCL_MAX_IDS 1024    /* tracks clustered at most */
#define TCL_TRACK_CLOTHES 4 /* clothes samples a track needs for clothes_track */
#define TCL_CLOTHES_EVERY                                                         \
  4 /* a track's clothes are sampled at its first frame and every this many after \
       (a track's clothes sum many frames: the reel scored the same with 1) */

typedef struct tcl_params {
  float thread_max;    /* shots are of one setup at this fl_distance or less, */
  float thread_corr;   /* or at this fl_correlation or more */
  float box_shift;     /* link: centres within this many face sides (x and y each) */
  float box_scale;     /* link: larger side / smaller side at most */
  float face_only;     /* merge on pooled descriptors alone from this similarity; > 1 = never */
  float face_linked;   /* merge two linked clusters from this similarity */
  int link_alone;      /* 1: merge linked clusters when no descriptor pair can be compared */
  float clothes;       /* merge from this clothing similarity when the faces do not disagree
                          (similarity >= face_linked, or none to compare); > 1 = never */
  float clothes_track; /* merge when two member tracks' own clothes are this similar (each
                          with TCL_TRACK_CLOTHES samples) and the faces do not disagree */
  float both_face;     /* merge when the pooled descriptors score this much or more (a weak */
  float both_clothes;  /* face match) and two member tracks' clothes this much (each with
                          TCL_TRACK_CLOTHES samples): two weak cues that agree; > 1 = never */
  float cont_gap;      /* continuation link: a track that starts within this many seconds after
                          another ended, in one shot, where it ended; 0 = never */
  float cont_shift;    /* continuation link: centres within this many face sides (x and y
                          each; sides within box_scale) */
} tcl_params;

/* The defaults (track_cluster.c says where each comes from). */
tcl_params tcl_params_default(void);

typedef struct tcl_state tcl_state;

/* Allocates an empty state into *out (free with tcl_destroy). EMO_OK or EMO_ENOMEM. */
int tcl_create(tcl_state **out, emoi_err *err);
/* Frees *s and sets it to NULL; safe on NULL. */
void tcl_destroy(tcl_state **s);
/* Forgets every shot, track and pair; keeps the allocations. */
void tcl_reset(tcl_state *s);

/* One analysed frame at time t (non-decreasing): cut = 1 when a new shot starts here (the first
 * frame always starts one); grid = the frame's colour grid (vision/frame_grid.h; may be NULL:
 * the shot is then not threaded by this frame), of which a layout (fl_describe, faces left
 * out) is made only for a shot's first and last frames; rgb (h rows of w*3 bytes, stride apart;
 * may be NULL) the frame, for the clothes under each face (fl_clothes, every
 * TCL_CLOTHES_EVERY frames of a track); ids (>= 1) and boxes (x, y, width, height, pixels) of
 * the n faces reported in it. Returns EMO_OK, EMO_EINVAL or EMO_ENOMEM. */
int tcl_frame(tcl_state *s, double t, int cut, const fg_grid *grid, const uint8_t *rgb, int w,
              int h, ptrdiff_t stride, const int *ids, const float (*boxes)[4], int n);

/* Shots seen so far. */
int tcl_shot_count(const tcl_state *s);

/* Clusters ids 1..n_ids: emb[id - 1] is id's L2-normalised pooled descriptor of dim values, or
 * NULL; ident[id - 1] holds its identity on entry (the tracker's: ids sharing one start in
 * one cluster) and the final one on return (the cluster's smallest id). links and merges (may
 * be NULL) receive the thread and continuation links found and the merges made. log (may be NULL)
 * receives, at EMO_LOG_DEBUG, the threaded shots, links, merges and the close pairs left apart.
 * Returns EMO_OK, EMO_EINVAL or EMO_ENOMEM (ident unchanged). */
int tcl_cluster(tcl_state *s, const tcl_params *p, int n_ids, const float *const *emb, int dim,
                int *ident, int *links, int *merges, const emoi_logger *log, emoi_err *err);

#endif
