/* test_workers.c: the blocking worker set (core/workers.h): every item of every loop runs
 * exactly once, on a worker index in range, across many back-to-back loops of awkward sizes
 * (the case where a helper wakes late and must not run an item of the next loop). */
#include <string.h>

#include "core/workers.h"
#include "harness.h"

typedef struct {
  int count[64];
  int bad_worker;
  int n_threads;
  unsigned loop;
  unsigned seen_loop[64];
} job;

static void task(void *arg, int i, int worker) {
  job *j = arg;
  __atomic_fetch_add(&j->count[i], 1, __ATOMIC_RELAXED);
  if (worker < 0 || worker >= j->n_threads) __atomic_store_n(&j->bad_worker, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&j->seen_loop[i], j->loop, __ATOMIC_RELAXED);
}

int main(void) {
  static const int threads[] = {1, 2, 3, 8};
  for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
    wk_set *s = NULL;
    CHECK(wk_create(threads[t], &s) == 0 && s, "create %d", threads[t]);
    if (!s) continue;
    CHECK(wk_threads(s) == threads[t], "threads %d", wk_threads(s));
    job j;
    memset(&j, 0, sizeof j);
    j.n_threads = threads[t];
    int wrong = 0;
    for (unsigned loop = 1; loop <= 20000; loop++) {
      int n = (int)(loop * 7 % 13); /* 0..12, including 0 and 1 */
      memset(j.count, 0, sizeof j.count);
      j.loop = loop;
      wk_run(s, task, &j, n);
      for (int i = 0; i < n; i++) wrong += j.count[i] != 1 || j.seen_loop[i] != loop;
      for (int i = n; i < 64; i++) wrong += j.count[i] != 0;
    }
    CHECK(wrong == 0, "%d threads: %d items ran other than once in their own loop", threads[t],
          wrong);
    CHECK(!j.bad_worker, "%d threads: worker index out of range", threads[t]);
    wk_destroy(&s);
    CHECK(s == NULL, "destroy sets NULL");
  }
  wk_destroy(NULL);
  wk_set *none = NULL;
  CHECK(wk_create(0, &none) != 0 && none == NULL, "0 threads refused");
  return th_finish("test_workers");
}
