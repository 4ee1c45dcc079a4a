/* plan_run.h: the engine tests' one way to plan a graph, run it once on one input and read
 * one output with the plan's placement statistics (checked to add up to the graph's nodes). */
#ifndef EMO_TEST_PLAN_RUN_H
#define EMO_TEST_PLAN_RUN_H

#include <stddef.h>

#include "nn/nn.h"

/* Plans g on be with o, copies x (nx floats) into input 0, runs, copies ny floats of output 0
 * into y and the statistics into *st. Returns 0, or -1 after a failed CHECK. */
int th_plan_run(const nn_graph *g, nn_backend be, const nn_plan_options *o, const float *x,
                size_t nx, float *y, size_t ny, nn_plan_stats *st);

#endif
