/* workers.h: a small set of blocking worker threads for coarse-grained parallel loops (the
 * faces of a frame), where the calling thread takes part and idle threads sleep on a
 * condition variable instead of spinning. pthreadpool (used by XNNPACK inside one network)
 * spin-waits between commands, which burns the core that video decoding runs on; for tasks of
 * a millisecond each, a futex wake-up costs nothing by comparison.
 * Leaves to the caller: what a task does and any per-worker state (indexed by the worker
 * number passed to the task). Not reentrant: one wk_run at a time per set. */
#ifndef EMO_CORE_WORKERS_H
#define EMO_CORE_WORKERS_H

/* task(arg, i, worker): runs item i (0 <= i < n) on worker 0..n_threads-1 (0 = the caller). */
typedef void (*wk_task_fn)(void *arg, int i, int worker);

typedef struct wk_set wk_set;

/* Starts n_threads - 1 helper threads (n_threads >= 1; 1 starts none). Returns 0, or
 * EMO_ENOMEM / EMO_EINVAL with *out = NULL. */
int wk_create(int n_threads, wk_set **out);

/* Runs task for i = 0..n-1 across the set and returns when all have finished. */
void wk_run(wk_set *s, wk_task_fn task, void *arg, int n);

int wk_threads(const wk_set *s);

/* Stops and joins the helpers, frees *s and sets it NULL; safe on NULL. */
void wk_destroy(wk_set **s);

#endif
