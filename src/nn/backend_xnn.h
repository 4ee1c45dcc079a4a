/* backend_xnn.h: the XNNPACK side of nn_plan (private to src/nn): which nodes XNNPACK can
 * run, and one XNNPACK subgraph + runtime over a contiguous run of such nodes, whose
 * boundary values are bound to the plan's buffers. plan.c decides the runs and runs
 * everything else with the reference kernels. */
#ifndef EMO_NN_BACKEND_XNN_H
#define EMO_NN_BACKEND_XNN_H

#include "nn/nn.h"

/* Calls xnn_initialize once per process; later calls return the first call's status. */
int nn_xnn_init(emoi_err *err);

/* 1 when node k of the finalized graph g maps onto XNNPACK subgraph nodes as implemented
 * here (the op is mapped, weights are constants, parameters are in XNNPACK's range).
 * XNNPACK itself may still reject it when a runtime is built. */
int nn_xnn_node_supported(const nn_graph *g, int k);

typedef struct nn_xnn_run nn_xnn_run;

/* Builds one runtime over nodes [begin, end) of g. A value the run reads but does not
 * compute, or computes and someone else reads (last_consumer[v] >= end, or is_output[v]),
 * is an external value bound to bufs[v] (dense, XNN_EXTRA_BYTES readable past the end).
 * producer[v] / last_consumer[v]: node index computing / last reading value v, -1 if none.
 * threadpool is a pthreadpool_t or NULL. Weights are passed as static data from g's blob,
 * which must outlive the run. */
int nn_xnn_run_create(const nn_graph *g, int begin, int end, const int *producer,
                      const int *last_consumer, const unsigned char *is_output, float *const *bufs,
                      void *threadpool, nn_xnn_run **out, emoi_err *err);

/* Runs the runtime (its buffers were bound at creation). */
int nn_xnn_run_invoke(nn_xnn_run *r, emoi_err *err);

/* Binds the run's boundary values to other buffers: each is remap(ctx, its buffer now), which
 * must be non-NULL. The plan lays its buffers out by lifetime after building its runs. */
int nn_xnn_run_rebind(nn_xnn_run *r, float *(*remap)(void *ctx, const void *old), void *ctx,
                      emoi_err *err);

void nn_xnn_run_destroy(nn_xnn_run **r);

#endif
