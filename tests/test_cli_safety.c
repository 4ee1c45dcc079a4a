/* test_cli_safety.c: the `emo` command never destroys or loses the user's work (the policy is
 * at the top of cli/outfile.c). Runs the built CLI as a child process on real media from
 * ../shared/data with the cached models, one case per way work used to be lost:
 *   - `-o` naming an input (or a hard link to it) is refused and the input keeps its bytes;
 *   - missing models or a missing input leave an earlier -o file untouched, no temporary left;
 *   - a full disk (/dev/full, RLIMIT_FSIZE): a message, a non-zero exit, no torn last line,
 *     and an earlier -o file untouched;
 *   - SIGINT / SIGTERM: exit 130 / 143, the output committed with whole JSON lines, the video
 *     summary last and marked "interrupted":true;
 *   - SIGKILL: the earlier output untouched, the temporary beside it holds whole lines;
 *   - `emo models fetch` removes the temporary folders of killed fetches (their process is
 *     gone, or they are over an hour old) and keeps those of a fetch that may be running.
 * Every wait is bounded by the child's CPU time (60 s) and by the wall clock (15 min, for a
 * child that hangs without working); a child still running then is killed, so a loaded machine
 * slows the test down without failing it. Skips without the shared
 * data, the models or the built CLI. EMO_TEST_CLI=PATH runs another build of the CLI instead
 * (to see each case fail on an older one). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

#define WAIT_CPU_SECONDS 60   /* the child's own CPU time */
#define WAIT_WALL_SECONDS 900 /* a child that sleeps or blocks forever */
#define OLD_CONTENT "{\"old\":\"result\"}\n"

static const char *g_emo = EMO_BINARY_DIR "/emo";
static char g_dir[64];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void pause_ms(int ms) {
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* CPU seconds pid has used (all its threads), from /proc; 0 when unreadable. */
static double cpu_seconds(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces: fields follow its ')' */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* 1 once a wait for pid begun at t0 has run out (WAIT_CPU_SECONDS or WAIT_WALL_SECONDS). */
static int waited_out(pid_t pid, double t0) {
  return cpu_seconds(pid) > WAIT_CPU_SECONDS || now() - t0 > WAIT_WALL_SECONDS;
}

/* Starts the CLI with argv (argv[0] ignored); stdout to out_path (NULL: /dev/null), stderr to
 * err_path; fsize > 0 limits the files it may write (RLIMIT_FSIZE, SIGXFSZ ignored). */
static pid_t start(char *const argv[], const char *out_path, const char *err_path, long fsize) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
  if (fsize > 0) {
    struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
  }
  execv(g_emo, argv);
  _exit(127);
}

/* Waits for pid until waited_out (then kills it); returns its wait status, -1 on timeout. */
static int finish(pid_t pid) {
  int status = 0;
  for (double t0 = now(); !waited_out(pid, t0); pause_ms(10)) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) return status;
    if (w < 0 && errno != EINTR) return -1;
  }
  fprintf(stderr, "child %d still running after %d s of CPU or %d s: killed\n", (int)pid,
          WAIT_CPU_SECONDS, WAIT_WALL_SECONDS);
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

/* Runs the CLI to the end; returns its exit code (-1: not a normal exit). stderr goes to
 * g_dir/err.txt. */
static int run(char *const argv[], const char *out_path, long fsize) {
  char err[128];
  snprintf(err, sizeof err, "%s/err.txt", g_dir);
  int status = finish(start(argv, out_path, err, fsize));
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path, size_t *n) {
  size_t size = 0;
  char *b = (char *)th_read_file(path, &size);
  if (n) *n = b ? size : 0;
  return b;
}

/* 1 when stderr of the last run contains s. */
static int stderr_has(const char *s) {
  char path[128];
  snprintf(path, sizeof path, "%s/err.txt", g_dir);
  char *e = slurp(path, NULL);
  int has = e && strstr(e, s) != NULL;
  if (!has) fprintf(stderr, "stderr of the run lacks \"%s\": %s\n", s, e ? e : "(none)");
  free(e);
  return has;
}

static int write_file(const char *path, const char *s, size_t n) {
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(s, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = 0;
  return ok ? 0 : -1;
}

/* 1 when the file holds exactly s. */
static int file_is(const char *path, const char *s, size_t n) {
  size_t m = 0;
  char *b = slurp(path, &m);
  int same = b && m == n && memcmp(b, s, n) == 0;
  free(b);
  return same;
}

/* The name of a temporary `.BASE.XXXXXX` in g_dir (into out), 0 when there is none. */
static int find_temporary(const char *base, char *out, size_t n) {
  DIR *d = opendir(g_dir);
  if (!d) return 0;
  char prefix[128];
  snprintf(prefix, sizeof prefix, ".%s.", base);
  int found = 0;
  struct dirent *de;
  while (!found && (de = readdir(d)) != NULL)
    if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
      snprintf(out, n, "%s/%s", g_dir, de->d_name);
      found = 1;
    }
  closedir(d);
  return found;
}

/* Counts the lines of buf[0..n); *whole: every line is a JSON object ('{' ... '}') and the
 * buffer ends with a newline (or is empty); *last: start of the last line. */
static int json_lines(const char *buf, size_t n, int *whole, const char **last) {
  int lines = 0;
  *whole = n == 0 || buf[n - 1] == '\n';
  *last = NULL;
  for (size_t i = 0; i < n;) {
    const char *nl = memchr(buf + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - buf) : n;
    if (end == i || buf[i] != '{' || buf[end - 1] != '}') *whole = 0;
    *last = buf + i;
    lines++;
    i = end + 1;
  }
  return lines;
}

/* ---- the cases ---- */

static void test_same_file(const char *photo, const char *video) {
  char in[128], link_path[128], vid[128];
  snprintf(in, sizeof in, "%s/in.jpg", g_dir);
  snprintf(link_path, sizeof link_path, "%s/link.jpg", g_dir);
  snprintf(vid, sizeof vid, "%s/in.mp4", g_dir);
  size_t n = 0, vn = 0;
  char *bytes = slurp(photo, &n), *vbytes = slurp(video, &vn);
  CHECK(bytes && vbytes && write_file(in, bytes, n) == 0 && write_file(vid, vbytes, vn) == 0 &&
            link(in, link_path) == 0,
        "copies of the inputs");

  char *a[] = {"emo", "image", "-q", "-o", in, in, NULL};
  int rc = run(a, NULL, 0);
  CHECK(rc != 0 && stderr_has("input"), "emo image -o INPUT INPUT: exit %d", rc);
  CHECK(file_is(in, bytes, n), "emo image -o INPUT INPUT changed the input");

  char *b[] = {"emo", "image", "-q", "-o", link_path, in, NULL};
  rc = run(b, NULL, 0);
  CHECK(rc != 0 && stderr_has("input"), "emo image -o HARDLINK INPUT: exit %d", rc);
  CHECK(file_is(in, bytes, n), "emo image -o HARDLINK INPUT changed the input");

  char *c[] = {"emo", "video", "-q", "--no-voice", "-o", vid, vid, NULL};
  rc = run(c, NULL, 0);
  CHECK(rc != 0 && stderr_has("input"), "emo video -o INPUT INPUT: exit %d", rc);
  CHECK(file_is(vid, vbytes, vn), "emo video -o INPUT INPUT changed the input");

  /* the annotated video over the input; two outputs of one run naming one file */
  char *d[] = {"emo", "video", "-q", "--no-voice", "--annotate", vid, vid, NULL};
  rc = run(d, NULL, 0);
  CHECK(rc != 0 && stderr_has("input"), "emo video --annotate INPUT INPUT: exit %d", rc);
  CHECK(file_is(vid, vbytes, vn), "emo video --annotate INPUT INPUT changed the input");
  char out[160], out2[160];
  snprintf(out, sizeof out, "%s/o.jsonl", g_dir);
  snprintf(out2, sizeof out2, "%s/./o.jsonl", g_dir);
  char *e[] = {"emo", "video", "-q", "--no-voice", "-o", out, "--csv", out2, vid, NULL};
  rc = run(e, NULL, 0);
  CHECK(rc == 2 && stderr_has("same file") && access(out, F_OK) != 0,
        "emo video -o X --csv ./X: exit %d", rc);
  unlink(link_path);
  unlink(in);
  unlink(vid);
  free(bytes);
  free(vbytes);
}

static void test_failure_keeps_output(const char *photo, const char *video) {
  char out[128], tmp[512], missing[128];
  snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
  snprintf(missing, sizeof missing, "%s/no_such_file.jpg", g_dir);
  const size_t old_n = strlen(OLD_CONTENT);
  struct {
    const char *what;
    char *argv[10];
  } cases[] = {
      {"emo image --models /nonexistent",
       {"emo", "image", "-q", "--models", "/nonexistent", "-o", out, (char *)photo, NULL}},
      {"emo video --models /nonexistent",
       {"emo", "video", "-q", "--no-voice", "--models", "/nonexistent", "-o", out, (char *)video,
        NULL}},
      {"emo image MISSING", {"emo", "image", "-q", "-o", out, missing, NULL}},
      {"emo video MISSING", {"emo", "video", "-q", "--no-voice", "-o", out, missing, NULL}},
      {"emo audio MISSING", {"emo", "audio", "-q", "-o", out, missing, NULL}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    CHECK(write_file(out, OLD_CONTENT, old_n) == 0, "writing %s", out);
    int rc = run(cases[k].argv, NULL, 0);
    CHECK(rc == 1, "%s: exit %d, expected 1", cases[k].what, rc);
    CHECK(file_is(out, OLD_CONTENT, old_n), "%s changed the earlier -o file", cases[k].what);
    CHECK(!find_temporary("out.jsonl", tmp, sizeof tmp), "%s left %s", cases[k].what, tmp);
  }
  unlink(out);
}

static void test_full_disk(const char *photo, const char *video, const char *speech) {
  char out[128], tmp[512];
  snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
  {
    char *a[] = {"emo", "image", "-q", "-o", "/dev/full", (char *)photo, NULL};
    int rc = run(a, NULL, 0);
    CHECK(rc == 1 && stderr_has("cannot write /dev/full"), "emo image -o /dev/full: exit %d", rc);
  }
  {
    char *a[] = {"emo", "audio", "-q", "-o", "/dev/full", (char *)speech, NULL};
    int rc = run(a, NULL, 0);
    CHECK(rc == 1 && stderr_has("cannot write /dev/full"), "emo audio -o /dev/full: exit %d", rc);
    char *b[] = {"emo", "audio", "-q", (char *)speech, NULL};
    rc = run(b, "/dev/full", 0);
    CHECK(rc == 1 && stderr_has("cannot write"), "emo audio > /dev/full: exit %d", rc);
  }
  {
    char *a[] = {"emo", "video", "-q", "--no-voice", "-o", "/dev/full", (char *)video, NULL};
    int rc = run(a, NULL, 0);
    CHECK(rc == 1 && stderr_has("cannot write /dev/full"), "emo video -o /dev/full: exit %d", rc);
  }
  /* The file size limit cuts the output part-way through a line: stdout is the file. */
  {
    char *a[] = {"emo", "video", "-q", "--no-voice", (char *)video, NULL};
    int rc = run(a, out, 6000);
    CHECK(rc == 1 && stderr_has("cannot write"), "emo video > FILE over RLIMIT_FSIZE: exit %d", rc);
    size_t n = 0;
    char *b = slurp(out, &n);
    int whole = 0;
    const char *last = NULL;
    int lines = b ? json_lines(b, n, &whole, &last) : 0;
    CHECK(b && whole, "emo video > FILE over RLIMIT_FSIZE: %zu bytes, %d lines, torn last line", n,
          lines);
    free(b);
  }
  /* ... and with -o, the earlier result stays and the temporary goes. */
  {
    CHECK(write_file(out, OLD_CONTENT, strlen(OLD_CONTENT)) == 0, "writing %s", out);
    char *a[] = {"emo", "video", "-q", "--no-voice", "-o", out, (char *)video, NULL};
    int rc = run(a, NULL, 6000);
    CHECK(rc == 1 && stderr_has("cannot write"), "emo video -o FILE over RLIMIT_FSIZE: exit %d",
          rc);
    CHECK(file_is(out, OLD_CONTENT, strlen(OLD_CONTENT)),
          "emo video -o FILE over RLIMIT_FSIZE changed the earlier output");
    CHECK(!find_temporary("out.jsonl", tmp, sizeof tmp), "RLIMIT_FSIZE run left %s", tmp);
  }
  unlink(out);
}

/* Starts `emo video [--no-voice] -o out.jsonl video`, waits until its temporary holds a whole
 * line, sends sig; returns the wait status (-1: never got that far, or did not end). With the
 * soundtrack (voice = 1) the lines must stream too: emo used to hold every frame's line until
 * the soundtrack was analysed, so a killed run left nothing. */
static int interrupt_video(const char *video, int voice, int sig, char *tmp, size_t tmp_n) {
  char out[128], err[128];
  snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
  snprintf(err, sizeof err, "%s/err.txt", g_dir);
  char *a[] = {"emo", "video", "-q", voice ? "-q" : "--no-voice", "-o", out, (char *)video, NULL};
  pid_t pid = start(a, NULL, err, 0);
  int sent = 0, status = 0;
  for (double t0 = now(); !sent && !waited_out(pid, t0); pause_ms(5)) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "emo video ended (status %d) before a line reached a temporary\n", status);
      return -1;
    }
    size_t n = 0;
    char *b = find_temporary("out.jsonl", tmp, tmp_n) ? slurp(tmp, &n) : NULL;
    if (b && memchr(b, '\n', n)) {
      kill(pid, sig);
      sent = 1;
    }
    free(b);
  }
  if (!sent) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "no line reached a temporary in %d s of CPU\n", WAIT_CPU_SECONDS);
    return -1;
  }
  return finish(pid);
}

static void test_interrupt(const char *video, int voice) {
  char out[128], tmp[512];
  snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
  const size_t old_n = strlen(OLD_CONTENT);

  /* Ctrl-C: the work done so far replaces the earlier output. */
  CHECK(write_file(out, OLD_CONTENT, old_n) == 0, "writing %s", out);
  int st = interrupt_video(video, voice, SIGINT, tmp, sizeof tmp);
  CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 130,
        "SIGINT: emo video should exit with 130 (status %d: %s %d)", st,
        st >= 0 && WIFSIGNALED(st) ? "killed by signal" : "exit",
        st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) : (st >= 0 ? WEXITSTATUS(st) : -1));
  size_t n = 0;
  char *b = slurp(out, &n);
  int whole = 0;
  const char *last = NULL;
  int lines = b ? json_lines(b, n, &whole, &last) : 0;
  CHECK(b && whole && lines >= 2, "SIGINT: %s has %d lines, whole JSON objects: %d", out, lines,
        whole);
  CHECK(last && strncmp(last, "{\"type\":\"summary\"", 17) == 0 &&
            strstr(last, "\"interrupted\":true}") != NULL,
        "SIGINT: the last line is not an interrupted summary: %.200s", last ? last : "(none)");
  CHECK(!find_temporary("out.jsonl", tmp, sizeof tmp), "SIGINT left %s", tmp);
  free(b);

  /* SIGKILL: the earlier output stays, the temporary holds whole lines. */
  CHECK(write_file(out, OLD_CONTENT, old_n) == 0, "writing %s", out);
  st = interrupt_video(video, voice, SIGKILL, tmp, sizeof tmp);
  CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL: status %d", st);
  CHECK(file_is(out, OLD_CONTENT, old_n), "SIGKILL changed the earlier output");
  b = find_temporary("out.jsonl", tmp, sizeof tmp) ? slurp(tmp, &n) : NULL;
  lines = b ? json_lines(b, n, &whole, &last) : 0;
  CHECK(b && whole && lines >= 1, "SIGKILL: the temporary has %d lines, whole: %d", lines, whole);
  if (b) unlink(tmp);
  free(b);
  unlink(out);
}

/* SIGTERM while photos are analysed: exit 143, the photos done so far are in the output. */
static void test_sigterm_image(const char *photo) {
  char out[128], err[128], tmp[512];
  snprintf(out, sizeof out, "%s/photos.jsonl", g_dir);
  snprintf(err, sizeof err, "%s/err.txt", g_dir);
  enum { N = 200 };
  char *a[N + 8];
  int k = 0;
  a[k++] = "emo";
  a[k++] = "image";
  a[k++] = "-q";
  a[k++] = "-o";
  a[k++] = out;
  for (int i = 0; i < N; i++) a[k++] = (char *)photo;
  a[k] = NULL;
  pid_t pid = start(a, NULL, err, 0);
  int sent = 0, status = 0;
  for (double t0 = now(); !sent && !waited_out(pid, t0); pause_ms(5)) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    size_t n = 0;
    char *b = find_temporary("photos.jsonl", tmp, sizeof tmp) ? slurp(tmp, &n) : NULL;
    /* a photo's line, after the run record: the run record is written before the photo loop
     * can stop (a signal then ends emo as the signal would, which a loaded machine showed) */
    const char *nl = b ? memchr(b, '\n', n) : NULL;
    if (nl && memchr(nl + 1, '\n', n - (size_t)(nl + 1 - b))) {
      kill(pid, SIGTERM);
      sent = 1;
    }
    free(b);
  }
  if (!sent) kill(pid, SIGKILL);
  int st = sent ? finish(pid) : (waitpid(pid, &status, 0), -1);
  CHECK(sent && st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 143,
        "SIGTERM: emo image should exit with 143 (sent %d, status %d)", sent, st);
  size_t n = 0;
  char *b = slurp(out, &n);
  int whole = 0;
  const char *last = NULL;
  int lines = b ? json_lines(b, n, &whole, &last) : 0;
  CHECK(b && whole && lines >= 1 && lines < N, "SIGTERM: %s has %d whole lines of %d: %d", out,
        lines, N, whole);
  free(b);
  unlink(out);
}

/* A cache of links to the real model files, with the leftovers of killed fetches. */
static void test_fetch_leftovers(void) {
  emo_model_params p = emo_model_params_default();
  char models[4096], cache[128], path[4608];
  CHECK(emo_models_dir(&p, models, sizeof models) == EMO_OK, "emo_models_dir");
  snprintf(cache, sizeof cache, "%s/cache", g_dir);
  CHECK(mkdir(cache, 0700) == 0, "mkdir %s", cache);
  for (int i = 0; i < emo_models_count(); i++) {
    emo_model_info info;
    if (emo_models_info(i, &info) != EMO_OK) continue;
    char from[4608];
    snprintf(from, sizeof from, "%s/%s", models, info.file);
    snprintf(path, sizeof path, "%s/%s", cache, info.file);
    CHECK(symlink(from, path) == 0, "symlink %s", path);
  }
  pid_t dead = fork(); /* a process id that is gone */
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  char gone[256], gone_file[300], old[256], running[256];
  snprintf(gone, sizeof gone, "%s/.fetch-%ld-Ab3dEf", cache, (long)dead);
  snprintf(gone_file, sizeof gone_file, "%s/package.tgz", gone);
  snprintf(old, sizeof old, "%s/.fetch-Zz9yXw", cache); /* no id: judged by its age */
  snprintf(running, sizeof running, "%s/.fetch-%ld-Qq1wEr", cache, (long)getpid());
  CHECK(mkdir(gone, 0700) == 0 && write_file(gone_file, "x", 1) == 0 && mkdir(old, 0700) == 0 &&
            mkdir(running, 0700) == 0,
        "leftovers in %s", cache);
  struct timespec two_hours_ago[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
  CHECK(utimensat(AT_FDCWD, old, two_hours_ago, 0) == 0, "utimensat %s", old);
  char *a[] = {"emo", "models", "fetch", "-q", "--models", cache, NULL};
  int rc = run(a, NULL, 0);
  CHECK(rc == 0, "emo models fetch into a complete cache: exit %d", rc);
  CHECK(access(gone, F_OK) != 0, "the folder of a killed fetch stays: %s", gone);
  CHECK(access(old, F_OK) != 0, "a folder over an hour old stays: %s", old);
  CHECK(access(running, F_OK) == 0, "the folder of a running fetch was removed: %s", running);
  rmdir(running);
  rmdir(gone); /* when the check above failed */
  rmdir(old);
  for (int i = 0; i < emo_models_count(); i++) {
    emo_model_info info;
    if (emo_models_info(i, &info) != EMO_OK) continue;
    snprintf(path, sizeof path, "%s/%s", cache, info.file);
    unlink(path);
  }
  CHECK(rmdir(cache) == 0, "%s: leftovers remain", cache);
}

int main(void) {
  const char *d = th_data("faces/misc/single_face.jpg");
  if (!d || access(d, R_OK) != 0) th_skip("../shared/data is absent: no media to test with");
  char photo[512], video[512], talk[512], speech[512];
  snprintf(photo, sizeof photo, "%s", d);
  snprintf(video, sizeof video, "%s", th_data("video/single_face.mp4"));
  snprintf(talk, sizeof talk, "%s", th_data("av/friends/out12.mp4"));
  snprintf(speech, sizeof speech, "%s", th_data("ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac"));
  if (access(video, R_OK) != 0 || access(talk, R_OK) != 0 || access(speech, R_OK) != 0)
    th_skip("a clip of ../shared/data is absent (%s, %s or %s)", video, talk, speech);
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  if (access(g_emo, X_OK) != 0) th_skip("the CLI is not built at %s", g_emo);
  if (getenv("EMO_TEST_CLI")) g_emo = getenv("EMO_TEST_CLI"); /* another build, to compare */
  snprintf(g_dir, sizeof g_dir, "/tmp/emo_tsafe_XXXXXX");
  if (!mkdtemp(g_dir)) th_skip("cannot create a temporary folder");

  test_same_file(photo, video);
  test_failure_keeps_output(photo, video);
  test_full_disk(photo, video, speech);
  test_interrupt(talk, 0);
  test_interrupt(talk, 1); /* with its soundtrack */
  test_sigterm_image(photo);
  test_fetch_leftovers();

  char err[128];
  snprintf(err, sizeof err, "%s/err.txt", g_dir);
  unlink(err);
  if (rmdir(g_dir) != 0) fprintf(stderr, "%s is not empty: kept for a look\n", g_dir);
  return th_finish("test_cli_safety");
}
