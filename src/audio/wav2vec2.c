/* wav2vec2.c: wav2vec 2.0 speech-emotion inference (contract and file format in wav2vec2.h): the
 * model's loading (metadata, shapes, weight permutations and folds) and its forward pass, whose
 * matrix products and row passes are nn/dense.h's kernels (cblas_sgemm, vectorised GELU,
 * LayerNorm, softmax; their plain references when w2v_options.reference is set).
 *
 * Layout: activations are time-major, (frames, channels) row-major, from the first conv to the
 * head. That makes the feature encoder's im2col free: with frames of Ci channels stored one after
 * another, the K-tap window of output frame t is the contiguous run x[t*S*Ci .. (t*S+K)*Ci), so
 * a conv is a gemm whose A rows start S*Ci floats apart. BLAS wants lda >= the row length, so a
 * layer with K > S runs as ceil(K/S) gemms of at most S taps each, accumulating (beta = 1); only
 * layers with K*Ci <= 64 (the first, Ci = 1) copy their windows. Weights are permuted at load so
 * that each gemm reads them as its B^T: conv (Co, Ci, K) -> (Co, K, Ci).
 *   Positional conv (grouped, stride 1, padding K/2): per group, a zero-padded (T+K, D/G) copy
 *   of the group's channels makes every output frame's window contiguous again; windows are
 *   copied into row blocks of an im2col buffer (stride 1 overlaps rows, which BLAS refuses) and
 *   multiplied by that group's (D/G, K*D/G) weights.
 *   Attention: q, k, v come from one (3D, D) weight. 1/sqrt(head_dim) is folded into q's rows
 *   and bias; k's bias is dropped (it adds a constant to each row of scores, which softmax
 *   ignores) and v's is folded into out_proj's bias (softmax rows sum to 1): out_b' = out_b +
 *   W_out b_v. Per head and block of query rows: scores = Q K^T (sgemm), exp(s - max) with the
 *   row sums kept, P V (sgemm), then the rows are divided by their sums.
 *   Biases and residual adds are fused into the passes that follow the gemms (GELU, LayerNorm).
 *   GroupNorm with one group per channel (extractor "group_norm", first conv) normalises each
 *   channel over time: per-channel mean and variance in double, then one scale/shift + GELU.
 * The row passes cost ~10% of a call; the gemms run near the machine's peak.
 * w2v_options.block (floats) shrinks the row blocks of scores and im2col, which otherwise only
 * inputs of more than ~3000 frames split, so tests/test_wav2vec2.c can cover the blocked loops;
 * it also compares the fast path with the reference one. Nothing is read from the environment.
 *
 * Threads: as many as OpenBLAS is set to, in the gemms only; the count is the application's
 * (nn/dense.h says why and how concurrent calls share OpenBLAS). Concurrent calls are safe:
 * each has its own scratch and the model is read-only (tests/test_wav2vec2.c checks that two
 * at once give the single-call result, with OpenBLAS at 1 and at 2 threads).
 *
 * It leaves to others: the kernels (nn/dense.c), the file reader (nn/safetensors.c), conversion
 * of checkpoints (tools/wav2vec2_convert.py), decoding and resampling (media/), label mapping
 * (pipeline/). */
#include "audio/wav2vec2.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dense.h"
#include "nn/nn.h"
#include "nn/safetensors.h"

/* Caps on the metadata (far above every published wav2vec 2.0 model; they bound the scratch a
 * file can ask for together with W2V_MAX_SAMPLES). */
#define MAX_CONV 16
#define MAX_CHANNELS 8192
#define MAX_KERNEL 4096
#define MAX_DIM 8192
#define MAX_LAYERS 256
#define MAX_FF 65536
#define MAX_PROJ 65536
#define MAX_LABEL_LEN 255
#define MAX_SCRATCH_BYTES ((size_t)6 << 30) /* per call; the large model at 60 s needs ~1 GB */
#define BLOCK_FLOATS ((size_t)8 << 20)      /* row blocks of scores and im2col: <= 32 MB */
#define EPS 1e-5f

typedef enum { IN_NONE, IN_ZMUV, IN_LAYER_NORM } in_norm;
typedef enum { OUT_NONE, OUT_LAYER_NORM, OUT_LAYER_NORM_ALL } out_norm;
typedef enum { HEAD_HF_SEQCLS, HEAD_SB_LINEAR } head_kind;

typedef struct conv_layer {
  int co, ci, k, s;
  float *w;           /* (co, k, ci): torch's (co, ci, k) with the taps outside the channels */
  float *b;           /* (co), NULL without conv_bias */
  float *ln_g, *ln_b; /* (co), NULL when this layer has no norm */
} conv_layer;

typedef struct enc_layer {
  float *qkv_w; /* (3D, D): q rows (scaled by 1/sqrt(head_dim)), k rows, v rows */
  float *q_b;   /* (D): q bias, scaled */
  float *out_w; /* (D, D) */
  float *out_b; /* (D): out_proj.bias + out_proj.weight . v_proj.bias */
  float *ln1_g, *ln1_b, *ln2_g, *ln2_b; /* (D): layer_norm, final_layer_norm */
  float *ff1_w, *ff1_b;                 /* (F, D), (F) */
  float *ff2_w, *ff2_b;                 /* (D, F), (D) */
} enc_layer;

struct w2v_model {
  int n_conv, group_norm, conv_bias;
  conv_layer conv[MAX_CONV];
  int min_samples; /* receptive field of the conv stack: the fewest samples giving a frame */
  int D, L, H, F, K, G, lnf, P, n_labels;
  in_norm in_norm;
  out_norm out_norm;
  head_kind head;
  float *fp_g, *fp_b;     /* (C_last) feature projection layer norm */
  float *proj_w, *proj_b; /* (D, C_last), (D) */
  float *pos_w, *pos_b;   /* (G, D/G, K, D/G): per group (out, tap, in); (D) */
  float *enc_g, *enc_b;   /* (D) encoder.transformer.layer_norm */
  enc_layer *layers;      /* (L): pointers into the arena */
  float *hp_w, *hp_b;     /* (P, D), (P): hf_seqcls projector */
  float *cls_w, *cls_b;   /* (n_labels, P or D), (n_labels) or NULL (sb_linear) */
  float *arena;           /* every weight, one allocation */
  char *label_buf;        /* the labels string, commas replaced by NULs */
  const char *labels[W2V_MAX_LABELS];
};

/* Per-call settings of the forward pass. */
typedef struct fwd {
  nn_dense_path path; /* NN_DENSE_REFERENCE: naive matmul, erff, expf, double reductions */
  size_t block;       /* floats per row block of scores / im2col (BLOCK_FLOATS) */
} fwd;

/* nn_scratch_add under this file's per-call cap. */
static int add_size(size_t *total, size_t a, size_t b) {
  return nn_scratch_add(total, a, b, MAX_SCRATCH_BYTES / sizeof(float));
}

static void mm(const fwd *f, int bt, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc) {
  nn_dense_gemm(f->path, bt, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

static void ln(const fwd *f, float *x, int T, int C, const float *add, const float *g,
               const float *b, float *out, int gelu) {
  nn_dense_layernorm_rows(f->path, x, T, C, add, g, b, EPS, out, gelu);
}

/* ================================================================ loading */

typedef struct loader {
  const st_file *f;
  const char *src;
  emoi_err *err;
  float *arena; /* NULL in the counting pass */
  size_t used;  /* floats taken so far */
  const st_tensor **seen;
  int n_seen;
  float *tmp; /* conversion buffer for permuted tensors */
  size_t tmp_cap;
} loader;

/* n floats of the arena, 16-float (64-byte) aligned; NULL while counting. */
static float *take(loader *ld, size_t n) {
  float *p = ld->arena ? ld->arena + ld->used : NULL;
  ld->used += (n + 15) & ~(size_t)15;
  return p;
}

/* Finds tensor name with the given shape (rank 1..3: d0, d1, d2) and, in the filling pass,
 * converts it to float32 into dst, rejecting non-finite values. */
static int get(loader *ld, const char *name, float *dst, int rank, int64_t d0, int64_t d1,
               int64_t d2) {
  const st_tensor *t = st_find(ld->f, name);
  if (!t) return emoi_fail(ld->err, EMO_EMODEL, "%s: missing tensor '%s'", ld->src, name);
  int64_t want[3] = {d0, d1, d2};
  int ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = t->shape[i] == want[i];
  if (!ok) {
    char got[128], exp[128];
    nn_dims_str(got, sizeof got, t->shape, t->rank);
    nn_dims_str(exp, sizeof exp, want, rank);
    return emoi_fail(ld->err, EMO_EMODEL, "%s: tensor '%s' has shape (%s), expected (%s)", ld->src,
                     name, got, exp);
  }
  if (!ld->arena) {
    ld->seen[ld->n_seen++] = t; /* counting pass: each name is asked for once */
    return 0;
  }
  st_to_f32(t, dst);
  if (!nn_dense_all_finite(dst, (size_t)t->numel))
    for (int64_t i = 0; i < t->numel; i++)
      if (!isfinite(dst[i]))
        return emoi_fail(ld->err, EMO_EMODEL, "%s: tensor '%s' element %lld is not finite", ld->src,
                         name, (long long)i);
  return 0;
}

/* Like get, into the loader's scratch buffer (for tensors that are permuted). */
static int get_tmp(loader *ld, const char *name, float **out, int rank, int64_t d0, int64_t d1,
                   int64_t d2) {
  *out = NULL;
  if (ld->arena) {
    size_t n = (size_t)d0 * (size_t)(rank > 1 ? d1 : 1) * (size_t)(rank > 2 ? d2 : 1);
    if (n > ld->tmp_cap) {
      float *p = realloc(ld->tmp, n * sizeof(float));
      if (!p) return emoi_fail(ld->err, EMO_ENOMEM, "%s: out of memory for '%s'", ld->src, name);
      ld->tmp = p;
      ld->tmp_cap = n;
    }
    *out = ld->tmp;
  }
  return get(ld, name, *out, rank, d0, d1, d2);
}

/* Strict decimal integer in [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *v) {
  if (!s || !*s) return -1;
  long x = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9' || x > hi) return -1;
    x = x * 10 + (*p - '0');
  }
  if (x < lo || x > hi) return -1;
  *v = x;
  return 0;
}

static int meta_str(loader *ld, const char *key, const char **out) {
  *out = st_meta(ld->f, key);
  if (!*out) return emoi_fail(ld->err, EMO_EMODEL, "%s: metadata '%s' missing", ld->src, key);
  return 0;
}

static int meta_int(loader *ld, const char *key, long lo, long hi, int *out) {
  const char *s;
  long v;
  if (meta_str(ld, key, &s)) return EMO_EMODEL;
  if (parse_int(s, lo, hi, &v))
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: metadata '%s' = '%.40s' is not an integer in %ld..%ld", ld->src, key, s,
                     lo, hi);
  *out = (int)v;
  return 0;
}

/* Picks s among the n names; EMO_EUNSUPPORTED otherwise. */
static int meta_choice(loader *ld, const char *key, const char *const *names, int n, int *out) {
  const char *s;
  if (meta_str(ld, key, &s)) return EMO_EMODEL;
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = i;
      return 0;
    }
  char list[160];
  size_t k = 0;
  list[0] = '\0';
  for (int i = 0; i < n && k < sizeof list; i++)
    k += (size_t)snprintf(list + k, sizeof list - k, i ? ", %s" : "%s", names[i]);
  return emoi_fail(ld->err, EMO_EUNSUPPORTED, "%s: metadata '%s' = '%.40s' is not supported (%s)",
                   ld->src, key, s, list);
}

static int parse_conv_layers(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "conv_layers", &s)) return EMO_EMODEL;
  const char *p = s;
  int n = 0;
  for (;;) {
    long v[3];
    for (int j = 0; j < 3; j++) {
      const char *q = p;
      long x = 0, hi = j == 0 ? MAX_CHANNELS : MAX_KERNEL;
      while (*q >= '0' && *q <= '9' && x <= hi) x = x * 10 + (*q++ - '0');
      if (q == p || x < 1 || x > hi || n == MAX_CONV || (j < 2 && *q != ':'))
        return emoi_fail(ld->err, EMO_EMODEL,
                         "%s: metadata 'conv_layers' = '%.80s' is not 1..%d 'C:K:S' triples "
                         "(C 1..%d, K and S 1..%d) joined by commas",
                         ld->src, s, MAX_CONV, MAX_CHANNELS, MAX_KERNEL);
      v[j] = x;
      p = j < 2 ? q + 1 : q;
    }
    conv_layer *c = &m->conv[n];
    c->ci = n ? m->conv[n - 1].co : 1;
    c->co = (int)v[0];
    c->k = (int)v[1];
    c->s = (int)v[2];
    n++;
    if (*p == '\0') break;
    if (*p != ',')
      return emoi_fail(ld->err, EMO_EMODEL, "%s: metadata 'conv_layers' = '%.80s': bad separator",
                       ld->src, s);
    p++;
  }
  m->n_conv = n;
  int64_t rf = 1; /* receptive field, walked back from one output frame */
  for (int i = n - 1; i >= 0 && rf <= W2V_MAX_SAMPLES; i--)
    rf = (rf - 1) * m->conv[i].s + m->conv[i].k;
  if (rf > W2V_MAX_SAMPLES)
    return emoi_fail(ld->err, EMO_EUNSUPPORTED,
                     "%s: conv_layers '%.80s' need more than %d samples for one frame", ld->src, s,
                     W2V_MAX_SAMPLES);
  m->min_samples = (int)rf;
  return 0;
}

static int parse_labels(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "labels", &s)) return EMO_EMODEL;
  size_t len = strlen(s);
  m->label_buf = malloc(len + 1);
  if (!m->label_buf) return emoi_fail(ld->err, EMO_ENOMEM, "%s: out of memory", ld->src);
  memcpy(m->label_buf, s, len + 1);
  int n = 0;
  char *p = m->label_buf;
  for (;;) {
    char *e = strchr(p, ',');
    if (e) *e = '\0';
    size_t l = strlen(p);
    if (l == 0 || l > MAX_LABEL_LEN || n == W2V_MAX_LABELS)
      return emoi_fail(ld->err, EMO_EMODEL,
                       "%s: metadata 'labels' must be 1..%d non-empty names (<= %d bytes) "
                       "joined by commas (label %d)",
                       ld->src, W2V_MAX_LABELS, MAX_LABEL_LEN, n);
    m->labels[n++] = p;
    if (!e) break;
    p = e + 1;
  }
  m->n_labels = n;
  return 0;
}

static int parse_meta(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "format", &s)) return EMO_EMODEL;
  if (strcmp(s, "emo-wav2vec2") != 0)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: metadata format '%.40s', expected 'emo-wav2vec2' (convert the checkpoint "
                     "with tools/wav2vec2_convert.py)",
                     ld->src, s);
  if (meta_str(ld, "version", &s)) return EMO_EMODEL;
  if (strcmp(s, "1") != 0)
    return emoi_fail(ld->err, EMO_EUNSUPPORTED,
                     "%s: emo-wav2vec2 version '%.20s', this build reads version 1 (reconvert with "
                     "this tree's tools/wav2vec2_convert.py)",
                     ld->src, s);
  static const char *const modes[] = {"group_norm", "layer_norm"};
  static const char *const bools[] = {"0", "1"};
  static const char *const inorms[] = {"none", "zero_mean_unit_var", "layer_norm"};
  static const char *const onorms[] = {"none", "layer_norm", "layer_norm_all"};
  static const char *const heads[] = {"hf_seqcls", "sb_linear"};
  int mode = 0, v = 0;
  int r;
  if ((r = meta_choice(ld, "extractor_mode", modes, 2, &mode))) return r;
  m->group_norm = mode == 0;
  if ((r = parse_conv_layers(ld, m))) return r;
  if ((r = meta_choice(ld, "conv_bias", bools, 2, &m->conv_bias))) return r;
  if (meta_int(ld, "embed_dim", 1, MAX_DIM, &m->D) ||
      meta_int(ld, "num_layers", 1, MAX_LAYERS, &m->L) ||
      meta_int(ld, "num_heads", 1, m->D, &m->H) || meta_int(ld, "ff_dim", 1, MAX_FF, &m->F) ||
      meta_int(ld, "pos_conv_kernel", 1, MAX_KERNEL, &m->K) ||
      meta_int(ld, "pos_conv_groups", 1, m->D, &m->G))
    return EMO_EMODEL;
  if (m->D % m->H)
    return emoi_fail(ld->err, EMO_EMODEL, "%s: embed_dim %d is not a multiple of num_heads %d",
                     ld->src, m->D, m->H);
  if (m->D % m->G)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: embed_dim %d is not a multiple of pos_conv_groups %d", ld->src, m->D,
                     m->G);
  if ((r = meta_choice(ld, "layer_norm_first", bools, 2, &m->lnf))) return r;
  if ((r = meta_choice(ld, "input_norm", inorms, 3, &v))) return r;
  m->in_norm = (in_norm)v;
  if ((r = meta_choice(ld, "head", heads, 2, &v))) return r;
  m->head = (head_kind)v;
  if ((r = meta_choice(ld, "output_norm", onorms, 3, &v))) return r;
  m->out_norm = (out_norm)v;
  if (m->head == HEAD_HF_SEQCLS && m->out_norm != OUT_NONE)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: output_norm '%s' is defined for the sb_linear head only", ld->src,
                     onorms[m->out_norm]);
  return parse_labels(ld, m);
}

/* Both passes over the tensors: counting (ld->arena NULL: checks names and shapes, sizes the
 * arena) and filling (converts and permutes into the arena). */
static int load_tensors(loader *ld, w2v_model *m) {
  char nm[160];
  float *tmp;
  int r;
  const int D = m->D, F = m->F, K = m->K, Dg = m->D / m->G;
  for (int i = 0; i < m->n_conv; i++) {
    conv_layer *c = &m->conv[i];
    const int co = c->co, ci = c->ci, k = c->k;
    snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.conv.weight", i);
    c->w = take(ld, (size_t)co * ci * k);
    if ((r = get_tmp(ld, nm, &tmp, 3, co, ci, k))) return r;
    if (tmp) /* (co, ci, k) -> (co, k, ci) */
      for (int o = 0; o < co; o++)
        for (int j = 0; j < ci; j++)
          for (int t = 0; t < k; t++)
            c->w[((size_t)o * k + t) * ci + j] = tmp[((size_t)o * ci + j) * k + t];
    c->b = NULL;
    if (m->conv_bias) {
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.conv.bias", i);
      c->b = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->b, 1, co, 0, 0))) return r;
    }
    c->ln_g = c->ln_b = NULL;
    if (!m->group_norm || i == 0) {
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.layer_norm.weight", i);
      c->ln_g = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->ln_g, 1, co, 0, 0))) return r;
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.layer_norm.bias", i);
      c->ln_b = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->ln_b, 1, co, 0, 0))) return r;
    }
  }
  const int C = m->conv[m->n_conv - 1].co;
  m->fp_g = take(ld, (size_t)C);
  m->fp_b = take(ld, (size_t)C);
  m->proj_w = take(ld, (size_t)D * C);
  m->proj_b = take(ld, (size_t)D);
  if ((r = get(ld, "encoder.feature_projection.layer_norm.weight", m->fp_g, 1, C, 0, 0)) ||
      (r = get(ld, "encoder.feature_projection.layer_norm.bias", m->fp_b, 1, C, 0, 0)) ||
      (r = get(ld, "encoder.feature_projection.projection.weight", m->proj_w, 2, D, C, 0)) ||
      (r = get(ld, "encoder.feature_projection.projection.bias", m->proj_b, 1, D, 0, 0)))
    return r;

  m->pos_w = take(ld, (size_t)D * Dg * K);
  m->pos_b = take(ld, (size_t)D);
  if ((r = get_tmp(ld, "encoder.transformer.pos_conv_embed.conv.weight", &tmp, 3, D, Dg, K)))
    return r;
  if (tmp) /* (D, Dg, K) = (G, Dg out, Dg in, K) -> (G, Dg out, K, Dg in): same row order */
    for (int o = 0; o < D; o++)
      for (int j = 0; j < Dg; j++)
        for (int t = 0; t < K; t++)
          m->pos_w[((size_t)o * K + t) * Dg + j] = tmp[((size_t)o * Dg + j) * K + t];
  m->enc_g = take(ld, (size_t)D);
  m->enc_b = take(ld, (size_t)D);
  if ((r = get(ld, "encoder.transformer.pos_conv_embed.conv.bias", m->pos_b, 1, D, 0, 0)) ||
      (r = get(ld, "encoder.transformer.layer_norm.weight", m->enc_g, 1, D, 0, 0)) ||
      (r = get(ld, "encoder.transformer.layer_norm.bias", m->enc_b, 1, D, 0, 0)))
    return r;

  const float qscale = 1.0f / sqrtf((float)(D / m->H));
  for (int l = 0; l < m->L; l++) {
    enc_layer tmpl, *e = ld->arena ? &m->layers[l] : &tmpl;
    char p[64];
    snprintf(p, sizeof p, "encoder.transformer.layers.%d.", l);
#define NM(suffix) (snprintf(nm, sizeof nm, "%s%s", p, suffix), nm)
    e->qkv_w = take(ld, (size_t)3 * D * D);
    e->q_b = take(ld, (size_t)D);
    e->out_w = take(ld, (size_t)D * D);
    e->out_b = take(ld, (size_t)D);
    if ((r = get(ld, NM("attention.q_proj.weight"), e->qkv_w, 2, D, D, 0)) ||
        (r = get(ld, NM("attention.k_proj.weight"), e->qkv_w ? e->qkv_w + (size_t)D * D : NULL, 2,
                 D, D, 0)) ||
        (r = get(ld, NM("attention.v_proj.weight"), e->qkv_w ? e->qkv_w + (size_t)2 * D * D : NULL,
                 2, D, D, 0)) ||
        (r = get(ld, NM("attention.q_proj.bias"), e->q_b, 1, D, 0, 0)) ||
        (r = get_tmp(ld, NM("attention.k_proj.bias"), &tmp, 1, D, 0, 0)) ||
        (r = get(ld, NM("attention.out_proj.weight"), e->out_w, 2, D, D, 0)) ||
        (r = get(ld, NM("attention.out_proj.bias"), e->out_b, 1, D, 0, 0)) ||
        (r = get_tmp(ld, NM("attention.v_proj.bias"), &tmp, 1, D, 0, 0)))
      return r;
    if (tmp) { /* tmp = v bias: out_b += W_out b_v; scale q */
      for (int o = 0; o < D; o++) {
        double s = e->out_b[o];
        for (int j = 0; j < D; j++) s += (double)e->out_w[(size_t)o * D + j] * tmp[j];
        e->out_b[o] = (float)s;
      }
      for (size_t i = 0; i < (size_t)D * D; i++) e->qkv_w[i] *= qscale;
      for (int i = 0; i < D; i++) e->q_b[i] *= qscale;
    }
    e->ln1_g = take(ld, (size_t)D);
    e->ln1_b = take(ld, (size_t)D);
    e->ln2_g = take(ld, (size_t)D);
    e->ln2_b = take(ld, (size_t)D);
    e->ff1_w = take(ld, (size_t)F * D);
    e->ff1_b = take(ld, (size_t)F);
    e->ff2_w = take(ld, (size_t)D * F);
    e->ff2_b = take(ld, (size_t)D);
    if ((r = get(ld, NM("layer_norm.weight"), e->ln1_g, 1, D, 0, 0)) ||
        (r = get(ld, NM("layer_norm.bias"), e->ln1_b, 1, D, 0, 0)) ||
        (r = get(ld, NM("final_layer_norm.weight"), e->ln2_g, 1, D, 0, 0)) ||
        (r = get(ld, NM("final_layer_norm.bias"), e->ln2_b, 1, D, 0, 0)) ||
        (r = get(ld, NM("feed_forward.intermediate_dense.weight"), e->ff1_w, 2, F, D, 0)) ||
        (r = get(ld, NM("feed_forward.intermediate_dense.bias"), e->ff1_b, 1, F, 0, 0)) ||
        (r = get(ld, NM("feed_forward.output_dense.weight"), e->ff2_w, 2, D, F, 0)) ||
        (r = get(ld, NM("feed_forward.output_dense.bias"), e->ff2_b, 1, D, 0, 0)))
      return r;
#undef NM
  }

  const int n = m->n_labels;
  m->hp_w = m->hp_b = m->cls_b = NULL;
  if (m->head == HEAD_HF_SEQCLS) {
    const st_tensor *t = st_find(ld->f, "head.projector.weight");
    if (!t)
      return emoi_fail(ld->err, EMO_EMODEL, "%s: missing tensor 'head.projector.weight'", ld->src);
    if (t->rank != 2 || t->shape[0] < 1 || t->shape[0] > MAX_PROJ)
      return emoi_fail(ld->err, EMO_EMODEL,
                       "%s: tensor 'head.projector.weight' must be (P, %d) with P in 1..%d",
                       ld->src, D, MAX_PROJ);
    m->P = (int)t->shape[0];
    m->hp_w = take(ld, (size_t)m->P * D);
    m->hp_b = take(ld, (size_t)m->P);
    m->cls_w = take(ld, (size_t)n * m->P);
    m->cls_b = take(ld, (size_t)n);
    if ((r = get(ld, "head.projector.weight", m->hp_w, 2, m->P, D, 0)) ||
        (r = get(ld, "head.projector.bias", m->hp_b, 1, m->P, 0, 0)) ||
        (r = get(ld, "head.classifier.weight", m->cls_w, 2, n, m->P, 0)) ||
        (r = get(ld, "head.classifier.bias", m->cls_b, 1, n, 0, 0)))
      return r;
  } else {
    m->P = D;
    m->cls_w = take(ld, (size_t)n * D);
    if ((r = get(ld, "head.classifier.weight", m->cls_w, 2, n, D, 0))) return r;
  }
  return 0;
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (const st_tensor *const *)a;
  uintptr_t y = (uintptr_t) * (const st_tensor *const *)b;
  return x < y ? -1 : x > y;
}

static int load_file(const st_file *f, const char *src, w2v_model **out, emoi_err *err) {
  w2v_model *m = calloc(1, sizeof *m);
  loader ld = {f, src, err, NULL, 0, NULL, 0, NULL, 0};
  int r = EMO_ENOMEM;
  if (!m) {
    emoi_fail(err, r, "%s: out of memory", src);
    goto fail;
  }
  if ((r = parse_meta(&ld, m))) goto fail;
  ld.seen = malloc(sizeof *ld.seen * (size_t)(st_count(f) + 1));
  if (!ld.seen) {
    r = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
    goto fail;
  }
  /* counting pass: every expected tensor present with its shape; nothing else in the file */
  if ((r = load_tensors(&ld, m))) goto fail;
  if (ld.n_seen != st_count(f)) {
    qsort(ld.seen, (size_t)ld.n_seen, sizeof *ld.seen, cmp_ptr);
    for (int i = 0; i < st_count(f); i++) {
      const st_tensor *t = st_at(f, i);
      if (!bsearch(&t, ld.seen, (size_t)ld.n_seen, sizeof *ld.seen, cmp_ptr)) {
        r = emoi_fail(err, EMO_EMODEL,
                      "%s: unexpected tensor '%.120s' (the metadata's configuration does not use "
                      "it)",
                      src, t->name);
        goto fail;
      }
    }
  }
  size_t floats = ld.used;
  m->arena = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
  m->layers = calloc((size_t)m->L, sizeof *m->layers);
  if (!m->arena || !m->layers) {
    r = emoi_fail(err, EMO_ENOMEM, "%s: out of memory for %zu MB of weights", src,
                  floats * sizeof(float) >> 20);
    goto fail;
  }
  ld.arena = m->arena;
  ld.used = 0;
  if ((r = load_tensors(&ld, m))) goto fail;
  free(ld.seen);
  free(ld.tmp);
  *out = m;
  return EMO_OK;
fail:
  free(ld.seen);
  free(ld.tmp);
  w2v_free(&m);
  return r;
}

int w2v_load_memory(const void *data, size_t size, w2v_model **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "w2v_load_memory: NULL out");
  *out = NULL;
  if (!data) return emoi_fail(err, EMO_EINVAL, "w2v_load_memory: NULL data");
  st_file *f = NULL;
  int r = st_open_memory(data, size, 0, &f, err);
  if (r) return r;
  r = load_file(f, "wav2vec2 model", out, err);
  st_close(&f);
  return r;
}

int w2v_load(const char *path, int64_t max_bytes, w2v_model **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "w2v_load: NULL out");
  *out = NULL;
  if (!path) return emoi_fail(err, EMO_EINVAL, "w2v_load: NULL path");
  if (max_bytes <= 0)
    return emoi_fail(err, EMO_EINVAL, "%.200s: w2v_load: max_bytes %lld, must be > 0", path,
                     (long long)max_bytes);
  st_file *f = NULL;
  int r = st_open_file(path, (size_t)max_bytes, &f, err); /* core/file.h: regular, capped */
  if (r == EMO_OK) r = load_file(f, path, out, err);
  st_close(&f);
  return r;
}

void w2v_free(w2v_model **pm) {
  if (!pm || !*pm) return;
  free((*pm)->arena);
  free((*pm)->layers);
  free((*pm)->label_buf);
  free(*pm);
  *pm = NULL;
}

int w2v_n_labels(const w2v_model *m) {
  return m ? m->n_labels : 0;
}

const char *w2v_label(const w2v_model *m, int i) {
  return m && i >= 0 && i < m->n_labels ? m->labels[i] : NULL;
}

int w2v_embed_dim(const w2v_model *m) {
  return m ? m->D : 0;
}

int w2v_min_samples(const w2v_model *m) {
  return m ? m->min_samples : 0;
}

/* ================================================================ forward pass */

/* Feature encoder layer: y (Tout, co) = conv(x (Tin, ci)), before its norm and activation. */
static void conv_fwd(const fwd *f, const conv_layer *c, const float *x, int Tout, float *y,
                     float *col) {
  const int ci = c->ci, k = c->k, s = c->s, kc = c->k * c->ci;
  if (kc <= 64) { /* short windows (first layer): copy them, one gemm */
    for (int t = 0; t < Tout; t++)
      memcpy(col + (size_t)t * kc, x + (size_t)t * s * ci, sizeof(float) * (size_t)kc);
    mm(f, 1, Tout, c->co, kc, col, kc, c->w, kc, 0.0f, y, c->co);
    return;
  }
  for (int j = 0; j < k; j += s) { /* taps j .. j+nt-1: rows s*ci apart, in place */
    int nt = k - j < s ? k - j : s;
    mm(f, 1, Tout, c->co, nt * ci, x + (size_t)j * ci, s * ci, c->w + (size_t)j * ci, kc,
       j ? 1.0f : 0.0f, y, c->co);
  }
}

/* The norm and GELU after conv layer i, in place on y (T, co). */
static int conv_post(const fwd *f, const w2v_model *m, int i, float *y, int T) {
  const conv_layer *c = &m->conv[i];
  const int co = c->co;
  if (m->group_norm && i == 0) {
    /* one group per channel: normalise each channel over time (a conv bias cancels out) */
    double *s = calloc((size_t)co * 2, sizeof(double)), *q = s + co;
    float *ab = malloc(sizeof(float) * (size_t)co * 2);
    if (!s || !ab) {
      free(s);
      free(ab);
      return EMO_ENOMEM;
    }
    nn_dense_channel_sums(y, T, co, s, q);
    for (int j = 0; j < co; j++) {
      double mu = s[j] / T, var = q[j] / T - mu * mu;
      double a = c->ln_g[j] / sqrt((var > 0 ? var : 0) + EPS);
      ab[j] = (float)a;
      ab[co + j] = (float)(c->ln_b[j] - mu * a);
    }
    nn_dense_gelu_rows(f->path, y, T, co, ab, ab + co);
    free(s);
    free(ab);
  } else if (c->ln_g) {
    ln(f, y, T, co, c->b, c->ln_g, c->ln_b, y, 1);
  } else {
    nn_dense_gelu_rows(f->path, y, T, co, NULL, c->b);
  }
  return 0;
}

/* Positional embedding: x (T, D) += GELU(grouped conv(x) + b); pos (T, D), xg ((T+K), D/G) and
 * col (rows, K*D/G) are scratch. */
static void pos_conv(const fwd *f, const w2v_model *m, float *x, int T, float *pos, float *xg,
                     float *col, int rows) {
  const int D = m->D, K = m->K, Dg = m->D / m->G, pad = m->K / 2, kc = m->K * Dg;
  for (int g = 0; g < m->G; g++) {
    memset(xg, 0, sizeof(float) * (size_t)pad * Dg);
    for (int t = 0; t < T; t++)
      memcpy(xg + (size_t)(pad + t) * Dg, x + (size_t)t * D + (size_t)g * Dg,
             sizeof(float) * (size_t)Dg);
    memset(xg + (size_t)(pad + T) * Dg, 0, sizeof(float) * (size_t)(K - pad) * Dg);
    const float *w = m->pos_w + (size_t)g * Dg * kc;
    for (int t0 = 0; t0 < T; t0 += rows) {
      int nr = T - t0 < rows ? T - t0 : rows;
      for (int r = 0; r < nr; r++) /* window of output t: padded rows t .. t+K-1 */
        memcpy(col + (size_t)r * kc, xg + (size_t)(t0 + r) * Dg, sizeof(float) * (size_t)kc);
      mm(f, 1, nr, Dg, kc, col, kc, w, kc, 0.0f, pos + (size_t)t0 * D + (size_t)g * Dg, D);
    }
  }
  nn_dense_add_gelu_rows(f->path, x, pos, T, D, m->pos_b);
}

/* Self-attention of in (T, D) without out_proj: ctx (T, D). */
static void attention(const fwd *f, const w2v_model *m, const enc_layer *e, const float *in, int T,
                      float *qkv, float *ctx, float *S, float *inv, int rows) {
  const int D = m->D, dh = m->D / m->H, ld = 3 * m->D;
  mm(f, 1, T, ld, D, in, D, e->qkv_w, D, 0.0f, qkv, ld);
  for (int t = 0; t < T; t++) {
    float *q = qkv + (size_t)t * ld;
    for (int j = 0; j < D; j++) q[j] += e->q_b[j];
  }
  for (int h = 0; h < m->H; h++) {
    const float *Q = qkv + (size_t)h * dh, *Kh = qkv + D + (size_t)h * dh,
                *V = qkv + 2 * (size_t)D + (size_t)h * dh;
    for (int t0 = 0; t0 < T; t0 += rows) {
      int nr = T - t0 < rows ? T - t0 : rows;
      mm(f, 1, nr, T, dh, Q + (size_t)t0 * ld, ld, Kh, ld, 0.0f, S, T);
      nn_dense_softmax_rows(f->path, S, nr, T, inv);
      float *o = ctx + (size_t)t0 * D + (size_t)h * dh;
      mm(f, 0, nr, dh, T, S, T, V, ld, 0.0f, o, D);
      for (int r = 0; r < nr; r++)
        for (int j = 0; j < dh; j++) o[(size_t)r * D + j] *= inv[r];
    }
  }
}

/* Feed-forward of in (T, D), added to x: x += W2 GELU(W1 in + b1) (b2 left to the caller). */
static void feed_forward(const fwd *f, const w2v_model *m, const enc_layer *e, const float *in,
                         int T, float *hid, float *x) {
  mm(f, 1, T, m->F, m->D, in, m->D, e->ff1_w, m->D, 0.0f, hid, m->F);
  nn_dense_gelu_rows(f->path, hid, T, m->F, NULL, e->ff1_b);
  mm(f, 1, T, m->D, m->F, hid, m->F, e->ff2_w, m->F, 1.0f, x, m->D);
}

/* Mean over frames of x (T, D) after the output norm, then the head; in double. Returns 0,
 * EMO_ENOMEM, or EMO_EMODEL when a logit or pooled value is NaN or beyond float range (then
 * logits and hidden are left alone). */
static int pool_and_head(const fwd *f, const w2v_model *m, float *x, int T, float *logits,
                         float *hidden) {
  const int D = m->D;
  double *pool = calloc((size_t)D + (size_t)m->P, sizeof(double));
  if (!pool) return EMO_ENOMEM;
  double *z = pool + D; /* (P) projector output */
  if (m->out_norm == OUT_LAYER_NORM) ln(f, x, T, D, NULL, NULL, NULL, x, 0);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < D; j++) pool[j] += x[(size_t)t * D + j];
  for (int j = 0; j < D; j++) pool[j] /= T;
  if (m->out_norm == OUT_LAYER_NORM_ALL) { /* one norm over all frames and dims jointly */
    double s = 0, q = 0, cnt = (double)T * D;
    for (size_t i = 0; i < (size_t)T * D; i++) s += x[i];
    double mu = s / cnt;
    for (size_t i = 0; i < (size_t)T * D; i++) q += (x[i] - mu) * (x[i] - mu);
    double is = 1.0 / sqrt(q / cnt + EPS);
    for (int j = 0; j < D; j++) pool[j] = (pool[j] - mu) * is;
  }
  const double *in = pool;
  if (m->head == HEAD_HF_SEQCLS) { /* projector is linear: projecting the mean is exact */
    for (int p = 0; p < m->P; p++) {
      double s = m->hp_b[p];
      for (int j = 0; j < D; j++) s += (double)m->hp_w[(size_t)p * D + j] * pool[j];
      z[p] = s;
    }
    in = z;
  }
  double lg[W2V_MAX_LABELS];
  int ok = 1;
  for (int k = 0; k < m->n_labels; k++) {
    double s = m->cls_b ? m->cls_b[k] : 0.0;
    for (int j = 0; j < m->P; j++) s += (double)m->cls_w[(size_t)k * m->P + j] * in[j];
    lg[k] = s;
    ok &= fabs(s) <= FLT_MAX; /* false for NaN too */
  }
  for (int j = 0; j < D; j++) ok &= fabs(pool[j]) <= FLT_MAX;
  if (ok) {
    for (int k = 0; k < m->n_labels; k++) logits[k] = (float)lg[k];
    if (hidden)
      for (int j = 0; j < D; j++) hidden[j] = (float)pool[j];
  }
  free(pool);
  return ok ? 0 : EMO_EMODEL;
}

static int forward(const fwd *f, const w2v_model *m, const float *pcm, size_t n, float *logits,
                   float *hidden, emoi_err *err) {
  int frames[MAX_CONV + 1];
  size_t conv_sz[2] = {0, 0}, col_sz = 0, fl1 = 0, fl2 = 0;
  float *s1 = NULL, *s2 = NULL, *x = NULL;
  frames[0] = (int)n;
  for (int i = 0; i < m->n_conv; i++) {
    const conv_layer *c = &m->conv[i];
    if (frames[i] < c->k)
      return emoi_fail(err, EMO_EINVAL,
                       "w2v_classify: %zu samples give no frame (conv layer %d needs %d inputs, "
                       "has %d)",
                       n, i, c->k, frames[i]);
    frames[i + 1] = (frames[i] - c->k) / c->s + 1;
    size_t a = 0;
    if (!add_size(&a, (size_t)frames[i + 1], (size_t)c->co)) goto too_big;
    if (a > conv_sz[i & 1]) conv_sz[i & 1] = a; /* even layers write buf[0], odd buf[1] */
    if ((size_t)c->k * c->ci <= 64 && (size_t)frames[i + 1] * c->k * c->ci > col_sz)
      col_sz = (size_t)frames[i + 1] * c->k * c->ci;
  }
  const int T = frames[m->n_conv], D = m->D, Dg = m->D / m->G, kc = m->K * Dg;
  const int C = m->conv[m->n_conv - 1].co;
  /* stage 1: normalised input, ping-pong conv outputs, first-layer windows */
  if (!add_size(&fl1, n, 1) || !add_size(&fl1, conv_sz[0], 1) || !add_size(&fl1, conv_sz[1], 1) ||
      !add_size(&fl1, col_sz, 1))
    goto too_big;
  /* stage 2: y, q|k|v, ctx (T, D) each; padded group copy; row sums; one work block shared by
   * the im2col rows of the positional conv, the score rows and the FFN's hidden layer */
  int att_rows = (size_t)T * T <= f->block ? T : (int)(f->block / (size_t)T);
  int pos_rows = (size_t)T * kc <= f->block ? T : (int)(f->block / (size_t)kc);
  if (att_rows < 16) att_rows = T < 16 ? T : 16;
  if (pos_rows < 16) pos_rows = T < 16 ? T : 16;
  size_t work = (size_t)T * m->F;
  if ((size_t)att_rows * T > work) work = (size_t)att_rows * T;
  if ((size_t)pos_rows * kc > work) work = (size_t)pos_rows * kc;
  if (!add_size(&fl2, (size_t)T, (size_t)D) || !add_size(&fl2, (size_t)T, (size_t)D * 3) ||
      !add_size(&fl2, (size_t)T, (size_t)D) || !add_size(&fl2, (size_t)T + m->K, (size_t)Dg) ||
      !add_size(&fl2, (size_t)T, 1) || !add_size(&fl2, work, 1))
    goto too_big;
  s1 = aligned_alloc(64, fl1 * sizeof(float)); /* fl1 is a multiple of 16 floats */
  x = aligned_alloc(64, (((size_t)T * D + 15) & ~(size_t)15) * sizeof(float));
  if (!s1 || !x) goto oom;
  nn_scratch a1 = {s1, 0};
  float *xin = nn_scratch_cut(&a1, n),
        *buf[2] = {nn_scratch_cut(&a1, conv_sz[0]), nn_scratch_cut(&a1, conv_sz[1])},
        *col = nn_scratch_cut(&a1, col_sz);

  /* input normalisation (statistics in double) */
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++) sum += pcm[i];
  double mu = sum / (double)n;
  for (size_t i = 0; i < n; i++) sq += (pcm[i] - mu) * (pcm[i] - mu);
  if (!isfinite(sum) || !isfinite(sq)) {
    free(s1);
    free(x);
    return emoi_fail(err, EMO_EINVAL, "w2v_classify: the input holds NaN or infinite samples");
  }
  if (m->in_norm == IN_NONE) {
    memcpy(xin, pcm, n * sizeof(float));
  } else {
    double is = 1.0 / sqrt(sq / (double)n + (m->in_norm == IN_ZMUV ? 1e-7 : 1e-5));
    for (size_t i = 0; i < n; i++) xin[i] = (float)((pcm[i] - mu) * is);
  }

  /* feature encoder */
  const float *cur = xin;
  for (int i = 0; i < m->n_conv; i++) {
    float *y = buf[i & 1];
    conv_fwd(f, &m->conv[i], cur, frames[i + 1], y, col);
    if (conv_post(f, m, i, y, frames[i + 1])) goto oom;
    cur = y;
  }
  /* feature projection: LayerNorm over channels (in place), Linear to D */
  float *feat = buf[(m->n_conv - 1) & 1];
  ln(f, feat, T, C, NULL, m->fp_g, m->fp_b, feat, 0);
  mm(f, 1, T, D, C, feat, C, m->proj_w, C, 0.0f, x, D);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < D; j++) x[(size_t)t * D + j] += m->proj_b[j];
  free(s1);
  s1 = NULL;

  s2 = aligned_alloc(64, fl2 * sizeof(float));
  if (!s2) goto oom;
  nn_scratch a2 = {s2, 0};
  float *y = nn_scratch_cut(&a2, (size_t)T * D), *qkv = nn_scratch_cut(&a2, (size_t)T * D * 3),
        *ctx = nn_scratch_cut(&a2, (size_t)T * D),
        *xg = nn_scratch_cut(&a2, ((size_t)T + m->K) * Dg), *inv = nn_scratch_cut(&a2, (size_t)T),
        *wk = nn_scratch_cut(&a2, work);

  /* transformer */
  pos_conv(f, m, x, T, ctx, xg, wk, pos_rows);
  const float *pending = NULL; /* a bias still to be added to x (pre-norm) */
  if (!m->lnf) ln(f, x, T, D, NULL, m->enc_g, m->enc_b, x, 0);
  for (int l = 0; l < m->L; l++) {
    const enc_layer *e = &m->layers[l];
    if (m->lnf) { /* pre-norm: x = x + Attn(LN(x)); x = x + FFN(LN(x)) */
      ln(f, x, T, D, pending, e->ln1_g, e->ln1_b, y, 0);
      attention(f, m, e, y, T, qkv, ctx, wk, inv, att_rows);
      mm(f, 1, T, D, D, ctx, D, e->out_w, D, 1.0f, x, D);
      ln(f, x, T, D, e->out_b, e->ln2_g, e->ln2_b, y, 0);
      feed_forward(f, m, e, y, T, wk, x);
      pending = e->ff2_b;
    } else { /* post-norm: x = LN(x + Attn(x)); x = LN(x + FFN(x)) */
      attention(f, m, e, x, T, qkv, ctx, wk, inv, att_rows);
      mm(f, 1, T, D, D, ctx, D, e->out_w, D, 1.0f, x, D);
      ln(f, x, T, D, e->out_b, e->ln1_g, e->ln1_b, x, 0);
      feed_forward(f, m, e, x, T, wk, x);
      ln(f, x, T, D, e->ff2_b, e->ln2_g, e->ln2_b, x, 0);
    }
  }
  if (m->lnf) ln(f, x, T, D, pending, m->enc_g, m->enc_b, x, 0);
  free(s2);
  s2 = NULL;
  int r = pool_and_head(f, m, x, T, logits, hidden);
  if (r == EMO_ENOMEM) goto oom;
  free(x);
  if (r) /* finite weights can still overflow float32 */
    return emoi_fail(err, r,
                     "w2v_classify: the logits or the pooled vector are not finite (the model's "
                     "activations overflow float32: a broken model file?)");
  return EMO_OK;
oom:
  free(s1);
  free(s2);
  free(x);
  return emoi_fail(err, EMO_ENOMEM, "w2v_classify: out of memory (%zu MB of scratch)",
                   (fl1 + fl2) >> 18);
too_big:
  return emoi_fail(err, EMO_ENOMEM,
                   "w2v_classify: %zu samples would need more than %zu GB of scratch with this "
                   "model",
                   n, MAX_SCRATCH_BYTES >> 30);
}

int w2v_classify(const w2v_model *m, const float *pcm, size_t n, const w2v_options *opt,
                 float *logits, float *hidden, emoi_err *err) {
  if (!m || !pcm || !logits) return emoi_fail(err, EMO_EINVAL, "w2v_classify: NULL argument");
  if (n < (size_t)m->min_samples || n > W2V_MAX_SAMPLES)
    return emoi_fail(err, EMO_EINVAL,
                     "w2v_classify: %zu samples, this model takes %d..%d (16 kHz; fewer give no "
                     "frame)",
                     n, m->min_samples, W2V_MAX_SAMPLES);
  fwd f = {opt && opt->reference ? NN_DENSE_REFERENCE : NN_DENSE_FAST, BLOCK_FLOATS};
  if (opt && opt->block > 0 && opt->block < BLOCK_FLOATS) f.block = opt->block;
  return forward(&f, m, pcm, n, logits, hidden, err);
}
