/* test_video_live.c: a network source, as a live stream reaches emo. The test serves
 * ../shared/data/video/single_face.mp4, re-encoded here as MPEG-TS (the usual container of
 * live streams; the MP4 keeps its index at the end and cannot be streamed), over HTTP/1.0
 * from a thread of its own on 127.0.0.1 (no range requests, so FFmpeg cannot seek: it sees
 * a stream, not a file), in small chunks with pauses like a live encoder, and
 * emo_analyze_media reads the http:// URL. Checks: every frame arrives and is analysed with
 * the one face on one track, as from the file; a server that hangs up mid-stream gives the
 * frames received and an error, not a hang. (A webcam, /dev/video0 through libavdevice,
 * goes through the same reader; this machine has none to test with.) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "media/video_decode.h"
#include "media/video_encode.h"

typedef struct server {
  int listen_fd, port;
  const unsigned char *data;
  size_t size, cut; /* bytes to send before hanging up (size = all) */
} server;

static void *serve(void *arg) {
  server *s = arg;
  int fd = accept(s->listen_fd, NULL, NULL);
  if (fd < 0) return NULL;
  char req[2048];
  ssize_t got = recv(fd, req, sizeof req, 0); /* the request; its content does not matter */
  (void)got;
  /* The full length is announced, so a cut stream is told apart from a finished one
   * (FFmpeg reports an unannounced end as "Stream ends prematurely"); no Accept-Ranges, so
   * the client cannot seek. */
  char hdr[160];
  snprintf(hdr, sizeof hdr,
           "HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: %zu\r\n\r\n", s->size);
  int ok = send(fd, hdr, strlen(hdr), MSG_NOSIGNAL) > 0;
  for (size_t off = 0; ok && off < s->cut; off += 16384) {
    size_t n = s->cut - off < 16384 ? s->cut - off : 16384;
    ok = send(fd, s->data + off, n, MSG_NOSIGNAL) == (ssize_t)n;
    struct timespec ts = {0, 2 * 1000 * 1000}; /* 2 ms between chunks */
    nanosleep(&ts, NULL);
  }
  /* An orderly close: FIN, then wait for the client to close its side (a plain close with
   * unread bytes would reset the connection). */
  shutdown(fd, SHUT_WR);
  while (recv(fd, req, sizeof req, 0) > 0) {
  }
  close(fd);
  return NULL;
}

static int start(server *s, pthread_t *th) {
  s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->listen_fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->listen_fd, 1) != 0 ||
      getsockname(s->listen_fd, (struct sockaddr *)&a, &len) != 0) {
    close(s->listen_fd);
    return -1;
  }
  s->port = ntohs(a.sin_port);
  return pthread_create(th, NULL, serve, s);
}

typedef struct tally {
  int frames, with_one_face, ids[8], n_ids;
} tally;

static int count(const emo_frame_result *f, void *user) {
  tally *t = user;
  if (f->frame < 0) return 0;
  t->frames++;
  t->with_one_face += f->face_count == 1;
  for (int i = 0; i < f->face_count; i++) {
    int known = 0;
    for (int k = 0; k < t->n_ids; k++) known |= t->ids[k] == f->faces[i].track_id;
    if (!known && t->n_ids < 8) t->ids[t->n_ids++] = f->faces[i].track_id;
  }
  return 0;
}

static int run(emo_context *ctx, const unsigned char *data, size_t size, size_t cut, tally *t,
               int *rc) {
  server s = {-1, 0, data, size, cut};
  pthread_t th;
  if (start(&s, &th) != 0) return -1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/live.ts", s.port);
  memset(t, 0, sizeof *t);
  *rc = th_analyze_frames(ctx, url, count, t, NULL);
  pthread_join(th, NULL);
  close(s.listen_fd);
  return 0;
}

/* Re-encodes the video at src into an MPEG-TS file at dst; 0 on success. */
static int to_ts(const char *src, const char *dst) {
  emoi_err err = {{0}};
  vid_reader *r = NULL;
  vid_writer *w = NULL;
  if (vid_open(src, NULL, 1 << 26, 0, 0, 0, &r, &err) != EMO_OK) return -1;
  vid_info info;
  vid_get_info(r, &info);
  int rc =
      vidw_open(dst, NULL, NULL, info.width, info.height, info.fps > 0 ? info.fps : 30, &w, &err);
  vid_frame f;
  while (rc == EMO_OK && vid_read(r, &f, &err) == 1) rc = vidw_write(w, f.rgb, f.stride, f.t, &err);
  if (w && vidw_close(&w, &err) != EMO_OK) rc = -1;
  vid_close(&r);
  if (rc != EMO_OK) fprintf(stderr, "to_ts: %s\n", err.msg);
  return rc == EMO_OK ? 0 : -1;
}

int main(void) {
  if (!th_data("video")) th_skip("../shared/data is absent (set EMO_SHARED_DATA)");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  char ts[64];
  snprintf(ts, sizeof ts, "/tmp/emo_live_%d.ts", (int)getpid());
  CHECK(to_ts(th_data("video/single_face.mp4"), ts) == 0, "re-encode to MPEG-TS");
  size_t n = 0;
  unsigned char *v = th_read_file(ts, &n);
  remove(ts);
  if (!v) return th_finish("test_video_live");
  emo_model_params p = emo_model_params_default();
  p.voice = 0;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(&p, &model) == EMO_OK, "model load");
  CHECK(model && emo_context_create(model, NULL, &ctx) == EMO_OK, "context");
  if (!ctx) return th_finish("test_video_live");

  /* The file itself, for the frame count the stream must match. */
  tally file;
  memset(&file, 0, sizeof file);
  CHECK(th_analyze_frames(ctx, th_data("video/single_face.mp4"), count, &file, NULL) == EMO_OK,
        "file: %s", emo_context_last_error(ctx));

  tally t;
  int rc = 0;
  if (run(ctx, v, n, n, &t, &rc) != 0) {
    free(v);
    emo_context_destroy(&ctx);
    emo_model_destroy(&model);
    th_skip("cannot listen on 127.0.0.1 (no loopback network here)");
  }
  printf("http stream: rc %d, %d frames (file %d), %d with one face, %d ids\n", rc, t.frames,
         file.frames, t.with_one_face, t.n_ids);
  CHECK(rc == EMO_OK, "stream: %s (%s)", emo_status_str(rc), emo_context_last_error(ctx));
  CHECK(t.frames == file.frames && t.frames > 60, "stream gave %d frames, file %d", t.frames,
        file.frames);
  CHECK(t.with_one_face == t.frames && t.n_ids == 1, "one face on one track: %d/%d, %d ids",
        t.with_one_face, t.frames, t.n_ids);

  /* The server announces the whole length but hangs up after 60% of the bytes. */
  if (run(ctx, v, n, n * 6 / 10, &t, &rc) == 0) {
    printf("cut stream: rc %d (%s), %d frames\n", rc, emo_context_last_error(ctx), t.frames);
    CHECK(t.frames > 10 && t.frames < file.frames, "cut stream: %d frames of %d", t.frames,
          file.frames);
    CHECK(rc != EMO_OK && emo_context_last_error(ctx)[0], "cut stream must report an error");
  }
  free(v);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  return th_finish("test_video_live");
}
