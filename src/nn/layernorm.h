/* layernorm.h: a layer normalisation over the last axis, written as TensorFlow Lite's twelve
 * elementwise nodes (MEAN, MUL, SUB, MUL, MEAN, ADD, SQRT, DIV, MUL, MUL, MUL, ADD: the
 * `moments` + `batchnorm` pattern of Keras' LayerNormalization as converted for MediaPipe's
 * blendshape network, an MLP-Mixer), and the TRANSPOSE of its last two axes that may follow (the
 * token-mixing transpose), as one plan step. Debian's XNNPACK has no operator for MEAN over
 * channels, SQRT or TRANSPOSE, so node by node these ran on the reference kernels between
 * XNNPACK runtimes (the blendshape network: 40 runtimes); as one step the XNNPACK nodes between
 * them merge. Each element gets exactly the nodes' float operations in their order (MEAN as the
 * reference kernel does it: a float sum in index order, divided in double), so the step's
 * output equals the nodes' bit for bit (tests/test_face_mesh.c checks the network's outputs).
 * Plain C: about 6k elements per step, where the saving is the nodes and runtimes, not the
 * arithmetic; there is no vector path to choose. */
#ifndef EMO_NN_LAYERNORM_H
#define EMO_NN_LAYERNORM_H

#include "nn/nn.h"

typedef struct nn_ln nn_ln;

#define NN_LN_NODES 12 /* nodes of the normalisation; one more with the transpose */

/* How many nodes starting at node k of the finalized graph g one step replaces: NN_LN_NODES, or
 * NN_LN_NODES + 1 with the transpose, or 0 when they are not such a normalisation (other
 * operand orders of the commutative nodes are accepted; the constants must be per-tensor, the
 * scale one per channel; the intermediate values must have no reader outside the step). */
int nn_ln_node_count(const nn_graph *g, int k);

/* The step for the nodes at k (nn_ln_node_count(g, k) > 0); copies the constants. */
int nn_ln_create_node(const nn_graph *g, int k, nn_ln **out, emoi_err *err);

/* y = the step on x: x dense (..., t, c), y dense (..., t, c), or (..., c, t) with the
 * transpose; not overlapping. Allocates nothing. */
void nn_ln_run(const nn_ln *l, const float *x, float *y);

void nn_ln_destroy(nn_ln **l);

#endif
