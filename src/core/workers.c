/* workers.c: blocking worker threads for coarse-grained parallel loops (see workers.h). Each
 * wk_run bumps a generation number under the mutex and wakes the helpers; items are claimed
 * by the helpers and the caller alike from one atomic word holding (generation << 32 | next
 * item), so a helper that wakes late can never claim an item of a later loop with the task of
 * an earlier one; the last item to finish wakes the caller. */
#include "core/workers.h"
#include <stdint.h>

#include <pthread.h>
#include <stdlib.h>

#include "emo.h"

struct wk_set {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_t *threads; /* (n_threads - 1) */
  int n_threads, started;
  unsigned gen; /* incremented per wk_run */
  int stop;
  /* the current loop */
  wk_task_fn task;
  void *arg;
  int n;
  uint64_t next; /* (gen << 32) | next unclaimed item; atomic */
  int finished;  /* items finished (under mu) */
};

typedef struct {
  wk_set *s;
  int worker;
} wk_arg;

/* Claims and runs items of loop gen (task, arg, n) until none is left; returns how many this
 * thread ran. */
static int drain(wk_set *s, unsigned gen, wk_task_fn task, void *arg, int n, int worker) {
  int ran = 0;
  uint64_t v = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE);
  for (;;) {
    if ((unsigned)(v >> 32) != gen || (int)(uint32_t)v >= n) break;
    if (!__atomic_compare_exchange_n(&s->next, &v, v + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue; /* v now holds the current word */
    task(arg, (int)(uint32_t)v, worker);
    ran++;
    v = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE);
  }
  return ran;
}

static void finish(wk_set *s, int ran) {
  if (!ran) return;
  pthread_mutex_lock(&s->mu);
  s->finished += ran;
  if (s->finished == s->n) pthread_cond_signal(&s->done);
  pthread_mutex_unlock(&s->mu);
}

static void *helper_main(void *p) {
  wk_set *s = ((wk_arg *)p)->s;
  int worker = ((wk_arg *)p)->worker;
  free(p);
  unsigned seen = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->stop && s->gen == seen) pthread_cond_wait(&s->wake, &s->mu);
    if (s->stop) break;
    seen = s->gen;
    wk_task_fn task = s->task;
    void *arg = s->arg;
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    finish(s, drain(s, seen, task, arg, n, worker));
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int wk_create(int n_threads, wk_set **out) {
  if (!out || n_threads < 1) return EMO_EINVAL;
  *out = NULL;
  wk_set *s = calloc(1, sizeof *s);
  if (!s) return EMO_ENOMEM;
  s->n_threads = n_threads;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->done, NULL);
  if (n_threads > 1) {
    s->threads = calloc((size_t)n_threads - 1, sizeof *s->threads);
    if (!s->threads) goto fail;
    for (int i = 1; i < n_threads; i++) {
      wk_arg *a = malloc(sizeof *a);
      if (!a) goto fail;
      a->s = s;
      a->worker = i;
      if (pthread_create(&s->threads[i - 1], NULL, helper_main, a) != 0) {
        free(a);
        goto fail;
      }
      s->started++;
    }
  }
  *out = s;
  return EMO_OK;
fail:
  wk_destroy(&s);
  return EMO_ENOMEM;
}

void wk_run(wk_set *s, wk_task_fn task, void *arg, int n) {
  if (n <= 0) return;
  if (s->started == 0 || n == 1) {
    for (int i = 0; i < n; i++) task(arg, i, 0);
    return;
  }
  pthread_mutex_lock(&s->mu);
  s->task = task;
  s->arg = arg;
  s->n = n;
  s->finished = 0;
  s->gen++;
  unsigned gen = s->gen;
  __atomic_store_n(&s->next, (uint64_t)gen << 32, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
  finish(s, drain(s, gen, task, arg, n, 0));
  pthread_mutex_lock(&s->mu);
  while (s->finished < s->n) pthread_cond_wait(&s->done, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

int wk_threads(const wk_set *s) {
  return s ? s->n_threads : 0;
}

void wk_destroy(wk_set **ps) {
  if (!ps || !*ps) return;
  wk_set *s = *ps;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < s->started; i++) pthread_join(s->threads[i], NULL);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->mu);
  free(s->threads);
  free(s);
  *ps = NULL;
}
