/* diarize.h: speaker diarization ("who spoke when") of 16 kHz mono speech, given the speech
 * regions found by a voice activity detector. Classical, model-free method by default:
 *
 *   1. frame features: 19 MFCC (c1..c19, 25 ms / 10 ms, from audio/features.h) with cepstral
 *      mean normalization over the speech frames;
 *   2. speaker-change detection inside long speech regions by the Bayesian Information
 *      Criterion between two adjacent 1 s windows of diagonal Gaussians (Chen & Gopalakrishnan
 *      1998, "Speaker, environment and channel change detection and clustering via the BIC");
 *   3. the resulting homogeneous stretches cut into uniform pieces of at most piece_sec
 *      (2.5 s by default: at least as many frames as a full-covariance Gaussian has free
 *      parameters, 19 + 190 = 209; shorter pieces give ill-conditioned covariances and noisy
 *      BIC distances. On the tuning files 2.0 to 3.0 s did equally well, 1.0 to 1.5 s worse);
 *   4. each piece represented by a full-covariance Gaussian (sufficient statistics), or by a
 *      vector from a caller-supplied embedding function (e.g. a WeSpeaker/ECAPA ONNX model);
 *   5. agglomerative hierarchical clustering: with Gaussians, the pair with the lowest
 *      Delta-BIC is merged while Delta-BIC < 0 (Chen & Gopalakrishnan 1998; penalty weight
 *      lambda as in Tranter & Reynolds 2006, "An overview of automatic speaker diarization
 *      systems"); with embeddings, average-linkage cosine distance under a threshold;
 *      the number of speakers is bounded by [min_speakers, max_speakers] (at most 8);
 *   6. resegmentation: Viterbi decoding of the speech frames with one full-covariance
 *      Gaussian per speaker and a fixed log-likelihood cost per speaker change, re-estimated
 *      a few times (the resegmentation step of LIUM / Meignier & Merlin 2010), then removal
 *      of speaker runs shorter than min_seg_sec. A cluster with less speech than
 *      min_speaker_sec (by default the 209 frames a full-covariance Gaussian needs for as many
 *      observations as parameters) is not modelled: its frames go to the other speakers.
 * Output segments never overlap (one speaker at a time; overlapped speech is left to others).
 *
 * Memory is linear in the input length plus O(P^2) for P <= max_pieces clustering pieces
 * (pieces are lengthened when a long input would give more). Inputs longer than max_seconds
 * are refused with EMO_ELIMIT. Nothing is printed; errors go to emoi_err.
 * Thread-safe: dia_run keeps no global state (the embedding callback must be safe for the
 * caller's use).
 *
 * What this file leaves to others: decoding and resampling (media/audio_decode.h), neural
 * voice activity detection (audio/vad.h, with a segmentation suited to diarization chosen in
 * pipeline/analyze_audio.c; dia_energy_vad here is a plain energy fallback for development
 * and for when no VAD model is present), neural speaker embeddings (plugged in
 * through dia_embed_fn), RTTM output (output/rttm.h). */
#ifndef EMO_AUDIO_DIARIZE_H
#define EMO_AUDIO_DIARIZE_H

#include "core/err.h"

#define DIA_MAX_SPEAKERS 8
#define DIA_SAMPLE_RATE 16000

/* A time span [start, end) in seconds with a speaker index (0-based; ignored on input). */
typedef struct dia_segment {
  double start, end;
  int speaker;
} dia_segment;

/* Result of dia_run / dia_energy_vad: segs sorted by start, non-overlapping; owned by the
 * result, freed by dia_result_free. */
typedef struct dia_result {
  dia_segment *segs; /* (n) */
  int n;
  int n_speakers; /* speakers are 0 .. n_speakers-1, numbered by first appearance */
} dia_result;

/* Speaker embedding of pcm[0..n) (16 kHz mono): writes dim floats to emb. Returns 0, or
 * nonzero to abort dia_run with EMO_EEXTERNAL. Called once per clustering piece, in order,
 * from the thread that called dia_run. */
typedef int (*dia_embed_fn)(void *user, const float *pcm, int n, float *emb, int dim);

typedef struct dia_config {
  int min_speakers;      /* 1 .. max_speakers; 1 */
  int max_speakers;      /* 1 .. DIA_MAX_SPEAKERS; 8 */
  float piece_sec;       /* longest clustering piece, seconds; 2.5 */
  float min_piece_sec;   /* shorter stretches are not clustered, only labelled by the
                            resegmentation (and by their likeliest speaker); 0.5 */
  float change_win_sec;  /* window of each side of the change detector; 1.0 (0: off) */
  float change_lambda;   /* BIC penalty weight of change detection; see dia_config_default */
  float bic_lambda;      /* BIC penalty weight of the clustering stop rule */
  int max_pieces;        /* cap on clustering pieces (memory P^2 floats); 2000 */
  int reseg_iters;       /* Viterbi resegmentation passes; 0 keeps the clustering labels */
  float switch_cost;     /* Viterbi log-likelihood cost of a speaker change */
  float min_seg_sec;     /* speaker runs shorter than this join a neighbour; 0.3 */
  float min_speaker_sec; /* clusters with less speech are dissolved before resegmentation;
                            2.09 (209 frames, the parameters of a speaker's Gaussian) */
  float max_seconds;     /* longest input accepted; 7200 */
  /* Neural embedding instead of Gaussian statistics (all three set to enable). */
  dia_embed_fn embed;
  void *embed_user;
  int embed_dim;         /* 1 .. 4096 */
  float embed_threshold; /* average-linkage cosine distance at which merging stops; 0.5 */
} dia_config;

/* Defaults above (penalties and piece_sec chosen on AMI excerpts trn00..04 only, see
 * tests/test_diarize.c and dev/dia_pipeline_eval.sh). */
void dia_config_default(dia_config *cfg);

/* Diarizes pcm[0..n) (16 kHz mono float) restricted to the speech spans speech[0..n_speech)
 * (seconds, any order, may overlap; parts outside [0, n/16000) are ignored). On success
 * returns 0 and fills *out (caller frees with dia_result_free; an input without speech gives
 * n = 0). Errors: EMO_EINVAL (NULL pointers, bad config), EMO_ELIMIT (longer than
 * max_seconds), EMO_ENOMEM, EMO_EEXTERNAL (embedding callback failed); *out is then empty. */
int dia_run(const dia_config *cfg, const float *pcm, int n, const dia_segment *speech, int n_speech,
            dia_result *out, emoi_err *err);

/* The same from the frame features alone, so that a long recording never needs its samples
 * in memory at once: feat (nf, DIA_FEAT_DIM) as dia_feats_push makes them (modified in place:
 * mean-normalised over the speech frames), duration the input's length in seconds. The
 * embedding path needs samples: cfg->embed must be NULL (else EMO_EINVAL). Results are equal
 * to dia_run's on the same samples. */
int dia_run_features(const dia_config *cfg, float *feat, int nf, double duration,
                     const dia_segment *speech, int n_speech, dia_result *out, emoi_err *err);

/* Streaming front end of the diarizer: 19 MFCC (c1..c19) per 10 ms frame, pushed in chunks of
 * any size; the frames are those of the whole signal (see audio/features.h). */
#define DIA_FEAT_DIM 19
typedef struct dia_feats {
  struct feat_config *fc;
  float *rows; /* (nf, DIA_FEAT_DIM) */
  int nf, cap;
  float *buf; /* samples from the next frame's start on: (buf_n,) of (buf_cap,) */
  int buf_n, buf_cap;
} dia_feats;

int dia_feats_init(dia_feats *s, emoi_err *err);                          /* EMO_OK or EMO_ENOMEM */
int dia_feats_push(dia_feats *s, const float *pcm, int n, emoi_err *err); /* EMO_OK, ENOMEM */
void dia_feats_free(dia_feats *s); /* safe on a zeroed struct */

/* Energy-based speech detector: 25 ms / 10 ms frames whose log energy exceeds the 10th
 * percentile of the file by threshold_db (e.g. 15), gaps under 0.3 s filled, runs under
 * 0.25 s dropped. Fills *out with speaker 0 segments. Returns 0, EMO_EINVAL or EMO_ENOMEM. */
int dia_energy_vad(const float *pcm, int n, float threshold_db, dia_result *out, emoi_err *err);

/* Frees out->segs and zeroes *out; safe on a zeroed or already freed result. */
void dia_result_free(dia_result *out);

#endif
