/* speaking.h: where a face's speaking score comes from: a pluggable source of per-face,
 * per-frame evidence that the face is talking, fed by the video timeline
 * (pipeline/analyze_video.c) and fused with the soundtrack by pipeline/persons.c.
 *
 * Two kinds of source fit the interface:
 *  - visual only (audio_visual = 0): the evidence says how much the face moves its mouth; the
 *    fusion multiplies it by the soundtrack's voice activity (nobody on screen speaks while
 *    nobody speaks). The built-in one is the classical mouth-motion score below.
 *  - audio-visual (audio_visual = 1): a network such as LR-ASD (Liao et al., IJCV 2025) that
 *    reads face crops and the sound and scores speaking itself; it gets the 16 kHz samples
 *    through push_audio and its scores are used as they are. Its sliding window may make a
 *    score late: push_frame then writes the score of the window that ends at this frame
 *    (causal), so the frame is still delivered at once.
 *
 * The mouth-motion source: per track, the change of an aligned mouth patch between analysed
 * frames (vision/mouth_motion.h: scaled by the face, normalised for lighting and contrast),
 * smoothed over SPK_SMOOTH seconds, squashed to [0, 1] by a logistic (constants measured in
 * speaking.c). It cannot tell which of two moving mouths is heard (that needs the sound's
 * timing: LR-ASD); the fusion's voice gate only says that someone is heard. */
#ifndef EMO_PIPELINE_SPEAKING_H
#define EMO_PIPELINE_SPEAKING_H

#include <stdint.h>

#include "core/err.h"
#include "emo.h"
#include "nn/nn.h"

typedef struct spk_source spk_source;

typedef struct spk_source_ops {
  const char *method; /* written as the summary's "speaking_method": "mouth_motion", "lr_asd" */
  int audio_visual;   /* 1: the scores already account for the sound */
  /* One analysed frame at media time t: its faces (n, track ids, boxes, keypoints; borrowed)
   * in rgb (h rows of w*3 bytes, stride apart). Writes evidence[i] in [0, 1] for face i, or -1
   * when it cannot be computed (face too small for a crop, no previous frame of it yet). */
  int (*push_frame)(spk_source *s, double t, const uint8_t *rgb, int w, int h, int stride,
                    const emo_track_face *faces, int n, float *evidence, emoi_err *err);
  /* 16 kHz mono samples from media time t0 (audio-visual sources; may be NULL). */
  int (*push_audio)(spk_source *s, const float *pcm, int n, double t0, emoi_err *err);
  void (*reset)(spk_source *s); /* a new stream: forget every track */
  void (*destroy)(spk_source *s);
  /* Sources whose scores become final after a delay (a network's window): hold > 0 is how many
   * seconds after a frame's push_frame its scores are final, the media call then holds each
   * frame that long and asks final_scores for them (evidence as push_frame's, -1 where no final
   * score exists); flush says that no frame follows, so every score pending becomes final.
   * hold = 0 and NULL functions: push_frame's evidence is final. */
  double hold;
  int (*final_scores)(spk_source *s, double t, const emo_track_face *faces, int n, float *evidence);
  int (*flush)(spk_source *s, emoi_err *err);
} spk_source_ops;

struct spk_source {
  const spk_source_ops *ops;
};

/* The built-in mouth-motion source into *out (caller frees with spk_source_destroy).
 * Returns EMO_OK or EMO_ENOMEM. */
int spk_mouth_create(spk_source **out, emoi_err *err);

/* The LR-ASD source (pipeline/speaking_asd.c) with the checkpoint at model_path and the sound
 * of the media file url (NULL: no sound, every score -1), opened under io, at most
 * max_audio_seconds of it. vad_graph (borrowed, Silero VAD; NULL: every frame counts as voiced)
 * gates the network: it runs only on frames with speech and two or more faces, the mouth motion
 * scores the others. isa caps the network's kernels (NN_ISA_AUTO: the best this CPU has).
 * Returns EMO_OK, EMO_EIO naming the file and `emo models import`
 * when the weights are absent, asd_load's errors, or EMO_ENOMEM. */
struct media_io;
struct nn_graph;
int spk_asd_create(spk_source **out, const char *model_path, const char *url,
                   const struct media_io *io, double max_audio_seconds,
                   const struct nn_graph *vad_graph, nn_isa isa, emoi_err *err);

/* Frees *s (any source) and sets it to NULL; safe on NULL. */
void spk_source_destroy(spk_source **s);

#define SPK_SMOOTH 0.2 /* seconds: time constant of the smoothed mouth motion */

#endif
