/* test_file.c: core/file.h, the one whole-file reader, and the model and image readers that
 * go through it. What must hold:
 *  - a regular file within the cap is read whole, NUL-terminated; one byte over is
 *    EMO_ELIMIT without reading it (the size decides);
 *  - a model file named by a user must be a regular file: /dev/zero and a FIFO are refused
 *    at once (/dev/zero used to be read to 16 GiB by a user's --ser-model before the refusal),
 *    by safetensors, wav2vec2, TF.js and face-api loaders alike;
 *  - an image may come from a pipe or a device, but never more than the cap + 1 bytes;
 *  - every message names the path once.
 * No test data is needed: files are made under /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio/wav2vec2.h"
#include "core/file.h"
#include "harness.h"
#include "media/image_decode.h"
#include "nn/safetensors.h"
#include "nn/tfjs_reader.h"
#include "vision/faceapi_expression_net.h"

/* 1 when path occurs in msg exactly once. */
static int names_once(const char *msg, const char *path) {
  const char *p = strstr(msg, path);
  return p && !strstr(p + 1, path);
}

static void write_bytes(const char *path, size_t n) {
  FILE *f = fopen(path, "wb");
  for (size_t i = 0; f && i < n; i++) fputc('a' + (int)(i % 26), f);
  if (f) fclose(f);
}

static void test_regular(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/ten.bin", dir);
  write_bytes(path, 10);
  unsigned char *d = NULL;
  size_t n = 0;
  emoi_err e = {{0}};
  CHECK(emoi_file_read(path, 10, 0, &d, &n, &e) == EMO_OK && n == 10 && d && d[10] == 0 &&
            !memcmp(d, "abcdefghij", 10),
        "file at the cap: %s", e.msg);
  free(d);
  CHECK(emoi_file_read(path, 0, 0, &d, &n, &e) == EMO_OK && n == 10, "no cap: %s", e.msg);
  free(d);
  CHECK(emoi_file_read(path, 9, 0, &d, &n, &e) == EMO_ELIMIT && !d && n == 0 &&
            names_once(e.msg, path) && strstr(e.msg, "10 bytes"),
        "one byte over the cap: %s", e.msg);
  CHECK(emoi_file_read(path, 9, EMOI_FILE_STREAMS, &d, &n, &e) == EMO_ELIMIT,
        "over the cap, streams allowed: %s", e.msg);
  snprintf(path, sizeof path, "%s/empty.bin", dir);
  write_bytes(path, 0);
  CHECK(emoi_file_read(path, 10, 0, &d, &n, &e) == EMO_OK && n == 0 && d && d[0] == 0,
        "empty file: %s", e.msg);
  free(d);
  snprintf(path, sizeof path, "%s/missing.bin", dir);
  CHECK(emoi_file_read(path, 10, 0, &d, &n, &e) == EMO_EIO && names_once(e.msg, path),
        "missing: %s", e.msg);
  CHECK(emoi_file_read(dir, 10, EMOI_FILE_STREAMS, &d, &n, &e) == EMO_EIO &&
            strstr(e.msg, "directory"),
        "directory: %s", e.msg);
  CHECK(emoi_file_read("/dev/zero", 0, EMOI_FILE_STREAMS, &d, &n, &e) == EMO_EINVAL,
        "a stream without a cap: %s", e.msg);
}

/* /dev/zero: refused when a regular file is required, read to cap + 1 bytes otherwise. */
static void test_dev_zero(void) {
  unsigned char *d = NULL;
  size_t n = 0;
  emoi_err e = {{0}};
  CHECK(emoi_file_read("/dev/zero", 1 << 20, 0, &d, &n, &e) == EMO_EIO &&
            strstr(e.msg, "character device") && names_once(e.msg, "/dev/zero"),
        "/dev/zero as a model: %s", e.msg);
  CHECK(emoi_file_read("/dev/zero", 100000, EMOI_FILE_STREAMS, &d, &n, &e) == EMO_ELIMIT && !d,
        "/dev/zero as a stream: %s", e.msg);

  /* The model readers. Without the regular-file rule each of these would read /dev/zero up
   * to its cap (here 16 GiB for safetensors and wav2vec2) before failing. */
  st_file *sf = NULL;
  CHECK(st_open_file("/dev/zero", (size_t)16 << 30, &sf, &e) == EMO_EIO && !sf &&
            names_once(e.msg, "/dev/zero") && strstr(e.msg, "not a regular file"),
        "safetensors /dev/zero: %s", e.msg);
  w2v_model *w = NULL;
  CHECK(w2v_load("/dev/zero", (int64_t)16 << 30, &w, &e) == EMO_EIO && !w &&
            names_once(e.msg, "/dev/zero"),
        "wav2vec2 /dev/zero: %s", e.msg);
  nn_graph *g = NULL;
  CHECK(nn_tfjs_load("/dev/zero", 512 << 20, &g, &e) == EMO_EIO && !g &&
            names_once(e.msg, "/dev/zero"),
        "tfjs /dev/zero: %s", e.msg);
  CHECK(fe_faceapi_net_load("/dev/zero", 512 << 20, &g, &e) == EMO_EIO && !g &&
            names_once(e.msg, "/dev/zero"),
        "face-api /dev/zero: %s", e.msg);

  /* An image from a device is read, bounded by its cap. */
  CHECK(img_read_file("/dev/zero", 4096, &d, &n, &e) == EMO_ELIMIT && !d &&
            names_once(e.msg, "/dev/zero"),
        "image /dev/zero: %s", e.msg);
}

/* A FIFO with a writer that would write `bytes` bytes (more than the reader takes). */
static pid_t fifo_writer(const char *path, size_t bytes) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  signal(SIGPIPE, SIG_IGN);
  int fd = open(path, O_WRONLY);
  char buf[4096];
  memset(buf, 'x', sizeof buf);
  for (size_t k = 0; fd >= 0 && k < bytes; k += sizeof buf)
    if (write(fd, buf, sizeof buf) < 0) break;
  _exit(0);
}

static void test_fifo(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/fifo", dir);
  if (mkfifo(path, 0600) != 0) {
    CHECK(0, "mkfifo %s: %s", path, strerror(errno));
    return;
  }
  unsigned char *d = NULL;
  size_t n = 0;
  emoi_err e = {{0}};
  /* Regular required: refused from fstat, before a byte is read. The open blocks until a
   * writer comes, so one is started; it stops on the closed pipe (SIGPIPE ignored). */
  pid_t pid = fifo_writer(path, 1 << 20);
  st_file *sf = NULL;
  CHECK(st_open_file(path, 1 << 20, &sf, &e) == EMO_EIO && !sf && strstr(e.msg, "FIFO") &&
            names_once(e.msg, path),
        "safetensors FIFO: %s", e.msg);
  waitpid(pid, NULL, 0);
  /* Streams allowed: a short stream is read whole, a long one stops at cap + 1. */
  pid = fifo_writer(path, 8192);
  CHECK(emoi_file_read(path, 1 << 20, EMOI_FILE_STREAMS, &d, &n, &e) == EMO_OK && n == 8192,
        "short FIFO stream: %s (%zu bytes)", e.msg, n);
  free(d);
  waitpid(pid, NULL, 0);
  pid = fifo_writer(path, 1 << 20);
  CHECK(img_read_file(path, 10000, &d, &n, &e) == EMO_ELIMIT && !d && names_once(e.msg, path),
        "long FIFO image: %s", e.msg);
  waitpid(pid, NULL, 0);
  remove(path);
}

int main(void) {
  char dir[] = "/tmp/emo_test_file_XXXXXX";
  if (!mkdtemp(dir)) th_skip("mkdtemp: %s", strerror(errno));
  test_regular(dir);
  test_dev_zero();
  test_fifo(dir);
  char p[600];
  snprintf(p, sizeof p, "%s/ten.bin", dir);
  remove(p);
  snprintf(p, sizeof p, "%s/empty.bin", dir);
  remove(p);
  rmdir(dir);
  return th_finish("test_file");
}
