/* ser.h: emo's built-in speech-emotion-recognition model (trained by us, training/train_ser.py):
 * the reader of its weights file (models/ser/emo_ser_v1.bin, format below) into an nn_graph,
 * and clip classification: PCM -> log-mel (audio/features.h) -> normalization -> fixed-size
 * chunks through the CNN (or an ensemble of CNNs, their logits averaged) -> logits averaged
 * over chunks -> softmax over 8 labels.
 *
 * Weights file, version 2 (little-endian, no padding, nothing after the last tensor; version 1,
 * emo_ser_v1.bin, is read too: it has no n_members field and no "m<j>." name prefixes, i.e.
 * one member):
 *   magic        8 bytes  "EMOSER\0\0"
 *   version      u32      2
 *   n_labels     u32      8; then per label: u8 len (1..31), len bytes (must be, in order,
 *                         angry disgust fear happy sad surprise neutral calm)
 *   features     u32 sample_rate, win_length, hop_length, n_fft, n_mels;
 *                f32 f_min, f_max, log_offset; u32 mel_scale (0 = HTK, the only one)
 *   chunk_frames u32      frames per network input (1, chunk_frames, n_mels, 1) NHWC
 *   n_blocks     u32      1..8 conv blocks (per member)
 *   n_members    u32      1..SER_MAX_MEMBERS networks of an ensemble (version 2 only)
 *   n_tensors    u32      then per tensor: u8 name_len (1..63), name, u32 rank (1..4),
 *                         rank x u32 dims, f32 data (product of dims)
 * Tensors: "norm.mean", "norm.std" (n_mels), shared by the members; per member j (prefix "m<j>."
 * in version 2, none in version 1): "conv<i>.w" (Co, Kh, Kw, Ci) OHWI with batch norm folded
 * in, "conv<i>.b" (Co), i < n_blocks, Ci of block 0 = 1, Kh/Kw odd <= 7; "fc.w" (8, Co_last),
 * "fc.b" (8). Member network: per block CONV2D (SAME, stride 1, fused ReLU) then MAX_POOL2D
 * 2x2 stride 2; MEAN over H and W; FULLY_CONNECTED -> logits. The model's logits are the mean
 * of its members' (an ensemble of independently trained networks, Lakshminarayanan et al.
 * 2017); its pooled layer is the concatenation of theirs, member after member.
 * Front end (the same in training/ser_common.py): log-mel of the whole clip; leading and
 * trailing frames whose mean log-mel is more than 7 (nats of power, ~30 dB) below the loudest
 * frame's are dropped, leaving (F, n_mels); minus its scalar mean, per band (x - norm.mean) /
 * norm.std; a clip of F <= chunk frames is tiled (row t = row t mod F), a longer one cut into
 * chunks starting every chunk/2 frames plus one ending at the last frame.
 *
 * What it leaves to others: decoding and resampling to 16 kHz mono (media/), voice activity /
 * segmentation of long recordings (callers pass one utterance at a time), the public API. */
#ifndef EMO_AUDIO_SER_H
#define EMO_AUDIO_SER_H

#include <stddef.h>

#include "audio/features.h"
#include "core/err.h"
#include "nn/nn.h"

#define SER_N_LABELS 8
#define SER_MAX_MEMBERS 8             /* networks in one weights file */
#define SER_MAX_EMBED 1024            /* channels of the pooled layer, all members together */
#define SER_MAX_SAMPLES (16000 * 600) /* longest clip ser_classify accepts: 10 minutes */

/* Immutable after ser_load; shareable across threads (each thread needs its own nn_plan). */
typedef struct ser_model ser_model;

/* Parses size bytes at data (borrowed, only read during the call); source names the file in
 * messages (may be NULL). On success *out owns the model (free with ser_destroy), returns 0;
 * otherwise EMO_EMODEL/EMO_ENOMEM/EMO_EINVAL with err naming the field at fault. */
int ser_load(const void *data, size_t size, const char *source, ser_model **out, emoi_err *err);

/* Frees and sets *m to NULL; NULL and *m == NULL are fine. */
void ser_destroy(ser_model **m);

/* Label i (0 <= i < SER_N_LABELS) as stored in the file, or NULL. */
const char *ser_label(const ser_model *m, int i);

/* The finalized network (input (1, chunk, n_mels, 1), outputs (1, 8) logits and (1, ser_embed_dim)
 * pooled features): create an nn_plan on it per thread for ser_classify. Owned by the model. */
const nn_graph *ser_graph(const ser_model *m);

/* The model's feature front end and chunk length in frames. */
const feat_config *ser_features(const ser_model *m);
int ser_chunk_frames(const ser_model *m);

/* Classifies one utterance: n samples of 16 kHz mono float PCM (n >= win_length, at most
 * SER_MAX_SAMPLES) -> probs[i] for label i. plan: created on ser_graph(m) by the caller (one per
 * thread), or NULL to build and free a single-threaded XNNPACK plan inside the call. Allocates
 * the clip's feature buffer (frames x n_mels floats) for the duration of the call. Returns 0 or
 * a negative status with err set. */
int ser_classify(const ser_model *m, nn_plan *plan, const float *pcm, int n,
                 float probs[SER_N_LABELS], emoi_err *err);

/* Channels of the network's pooled layer (its input to the final fully connected layer; for an
 * ensemble the members' pooled layers concatenated), at most SER_MAX_EMBED. */
int ser_embed_dim(const ser_model *m);

/* ser_classify, and when embed is not NULL also the pooled layer averaged over the chunks into
 * embed (ser_embed_dim floats): the speech-emotion part of emo's voice feature vector. */
int ser_classify_embed(const ser_model *m, nn_plan *plan, const float *pcm, int n,
                       float probs[SER_N_LABELS], float *embed, emoi_err *err);

#endif
