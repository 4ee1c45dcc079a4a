/* plan_run.c: see plan_run.h. */
#include "plan_run.h"

#include <string.h>

#include "harness.h"

int th_plan_run(const nn_graph *g, nn_backend be, const nn_plan_options *o, const float *x,
                size_t nx, float *y, size_t ny, nn_plan_stats *st) {
  nn_plan *p = NULL;
  emoi_err err = {{0}};
  if (nn_plan_create_ex(g, be, NULL, o, &p, &err) != EMO_OK) {
    CHECK(0, "plan: %s", err.msg);
    return -1;
  }
  memcpy(nn_plan_input(p, 0), x, nx * sizeof(float));
  int rc = nn_plan_run(p, &err) == EMO_OK ? 0 : -1;
  CHECK(rc == 0, "run: %s", err.msg);
  memcpy(y, nn_plan_output(p, 0), ny * sizeof(float));
  nn_plan_get_stats(p, st);
  CHECK(st->n_nodes == nn_plan_stats_placed(st), "stats: %d nodes placed of %d",
        nn_plan_stats_placed(st), st->n_nodes);
  nn_plan_destroy(&p);
  return rc;
}
