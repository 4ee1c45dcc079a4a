/* plan.c: nn_plan, a finalized graph bound to buffers and to a backend. At creation it
 * gives every activation value its own dense buffer in one 64-byte aligned arena (plus
 * XNN_EXTRA_BYTES of slack, which XNNPACK may read past the end), and for the XNNPACK
 * backend splits the node list into maximal runs of nodes XNNPACK can take, each run one
 * XNNPACK runtime whose boundary values are bound to the arena; the other nodes run on the
 * reference kernels. When XNNPACK refuses a run, the nodes it refuses individually (or the
 * whole run, if none alone) move to the reference kernels and the runs are rebuilt; the
 * counts are kept in nn_plan_stats so tests can tell. A 3x3 stride-1 CONV2D that
 * nn_winograd_node_eligible accepts runs as a step of its own on the Winograd path
 * (winograd.c) between the runs, in single-threaded plans, unless the options say no_winograd
 * (A/B timing) or the plan is NN_BACKEND_REFERENCE. Likewise, when the plan was asked for int8
 * (nn_plan_options), a CONV2D of at least PLAN_QCONV_MIN_MACS multiply-adds that
 * nn_qconv_node_eligible accepts (1x1, or larger without padding) runs as a step of its own in int8
 * (qconv.c) on a CPU with AVX2 or AVX512-VNNI (not above the options' isa cap: the scalar
 * int8 kernels are slower than XNNPACK's float); it runs on the calling thread. When
 * such a node reads the output of a 3x3 depthwise convolution that nothing else reads and
 * nn_dwq_nodes_eligible accepts the pair, the two run as one fused step (dwq.c) at the 1x1 node's
 * place, unless the options say no_dwq (A/B timing) or the fused depthwise kernel would be the
 * scalar one (no AVX2, or a cap below it: XNNPACK's depthwise is faster): the depthwise node
 * then has no step of its own. A float product (a 1x1 stride-1 unpadded CONV2D or a
 * FULLY_CONNECTED, nn_sgemm_node_eligible) runs as a step of its own on emo's GEMM microkernels
 * (sgemm.c) where own_gemm_pays says they beat XNNPACK's (CPUs without AVX-512), or where the
 * options ask for them (nn_plan_options.gemm). After a product on one of emo's own kernels (sgemm,
 * qconv, dwq), a chain of element-wise nodes each the only reader of the value before it
 * (per-channel biases, ReLU, ReLU6, leaky ReLU, PReLU, clamps: epi_chain_find) is fused into the
 * product's store as its epilogue (nn/epilogue.h, applied to the rows the kernel has written,
 * while they are in cache; a clamp that opens the chain of an sgemm product becomes the kernel's
 * own), unless the options say no_epilogue. Additions of a tensor stay nodes of their own:
 * fused, they measured slower than XNNPACK's additions on face-api's dense blocks and BlazeFace
 * (README, speed section; commit 4e5368b removed them). Running allocates nothing.
 *
 * Once the steps are built, the buffers are laid out again by lifetime (plan_relayout): values
 * whose steps do not interleave share bytes, so a value's readers find it still in cache (unless
 * the options say no_reuse).
 *
 * What it leaves to others: kernels (ops_ref.c, backend_xnn.c), shapes (graph.c). Every
 * switch is a field of nn_plan_options: the plan reads no environment variable. */
#include <math.h>
#include <pthreadpool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "nn/backend_xnn.h"
#include "nn/dwq.h"
#include "nn/epilogue.h"
#include "nn/layernorm.h"
#include "nn/nn.h"
#include "nn/qconv.h"
#include "nn/resblock.h"
#include "nn/sgemm.h"
#include "nn/winograd.h"

/* What supported[k] says about node k while the plan is built. */
enum {
  PLAN_REF = 0,
  PLAN_XNN = 1,
  PLAN_WINOGRAD = 2,
  PLAN_QCONV = 3,
  PLAN_DWQ = 4,    /* a 1x1 CONV2D run with the depthwise node before it (nn_dwq) */
  PLAN_DWQ_DW = 5, /* that depthwise node: no step of its own */
  PLAN_GEMM = 6,   /* a float product on emo's own GEMM (nn/sgemm.c) */
  PLAN_RB = 7,     /* the first node of a residual block run as one step (nn/resblock.c) */
  PLAN_RB_IN = 8,  /* the block's other nodes: no step of their own */
  PLAN_EPI = 9,    /* an addition or activation fused into the epilogue of the product before it
                      (nn/epilogue.h): no step of its own */
  PLAN_LN = 10,    /* the first node of a layer normalisation run as one step (nn/layernorm.c) */
  PLAN_LN_IN = 11  /* its other nodes: no step of their own */
};

/* Longest chain of nodes fused into one product's epilogue. */
#define PLAN_EPI_MAX_NODES 7

/* Below this a 1x1 convolution stays on XNNPACK: the int8 step's fixed costs (quantising the
 * input, a runtime boundary) outweigh what VNNI saves. */
#define PLAN_QCONV_MIN_MACS (1 << 20)

typedef struct plan_seg {
  int begin, end;  /* nodes [begin, end) */
  nn_xnn_run *xnn; /* NULL: reference kernels (or Winograd, or int8) */
  nn_winograd *wg; /* the one node [begin, begin + 1) on the Winograd path, else NULL */
  nn_qconv *qc;    /* the one node [begin, begin + 1) in int8, else NULL */
  nn_dwq *dq;      /* the one node [begin, begin + 1) in int8 fused with depthwise node
                      dw_node before it, else NULL */
  nn_sgemm *sg;    /* the one node [begin, begin + 1) on emo's own float GEMM, else NULL */
  nn_rb *rb;       /* the NN_RB_NODES nodes [begin, end) as one residual block, else NULL */
  nn_ln *ln;       /* the nodes [begin, end) as one layer normalisation, else NULL */
  int dw_node;
  int tail;    /* the last node of the fused epilogue chain (its output is the step's), or -1 */
  nn_epi *epi; /* the chain's ops (NULL: none left, e.g. a RELU folded into sg's clamp) */
  float *prod; /* where the product itself goes: its own value's buffer when another node reads
                  it, else the chain's output (the epilogue then works in place) */
} plan_seg;

struct nn_plan {
  const nn_graph *g;
  nn_backend backend;
  nn_isa isa;   /* nn_plan_options.isa */
  int own_gemm; /* products (and Winograd's) on nn/sgemm.c: own_gemm_pays */
  void *threadpool;
  unsigned char *arena; /* every activation buffer */
  float **buf;          /* (n_values): dense buffer of each activation, NULL for constants */
  plan_seg *segs;       /* (n_segs) */
  int n_segs;
  unsigned char *on_xnn; /* (n_nodes): PLAN_XNN inside an XNNPACK runtime, PLAN_WINOGRAD,
                            PLAN_QCONV, PLAN_DWQ, PLAN_DWQ_DW, PLAN_EPI or PLAN_REF */
  int *epi_next;         /* (n_nodes) while building: the next node of k's epilogue chain, or -1 */
  int *epi_head;         /* (n_nodes) while building: for a chain's last node, its product */
  nn_plan_stats stats;
};

static size_t align64(size_t n) {
  return (n + 63) & ~(size_t)63;
}

void nn_plan_destroy(nn_plan **pp) {
  if (!pp || !*pp) return;
  nn_plan *p = *pp;
  for (int i = 0; i < p->n_segs; i++) {
    nn_xnn_run_destroy(&p->segs[i].xnn);
    nn_winograd_destroy(&p->segs[i].wg);
    nn_qconv_destroy(&p->segs[i].qc);
    nn_dwq_destroy(&p->segs[i].dq);
    nn_sgemm_destroy(&p->segs[i].sg);
    nn_rb_destroy(&p->segs[i].rb);
    free(p->segs[i].epi);
    nn_ln_destroy(&p->segs[i].ln);
  }
  free(p->segs);
  free(p->buf);
  free(p->arena);
  free(p->on_xnn);
  free(p->epi_next);
  free(p->epi_head);
  free(p);
  *pp = NULL;
}

static void drop_segs(nn_plan *p) {
  for (int i = 0; i < p->n_segs; i++) {
    nn_xnn_run_destroy(&p->segs[i].xnn);
    nn_winograd_destroy(&p->segs[i].wg);
    nn_qconv_destroy(&p->segs[i].qc);
    nn_dwq_destroy(&p->segs[i].dq);
    nn_sgemm_destroy(&p->segs[i].sg);
    nn_rb_destroy(&p->segs[i].rb);
    free(p->segs[i].epi);
    p->segs[i].epi = NULL;
    nn_ln_destroy(&p->segs[i].ln);
  }
  p->n_segs = 0;
}

static int same_shape(const nn_value *a, const nn_value *b) {
  if (a->rank != b->rank) return 0;
  for (int d = 0; d < a->rank; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

/* Whether constant c broadcasts along the last axis of a tensor of ch channels: one value (*per
 * = 0) or ch values on the last axis, every other axis 1 (*per = 1). */
static int const_per_channel(const nn_graph *g, int c, int64_t ch, int *per) {
  const nn_value *cv = &g->values[c];
  if (!cv->is_const || cv->dtype != NN_F32) return 0;
  int64_t ne = nn_value_numel(cv);
  *per = ne != 1;
  return ne == 1 || (ne == ch && cv->rank >= 1 && cv->shape[cv->rank - 1] == ch);
}

/* Nodes that read value v (each counted once). */
static int n_readers(const nn_graph *g, int v) {
  int r = 0;
  for (int q = 0; q < g->n_nodes; q++)
    for (int i = 0; i < g->nodes[q].n_in; i++)
      if (g->nodes[q].in[i] == v) {
        r++;
        break;
      }
  return r;
}

/* The epilogue ops (epilogue.h) that do what node j does to value v, a float tensor, written to
 * ops (room for 2): an ADD of a per-channel constant, a RELU, RELU6,
 * LEAKY_RELU or PRELU (per-channel or scalar alpha), each followed by the node's own clamp when
 * it has one. Returns how many, 0 when node j cannot be fused so. */
static int epi_node_ops(const nn_plan *p, int j, int v, nn_epi_op *ops) {
  const nn_graph *g = p->g;
  const nn_node *n = &g->nodes[j];
  const nn_value *vv = &g->values[v];
  if (n->n_out != 1 || vv->dtype != NN_F32 || vv->rank < 1 || vv->is_const ||
      !same_shape(&g->values[n->out[0]], vv) || g->values[n->out[0]].dtype != NN_F32)
    return 0;
  int64_t ch = vv->shape[vv->rank - 1];
  int k = 0, per = 0;
  nn_epi_op z;
  memset(&z, 0, sizeof z);
  ops[0] = ops[1] = z;
  switch (n->op) {
    case NN_OP_ADD: {
      if (n->n_in != 2) return 0;
      int o = n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -1;
      if (o < 0 || o == v || !const_per_channel(g, o, ch, &per)) return 0;
      ops[k].kind = NN_EPI_BIAS;
      ops[k].c = nn_graph_const_data(g, o);
      ops[k++].c_per_channel = per;
      break;
    }
    case NN_OP_RELU:
    case NN_OP_RELU6:
      if (n->n_in != 1 || n->in[0] != v) return 0;
      ops[k].kind = NN_EPI_CLAMP;
      ops[k].lo = 0.0f;
      ops[k++].hi = n->op == NN_OP_RELU6 ? 6.0f : INFINITY;
      break;
    case NN_OP_LEAKY_RELU:
      if (n->n_in != 1 || n->in[0] != v) return 0;
      ops[k].kind = NN_EPI_PRELU;
      ops[k++].c = &n->attr.alpha;
      break;
    case NN_OP_PRELU:
      if (n->n_in != 2 || n->in[0] != v || !const_per_channel(g, n->in[1], ch, &per)) return 0;
      ops[k].kind = NN_EPI_PRELU;
      ops[k].c = nn_graph_const_data(g, n->in[1]);
      ops[k++].c_per_channel = per;
      break;
    default: return 0;
  }
  if (n->attr.act_min != -INFINITY || n->attr.act_max != INFINITY) {
    ops[k].kind = NN_EPI_CLAMP;
    ops[k].lo = n->attr.act_min;
    ops[k++].hi = n->attr.act_max;
  }
  return k;
}

/* Finds the chain of nodes fused into the epilogue of product node k (a step of emo's own: sgemm,
 * qconv or dwq): from k's output, each next node is the only reader of the value before it, one
 * that epi_node_ops takes and that no other step has claimed. Marks the nodes PLAN_EPI and links
 * them in p->epi_next from k, p->epi_head at the last one. */
static void epi_chain_find(nn_plan *p, int k, unsigned char *supported,
                           const unsigned char *is_output) {
  const nn_graph *g = p->g;
  int members[PLAN_EPI_MAX_NODES], n = 0, n_ops = 0;
  if (g->nodes[k].n_out != 1) return;
  int v = g->nodes[k].out[0];
  while (n < PLAN_EPI_MAX_NODES && !is_output[v] && n_readers(g, v) == 1) {
    int j = -1;
    for (int q = 0; q < g->n_nodes && j < 0; q++)
      for (int i = 0; i < g->nodes[q].n_in; i++)
        if (g->nodes[q].in[i] == v) j = q;
    nn_epi_op tmp[2];
    int nops =
        supported[j] == PLAN_XNN || supported[j] == PLAN_REF ? epi_node_ops(p, j, v, tmp) : 0;
    if (nops == 0 || n_ops + nops > NN_EPI_MAX_OPS) break;
    n_ops += nops;
    members[n++] = j;
    v = g->nodes[j].out[0];
  }
  if (n == 0) return;
  int prev = k;
  for (int i = 0; i < n; i++) {
    supported[members[i]] = PLAN_EPI;
    p->epi_next[prev] = members[i];
    prev = members[i];
  }
  p->epi_next[prev] = -1;
  p->epi_head[prev] = k;
}

/* Undoes epi_chain_find for product h (its step could not be built): the chain's nodes go back
 * to XNNPACK. */
static void epi_chain_drop(nn_plan *p, int h, unsigned char *supported) {
  int j = p->epi_next[h];
  p->epi_next[h] = -1;
  while (j >= 0) {
    int nx = p->epi_next[j];
    supported[j] = (unsigned char)nn_xnn_node_supported(p->g, j);
    p->epi_next[j] = -1;
    if (nx < 0) p->epi_head[j] = -1;
    j = nx;
  }
}

/* Builds s->epi for the chain after product h (p->epi_next), s->tail and s->prod (where the
 * product goes: the chain's output, worked in place; nothing else reads the values between).
 * With fold_lo and fold_hi (a product of sgemm's, with no clamp of its own) a clamp that
 * the chain opens with goes into them, the product's own clamp, and out of the ops. */
static int seg_chain(nn_plan *p, plan_seg *s, int h, float *fold_lo, float *fold_hi,
                     emoi_err *err) {
  const nn_graph *g = p->g;
  int v = g->nodes[h].out[0];
  s->tail = -1;
  s->epi = NULL;
  s->prod = p->buf[v];
  if (p->epi_next[h] < 0) return EMO_OK;
  nn_epi *e = calloc(1, sizeof *e);
  if (!e) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory for an epilogue", g->source);
  const nn_value *vv = &g->values[v];
  e->n = (int)vv->shape[vv->rank - 1];
  e->isa = nn_epi_isa(p->isa);
  for (int j = p->epi_next[h]; j >= 0; j = p->epi_next[j]) {
    e->n_ops += epi_node_ops(p, j, v, &e->op[e->n_ops]);
    s->tail = j;
    v = g->nodes[j].out[0];
  }
  e->dst = p->buf[v];
  s->prod = e->dst;
  if (fold_lo && fold_hi && e->n_ops > 0 && e->op[0].kind == NN_EPI_CLAMP) {
    *fold_lo = e->op[0].lo;
    *fold_hi = e->op[0].hi;
    memmove(&e->op[0], &e->op[1], (size_t)(e->n_ops - 1) * sizeof e->op[0]);
    e->n_ops--;
  }
  if (e->n_ops == 0) {
    free(e);
    e = NULL;
  }
  s->epi = e;
  return EMO_OK;
}

/* Splits the nodes into runs by supported[] and builds the XNNPACK runtimes. Returns 1 when
 * a runtime failed and supported[] was narrowed (the caller rebuilds), 0 when done, or a
 * negative status. */
static int build_segs(nn_plan *p, unsigned char *supported, const int *producer,
                      const int *last_consumer, const unsigned char *is_output, emoi_err *err) {
  const nn_graph *g = p->g;
  drop_segs(p);
  for (int k0 = 0; k0 < g->n_nodes;) {
    /* a product with an epilogue chain is a step at the chain's last node, after every value
       the chain reads (its other nodes and the depthwise node of a dwq have none) */
    if (supported[k0] == PLAN_DWQ_DW || (supported[k0] == PLAN_EPI && p->epi_head[k0] < 0) ||
        (supported[k0] != PLAN_EPI && p->epi_next[k0] >= 0)) {
      k0++;
      continue;
    }
    int k = supported[k0] == PLAN_EPI ? p->epi_head[k0] : k0;
    int e = supported[k] == PLAN_RB ? k + NN_RB_NODES : k + 1;
    if (supported[k] == PLAN_LN)
      while (e < g->n_nodes && supported[e] == PLAN_LN_IN) e++;
    else
      while (e < g->n_nodes && supported[e] == supported[k] && supported[k] != PLAN_WINOGRAD &&
             supported[k] != PLAN_QCONV && supported[k] != PLAN_DWQ && supported[k] != PLAN_GEMM &&
             supported[k] != PLAN_RB)
        e++;
    plan_seg *s = &p->segs[p->n_segs++];
    s->begin = k;
    s->end = e;
    s->xnn = NULL;
    s->wg = NULL;
    s->qc = NULL;
    s->dq = NULL;
    s->sg = NULL;
    s->rb = NULL;
    s->ln = NULL;
    s->dw_node = -1;
    s->tail = -1;
    s->epi = NULL;
    s->prod = NULL;
    if (supported[k] == PLAN_LN) {
      emoi_err e2;
      int st = nn_ln_create_node(g, k, &s->ln, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* back to node by node */
        for (int j = k; j < e; j++) supported[j] = (unsigned char)nn_xnn_node_supported(g, j);
        drop_segs(p);
        return 1;
      }
    } else if (supported[k] == PLAN_RB) {
      emoi_err e2;
      int st = nn_rb_create_node(g, k, p->isa, &s->rb, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* back to XNNPACK, node by node */
        for (int j = k; j < e; j++) supported[j] = (unsigned char)nn_xnn_node_supported(g, j);
        drop_segs(p);
        return 1;
      }
    } else if (supported[k] == PLAN_GEMM) {
      emoi_err e2;
      float lo = g->nodes[k].attr.act_min, hi = g->nodes[k].attr.act_max;
      int own_clamp = lo != -INFINITY || hi != INFINITY;
      int st = seg_chain(p, s, k, own_clamp ? NULL : &lo, own_clamp ? NULL : &hi, err);
      if (st) return st;
      st = nn_sgemm_create_node_clamped(g, k, lo, hi, p->isa, &s->sg, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* back to XNNPACK's product, and the chain with it */
        supported[k] = PLAN_XNN;
        epi_chain_drop(p, k, supported);
        drop_segs(p);
        return 1;
      }
    } else if (supported[k] == PLAN_DWQ) {
      emoi_err e2;
      int kd = producer[g->nodes[k].in[0]];
      int st = nn_dwq_create_node(g, kd, k, p->isa, &s->dq, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* the depthwise node back to XNNPACK, the 1x1 node int8 on its own */
        supported[kd] = (unsigned char)nn_xnn_node_supported(g, kd);
        supported[k] = PLAN_QCONV;
        drop_segs(p);
        return 1;
      }
      s->dw_node = kd;
      if ((st = seg_chain(p, s, k, NULL, NULL, err))) return st;
      nn_dwq_set_epilogue(s->dq, s->epi);
    } else if (supported[k] == PLAN_QCONV) {
      emoi_err e2;
      int st = nn_qconv_create_node(g, k, p->isa, &s->qc, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* back to XNNPACK's float convolution, and the chain with it */
        supported[k] = PLAN_XNN;
        epi_chain_drop(p, k, supported);
        drop_segs(p);
        return 1;
      }
      if ((st = seg_chain(p, s, k, NULL, NULL, err))) return st;
      nn_qconv_set_epilogue(s->qc, s->epi);
    } else if (supported[k] == PLAN_WINOGRAD) {
      emoi_err e2;
      int st = nn_winograd_create_node(g, k, NN_WINOGRAD_F4X4, p->isa, p->own_gemm, p->threadpool,
                                       &s->wg, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) { /* back to XNNPACK's own convolution */
        supported[k] = PLAN_XNN;
        drop_segs(p);
        return 1;
      }
    } else if (supported[k] == PLAN_XNN) {
      emoi_err e2;
      int st = nn_xnn_run_create(g, k, e, producer, last_consumer, is_output, p->buf, p->threadpool,
                                 &s->xnn, &e2);
      if (st == EMO_ENOMEM) {
        *err = e2;
        return st;
      }
      if (st) {
        /* find the nodes XNNPACK refuses on their own */
        int refused = 0;
        for (int j = k; j < e && e - k > 1; j++) {
          nn_xnn_run *one = NULL;
          if (nn_xnn_run_create(g, j, j + 1, producer, last_consumer, is_output, p->buf,
                                p->threadpool, &one, &e2) != EMO_OK) {
            supported[j] = 0;
            refused++;
          }
          nn_xnn_run_destroy(&one);
        }
        if (!refused)
          for (int j = k; j < e; j++) supported[j] = 0, refused++;
        p->stats.n_xnn_rejected += refused;
        drop_segs(p);
        return 1;
      }
    }
    k0 = k == k0 ? e : k0 + 1;
  }
  return 0;
}

/* Marks the values step s touches (its nodes' inputs and outputs, the fused depthwise node's
 * and the epilogue chain's) with step index i in first/last, and counts each value's steps. */
static void seg_touch(const nn_plan *p, const plan_seg *s, int i, int *first, int *last,
                      int *n_steps, int *step_of) {
  const nn_graph *g = p->g;
  int nodes[PLAN_EPI_MAX_NODES + 2], n_extra = 0;
  if (s->dq) nodes[n_extra++] = s->dw_node;
  if (s->tail >= 0)
    for (int j = p->epi_next[s->begin]; j >= 0 && n_extra < PLAN_EPI_MAX_NODES + 2;
         j = p->epi_next[j])
      nodes[n_extra++] = j;
  for (int x = 0; x < s->end - s->begin + n_extra; x++) {
    const nn_node *n =
        &g->nodes[x < s->end - s->begin ? s->begin + x : nodes[x - (s->end - s->begin)]];
    for (int j = 0; j < n->n_in + n->n_out; j++) {
      int v = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
      if (v < 0 || !p->buf[v]) continue;
      if (first[v] > i) first[v] = i;
      if (last[v] < i) last[v] = i;
      if (step_of[v] != i) n_steps[v]++;
      step_of[v] = i;
    }
  }
}

typedef struct plan_slot {
  size_t size, off;
  int v;
} plan_slot;

static int slot_by_size(const void *a, const void *b) {
  const plan_slot *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->v - y->v;
}

typedef struct plan_remap {
  const nn_plan *p;
  float *const *old_buf; /* (n_values) */
  float **new_buf;       /* (n_values) */
} plan_remap;

/* The new buffer of the value whose old buffer is old, NULL when none is. */
static float *remap_buf(void *ctx, const void *old) {
  const plan_remap *m = ctx;
  if (!old) return NULL;
  for (int v = 0; v < m->p->g->n_values; v++)
    if (m->old_buf[v] == old) return m->new_buf[v];
  return NULL;
}

/* Lays the activation buffers out again by lifetime, once the steps are built: two values share
 * bytes of the arena when no step touches both and their steps do not interleave (the value
 * lives from the first step that touches it to the last; the graph's inputs and outputs for the
 * whole run, so a caller may read them after it). A value only one XNNPACK runtime touches lives
 * in XNNPACK's workspace and gets no buffer. Greedy, largest value first, each at the lowest
 * offset clear of the values whose lives overlap its own (as TFLite's arena planner). Then every
 * pointer the steps hold (XNNPACK's bound values, epilogues, products) moves to the new arena.
 * The reused bytes stay in cache between a value's producer and its readers, so a fused
 * addition no longer writes to cold memory. */
static int plan_relayout(nn_plan *p, const unsigned char *is_output, emoi_err *err) {
  const nn_graph *g = p->g;
  int nv = g->n_values, st = EMO_OK;
  int *first = malloc((size_t)nv * sizeof *first), *last = malloc((size_t)nv * sizeof *last);
  int *n_steps = calloc((size_t)nv, sizeof *n_steps), *step_of = malloc((size_t)nv * sizeof(int));
  int *xnn_step = calloc((size_t)p->n_segs + 1, sizeof *xnn_step);
  plan_slot *sl = malloc((size_t)nv * sizeof *sl), *placed = malloc((size_t)nv * sizeof *placed);
  float **nbuf = calloc((size_t)nv + 1, sizeof *nbuf);
  unsigned char *arena = NULL;
  if (!first || !last || !n_steps || !step_of || !xnn_step || !sl || !placed || !nbuf) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory laying out activations", g->source);
    goto done;
  }
  for (int v = 0; v < nv; v++) {
    first[v] = INT32_MAX;
    last[v] = step_of[v] = -1;
  }
  for (int i = 0; i < p->n_segs; i++) {
    seg_touch(p, &p->segs[i], i, first, last, n_steps, step_of);
    xnn_step[i] = p->segs[i].xnn != NULL;
  }
  for (int i = 0; i < g->n_inputs; i++) {
    int v = g->inputs[i];
    first[v] = -1;
    last[v] = p->n_segs;
  }
  for (int v = 0; v < nv; v++)
    if (is_output[v]) {
      if (first[v] > p->n_segs) first[v] = -1;
      last[v] = p->n_segs;
    }
  int n = 0;
  for (int v = 0; v < nv; v++) {
    if (!p->buf[v] || last[v] < 0) continue;
    if (n_steps[v] == 1 && last[v] < p->n_segs && first[v] >= 0 && xnn_step[first[v]]) continue;
    sl[n].size = align64((size_t)nn_value_numel(&g->values[v]) * sizeof(float) + XNN_EXTRA_BYTES);
    sl[n].v = v;
    sl[n++].off = 0;
  }
  qsort(sl, (size_t)n, sizeof *sl, slot_by_size);
  size_t total = 0;
  for (int a = 0; a < n; a++) {
    int np = 0, v = sl[a].v;
    for (int b = 0; b < a; b++) { /* the placed values alive at the same time, by offset */
      int w = sl[b].v;
      if (first[w] > last[v] || first[v] > last[w]) continue;
      int at = np++;
      while (at > 0 && placed[at - 1].off > sl[b].off) {
        placed[at] = placed[at - 1];
        at--;
      }
      placed[at] = sl[b];
    }
    size_t off = 0;
    for (int b = 0; b < np; b++) {
      if (placed[b].off >= off + sl[a].size) break;
      if (placed[b].off + placed[b].size > off) off = placed[b].off + placed[b].size;
    }
    sl[a].off = off;
    if (off + sl[a].size > total) total = off + sl[a].size;
  }
  arena = aligned_alloc(64, total ? total : 64);
  if (!arena) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory for %zu bytes of activations", g->source,
                   total);
    goto done;
  }
  memset(arena, 0, total ? total : 64);
  for (int a = 0; a < n; a++) nbuf[sl[a].v] = (float *)(arena + sl[a].off);
  plan_remap m = {p, p->buf, nbuf};
  for (int i = 0; i < p->n_segs && !st; i++) {
    plan_seg *s = &p->segs[i];
    if (s->xnn) st = nn_xnn_run_rebind(s->xnn, remap_buf, &m, err);
    if (s->prod) s->prod = remap_buf(&m, s->prod);
    if (s->epi) s->epi->dst = remap_buf(&m, s->epi->dst);
  }
  if (st) goto done;
  free(p->arena);
  free(p->buf);
  p->arena = arena;
  p->buf = nbuf;
  p->stats.arena_bytes = total;
  arena = NULL;
  nbuf = NULL;
done:
  free(arena);
  free(nbuf);
  free(first);
  free(last);
  free(n_steps);
  free(step_of);
  free(xnn_step);
  free(sl);
  free(placed);
  return st;
}

/* 1 when node k should run in int8: a CONV2D qconv takes (1x1, or larger without padding) with
 * at least min_macs multiply-adds. */
static int qconv_worth_it(const nn_graph *g, int k, double min_macs) {
  if (!nn_qconv_node_eligible(g, k)) return 0;
  const nn_node *n = &g->nodes[k];
  const nn_value *w = &g->values[n->in[1]];
  double macs = (double)nn_value_numel(&g->values[n->out[0]]) *
                (double)(w->shape[1] * w->shape[2] * w->shape[3]);
  return macs >= min_macs;
}

/* The node that computes the input of node k when it is a depthwise convolution that can run
 * fused with k (nn_dwq) and nothing else reads its output; else -1. */
static int dwq_partner(const nn_graph *g, int k, const int *producer,
                       const unsigned char *is_output) {
  int v = g->nodes[k].in[0], kd = v >= 0 ? producer[v] : -1;
  if (kd < 0 || is_output[v] || !nn_dwq_nodes_eligible(g, kd, k)) return -1;
  for (int j = 0; j < g->n_nodes; j++)
    for (int i = 0; i < g->nodes[j].n_in; i++)
      if (g->nodes[j].in[i] == v && j != k) return -1;
  return kd;
}

int nn_plan_create(const nn_graph *g, nn_backend backend, void *threadpool, nn_plan **out,
                   emoi_err *err) {
  return nn_plan_create_ex(g, backend, threadpool, NULL, out, err);
}

/* Whether int8 beats XNNPACK's float32 at the cap: with VNNI always (2-3x per face); with
 * AVX2 only where XNNPACK's float would run its FMA3 kernels (an AVX-512 CPU without VNNI
 * measured int8-AVX2 0.88-0.97 ms against float 0.80-0.88 ms per FER face), or when the cap
 * asks for AVX2 (tests, timing). */
static int int8_pays(nn_isa cap) {
  nn_isa q = nn_qconv_isa(cap);
  if (q == NN_ISA_AVX512) return 1;
  if (q != NN_ISA_AVX2) return 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cap == NN_ISA_AUTO || cap >= NN_ISA_AVX512) return !__builtin_cpu_supports("avx512f");
#endif
  return 1;
}

/* Whether the float products run on nn/sgemm.c rather than inside XNNPACK's runtimes. Asked
 * for: at whatever path the cap gives (scalar included). Auto: only where XNNPACK would run its
 * AVX2 + FMA3 kernels, i.e. on a CPU without AVX-512F whose best own path is AVX2, and under an
 * AVX2 cap (which asks for what such a CPU runs, as int8_pays does). Measured by
 * bench/bench_gemm.c in one run on an AVX-512 machine with AVX-512 hidden from XNNPACK
 * (--xnn-avx2), thread CPU time: FER's products 2.4x faster than XNNPACK's FMA3 5x16 kernel, the
 * whole FER network 1.7x. With XNNPACK on its AVX-512 kernels the own AVX-512 kernel is 10-20%
 * faster per product, but a network loses more than that where its products split XNNPACK's
 * runtimes (activations leave XNNPACK's reused workspace for the plan's arena): face-api's
 * expression net 1.52 ms on XNNPACK against 1.80 ms, so XNNPACK keeps those. */
static int own_gemm_pays(const nn_plan_options *opt, nn_isa cap) {
  nn_gemm want = opt ? opt->gemm : NN_GEMM_AUTO;
  if (want == NN_GEMM_OWN) return 1;
  if (want != NN_GEMM_AUTO) return 0;
  if (nn_sgemm_isa(cap) != NN_ISA_AVX2) return 0;
  if (cap == NN_ISA_AVX2) return 1; /* as int8_pays: the cap asks for what an AVX2 CPU runs */
#if defined(__x86_64__) && defined(__GNUC__)
  return !__builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

int nn_plan_create_ex(const nn_graph *g, nn_backend backend, void *threadpool,
                      const nn_plan_options *opt, nn_plan **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_plan_create: out is NULL");
  *out = NULL;
  if (!g || !g->finalized)
    return emoi_fail(err, EMO_EINVAL, "nn_plan_create: graph missing or not finalized");
  if (backend != NN_BACKEND_XNNPACK && backend != NN_BACKEND_REFERENCE)
    return emoi_fail(err, EMO_EINVAL, "nn_plan_create: unknown backend %d", (int)backend);
  int nv = g->n_values, nn = g->n_nodes, st = EMO_OK;
  nn_plan *p = calloc(1, sizeof *p);
  int *producer = malloc((size_t)(nv + 1) * sizeof(int));
  int *last_consumer = malloc((size_t)(nv + 1) * sizeof(int));
  unsigned char *is_output = calloc((size_t)nv + 1, 1);
  unsigned char *used = calloc((size_t)nv + 1, 1);
  unsigned char *supported = calloc((size_t)nn + 1, 1);
  if (!p || !producer || !last_consumer || !is_output || !used || !supported) goto oom;
  p->g = g;
  p->backend = backend;
  p->isa = opt ? opt->isa : NN_ISA_AUTO;
  p->threadpool = threadpool;
  p->buf = calloc((size_t)nv + 1, sizeof *p->buf);
  p->segs = calloc((size_t)nn + 1, sizeof *p->segs);
  p->on_xnn = calloc((size_t)nn + 1, 1);
  p->epi_next = malloc(((size_t)nn + 1) * sizeof *p->epi_next);
  p->epi_head = malloc(((size_t)nn + 1) * sizeof *p->epi_head);
  if (!p->buf || !p->segs || !p->on_xnn || !p->epi_next || !p->epi_head) goto oom;
  for (int k = 0; k <= nn; k++) p->epi_next[k] = p->epi_head[k] = -1;

  /* which values need a buffer; who computes and who last reads each */
  for (int v = 0; v < nv; v++) producer[v] = last_consumer[v] = -1;
  for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]] = 1;
  for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = is_output[g->outputs[i]] = 1;
  for (int k = 0; k < nn; k++) {
    const nn_node *n = &g->nodes[k];
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0) {
        used[n->in[j]] = 1;
        last_consumer[n->in[j]] = k;
      }
    for (int j = 0; j < n->n_out; j++) {
      used[n->out[j]] = 1;
      producer[n->out[j]] = k;
    }
  }
  size_t total = 0;
  for (int v = 0; v < nv; v++)
    if (used[v] && !g->values[v].is_const)
      total += align64((size_t)nn_value_numel(&g->values[v]) * sizeof(float) + XNN_EXTRA_BYTES);
  p->stats.arena_bytes_unshared = total;
  p->arena = aligned_alloc(64, total ? total : 64);
  if (!p->arena) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory for %zu bytes of activations", g->source,
                   total);
    goto fail;
  }
  /* laid out again by lifetime once the steps are built (plan_relayout), which zeroes the new
     arena; this one only gives the steps their pointers, and is never run */
  if (opt && opt->no_reuse) memset(p->arena, 0, total ? total : 64);
  size_t off = 0;
  for (int v = 0; v < nv; v++)
    if (used[v] && !g->values[v].is_const) {
      p->buf[v] = (float *)(p->arena + off);
      off += align64((size_t)nn_value_numel(&g->values[v]) * sizeof(float) + XNN_EXTRA_BYTES);
    }

  if (backend == NN_BACKEND_XNNPACK) {
    emoi_err e2;
    if (nn_xnn_init(&e2) == EMO_OK) {
      /* Winograd on single-threaded plans only: on a pool its blocks ran slower than
         XNNPACK's own convolution in bench_winograd (the callers parallelise over faces) */
      int use_wg = !(opt && opt->no_winograd) &&
                   (!threadpool || pthreadpool_get_threads_count(threadpool) <= 1);
      int use_i8 = opt && opt->int8 && int8_pays(p->isa);
      const double min_macs =
          opt && opt->int8_min_macs > 0 ? (double)opt->int8_min_macs : PLAN_QCONV_MIN_MACS;
      const int use_gemm = p->own_gemm = own_gemm_pays(opt, p->isa);
      for (int k = 0; k < nn; k++) {
        if (use_i8 && qconv_worth_it(g, k, min_macs))
          supported[k] = PLAN_QCONV;
        else if (use_gemm && nn_sgemm_node_eligible(g, k))
          supported[k] = PLAN_GEMM;
        else if (use_wg && nn_winograd_node_eligible(g, k))
          supported[k] = PLAN_WINOGRAD;
        else
          supported[k] = (unsigned char)nn_xnn_node_supported(g, k);
      }
      /* Residual blocks (nn/resblock.c) on single-threaded plans (as Winograd), where no node
         is int8, on a vector path only. Measured on the face-landmark network (28 blocks; thread
         CPU time per face, bench_face_details, one run on this tree's AVX-512 machine): 4.4 ms
         against 6.0 on XNNPACK; under an AVX2 cap 4.7 against 6.7; the plain C path 50 ms. */
      if (!(opt && opt->no_resblock) &&
          (!threadpool || pthreadpool_get_threads_count(threadpool) <= 1))
        for (int k = 0; k + NN_RB_NODES <= nn; k++) {
          int all_xnn = 1;
          for (int j = k; j < k + NN_RB_NODES; j++) /* not taken by int8 */
            all_xnn &= supported[j] == PLAN_XNN || supported[j] == PLAN_GEMM;
          if (!all_xnn || !nn_rb_node_eligible(g, k) ||
              nn_rb_node_isa(g, k, p->isa) == NN_ISA_SCALAR)
            continue;
          supported[k] = PLAN_RB;
          for (int j = k + 1; j < k + NN_RB_NODES; j++) supported[j] = PLAN_RB_IN;
          k += NN_RB_NODES - 1;
        }
      /* Layer normalisations (nn/layernorm.c): their MEAN, SQRT, DIV and TRANSPOSE nodes have
         no XNNPACK operator here, so node by node they split the XNNPACK runtimes */
      if (!(opt && opt->no_layernorm))
        for (int k = 0; k < nn; k++) {
          const int cnt = nn_ln_node_count(g, k);
          int free_nodes = cnt > 0;
          for (int j = k; j < k + cnt; j++)
            free_nodes &= supported[j] == PLAN_XNN || supported[j] == PLAN_REF;
          if (!free_nodes) continue;
          supported[k] = PLAN_LN;
          for (int j = k + 1; j < k + cnt; j++) supported[j] = PLAN_LN_IN;
          k += cnt - 1;
        }
      if (use_i8 && !opt->no_dwq && nn_dw3_isa(p->isa) >= NN_ISA_AVX2)
        for (int k = 0; k < nn; k++) {
          int kd = supported[k] == PLAN_QCONV ? dwq_partner(g, k, producer, is_output) : -1;
          if (kd >= 0 && supported[kd] != PLAN_QCONV && supported[kd] != PLAN_DWQ) {
            supported[kd] = PLAN_DWQ_DW;
            supported[k] = PLAN_DWQ;
          }
        }
      if (!(opt && opt->no_epilogue))
        for (int k = 0; k < nn; k++)
          if (supported[k] == PLAN_GEMM || supported[k] == PLAN_QCONV || supported[k] == PLAN_DWQ)
            epi_chain_find(p, k, supported, is_output);
    } else {
      p->stats.xnn_unavailable = 1;
    }
  }
  for (int tries = 0;; tries++) {
    st = build_segs(p, supported, producer, last_consumer, is_output, err);
    if (st < 0) goto fail;
    if (st == 0) break;
    if (tries > nn) {
      st = emoi_fail(err, EMO_EINTERNAL, "%s: XNNPACK partitioning did not settle", g->source);
      goto fail;
    }
  }
  p->stats.n_nodes = nn;
  p->stats.arena_bytes = p->stats.arena_bytes_unshared;
  for (int i = 0; i < p->n_segs; i++) {
    const plan_seg *s = &p->segs[i];
    if (s->xnn) p->stats.n_xnn_runs++;
    if (s->dq) {
      p->on_xnn[s->dw_node] = PLAN_DWQ_DW;
      p->stats.n_nodes_dwq++;
    }
    if (s->tail >= 0)
      for (int j = p->epi_next[s->begin]; j >= 0; j = p->epi_next[j]) {
        p->on_xnn[j] = PLAN_EPI;
        p->stats.n_nodes_fused++;
      }
    for (int k = s->begin; k < s->end; k++) {
      p->on_xnn[k] = s->xnn  ? PLAN_XNN
                     : s->wg ? PLAN_WINOGRAD
                     : s->qc ? PLAN_QCONV
                     : s->dq ? PLAN_DWQ
                     : s->sg ? PLAN_GEMM
                     : s->rb ? PLAN_RB
                     : s->ln ? PLAN_LN
                             : PLAN_REF;
      if (s->rb)
        p->stats.n_nodes_resblock++;
      else if (s->ln)
        p->stats.n_nodes_lnorm++;
      else if (s->wg)
        p->stats.n_nodes_winograd++;
      else if (s->qc || s->dq)
        p->stats.n_nodes_qconv++;
      else if (s->sg)
        p->stats.n_nodes_gemm++;
      else if (s->xnn)
        p->stats.n_nodes_xnn++;
      else
        p->stats.n_nodes_ref++;
    }
  }
  if (!(opt && opt->no_reuse) && (st = plan_relayout(p, is_output, err))) goto fail;
  free(p->epi_next);
  free(p->epi_head);
  p->epi_next = p->epi_head = NULL;
  st = EMO_OK;
  *out = p;
  p = NULL;
  goto done;
oom:
  st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory creating a plan", g ? g->source : "");
fail:
  nn_plan_destroy(&p);
done:
  free(producer);
  free(last_consumer);
  free(is_output);
  free(used);
  free(supported);
  return st;
}

float *nn_plan_input(nn_plan *p, int i) {
  if (!p || i < 0 || i >= p->g->n_inputs) return NULL;
  return p->buf[p->g->inputs[i]];
}

/* nn_isa and emo.h's emo_isa are one scale, so a context's cap passes through unchanged. */
_Static_assert(NN_ISA_AUTO == (int)EMO_ISA_AUTO && NN_ISA_SCALAR == (int)EMO_ISA_SCALAR &&
                   NN_ISA_AVX2 == (int)EMO_ISA_AVX2 && NN_ISA_AVX512 == (int)EMO_ISA_AVX512,
               "nn_isa and emo_isa differ");

nn_isa nn_plan_isa(const nn_plan *p) {
  return p ? p->isa : NN_ISA_AUTO;
}

const float *nn_plan_output(const nn_plan *p, int i) {
  if (!p || i < 0 || i >= p->g->n_outputs) return NULL;
  return p->buf[p->g->outputs[i]];
}

int nn_plan_stats_placed(const nn_plan_stats *s) {
  return s->n_nodes_xnn + s->n_nodes_ref + s->n_nodes_winograd + s->n_nodes_qconv + s->n_nodes_dwq +
         s->n_nodes_gemm + s->n_nodes_resblock + s->n_nodes_fused + s->n_nodes_lnorm;
}

void nn_plan_get_stats(const nn_plan *p, nn_plan_stats *s) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  if (p) *s = p->stats;
}

nn_backend nn_plan_node_backend(const nn_plan *p, int node) {
  if (!p || node < 0 || node >= p->g->n_nodes) return NN_BACKEND_REFERENCE;
  /* a Winograd node counts as XNNPACK (its GEMMs are XNNPACK's), and so does an int8 node
     (fused or not): none is a reference kernel, which is what callers ask this to find */
  return p->on_xnn[node] != PLAN_REF ? NN_BACKEND_XNNPACK : NN_BACKEND_REFERENCE;
}

/* A dense view of value v (constant bytes in the blob, or the plan's buffer). */
static void view(const nn_plan *p, int v, nn_tensor *t) {
  const nn_value *val = &p->g->values[v];
  t->dtype = val->dtype;
  t->rank = val->rank;
  int64_t s = 4;
  for (int d = val->rank - 1; d >= 0; d--) {
    t->shape[d] = val->shape[d];
    t->stride[d] = s;
    s *= val->shape[d];
  }
  t->data = val->is_const ? (void *)(p->g->blob + val->const_offset) : (void *)p->buf[v];
}

/* Runs the reference kernels on nodes [begin, end). */
static int run_ref(nn_plan *p, int begin, int end, emoi_err *err) {
  for (int k = begin; k < end; k++) {
    const nn_node *n = &p->g->nodes[k];
    nn_tensor tin[NN_MAX_NODE_IO], tout[NN_MAX_NODE_IO];
    const nn_tensor *ins[NN_MAX_NODE_IO] = {0};
    nn_tensor *outs[NN_MAX_NODE_IO] = {0};
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] >= 0) {
        view(p, n->in[j], &tin[j]);
        ins[j] = &tin[j];
      }
    for (int j = 0; j < n->n_out; j++) {
      view(p, n->out[j], &tout[j]);
      outs[j] = &tout[j];
    }
    int st = nn_ref_run_node(n, ins, outs, err);
    if (st) return st;
  }
  return EMO_OK;
}

int nn_plan_run(nn_plan *p, emoi_err *err) {
  if (!p) return emoi_fail(err, EMO_EINVAL, "nn_plan_run: plan is NULL");
  const nn_graph *g = p->g;
  for (int i = 0; i < p->n_segs; i++) {
    const plan_seg *s = &p->segs[i];
    const nn_node *n = &g->nodes[s->begin]; /* the node of a one-node step */
    int st;
    if (s->xnn)
      st = nn_xnn_run_invoke(s->xnn, err);
    else if (s->wg)
      st = nn_winograd_run(s->wg, p->buf[n->in[0]], p->buf[n->out[0]], err);
    else if (s->dq) /* the depthwise node's input in, the pointwise node's product out */
      st = nn_dwq_run(s->dq, p->buf[g->nodes[s->dw_node].in[0]], s->prod, err);
    else if (s->qc)
      st = nn_qconv_run(s->qc, p->buf[n->in[0]], s->prod, err);
    else if (s->rb) {
      nn_rb_run(s->rb, p->buf[n->in[0]], p->buf[g->nodes[s->end - 1].out[0]]);
      st = EMO_OK;
    } else if (s->ln) {
      nn_ln_run(s->ln, p->buf[n->in[0]], p->buf[g->nodes[s->end - 1].out[0]]);
      st = EMO_OK;
    } else if (s->sg) { /* the epilogue chain's output comes from s->epi, or is s->prod */
      nn_sgemm_run_node(s->sg, g, s->begin, p->buf[n->in[0]], s->prod, s->epi, p->threadpool);
      st = EMO_OK;
    } else
      st = run_ref(p, s->begin, s->end, err);
    if (st) {
      emoi_err_prefix(err, g->source);
      return st;
    }
  }
  return EMO_OK;
}
