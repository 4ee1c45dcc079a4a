/* persons.h: faces and voices joined into persons (emo_person in emo.h), on the timeline of
 * emo_analyze_media (pipeline/analyze_media.c calls these on its calling thread, in delivery
 * order). Per frame, each face's speaking score comes from its speaking evidence
 * (pipeline/speaking.h) gated by the soundtrack's voice activity; per segment, the face seen
 * speaking over the frames it covers; at the end, each diarization speaker is joined to at most
 * one face and each face to at most one speaker by optimal assignment (pipeline/assignment.h)
 * on their affinity over the whole recording.
 *
 * Memory: what the end needs is kept per track and per speaker (a few hundred bytes each, plus
 * one float per speaker x track pair); per frame only a history of (time, track, score)
 * covering the speech segment not yet delivered, trimmed as segments are delivered
 * (psn_trim), so a long recording stays in bounded memory. */
#ifndef EMO_PIPELINE_PERSONS_H
#define EMO_PIPELINE_PERSONS_H

#include "core/err.h"
#include "emo.h"

#define PSN_SPEAKING 0.5f  /* speaking score from which a frame counts as speaking */
#define PSN_SEG_LINK 0.3f  /* mean score over a segment from which its face is named */
#define PSN_JOIN_MIN 0.25f /* affinity from which a speaker and a face may be joined */
/* Splitting and merging speakers by the faces that carry their segments (persons.c): */
#define PSN_CARRY 0.5f         /* a face's mean score over a segment from which it carries it */
#define PSN_CARRY_MARGIN 0.25f /* ... when it beats the next face by this much */
#define PSN_OFF_MAX 0.3f       /* no face reaches this (PSN_SEG_LINK): spoken off screen */
#define PSN_SPLIT_MIN 1.0      /* seconds a carrier must carry to split a speaker off */
#define PSN_SPLIT_SHARE 0.2    /* ... and this share of the speaker's talk */
#define PSN_BIN                                                    \
  1.0 /* seconds: a segment is cut into pieces where the face that \
         carries its bins of this length changes */
/* A bin at least PSN_OVERLAP_MIN seconds long in which two or more faces carry (each a mean
 * >= PSN_CARRY) is overlapped speech: each of those faces gets a turn of its own. */
#define PSN_OVERLAP_MIN 0.5

typedef struct psn_state psn_state;

int psn_create(psn_state **out, emoi_err *err);
void psn_destroy(psn_state **s);

/* A new recording: forgets the last one's tracks, speakers and history. */
void psn_begin(psn_state *s);

/* The heads whose answers the persons average (NULL: none), after psn_begin. */
int psn_set_heads(psn_state *s, const emo_head *face, const emo_head *voice, emoi_err *err);

/* A frame about to be delivered: sets f->persons and each face's speaking (from evidence
 * (face_count,), may be NULL) and person; audio_visual: the evidence already accounts for the
 * sound (used as it is), else it is gated by voiced: 1 when speech covers f->t, 0 when not, -1
 * when unknown (no soundtrack, or after its end). Records what the segments and the end need. */
int psn_frame(psn_state *s, emo_frame_result *f, const float *evidence, int audio_visual,
              int voiced, emoi_err *err);

/* A speech segment about to be delivered (every frame it covers was delivered): sets its
 * link fields and adds to its speaker's affinities. */
int psn_segment(psn_state *s, emo_speech_segment *seg, emoi_err *err);

/* No segment delivered later will cover a frame before t: forget the history before it. */
void psn_trim(psn_state *s, double t);

/* The end: splits and merges speakers by the faces that carry their segments, joins them to
 * faces and returns the persons (owned by s, valid until the next psn_begin), ordered by id, and
 * the final turns (*turns (*n_turns,), in time order, owned by s likewise). vs: the frames'
 * summary; audio: the soundtrack's result, NULL when there is none. */
int psn_finish(psn_state *s, const emo_video_summary *vs, const emo_audio_result *audio,
               const emo_person **out, int *n_out, const emo_person_turn **turns, int *n_turns,
               emoi_err *err);

#endif
