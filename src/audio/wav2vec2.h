/* wav2vec2.h: wav2vec 2.0 speech-emotion models that users bring (converted to safetensors by
 * tools/wav2vec2_convert.py), run in C on OpenBLAS: the convolutional feature encoder in both
 * forms ("group_norm" = base: GroupNorm with one group per channel after the first conv only;
 * "layer_norm" = large/XLSR: LayerNorm over channels after every conv), feature projection,
 * the convolutional relative positional embedding, the transformer encoder (post-norm for base,
 * pre-norm "layer_norm_first" for large/XLSR), and a classification head:
 *   hf_seqcls  Hugging Face Wav2Vec2ForSequenceClassification: mean over frames of the last
 *              hidden state, projector (D -> P), classifier (P -> n_labels);
 *   sb_linear  speechbrain emotion-recognition-wav2vec2-IEMOCAP: optional output layer norm,
 *              mean over frames, one linear layer without bias (D -> n_labels).
 * Follows Baevski et al. 2020 and torchaudio.models.wav2vec2 (components.py), which the parity
 * test uses as its reference (tests/fixtures/wav2vec2_*.fix, tools/ref/wav2vec2_fixtures.py).
 *
 * File contract (written by tools/wav2vec2_convert.py). Metadata, all strings:
 *   format "emo-wav2vec2", version "1"
 *   extractor_mode   "group_norm" | "layer_norm"
 *   conv_layers      "C:K:S,C:K:S,..." output channels, kernel, stride per layer (1..16 layers)
 *   conv_bias        "0" | "1"
 *   embed_dim D, num_layers L, num_heads H (D % H == 0), ff_dim F,
 *   pos_conv_kernel K, pos_conv_groups G (D % G == 0)
 *   layer_norm_first "0" (base) | "1" (large/XLSR)
 *   input_norm       "none" | "zero_mean_unit_var" (HF feature extractor: (x-mean)/sqrt(var+1e-7),
 *                    population variance) | "layer_norm" (speechbrain: F.layer_norm over the whole
 *                    waveform, eps 1e-5)
 *   head             "hf_seqcls" | "sb_linear"
 *   output_norm      "none" | "layer_norm_all" (speechbrain, all versions: one F.layer_norm over
 *                    all frames and dims of the last hidden state jointly, eps 1e-5, no affine)
 *                    | "layer_norm" (per frame over the last dim, eps 1e-5, no affine; not used
 *                    by speechbrain, offered by the converter's --output-norm); sb_linear only
 *   labels           "l1,l2,..." n_labels names in logit order
 *   other keys (e.g. "source", written by the converter for information) are ignored
 * Tensors (float32, F16 or BF16, converted to float32 at load; names of torchaudio's
 * Wav2Vec2Model state dict, weight norm of the positional conv already folded into one weight;
 * a tensor the configuration does not use, or a non-finite value, makes the file EMO_EMODEL):
 *   feature_extractor.conv_layers.{i}.conv.weight (C_i, C_{i-1}, K_i), C_{-1} = 1
 *   feature_extractor.conv_layers.{i}.conv.bias (C_i)              when conv_bias
 *   feature_extractor.conv_layers.{i}.layer_norm.{weight,bias} (C_i) group_norm: i = 0 only;
 *                                                                    layer_norm: every i
 *   encoder.feature_projection.layer_norm.{weight,bias} (C_last)
 *   encoder.feature_projection.projection.{weight (D, C_last), bias (D)}
 *   encoder.transformer.pos_conv_embed.conv.{weight (D, D/G, K), bias (D)}
 *   encoder.transformer.layer_norm.{weight,bias} (D)   applied after adding the positional
 *       embedding and before the layers when layer_norm_first = 0, after the layers when 1
 *       (torchaudio 0.13's Transformer receives `not layer_norm_first`, which gives this order)
 *   encoder.transformer.layers.{l}.attention.{q,k,v,out}_proj.{weight (D, D), bias (D)}
 *   encoder.transformer.layers.{l}.layer_norm.{weight,bias} (D)
 *   encoder.transformer.layers.{l}.feed_forward.intermediate_dense.{weight (F, D), bias (F)}
 *   encoder.transformer.layers.{l}.feed_forward.output_dense.{weight (D, F), bias (D)}
 *   encoder.transformer.layers.{l}.final_layer_norm.{weight,bias} (D)
 *   head.projector.{weight (P, D), bias (P)}                         hf_seqcls
 *   head.classifier.weight (n_labels, P or D), head.classifier.bias (n_labels) (hf_seqcls only)
 * Layer l, with LN1 = layers.{l}.layer_norm and LN2 = layers.{l}.final_layer_norm:
 *   layer_norm_first 0 (post-norm): x = LN1(x + Attn(x)); x = LN2(x + FFN(x))
 *   layer_norm_first 1 (pre-norm):  x = x + Attn(LN1(x)); x = x + FFN(LN2(x))
 * Activation GELU (erf form), LayerNorm eps 1e-5, conv-extractor norms eps 1e-5, the positional
 * conv drops its last output frame when K is even, then GELU, added to its input.
 *
 * It leaves to others: decoding and resampling to 16 kHz mono, segmentation (callers pass
 * one utterance), mapping labels onto emo's names (pipeline/). */
#ifndef EMO_AUDIO_WAV2VEC2_H
#define EMO_AUDIO_WAV2VEC2_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define W2V_MAX_LABELS 64
#define W2V_MAX_SAMPLES (16000 * 60) /* longest utterance w2v_classify accepts: 60 s */
#define W2V_MIN_SAMPLES 400          /* one frame of the standard 7-layer encoder (25 ms) */

typedef struct w2v_model w2v_model;

/* Loads a converted model file of at most max_bytes (> 0; the pipeline passes
 * emo_model_params.max_file_bytes, default 512 MiB). The file is read whole through
 * core/file.h (st_open_file): a regular file only, its size checked against the cap before a
 * byte is read. While loading, the file's bytes and the model's own float32 copy of the weights
 * (about 4 bytes per parameter) are both in memory; afterwards only the copy. Returns EMO_OK
 * and *out, or EMO_EIO (cannot open or read, not a regular file) / EMO_ELIMIT (larger than
 * max_bytes: the message names the path and the cap) / EMO_EMODEL / EMO_EUNSUPPORTED /
 * EMO_ENOMEM (EMO_EINVAL for NULL arguments or max_bytes <= 0) with err naming the file and
 * the problem, and *out = NULL. */
int w2v_load(const char *path, int64_t max_bytes, w2v_model **out, emoi_err *err);

/* Same from a safetensors image in memory (copied; data may be freed after the call). */
int w2v_load_memory(const void *data, size_t size, w2v_model **out, emoi_err *err);

void w2v_free(w2v_model **m);

int w2v_n_labels(const w2v_model *m);
const char *w2v_label(const w2v_model *m, int i);
int w2v_embed_dim(const w2v_model *m);

/* The fewest samples that give one frame through the model's conv stack (400 for the
 * standard 7-layer encoder); shorter input to w2v_classify is EMO_EINVAL. */
int w2v_min_samples(const w2v_model *m);

/* What one call may do beyond the defaults (all fields 0, or NULL options: the fast path). */
typedef struct w2v_options {
  int reference; /* 1: plain reference kernels (naive double-accumulating matmul, erff, expf,
                    double reductions): slow, for tests of the fast path */
  size_t block;  /* floats in one row block of attention scores and of the positional conv's
                    im2col; 0 = the default (8M floats, which only inputs of more than ~3000
                    frames split); smaller values let tests cover the blocked loops */
} w2v_options;

/* Runs the model on n 16 kHz mono samples (w2v_min_samples(m) <= n <= W2V_MAX_SAMPLES). Writes
 * n_labels logits (before softmax) into logits. Returns EMO_OK, EMO_EINVAL (NULL argument, n
 * out of range, NaN or infinite samples), EMO_EMODEL (a logit came out NaN or infinite: the
 * weights overflow float32) or EMO_ENOMEM, with err filled. opt may be NULL (defaults).
 * hidden, when non-NULL, receives the pooled vector before the head (embed_dim floats): the
 * frame-mean of the last hidden state after the output norm, if the model has one.
 * Thread-safe, without locks, for concurrent calls on one model or several (scratch is
 * allocated per call, the model is read-only). The matrix products run on as many OpenBLAS
 * threads as the application set (openblas_set_num_threads or OPENBLAS_NUM_THREADS; process-
 * wide, OpenBLAS's default is one a core): this never changes that count. */
int w2v_classify(const w2v_model *m, const float *pcm, size_t n, const w2v_options *opt,
                 float *logits, float *hidden, emoi_err *err);

#endif
