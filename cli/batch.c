/* batch.c: `emo batch`, an archive as one command, on a laptop or as a shard of a Slurm array
 * or a Kubernetes Indexed Job (docs/batch.md has the recipes).
 *
 *   emo batch MANIFEST -o OUT [--shard I/N | --shards N] [--retries K] [--csv] [--rttm]
 *             [--report]
 *             [analysis options of emo video / emo audio]
 *   emo batch status OUT
 *   emo batch merge OUT
 *
 * Each input runs in a child process: this same binary as `emo video` (a file with a video
 * stream) or `emo audio` (audio only), writing into OUT/<id>/.run/, with its stderr in
 * OUT/<id>/stderr.log. Why children and not the library in this process:
 *   - a crash, an out-of-memory kill or a hang in one file (a decoder meeting a hostile file)
 *     ends that child only: the file is retried or recorded in FAILED.json and the shard goes
 *     on; in-process it would take the whole shard down, and every file after it;
 *   - the result of a file is, by construction, what `emo video FILE` writes: one way to
 *     analyse a file, one way to write its outputs (cli/outfile.c's temporary + rename);
 *   - a killed shard (kill -9, a Slurm time limit) leaves no half-written result: the child
 *     dies with it (PR_SET_PDEATHSIG) and its temporaries are swept on the rerun.
 * The price is starting emo and loading the models once per file (1.3 s of CPU for emo video,
 * 0.27 s for emo audio, measured in docs/batch.md): under 1 % for recordings of minutes, but
 * most of the work on an archive of 2-second clips. Loading once and forking a child per file
 * after it would keep the isolation without that cost (not done: it needs emo video's run
 * loop callable with a loaded model, and fork() after the kernel libraries start threads).
 *
 * Bookkeeping, in the order a run meets it:
 *   1. The manifest is read; under OUT/batch/manifest.lock every file is probed once
 *      (emo_media_probe: kind and duration) and the result cached in OUT/batch/manifest.tsv,
 *      keyed by the manifest's content, so every shard plans from the same numbers.
 *   2. Shards: --shard I/N, else SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) with
 *      SLURM_ARRAY_TASK_COUNT or --shards, else JOB_COMPLETION_INDEX with --shards; else one
 *      shard. Files are balanced by duration (batch_shard_assign), deterministic.
 *      OUT/batch/shard-I-of-N.lock (flock) refuses a second run of the same shard (exit 4).
 *   3. Per file, under OUT/<id>/.lock: skipped when DONE.json matches (version, models,
 *      options, input size and mtime); else the child runs, its outputs are renamed into
 *      OUT/<id>/ and DONE.json is written last. A file another run holds is left to it.
 *   4. Failures: a file that cannot be read or is not media, or whose stream is damaged, is
 *      bad input (FAILED.json, not retried, exit 3); anything else (a crash, a kill, a full
 *      disk) is transient, retried --retries times, then FAILED.json and exit 1.
 *   5. Threads per child: --threads, else SLURM_CPUS_PER_TASK, else the cgroup's CPU quota
 *      (cpu.max), else the CPUs this process may run on.
 * The environment variables read here are the schedulers' (named above), nothing else. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "emo.h"
#include "report.h"

/* Exit statuses of a run (docs/batch.md): a scheduler retries 1, never 3. */
enum {
  EXIT_DONE = 0,
  EXIT_TRANSIENT = 1,
  EXIT_USAGE = 2,
  EXIT_BAD_INPUT = 3,
  EXIT_BUSY = 4,
};

/* Per-file outputs: the batch flag, the child's option, the file in OUT/<id>/. A new output is
 * one more row. emo.jsonl is always written. The report has no child option: it is made from
 * OUT/<id>/emo.jsonl once that is in place, so its link to the video is relative to where the
 * page stays (the child's run folder is one level deeper). */
static const struct {
  const char *flag, *child_option, *file;
  int kinds; /* bit BATCH_VIDEO / BATCH_AUDIO: which commands write it */
} g_outputs[] = {
    {NULL, "-o", "emo.jsonl", (1 << BATCH_VIDEO) | (1 << BATCH_AUDIO)},
    {"--csv", "--csv", "emo.csv", 1 << BATCH_VIDEO},
    {"--rttm", "--rttm", "emo.rttm", 1 << BATCH_AUDIO},
    {"--report", NULL, "report.html", (1 << BATCH_VIDEO) | (1 << BATCH_AUDIO)},
};
enum { N_OUTPUTS = sizeof g_outputs / sizeof g_outputs[0] };

/* Analysis options passed through to the child (validated here so a typo fails at once, not
 * per file); 1: takes a value. Not in the options hash: threads, models, quiet, verbose. */
static const struct {
  const char *name;
  int value, hashed;
} g_pass[] = {
    {"--detector", 1, 1},         {"--expression", 1, 1}, {"--threshold", 1, 1},
    {"--max-faces", 1, 1},        {"--max-pixels", 1, 1}, {"--threads", 1, 0},
    {"--models", 1, 0},           {"--fps", 1, 1},        {"--detect-every", 1, 1},
    {"--vad-threshold", 1, 1},    {"--vad-pad", 1, 1},    {"--vad-min-silence", 1, 1},
    {"--vad-min-speech", 1, 1},   {"--ser-model", 1, 1},  {"--no-reid", 0, 1},
    {"--no-voice", 0, 1},         {"--whole", 0, 1},      {"--reference", 0, 1},
    {"--float-expression", 0, 1},
};
enum { N_PASS = sizeof g_pass / sizeof g_pass[0] };

typedef struct run_opts {
  const char *manifest, *out;
  int shard, shards, shard_given, retries, quiet, verbose;
  int want[N_OUTPUTS];
  const char *pass[2 * N_PASS + 2];
  int n_pass;
  int threads_given;
  const char *ser_model;
  char self[4096];
  int threads;
} run_opts;

static volatile sig_atomic_t g_stop;
static volatile pid_t g_child;

static void on_signal(int sig) {
  g_stop = sig;
  pid_t c = g_child;
  if (c > 0) kill(c, sig); /* the child commits what it did and exits; no DONE.json follows */
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_int(const char *s, long lo, long hi, int *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

/* The CPUs this job may use: SLURM_CPUS_PER_TASK, the cgroup v2 quota (cpu.max "max 100000" or
 * "200000 100000") or v1 (cfs_quota_us / cfs_period_us), capped by the affinity mask. */
static int cpus_available(void) {
  cpu_set_t set;
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  if (n < 1) n = 1;
  int slurm;
  if (parse_int(getenv("SLURM_CPUS_PER_TASK"), 1, 4096, &slurm) == 0) return slurm < n ? slurm : n;
  double quota = -1, period = -1;
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
  if (f) {
    char q[32] = "";
    if (fscanf(f, "%31s %lf", q, &period) == 2 && strcmp(q, "max") != 0) quota = atof(q);
    fclose(f);
  } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
    if (fscanf(f, "%lf", &quota) != 1) quota = -1;
    fclose(f);
    if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
      if (fscanf(f, "%lf", &period) != 1) period = -1;
      fclose(f);
    }
  }
  if (quota > 0 && period > 0) {
    int q = (int)ceil(quota / period);
    if (q >= 1 && q < n) n = q;
  }
  return n;
}

static void usage_batch(FILE *f) {
  fputs(
      "usage: emo batch MANIFEST -o OUT [options] [analysis options of emo video/audio]\n"
      "       emo batch status OUT\n"
      "       emo batch merge OUT\n"
      "MANIFEST: a folder (walked recursively for media files), a file list (one path a line,\n"
      "  or NUL-separated), or a .csv with a path column (and id, kind, option columns)\n"
      "  --shard I/N        run shard I of N (0 <= I < N); default: SLURM_ARRAY_TASK_ID or\n"
      "                     JOB_COMPLETION_INDEX, else the whole manifest\n"
      "  --shards N         the number of shards when the index comes from the scheduler\n"
      "  --retries K        retries of a transient failure (default 2)\n"
      "  --csv, --rttm      also write OUT/<id>/emo.csv (video) / emo.rttm (audio)\n"
      "  --report           also write OUT/<id>/report.html (emo report of the file's run)\n"
      "exit status: 0 all done, 1 transient failures (retry), 2 bad usage or manifest,\n"
      "  3 bad input only (do not retry), 4 another run holds this shard, 128+N a signal\n"
      "docs/batch.md: layout of OUT, Slurm, Kubernetes and GNU parallel recipes\n",
      f);
}

static int parse_run(int argc, char **argv, run_opts *o) {
  memset(o, 0, sizeof *o);
  o->retries = 2;
  o->want[0] = 1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      if (!v) goto missing;
      o->out = v;
      i++;
    } else if (strcmp(a, "--shard") == 0) {
      char extra;
      if (!v || sscanf(v, "%d/%d%c", &o->shard, &o->shards, &extra) != 2 || o->shards < 1 ||
          o->shards > 100000 || o->shard < 0 || o->shard >= o->shards) {
        fprintf(stderr, "emo batch: --shard wants I/N with 0 <= I < N, not %s\n", v ? v : "");
        return -1;
      }
      o->shard_given = 1;
      i++;
    } else if (strcmp(a, "--shards") == 0) {
      if (parse_int(v, 1, 100000, &o->shards)) goto bad;
      i++;
    } else if (strcmp(a, "--retries") == 0) {
      if (parse_int(v, 0, 100, &o->retries)) goto bad;
      i++;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage_batch(stdout);
      exit(0);
    } else if (a[0] == '-' && a[1]) {
      int found = 0;
      for (int k = 1; k < N_OUTPUTS; k++)
        if (strcmp(a, g_outputs[k].flag) == 0) o->want[k] = found = 1;
      for (int k = 0; k < N_PASS && !found; k++) {
        if (strcmp(a, g_pass[k].name) != 0) continue;
        found = 1;
        if (g_pass[k].value && !v) goto missing;
        o->pass[o->n_pass++] = a;
        if (g_pass[k].value) o->pass[o->n_pass++] = argv[++i];
        if (strcmp(a, "--threads") == 0) {
          if (parse_int(v, 1, 1024, &o->threads)) goto bad;
          o->threads_given = 1;
        }
        if (strcmp(a, "--ser-model") == 0) o->ser_model = v;
      }
      if (!found) {
        fprintf(stderr,
                "emo batch: unknown option %s (batch writes each file's outputs itself: -o, "
                "--csv FILE, --rttm FILE and --annotate are not per-file options; see emo batch "
                "--help)\n",
                a);
        return -1;
      }
    } else if (!o->manifest) {
      o->manifest = a;
    } else {
      fprintf(stderr, "emo batch: one manifest only (%s and %s)\n", o->manifest, a);
      return -1;
    }
    continue;
  missing:
    fprintf(stderr, "emo batch: option %s needs a value\n", a);
    return -1;
  bad:
    fprintf(stderr, "emo batch: invalid value for %s: %s\n", a, v ? v : "(none)");
    return -1;
  }
  if (!o->manifest || !o->out) {
    usage_batch(stderr);
    return -1;
  }
  return 0;
}

/* The shard from --shard or the scheduler's environment; 0, or -1 after a message. */
static int resolve_shard(run_opts *o) {
  if (o->shard_given) return 0;
  int idx, count, min = 0;
  if (parse_int(getenv("SLURM_ARRAY_TASK_ID"), 0, 100000000, &idx) == 0) {
    if (getenv("SLURM_ARRAY_TASK_MIN"))
      parse_int(getenv("SLURM_ARRAY_TASK_MIN"), 0, 100000000, &min);
    idx -= min;
    if (!o->shards && parse_int(getenv("SLURM_ARRAY_TASK_COUNT"), 1, 100000, &count) == 0)
      o->shards = count;
    if (!o->shards) {
      fprintf(stderr, "emo batch: SLURM_ARRAY_TASK_ID is set but not the count: give --shards N\n");
      return -1;
    }
  } else if (parse_int(getenv("JOB_COMPLETION_INDEX"), 0, 100000000, &idx) == 0) {
    if (!o->shards) {
      fprintf(stderr,
              "emo batch: JOB_COMPLETION_INDEX is set: give --shards N (the Job's "
              "completions)\n");
      return -1;
    }
  } else {
    idx = 0;
    if (!o->shards) o->shards = 1;
    if (o->shards > 1) {
      fprintf(stderr, "emo batch: --shards %d without an index: give --shard I/%d\n", o->shards,
              o->shards);
      return -1;
    }
  }
  if (idx < 0 || idx >= o->shards) {
    fprintf(stderr, "emo batch: shard index %d is outside 0..%d\n", idx, o->shards - 1);
    return -1;
  }
  o->shard = idx;
  return 0;
}

static int mkdir_p(const char *path) {
  char buf[BATCH_MAX_PATH];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* Opens and flocks path: the descriptor (close to release), -1 when another process holds it
 * (errno EWOULDBLOCK) or on error. */
static int lock_file(const char *path, int wait) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return -1;
  while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR && !g_stop) continue;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* ---- the plan: manifest, probes, cache ---- */

static void probe_all(batch_manifest *m, int quiet) {
  const int tty = isatty(2) && !quiet;
  for (int i = 0; i < m->n; i++) {
    batch_item *it = &m->items[i];
    emo_media_info info;
    char msg[512];
    it->probed = 1;
    it->probe_status = emo_media_probe(it->path, &info, msg, sizeof msg);
    if (it->probe_status == EMO_OK) {
      it->duration = info.duration > 0 && info.duration < 1e9 ? info.duration : 0;
      if (!it->forced) it->kind = info.has_video ? BATCH_VIDEO : BATCH_AUDIO;
    } else {
      it->probe_error = strdup(msg[0] ? msg : emo_status_str(it->probe_status));
    }
    if (tty && (i % 16 == 15 || i + 1 == m->n))
      fprintf(stderr, "\remo batch: probed %d/%d files", i + 1, m->n);
  }
  if (tty && m->n) fputc('\n', stderr);
}

/* The manifest with every file probed: from the cache when it was made from this manifest,
 * else probed now and cached (under a lock, so concurrent shards probe once). */
static int load_plan(const run_opts *o, batch_manifest *m) {
  char err[600], dir[BATCH_MAX_PATH], path[BATCH_MAX_PATH + 32];
  if (batch_manifest_read(o->manifest, m, err, sizeof err)) {
    fprintf(stderr, "emo batch: %s\n", err);
    return -1;
  }
  /* From here a failure is the output folder's (permissions, a full disk): transient. */
  snprintf(dir, sizeof dir, "%s/batch", o->out);
  if (mkdir_p(dir)) {
    fprintf(stderr, "emo batch: cannot create %s: %s\n", dir, strerror(errno));
    batch_manifest_free(m);
    return 1;
  }
  snprintf(path, sizeof path, "%s/manifest.lock", dir);
  int lk = lock_file(path, 1);
  if (lk < 0) {
    fprintf(stderr, "emo batch: cannot lock %s: %s\n", path, strerror(errno));
    batch_manifest_free(m);
    return 1;
  }
  snprintf(path, sizeof path, "%s/manifest.tsv", dir);
  size_t n = 0;
  char *buf = batch_read_file(path, BATCH_MAX_MANIFEST_BYTES, &n);
  batch_manifest cached;
  int use = 0;
  if (buf && batch_cache_parse(buf, n, &cached, err, sizeof err) == 0) {
    use = strcmp(cached.key, m->key) == 0 && cached.n == m->n;
    for (int i = 0; use && i < m->n; i++)
      use = strcmp(cached.items[i].id, m->items[i].id) == 0 &&
            strcmp(cached.items[i].path, m->items[i].path) == 0;
    if (use) {
      batch_manifest_free(m);
      *m = cached;
    } else {
      batch_manifest_free(&cached);
    }
  } else if (buf) {
    fprintf(stderr, "emo batch: %s: %s: probing again\n", path, err);
  }
  free(buf);
  int rc = 0;
  if (!use) {
    probe_all(m, o->quiet);
    if (batch_cache_write(m, path) != 0) rc = 1; /* a full disk, say: transient */
  }
  close(lk);
  if (rc) batch_manifest_free(m);
  return rc;
}

/* ---- stamps ---- */

static void make_stamp_base(const run_opts *o, batch_stamp *st) {
  memset(st, 0, sizeof *st);
  snprintf(st->version, sizeof st->version, "%s", EMO_VERSION_STRING);
  /* The models: the checksums the library verifies at load, and a --ser-model file's size and
   * mtime. */
  size_t cap = 256 + 128 * (size_t)emo_models_count(), k = 0;
  char *s = malloc(cap);
  if (!s) return;
  s[0] = 0;
  for (int i = 0; i < emo_models_count(); i++) {
    emo_model_info info;
    if (emo_models_info(i, &info) == EMO_OK)
      k += (size_t)snprintf(s + k, cap - k, "%s=%s\n", info.name, info.sha256);
  }
  struct stat sm;
  if (o->ser_model && stat(o->ser_model, &sm) == 0)
    snprintf(s + k, cap - k, "ser=%lld:%lld.%09ld\n", (long long)sm.st_size,
             (long long)sm.st_mtim.tv_sec, sm.st_mtim.tv_nsec);
  batch_sha256_hex(s, strlen(s), st->models);
  free(s);
}

/* The options hash of one item: the hashed pass-through options, the outputs asked for, the
 * item's own options and its kind. */
static void item_options_hash(const run_opts *o, const batch_item *it, char out[65]) {
  char buf[8192];
  size_t k = (size_t)snprintf(buf, sizeof buf, "kind=%d\n", it->kind);
  for (int i = 0; i < o->n_pass; i++) {
    int hashed = 1, value = 0;
    for (int j = 0; j < N_PASS; j++)
      if (strcmp(o->pass[i], g_pass[j].name) == 0)
        hashed = g_pass[j].hashed, value = g_pass[j].value;
    if (hashed && k < sizeof buf)
      k += (size_t)snprintf(buf + k, sizeof buf - k, "%s %s\n", o->pass[i],
                            value ? o->pass[i + 1] : "");
    if (value) i++;
  }
  for (int j = 1; j < N_OUTPUTS; j++)
    if (o->want[j] && (g_outputs[j].kinds >> it->kind & 1) && k < sizeof buf)
      k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\n", g_outputs[j].flag);
  if (k < sizeof buf) k += (size_t)snprintf(buf + k, sizeof buf - k, "args=%s\n", it->args);
  batch_sha256_hex(buf, k < sizeof buf ? k : sizeof buf - 1, out);
}

static int input_stat(const char *path, batch_stamp *st) {
  struct stat s;
  if (stat(path, &s) != 0) return -1;
  st->size = (int64_t)s.st_size;
  st->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
  return 0;
}

/* 1 when dir/DONE.json records this stamp and its outputs are present. */
static int is_done(const char *dir, const batch_item *it, const batch_stamp *st, int quiet) {
  char path[BATCH_MAX_PATH + 32], err[200];
  snprintf(path, sizeof path, "%s/DONE.json", dir);
  size_t n = 0;
  char *buf = batch_read_file(path, BATCH_MAX_RECORD_BYTES, &n);
  if (!buf) return 0;
  batch_stamp d;
  batch_figures f;
  int ok = batch_done_parse(buf, n, &d, &f, err, sizeof err) == 0;
  free(buf);
  if (!ok) {
    if (!quiet) fprintf(stderr, "emo batch: %s: %s: redoing %s\n", path, err, it->id);
    return 0;
  }
  ok = strcmp(d.version, st->version) == 0 && strcmp(d.models, st->models) == 0 &&
       strcmp(d.options, st->options) == 0 && d.size == st->size && d.mtime_ns == st->mtime_ns;
  snprintf(path, sizeof path, "%s/emo.jsonl", dir);
  if (ok && access(path, R_OK) != 0) ok = 0;
  return ok;
}

/* Removes what a killed run left in dir/.run (its temporaries, a half-made result). */
static void clear_run_dir(const char *run) {
  DIR *d = opendir(run);
  if (!d) return;
  struct dirent *e;
  char p[BATCH_MAX_PATH + 300];
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", run, e->d_name);
    unlink(p);
  }
  closedir(d);
}

/* The last lines of the child's stderr (at most 1 KiB), for FAILED.json. */
static void log_tail(const char *path, char *out, size_t cap) {
  out[0] = 0;
  size_t n = 0;
  char *buf = batch_read_file(path, (size_t)16 << 20, &n);
  if (!buf) return;
  size_t start = n > cap - 1 ? n - (cap - 1) : 0;
  while (n > 0 && buf[n - 1] == '\n') n--;
  if (start > n) start = n;
  snprintf(out, cap, "%.*s", (int)(n - start), buf + start);
  free(buf);
}

typedef enum {
  ITEM_DONE,
  ITEM_SKIPPED,
  ITEM_BUSY,
  ITEM_BAD,
  ITEM_TRANSIENT,
  ITEM_STOPPED,
  ITEM_USAGE
} item_result;

/* Runs the child once: its exit status (0..255), 256 + signal when killed, -1 when it could
 * not start. */
static int run_child(const run_opts *o, const batch_item *it, const char *run, const char *log,
                     double *cpu_s) {
  const char *argv[2 * N_PASS + 64];
  int a = 0;
  argv[a++] = o->self;
  argv[a++] = it->kind == BATCH_VIDEO ? "video" : "audio";
  argv[a++] = "-q";
  char paths[N_OUTPUTS][BATCH_MAX_PATH + 32], threads[16];
  for (int k = 0; k < N_OUTPUTS; k++) {
    if (!o->want[k] || !(g_outputs[k].kinds >> it->kind & 1) || !g_outputs[k].child_option)
      continue;
    snprintf(paths[k], sizeof paths[k], "%s/%s", run, g_outputs[k].file);
    argv[a++] = g_outputs[k].child_option;
    argv[a++] = paths[k];
  }
  if (!o->threads_given) {
    snprintf(threads, sizeof threads, "%d", o->threads);
    argv[a++] = "--threads";
    argv[a++] = threads;
  }
  for (int i = 0; i < o->n_pass; i++) argv[a++] = o->pass[i];
  /* The item's own options (escaped tokens). */
  char *args = strdup(it->args), *tok[64];
  int nt = 0;
  for (char *s = args ? strtok(args, " ") : NULL; s && nt < 64; s = strtok(NULL, " "))
    tok[nt++] = batch_unescape(s, strlen(s));
  for (int i = 0; i < nt; i++)
    if (tok[i]) argv[a++] = tok[i];
  argv[a++] = "--";
  argv[a++] = it->path;
  argv[a] = NULL;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed shard takes its child along */
    if (getppid() != parent) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(o->self, (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < nt; i++) free(tok[i]);
  free(args);
  if (pid < 0) return -1;
  g_child = pid;
  if (g_stop) kill(pid, (int)g_stop);
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  g_child = 0;
  *cpu_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
  if (WIFSIGNALED(status)) return 256 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* OUT/<id>/report.html from OUT/<id>/emo.jsonl (already in place), playing the input video;
 * 0, or nonzero after emo report's message. */
static int make_report(const char *dir, const batch_item *it, const char *html) {
  char jsonl[BATCH_MAX_PATH + 64];
  snprintf(jsonl, sizeof jsonl, "%s/emo.jsonl", dir);
  char *argv[] = {"emo", "report", jsonl, "-o", (char *)html, "--video", (char *)it->path, NULL};
  return cmd_report(it->kind == BATCH_VIDEO ? 7 : 5, argv);
}

static item_result run_item(const run_opts *o, const batch_item *it, const batch_stamp *base,
                            batch_figures *fig_out) {
  char dir[BATCH_MAX_PATH], run[BATCH_MAX_PATH + 8], p[BATCH_MAX_PATH + 64],
      log[BATCH_MAX_PATH + 16];
  snprintf(dir, sizeof dir, "%s/%s", o->out, it->id);
  snprintf(run, sizeof run, "%s/.run", dir);
  snprintf(log, sizeof log, "%s/stderr.log", dir);
  if (mkdir_p(run)) {
    fprintf(stderr, "emo batch: cannot create %s: %s\n", run, strerror(errno));
    return ITEM_TRANSIENT;
  }
  snprintf(p, sizeof p, "%s/.lock", dir);
  int lk = lock_file(p, 0);
  /* `emo batch status` holds it for an instant to see whether a run does: try a few times. */
  for (int i = 0; lk < 0 && errno == EWOULDBLOCK && i < 5; i++) {
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    lk = lock_file(p, 0);
  }
  if (lk < 0) {
    if (errno == EWOULDBLOCK) return ITEM_BUSY;
    fprintf(stderr, "emo batch: cannot lock %s: %s\n", p, strerror(errno));
    return ITEM_TRANSIENT;
  }
  batch_stamp st = *base;
  item_options_hash(o, it, st.options);
  const int have_input = input_stat(it->path, &st) == 0;
  item_result res = ITEM_TRANSIENT;
  if (have_input && is_done(dir, it, &st, o->quiet)) {
    close(lk);
    return ITEM_SKIPPED;
  }
  /* Redone: its DONE.json (of other options, models or input) goes first, so nothing reports
   * it done until the new result is; the old outputs stay until the new ones replace them. */
  clear_run_dir(run);
  snprintf(p, sizeof p, "%s/DONE.json", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/FAILED.json", dir);
  unlink(p);
  char msg[1100] = "";
  int attempts = 0;
  if (!have_input) {
    snprintf(msg, sizeof msg, "cannot read %.900s: %s", it->path, strerror(errno));
    res = ITEM_BAD;
  } else if (it->probe_status != EMO_OK && !it->forced) {
    snprintf(msg, sizeof msg, "%s", it->probe_error ? it->probe_error : "not media emo reads");
    res = ITEM_BAD;
  } else {
    for (attempts = 1; attempts <= o->retries + 1 && !g_stop; attempts++) {
      const double t0 = now_s();
      double cpu = 0;
      int rc = run_child(o, it, run, log, &cpu);
      const double wall = now_s() - t0;
      if (g_stop) {
        res = ITEM_STOPPED;
        break;
      }
      snprintf(p, sizeof p, "%s/emo.jsonl", run);
      const int has_output = access(p, F_OK) == 0;
      batch_stamp after = st;
      if (rc == 0 && (input_stat(it->path, &after) != 0 || after.size != st.size ||
                      after.mtime_ns != st.mtime_ns)) {
        snprintf(msg, sizeof msg, "the input changed during the analysis");
        clear_run_dir(run);
        continue;
      }
      if (rc == 0) {
        batch_figures fig = {0};
        batch_figures_from_summary(p, it->kind, &fig);
        if (it->duration > 0) fig.duration = it->duration;
        fig.wall_s = wall;
        fig.cpu_s = cpu;
        fig.attempts = attempts;
        /* Outputs into place, then DONE.json last: a kill between leaves no DONE.json. */
        char d[BATCH_MAX_PATH + 64];
        snprintf(d, sizeof d, "%s/DONE.json", dir);
        unlink(d);
        const char *names[N_OUTPUTS];
        int nn = 0, ok = 1;
        for (int k = 0; k < N_OUTPUTS && ok; k++) {
          if (!o->want[k] || !(g_outputs[k].kinds >> it->kind & 1)) continue;
          char from[BATCH_MAX_PATH + 64];
          snprintf(from, sizeof from, "%s/%s", run, g_outputs[k].file);
          snprintf(d, sizeof d, "%s/%s", dir, g_outputs[k].file);
          if (!g_outputs[k].child_option) {
            if (make_report(dir, it, d) != 0) {
              snprintf(msg, sizeof msg, "cannot write the report %.900s", d);
              ok = 0;
            }
          } else if (rename(from, d) != 0) {
            snprintf(msg, sizeof msg, "cannot rename %.900s: %s", from, strerror(errno));
            ok = 0;
          }
          names[nn++] = g_outputs[k].file;
        }
        if (ok && batch_done_write(dir, it, &st, &fig, names, nn) == 0) {
          *fig_out = fig;
          res = ITEM_DONE;
          break;
        }
        if (ok) snprintf(msg, sizeof msg, "cannot write %.900s/DONE.json", dir);
        continue;
      }
      log_tail(log, msg, sizeof msg);
      if (rc == 2) {
        fprintf(stderr, "emo batch: the analysis refused its options: %s\n", msg);
        res = ITEM_USAGE;
        break;
      }
      if (rc == 1 && has_output) { /* analysed up to damage in the stream: bad input */
        res = ITEM_BAD;
        break;
      }
      if (!msg[0] || rc >= 256) {
        size_t k = strlen(msg);
        snprintf(msg + k, sizeof msg - k, "%s%s %d", k ? "\n" : "",
                 rc >= 256 ? "killed by signal" : "exit status", rc >= 256 ? rc - 256 : rc);
      }
      clear_run_dir(run);
      res = ITEM_TRANSIENT;
    }
    if (attempts > o->retries + 1) attempts = o->retries + 1;
  }
  clear_run_dir(run);
  if (res == ITEM_BAD || res == ITEM_TRANSIENT) {
    if (!o->quiet) {
      char *e = batch_escape(it->path);
      fprintf(stderr, "emo batch: %s (%s): %s: %s\n", it->id, e ? e : "?",
              res == ITEM_BAD ? "bad input" : "failed", msg);
      free(e);
    }
    batch_failed_write(dir, it, &st, res == ITEM_BAD ? "bad_input" : "transient", msg, attempts);
  }
  close(lk);
  return res;
}

static int cmd_run(int argc, char **argv) {
  run_opts o;
  if (parse_run(argc, argv, &o) || resolve_shard(&o)) return EXIT_USAGE;
  ssize_t sl = readlink("/proc/self/exe", o.self, sizeof o.self - 1);
  if (sl <= 0) {
    fprintf(stderr, "emo batch: cannot find its own executable: %s\n", strerror(errno));
    return EXIT_TRANSIENT;
  }
  o.self[sl] = 0;
  if (!o.threads_given) o.threads = cpus_available();
  batch_manifest m;
  int plan = load_plan(&o, &m);
  if (plan) return plan > 0 ? EXIT_TRANSIENT : EXIT_USAGE;
  char lockp[BATCH_MAX_PATH + 64];
  snprintf(lockp, sizeof lockp, "%s/batch/shard-%d-of-%d.lock", o.out, o.shard, o.shards);
  int lk = lock_file(lockp, 0);
  if (lk < 0) {
    int e = errno;
    fprintf(stderr, "emo batch: %s\n",
            e == EWOULDBLOCK ? "another run is working on this shard (its lock is held): "
                               "leaving it to that run"
                             : strerror(e));
    batch_manifest_free(&m);
    return e == EWOULDBLOCK ? EXIT_BUSY : EXIT_TRANSIENT;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  int *shard = malloc((size_t)(m.n ? m.n : 1) * sizeof *shard);
  if (!shard) {
    batch_manifest_free(&m);
    return EXIT_TRANSIENT;
  }
  batch_shard_assign(&m, o.shards, shard);
  int total = 0;
  double media_total = 0;
  for (int i = 0; i < m.n; i++)
    if (shard[i] == o.shard) total++, media_total += m.items[i].duration;
  batch_stamp base;
  make_stamp_base(&o, &base);
  const int tty = isatty(2) && !o.quiet;
  int n_done = 0, n_skip = 0, n_bad = 0, n_trans = 0, n_busy = 0, seen = 0, usage = 0;
  double media_done = 0, wall_sum = 0;
  const double t_start = now_s();
  if (!o.quiet)
    fprintf(stderr, "emo batch: shard %d/%d: %d of %d files (%.2f h of media), %d threads each\n",
            o.shard, o.shards, total, m.n, media_total / 3600, o.threads);
  for (int i = 0; i < m.n && !g_stop && !usage; i++) {
    if (shard[i] != o.shard) continue;
    batch_figures fig = {0};
    seen++;
    item_result r = run_item(&o, &m.items[i], &base, &fig);
    switch (r) {
      case ITEM_DONE:
        n_done++;
        media_done += fig.duration;
        wall_sum += fig.wall_s;
        break;
      case ITEM_SKIPPED: n_skip++; break;
      case ITEM_BUSY: n_busy++; break;
      case ITEM_BAD: n_bad++; break;
      case ITEM_TRANSIENT: n_trans++; break;
      case ITEM_USAGE: usage = 1; break;
      case ITEM_STOPPED: break;
    }
    if (tty) {
      const double el = now_s() - t_start, speed = el > 0 ? media_done / el : 0;
      double left = 0;
      for (int k = i + 1; k < m.n; k++)
        if (shard[k] == o.shard) left += m.items[k].duration;
      fprintf(stderr,
              "\remo batch: %d/%d files: %d done, %d already done, %d failed; %.1fx real "
              "time",
              seen, total, n_done, n_skip, n_bad + n_trans, speed);
      if (speed > 0) fprintf(stderr, ", ETA %.0f s ", left / speed);
    }
  }
  if (tty) fputc('\n', stderr);
  free(shard);
  batch_manifest_free(&m);
  close(lk);
  if (!o.quiet)
    fprintf(stderr,
            "emo batch: shard %d/%d: %d analysed (%.1f s of media in %.1f s), %d already done, "
            "%d bad input, %d failed, %d left to another run\n",
            o.shard, o.shards, n_done, media_done, wall_sum, n_skip, n_bad, n_trans, n_busy);
  if (g_stop) return 128 + (int)g_stop;
  if (usage) return EXIT_USAGE;
  if (n_trans) return EXIT_TRANSIENT;
  if (n_bad) return EXIT_BAD_INPUT;
  return EXIT_DONE;
}

/* ---- status ---- */

static int load_cache(const char *out, batch_manifest *m) {
  char path[BATCH_MAX_PATH + 32], err[300];
  snprintf(path, sizeof path, "%s/batch/manifest.tsv", out);
  size_t n = 0;
  char *buf = batch_read_file(path, BATCH_MAX_MANIFEST_BYTES, &n);
  if (!buf) {
    fprintf(stderr, "emo batch: %s: %s (not an emo batch output folder?)\n", path, strerror(errno));
    return -1;
  }
  int rc = batch_cache_parse(buf, n, m, err, sizeof err);
  free(buf);
  if (rc) fprintf(stderr, "emo batch: %s: %s\n", path, err);
  return rc;
}

static int cmd_status(const char *out) {
  batch_manifest m;
  if (load_cache(out, &m)) return EXIT_USAGE;
  int done = 0, bad = 0, trans = 0, running = 0, pending = 0, corrupt = 0;
  double media_done = 0, wall = 0, cpu = 0, media_left = 0, media_all = 0;
  for (int i = 0; i < m.n; i++) {
    const batch_item *it = &m.items[i];
    char p[BATCH_MAX_PATH + 64], err[200];
    media_all += it->duration;
    snprintf(p, sizeof p, "%s/%s/DONE.json", out, it->id);
    size_t n = 0;
    char *buf = batch_read_file(p, BATCH_MAX_RECORD_BYTES, &n);
    batch_stamp st;
    batch_figures f;
    if (buf && batch_done_parse(buf, n, &st, &f, err, sizeof err) == 0) {
      done++;
      media_done += f.duration;
      wall += f.wall_s;
      cpu += f.cpu_s;
      free(buf);
      continue;
    }
    if (buf) corrupt++;
    free(buf);
    snprintf(p, sizeof p, "%s/%s/.lock", out, it->id);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    int busy = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (fd >= 0) close(fd);
    snprintf(p, sizeof p, "%s/%s/FAILED.json", out, it->id);
    buf = busy ? NULL : batch_read_file(p, BATCH_MAX_RECORD_BYTES, &n);
    if (busy) {
      running++;
      media_left += it->duration;
    } else if (buf) {
      if (strstr(buf, "\"error\":\"bad_input\""))
        bad++;
      else
        trans++;
    } else {
      pending++;
      media_left += it->duration;
    }
    free(buf);
  }
  printf("files: %d  done: %d  failed: %d (bad input %d, transient %d)  running: %d  pending: %d\n",
         m.n, done, bad + trans, bad, trans, running, pending);
  if (corrupt)
    printf("unreadable DONE.json: %d (counted as not done; a rerun redoes them)\n", corrupt);
  printf("media: %.3f h done of %.3f h (%.3f h left)\n", media_done / 3600, media_all / 3600,
         media_left / 3600);
  if (wall > 0) {
    const double speed = media_done / wall;
    printf("throughput: %.2f h of media per worker-hour", speed);
    if (cpu > 0) printf(", %.2f per CPU-hour of analysis", media_done / cpu);
    printf("\n");
    printf("estimated time left: %.0f s of one worker (divide by the workers running)\n",
           media_left / speed);
  }
  batch_manifest_free(&m);
  return EXIT_DONE;
}

static int cmd_merge(const char *out) {
  batch_manifest m;
  if (load_cache(out, &m)) return EXIT_USAGE;
  int rc = batch_merge(out, &m);
  batch_manifest_free(&m);
  return rc;
}

int batch_main(int argc, char **argv) {
  if (argc >= 3 && (strcmp(argv[2], "status") == 0 || strcmp(argv[2], "merge") == 0)) {
    if (argc != 4) {
      fprintf(stderr, "emo batch: %s wants the output folder: emo batch %s OUT\n", argv[2],
              argv[2]);
      return EXIT_USAGE;
    }
    return strcmp(argv[2], "status") == 0 ? cmd_status(argv[3]) : cmd_merge(argv[3]);
  }
  return cmd_run(argc, argv);
}
