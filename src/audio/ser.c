/* ser.c: reader of emo's speech-emotion weights file (format in ser.h) into an nn_graph, and
 * clip classification (log-mel front end, chunking, logit averaging, softmax). A file may hold
 * an ensemble (version 2): one graph with a branch per member on the shared input, their logits
 * averaged inside the graph, so classification does not care how many there are. The reader is
 * bounds-checked byte by byte (core/bytes.h's cursor): every count, length and shape is validated
 * before use, so any input gives a clear error naming the field, never a crash (fuzz/fuzz_ser.c).
 *
 * What it leaves to others: training and export (training/train_ser.py, training/export.py),
 * execution of the graph (nn/plan.c), audio decoding (media/). */
#include "audio/ser.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "nn/nn.h"

#define SER_MAGIC "EMOSER\0\0"
#define SER_VERSION 2u /* newest version read; 1 is read too */
#define SER_MAX_BLOCKS 8
#define SER_MAX_TENSORS (2 + SER_MAX_MEMBERS * (2 * SER_MAX_BLOCKS + 2))
#define SER_MAX_CHANNELS 1024
#define SER_MAX_TENSOR_ELEMS (4 << 20)
#define SER_TRIM_NATS 7.0 /* training/ser_common.py TRIM_NATS */

static const char *const ser_expected_labels[SER_N_LABELS] = {
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "calm"};

struct ser_model {
  nn_graph *g;
  feat_config feat;
  int chunk; /* frames per network input */
  int embed; /* channels of the pooled layer before fc: graph output 1 */
  char labels[SER_N_LABELS][32];
};

/* ---- reading the file ------------------------------------------------------------- */

/* The file's bytes go through core/bytes.h's cursor; this layer adds the messages, which
 * name the field and the byte offset where the file ran short. */
typedef struct rd {
  const unsigned char *base; /* the whole file */
  bytes_cur c;               /* the unread rest */
  const char *src;
  emoi_err *err;
} rd;

/* Fails for a field of k bytes that does not fit in what is left. Returns EMO_EMODEL itself
 * (not emoi_fail's value) so the compiler sees that the wrappers below never return 0
 * without setting *v. */
static int rd_short(rd *r, uint64_t k, const char *what) {
  emoi_fail(r->err, EMO_EMODEL, "%s: truncated at byte %zu reading %s (need %llu more)", r->src,
            (size_t)(r->c.p - r->base), what, (unsigned long long)k);
  return EMO_EMODEL;
}

static int rd_u32(rd *r, const char *what, uint32_t *v) {
  return bytes_read_u32(&r->c, v) ? rd_short(r, 4, what) : 0;
}

static int rd_f32(rd *r, const char *what, float *v) {
  return bytes_read_f32(&r->c, v) ? rd_short(r, 4, what) : 0;
}

static int rd_u8(rd *r, const char *what, unsigned *v) {
  uint8_t b;
  if (bytes_read_u8(&r->c, &b)) return rd_short(r, 1, what);
  *v = b;
  return 0;
}

/* The next k bytes: *out points at them. */
static int rd_span(rd *r, uint64_t k, const char *what, const unsigned char **out) {
  return bytes_read_span(&r->c, k, out) ? rd_short(r, k, what) : 0;
}

/* ---- tensor table ------------------------------------------------------------------ */

typedef struct ser_tensor {
  char name[64];
  int rank;
  int64_t dims[4];
  size_t numel;
  const unsigned char *data; /* (numel) little-endian f32, inside the file */
} ser_tensor;

static const ser_tensor *find_tensor(const ser_tensor *t, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0) return &t[i];
  return NULL;
}

/* Checks that tensor `name` exists with the given rank and dims (-1 = any, written back). */
static int want_tensor(rd *r, const ser_tensor *t, int n, const char *name, int rank, int64_t *dims,
                       const ser_tensor **out) {
  const ser_tensor *x = find_tensor(t, n, name);
  if (!x) return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' missing", r->src, name);
  int ok = x->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = dims[i] < 0 || dims[i] == x->dims[i];
  if (!ok) {
    char got[96], want[96];
    nn_dims_str(got, sizeof got, x->dims, x->rank);
    nn_dims_str(want, sizeof want, dims, rank);
    return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' has shape (%s), expected (%s)", r->src,
                     name, got, want);
  }
  for (int i = 0; i < rank; i++) dims[i] = x->dims[i];
  *out = x;
  return 0;
}

/* Decodes a tensor's little-endian floats into dst (numel floats), rejecting non-finite. */
static int tensor_floats(rd *r, const ser_tensor *t, float *dst) {
  for (size_t i = 0; i < t->numel; i++) {
    dst[i] = bytes_le_f32(t->data + 4 * i);
    if (!isfinite(dst[i]))
      return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' element %zu is not finite", r->src,
                       t->name, i);
  }
  return 0;
}

/* Adds tensor t as a graph constant of the given shape; returns the value id or < 0. */
static int add_const(rd *r, nn_graph *g, const ser_tensor *t) {
  float *tmp = malloc(t->numel * sizeof(float));
  if (!tmp) return emoi_fail(r->err, EMO_ENOMEM, "%s: out of memory for '%s'", r->src, t->name);
  int id = tensor_floats(r, t, tmp);
  if (id == 0)
    id = nn_graph_add_const(g, t->name, NN_F32, t->rank, t->dims, tmp, t->numel * sizeof(float),
                            r->err);
  free(tmp);
  return id;
}

static int add_node(nn_graph *g, nn_op op, const int *in, int n_in, const char *out_name,
                    const nn_attr *a, emoi_err *err) {
  int out = nn_graph_add_value(g, out_name, NN_F32, 0, NULL, err);
  if (out < 0) return out;
  int r = nn_graph_add_node(g, op, in, n_in, &out, 1, a, out_name, err);
  return r < 0 ? r : out;
}

/* Adds the member's per-band normalization (x - "<pre>norm.mean") / "<pre>norm.std" on value
 * input (1, T, n_mels, 1) as SUB and DIV nodes with (n_mels, 1) constants; returns the value id
 * or < 0. The same float32 operations, in the same order, as the C front end of version 1 did
 * (training/ser_common.py computes them in float64; the parity test bounds the difference). */
static int add_norm(rd *r, nn_graph *g, const ser_tensor *tabs, int nt, const char *pre, int input,
                    uint32_t nmels) {
  float v[FEAT_MAX_MELS];
  int x = input;
  for (int k = 0; k < 2; k++) {
    const ser_tensor *t = NULL;
    char nm[64];
    int64_t d1[1] = {nmels}, d2[2] = {nmels, 1};
    snprintf(nm, sizeof nm, "%snorm.%s", pre, k ? "std" : "mean");
    int st = want_tensor(r, tabs, nt, nm, 1, d1, &t);
    if (st || (st = tensor_floats(r, t, v))) return st < 0 ? st : EMO_EMODEL;
    for (uint32_t i = 0; k && i < nmels; i++)
      if (!(v[i] > 1e-12f))
        return emoi_fail(r->err, EMO_EMODEL, "%s: %s[%u] must be > 0", r->src, nm, i);
    int c = nn_graph_add_const(g, nm, NN_F32, 2, d2, v, sizeof(float) * nmels, r->err);
    if (c < 0) return c;
    int in2[2] = {x, c};
    snprintf(nm, sizeof nm, "%snormed%d", pre, k);
    if ((x = add_node(g, k ? NN_OP_DIV : NN_OP_SUB, in2, 2, nm, NULL, r->err)) < 0) return x;
  }
  return x;
}

/* Adds one member network (tensors "<pre>norm.mean/std", "<pre>conv<i>.w/b", "<pre>fc.w/b") on
 * value input; writes its logits (1, 8) and pooled layer (1, Co_last) value ids. */
static int add_member(rd *r, nn_graph *g, const ser_tensor *tabs, int nt, const char *pre,
                      int input, uint32_t nmels, uint32_t n_blocks, int *logits, int *pooled,
                      int *channels) {
  int x = add_norm(r, g, tabs, nt, pre, input, nmels), st;
  if (x < 0) return x;
  int64_t cin = 1;
  char nm[64];
  for (uint32_t b = 0; b < n_blocks; b++) {
    const ser_tensor *tw = NULL, *tb = NULL;
    int64_t wd[4] = {-1, -1, -1, cin};
    snprintf(nm, sizeof nm, "%sconv%u.w", pre, b);
    if ((st = want_tensor(r, tabs, nt, nm, 4, wd, &tw))) return st;
    if (wd[0] > SER_MAX_CHANNELS || wd[1] > 7 || wd[2] > 7 || wd[1] % 2 == 0 || wd[2] % 2 == 0)
      return emoi_fail(r->err, EMO_EMODEL,
                       "%s: tensor '%s': need <= %d output channels and odd kernels <= 7", r->src,
                       nm, SER_MAX_CHANNELS);
    int64_t bd[1] = {wd[0]};
    snprintf(nm, sizeof nm, "%sconv%u.b", pre, b);
    if ((st = want_tensor(r, tabs, nt, nm, 1, bd, &tb))) return st;
    int w_id = add_const(r, g, tw);
    if (w_id < 0) return w_id;
    int b_id = add_const(r, g, tb);
    if (b_id < 0) return b_id;
    nn_attr a = nn_attr_default();
    a.padding = NN_PAD_SAME;
    a.act_min = 0.0f; /* fused ReLU */
    int in3[3] = {x, w_id, b_id};
    snprintf(nm, sizeof nm, "%sconv%u", pre, b);
    if ((x = add_node(g, NN_OP_CONV2D, in3, 3, nm, &a, r->err)) < 0) return x;
    nn_attr p = nn_attr_default();
    p.kernel_h = p.kernel_w = 2;
    p.stride_h = p.stride_w = 2;
    snprintf(nm, sizeof nm, "%spool%u", pre, b);
    if ((x = add_node(g, NN_OP_MAX_POOL2D, &x, 1, nm, &p, r->err)) < 0) return x;
    cin = wd[0];
  }
  nn_attr mean = nn_attr_default();
  mean.n_axes = 2;
  mean.axes[0] = 1;
  mean.axes[1] = 2;
  mean.keepdims = 0;
  snprintf(nm, sizeof nm, "%sgap", pre);
  if ((x = add_node(g, NN_OP_MEAN, &x, 1, nm, &mean, r->err)) < 0) return x;
  *pooled = x;
  *channels = (int)cin;
  const ser_tensor *fw = NULL, *fb = NULL;
  int64_t fwd[2] = {SER_N_LABELS, cin}, fbd[1] = {SER_N_LABELS};
  char nw[64], nb[64];
  snprintf(nw, sizeof nw, "%sfc.w", pre);
  snprintf(nb, sizeof nb, "%sfc.b", pre);
  if ((st = want_tensor(r, tabs, nt, nw, 2, fwd, &fw)) ||
      (st = want_tensor(r, tabs, nt, nb, 1, fbd, &fb)))
    return st;
  int fw_id = add_const(r, g, fw);
  if (fw_id < 0) return fw_id;
  int fb_id = add_const(r, g, fb);
  if (fb_id < 0) return fb_id;
  int in3[3] = {x, fw_id, fb_id};
  snprintf(nm, sizeof nm, "%slogits", pre);
  if ((x = add_node(g, NN_OP_FULLY_CONNECTED, in3, 3, nm, NULL, r->err)) < 0) return x;
  *logits = x;
  return 0;
}

static int parse(rd *r, ser_model *m) {
  uint32_t u, version;
  const unsigned char *magic;
  if (rd_span(r, 8, "magic", &magic)) return EMO_EMODEL;
  if (memcmp(magic, SER_MAGIC, 8) != 0)
    return emoi_fail(r->err, EMO_EMODEL, "%s: not an emo SER weights file (bad magic)", r->src);
  if (rd_u32(r, "version", &version)) return EMO_EMODEL;
  if (version < 1 || version > SER_VERSION)
    return emoi_fail(r->err, EMO_EMODEL,
                     "%s: SER weights version %u, this build reads versions 1..%u: use the "
                     "models/ser/ weights of this source tree (or re-export with "
                     "training/export.py)",
                     r->src, version, SER_VERSION);
  if (rd_u32(r, "n_labels", &u)) return EMO_EMODEL;
  if (u != SER_N_LABELS)
    return emoi_fail(r->err, EMO_EMODEL, "%s: n_labels %u, expected %d", r->src, u, SER_N_LABELS);
  for (int i = 0; i < SER_N_LABELS; i++) {
    unsigned len;
    if (rd_u8(r, "label length", &len)) return EMO_EMODEL;
    if (len < 1 || len > 31)
      return emoi_fail(r->err, EMO_EMODEL, "%s: label %d length %u not in 1..31", r->src, i, len);
    const unsigned char *label;
    if (rd_span(r, len, "label", &label)) return EMO_EMODEL;
    memcpy(m->labels[i], label, len);
    m->labels[i][len] = '\0';
    if (strcmp(m->labels[i], ser_expected_labels[i]) != 0)
      return emoi_fail(r->err, EMO_EMODEL, "%s: label %d is '%s', expected '%s'", r->src, i,
                       m->labels[i], ser_expected_labels[i]);
  }
  feat_params fp = feat_params_default();
  uint32_t sr, win, hop, nfft, nmels, scale;
  if (rd_u32(r, "sample_rate", &sr) || rd_u32(r, "win_length", &win) ||
      rd_u32(r, "hop_length", &hop) || rd_u32(r, "n_fft", &nfft) || rd_u32(r, "n_mels", &nmels) ||
      rd_f32(r, "f_min", &fp.f_min) || rd_f32(r, "f_max", &fp.f_max) ||
      rd_f32(r, "log_offset", &fp.log_offset) || rd_u32(r, "mel_scale", &scale))
    return EMO_EMODEL;
  if (scale != 0)
    return emoi_fail(r->err, EMO_EMODEL, "%s: mel_scale %u unknown (0 = HTK)", r->src, scale);
  if (sr > 384000 || win > FEAT_MAX_NFFT || hop > (1u << 20) || nfft > FEAT_MAX_NFFT ||
      nmels > FEAT_MAX_MELS)
    return emoi_fail(r->err, EMO_EMODEL, "%s: feature config out of range", r->src);
  fp.sample_rate = (int)sr;
  fp.win_length = (int)win;
  fp.hop_length = (int)hop;
  fp.n_fft = (int)nfft;
  fp.n_mels = (int)nmels;
  fp.n_mfcc = 0;
  if (feat_config_init(&m->feat, &fp, r->err)) {
    emoi_err_prefix(r->err, r->src);
    return EMO_EMODEL;
  }
  if (sr != 16000)
    return emoi_fail(r->err, EMO_EMODEL, "%s: sample_rate %u, only 16000 is supported", r->src, sr);
  uint32_t chunk, n_blocks, n_members = 1, n_tensors;
  if (rd_u32(r, "chunk_frames", &chunk) || rd_u32(r, "n_blocks", &n_blocks) ||
      (version >= 2 && rd_u32(r, "n_members", &n_members)) || rd_u32(r, "n_tensors", &n_tensors))
    return EMO_EMODEL;
  if (n_members < 1 || n_members > SER_MAX_MEMBERS)
    return emoi_fail(r->err, EMO_EMODEL, "%s: n_members %u not in 1..%d", r->src, n_members,
                     SER_MAX_MEMBERS);
  if (n_blocks < 1 || n_blocks > SER_MAX_BLOCKS)
    return emoi_fail(r->err, EMO_EMODEL, "%s: n_blocks %u not in 1..%d", r->src, n_blocks,
                     SER_MAX_BLOCKS);
  if (chunk < (1u << n_blocks) || chunk > 6000)
    return emoi_fail(r->err, EMO_EMODEL, "%s: chunk_frames %u not in %u..6000", r->src, chunk,
                     1u << n_blocks);
  if (nmels < (1u << n_blocks))
    return emoi_fail(r->err, EMO_EMODEL, "%s: n_mels %u too small for %u pooling blocks", r->src,
                     nmels, n_blocks);
  m->chunk = (int)chunk;
  if (n_tensors > SER_MAX_TENSORS)
    return emoi_fail(r->err, EMO_EMODEL, "%s: n_tensors %u > %d", r->src, n_tensors,
                     SER_MAX_TENSORS);

  ser_tensor tabs[SER_MAX_TENSORS];
  int nt = (int)n_tensors;
  for (int i = 0; i < nt; i++) {
    ser_tensor *t = &tabs[i];
    unsigned len;
    uint32_t rank;
    if (rd_u8(r, "tensor name length", &len)) return EMO_EMODEL;
    if (len < 1 || len > 63)
      return emoi_fail(r->err, EMO_EMODEL, "%s: tensor %d name length %u not in 1..63", r->src, i,
                       len);
    const unsigned char *name;
    if (rd_span(r, len, "tensor name", &name)) return EMO_EMODEL;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    if (strlen(t->name) != len)
      return emoi_fail(r->err, EMO_EMODEL, "%s: tensor %d name contains NUL", r->src, i);
    if (find_tensor(tabs, i, t->name))
      return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' repeated", r->src, t->name);
    if (rd_u32(r, "tensor rank", &rank)) return EMO_EMODEL;
    if (rank < 1 || rank > 4)
      return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' rank %u not in 1..4", r->src, t->name,
                       rank);
    t->rank = (int)rank;
    t->numel = 1;
    for (int d = 0; d < t->rank; d++) {
      uint32_t v;
      if (rd_u32(r, "tensor dim", &v)) return EMO_EMODEL;
      if (v < 1 || v > SER_MAX_TENSOR_ELEMS || t->numel * v > SER_MAX_TENSOR_ELEMS)
        return emoi_fail(r->err, EMO_EMODEL, "%s: tensor '%s' dim %d = %u out of range", r->src,
                         t->name, d, v);
      t->dims[d] = v;
      t->numel *= v;
    }
    if (rd_span(r, t->numel * 4, "tensor data", &t->data)) return EMO_EMODEL;
  }
  if (bytes_left(&r->c))
    return emoi_fail(r->err, EMO_EMODEL, "%s: %zu unexpected bytes after the last tensor", r->src,
                     bytes_left(&r->c));

  /* network: one branch per member on the shared input */
  int st = nn_graph_create(r->src, &m->g, r->err);
  if (st) return st;
  nn_graph *g = m->g;
  int64_t in_shape[4] = {1, chunk, nmels, 1};
  int input = nn_graph_add_value(g, "logmel", NN_F32, 4, in_shape, r->err);
  if (input < 0) return input;
  int logits[SER_MAX_MEMBERS], gaps[SER_MAX_MEMBERS];
  m->embed = 0;
  for (uint32_t j = 0; j < n_members; j++) {
    char pre[16] = "";
    if (version >= 2) snprintf(pre, sizeof pre, "m%u.", j);
    int ch = 0;
    if ((st = add_member(r, g, tabs, nt, pre, input, nmels, n_blocks, &logits[j], &gaps[j], &ch)))
      return st;
    m->embed += ch;
  }
  int x = logits[0], gap = gaps[0];
  if (n_members > 1) {
    /* mean of the members' logits: a chain of ADDs, then MUL by 1/n */
    char nm[64];
    for (uint32_t j = 1; j < n_members; j++) {
      int in2[2] = {x, logits[j]};
      snprintf(nm, sizeof nm, "logit_sum%u", j);
      if ((x = add_node(g, NN_OP_ADD, in2, 2, nm, NULL, r->err)) < 0) return x;
    }
    float inv = 1.0f / (float)n_members;
    int64_t one[1] = {1};
    int c = nn_graph_add_const(g, "inv_members", NN_F32, 1, one, &inv, sizeof inv, r->err);
    if (c < 0) return c;
    int in2[2] = {x, c};
    if ((x = add_node(g, NN_OP_MUL, in2, 2, "logits", NULL, r->err)) < 0) return x;
    nn_attr cat = nn_attr_default();
    cat.axis = 1;
    if ((gap = add_node(g, NN_OP_CONCAT, gaps, (int)n_members, "pooled", &cat, r->err)) < 0)
      return gap;
  }
  if (m->embed > SER_MAX_EMBED)
    return emoi_fail(r->err, EMO_EMODEL, "%s: pooled layers total %d channels, at most %d", r->src,
                     m->embed, SER_MAX_EMBED);
  int outs[2] = {x, gap}; /* logits; the pooled features (ser_classify_embed) */
  if ((st = nn_graph_set_io(g, &input, 1, outs, 2, r->err))) return st;
  return nn_graph_finalize(g, r->err);
}

int ser_load(const void *data, size_t size, const char *source, ser_model **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "ser_load: NULL out");
  *out = NULL;
  const char *src = source ? source : "SER weights";
  if (!data && size) return emoi_fail(err, EMO_EINVAL, "%s: NULL data", src);
  ser_model *m = calloc(1, sizeof *m);
  if (!m) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
  rd r = {data, bytes_init(data, size), src, err};
  int st = parse(&r, m);
  if (st) {
    ser_destroy(&m);
    return st;
  }
  *out = m;
  return 0;
}

void ser_destroy(ser_model **m) {
  if (!m || !*m) return;
  nn_graph_destroy(&(*m)->g);
  free(*m);
  *m = NULL;
}

const char *ser_label(const ser_model *m, int i) {
  return m && i >= 0 && i < SER_N_LABELS ? m->labels[i] : NULL;
}

const nn_graph *ser_graph(const ser_model *m) {
  return m ? m->g : NULL;
}
const feat_config *ser_features(const ser_model *m) {
  return m ? &m->feat : NULL;
}
int ser_chunk_frames(const ser_model *m) {
  return m ? m->chunk : 0;
}

/* Mean of one log-mel row (n_mels), in double as numpy does. */
static double frame_mean(const float *row, int M) {
  double s = 0.0;
  for (int k = 0; k < M; k++) s += row[k];
  return s / M;
}

int ser_embed_dim(const ser_model *m) {
  return m ? m->embed : 0;
}

int ser_classify(const ser_model *m, nn_plan *plan, const float *pcm, int n,
                 float probs[SER_N_LABELS], emoi_err *err) {
  return ser_classify_embed(m, plan, pcm, n, probs, NULL, err);
}

int ser_classify_embed(const ser_model *m, nn_plan *plan, const float *pcm, int n,
                       float probs[SER_N_LABELS], float *embed, emoi_err *err) {
  if (!m || !pcm || !probs) return emoi_fail(err, EMO_EINVAL, "ser_classify: NULL argument");
  if (n > SER_MAX_SAMPLES)
    return emoi_fail(err, EMO_ELIMIT, "ser_classify: %d samples, at most %d (10 min at 16 kHz)", n,
                     SER_MAX_SAMPLES);
  int frames = feat_num_frames(&m->feat, n), M = m->feat.p.n_mels, T = m->chunk;
  if (frames < 1)
    return emoi_fail(err, EMO_EINVAL, "ser_classify: %d samples, need at least %d (one frame)", n,
                     m->feat.p.win_length);
  float *lm = malloc((size_t)frames * (size_t)M * sizeof(float)); /* (frames, n_mels) */
  if (!lm) return emoi_fail(err, EMO_ENOMEM, "ser_classify: out of memory for features");
  nn_plan *own = NULL;
  int st = 0;
  if (!plan) {
    if ((st = nn_plan_create(m->g, NN_BACKEND_XNNPACK, NULL, &own, err))) goto done;
    plan = own;
  }
  feat_logmel(&m->feat, pcm, n, lm, &frames);
  /* trim quiet frames at both ends: keep [first, last] frame with mean >= loudest - TRIM */
  double emax = -INFINITY;
  int first = 0, last = frames - 1;
  for (int t = 0; t < frames; t++) emax = fmax(emax, frame_mean(lm + (size_t)t * M, M));
  while (first < last && frame_mean(lm + (size_t)first * M, M) < emax - SER_TRIM_NATS) first++;
  while (last > first && frame_mean(lm + (size_t)last * M, M) < emax - SER_TRIM_NATS) last--;
  if (first > 0)
    memmove(lm, lm + (size_t)first * M, sizeof(float) * (size_t)(last - first + 1) * M);
  frames = last - first + 1;
  double sum = 0.0;
  for (size_t i = 0; i < (size_t)frames * (size_t)M; i++) sum += lm[i];
  float mu = (float)(sum / ((double)frames * M));
  for (int t = 0; t < frames; t++)
    for (int k = 0; k < M; k++) {
      float *v = &lm[(size_t)t * M + k];
      *v -= mu; /* each member's per-band normalization is in the graph */
    }
  double acc[SER_N_LABELS] = {0};
  int n_chunks = 0;
  if (embed)
    for (int k = 0; k < m->embed; k++) embed[k] = 0.0f;
  float *in = nn_plan_input(plan, 0); /* (1, T, M, 1) */
  for (int start = 0;; start += T / 2) {
    int last = frames <= T || start >= frames - T;
    if (last) start = frames <= T ? 0 : frames - T;
    for (int t = 0; t < T; t++)
      memcpy(in + (size_t)t * M, lm + (size_t)((start + t) % frames) * M, sizeof(float) * M);
    if ((st = nn_plan_run(plan, err))) goto done;
    const float *lo = nn_plan_output(plan, 0);
    for (int i = 0; i < SER_N_LABELS; i++) acc[i] += lo[i];
    if (embed) {
      const float *e = nn_plan_output(plan, 1); /* (1, embed) */
      for (int k = 0; k < m->embed; k++) embed[k] += e[k];
    }
    n_chunks++;
    if (last) break;
  }
  double mx = -INFINITY, z = 0.0;
  for (int i = 0; i < SER_N_LABELS; i++) {
    acc[i] /= n_chunks;
    if (acc[i] > mx) mx = acc[i];
  }
  for (int i = 0; i < SER_N_LABELS; i++) z += exp(acc[i] - mx);
  for (int i = 0; i < SER_N_LABELS; i++) probs[i] = (float)(exp(acc[i] - mx) / z);
  if (embed)
    for (int k = 0; k < m->embed; k++) embed[k] /= (float)n_chunks;
done:
  nn_plan_destroy(&own);
  free(lm);
  return st;
}
