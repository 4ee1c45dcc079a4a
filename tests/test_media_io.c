/* test_media_io.c: what media inputs may reach (media/media_io.h): refused protocols, nested
 * playlist opens kept to their own host or folder, network timeouts for video and audio
 * against stalling servers on 127.0.0.1 (threads of this test), standard input, the
 * writer's file-only output and its temporary that survives a killed run, damage at the end
 * of a cut raw H.264 stream, and FFmpeg's messages going to the reader's sink, never to
 * stderr. Only 127.0.0.1 is contacted; every loop is bounded in time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "harness.h"
#include "media/audio_decode.h"
#include "media/media_io.h"
#include "media/video_decode.h"
#include "media/video_encode.h"

#define BIG ((int64_t)100000000)
#define CORPUS EMO_SOURCE_DIR "/fuzz/corpus/"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  return fclose(f) == 0 && w == n ? 0 : -1;
}

/* ---- a tiny HTTP server on 127.0.0.1 ----------------------------------------------------- */

enum { SRV_SILENT, SRV_STALL, SRV_SERVE, SRV_REDIRECT /* 302 to the url in body */ };

typedef struct srv {
  int fd, port, mode;
  const unsigned char *body;
  size_t body_len, send_len; /* STALL: body_len announced, send_len sent */
  atomic_int stop, accepted;
  pthread_t th;
} srv;

static void send_all(int c, const void *p, size_t n) {
  const char *b = p;
  double t0 = now_s();
  while (n && now_s() - t0 < 5) {
    ssize_t k = send(c, b, n, MSG_NOSIGNAL);
    if (k <= 0) return;
    b += k;
    n -= (size_t)k;
  }
}

static void *srv_main(void *arg) {
  srv *s = arg;
  int kept[16], nk = 0;
  double t0 = now_s();
  while (!atomic_load(&s->stop) && now_s() - t0 < 60) {
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) continue;
    atomic_fetch_add(&s->accepted, 1);
    char req[4096];
    size_t n = 0;
    double t1 = now_s();
    while (n < sizeof req - 1 && now_s() - t1 < 2) {
      struct pollfd q = {c, POLLIN, 0};
      if (poll(&q, 1, 50) <= 0) continue;
      ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
      if (k <= 0) break;
      n += (size_t)k;
      req[n] = 0;
      if (strstr(req, "\r\n\r\n")) break;
    }
    char hdr[256];
    int hn = snprintf(hdr, sizeof hdr,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      s->body_len);
    if (s->mode == SRV_REDIRECT) {
      hn = snprintf(hdr, sizeof hdr,
                    "HTTP/1.1 302 Found\r\nLocation: %.*s\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n",
                    (int)s->body_len, (const char *)s->body);
      send_all(c, hdr, (size_t)hn);
      close(c);
      continue;
    }
    if (s->mode == SRV_SERVE) {
      send_all(c, hdr, (size_t)hn);
      send_all(c, s->body, s->body_len);
      close(c);
      continue;
    }
    if (s->mode == SRV_STALL) {
      send_all(c, hdr, (size_t)hn);
      send_all(c, s->body, s->send_len);
    }
    if (nk < 16)
      kept[nk++] = c; /* stays open, silent, until the test stops the server */
    else
      close(c);
  }
  for (int i = 0; i < nk; i++) close(kept[i]);
  return NULL;
}

static int srv_start(srv *s, int mode, const void *body, size_t body_len, size_t send_len) {
  memset(s, 0, sizeof *s);
  s->mode = mode;
  s->body = body;
  s->body_len = body_len;
  s->send_len = send_len;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->fd < 0) return -1;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
      getsockname(s->fd, (struct sockaddr *)&a, &al) != 0) {
    close(s->fd);
    return -1;
  }
  s->port = ntohs(a.sin_port);
  if (pthread_create(&s->th, NULL, srv_main, s) != 0) {
    close(s->fd);
    return -1;
  }
  return 0;
}

static void srv_stop(srv *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->th, NULL);
  close(s->fd);
}

/* ---- helpers -------------------------------------------------------------------------- */

/* Reads every frame of an open reader; returns the end status, *n the frame count. */
static int drain_video(vid_reader *r, int *n, emoi_err *e) {
  vid_frame f;
  int rc;
  *n = 0;
  while ((rc = vid_read(r, &f, e)) == 1) ++*n;
  return rc;
}

/* Opens url and reads it all: the status of whichever step failed (0 = clean end). */
static int read_video(const char *url, const media_io *io, int threaded, int *n, emoi_err *e) {
  vid_reader *r = NULL;
  *n = 0;
  int rc = vid_open(url, io, BIG, 0, threaded, 0, &r, e);
  if (rc != EMO_OK) return rc;
  rc = drain_video(r, n, e);
  vid_close(&r);
  return rc;
}

static int read_audio(const char *url, const media_io *io, long *n, emoi_err *e) {
  aud_reader *r = NULL;
  *n = 0;
  int rc = aud_open(url, io, &r, e);
  if (rc != EMO_OK) return rc;
  float buf[4096];
  while ((rc = aud_read(r, buf, 4096, e)) > 0) *n += rc;
  aud_close(&r);
  return rc;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_refused_protocols(void) {
  static const struct {
    const char *url, *scheme;
  } bad[] = {{"concat:/tmp/a.ts|/tmp/b.ts", "concat"},
             {"subfile,,start,0,end,100,,:/tmp/x.ts", "subfile"},
             {"gopher://127.0.0.1:1/x", "gopher"},
             {"tcp://127.0.0.1:1", "tcp"},
             {"ftp://127.0.0.1:1/x.mp4", "ftp"},
             {"data:video/mp4;base64,AAAA", "data"},
             {"hls+http://127.0.0.1:1/x.m3u8", "hls"},
             {"crypto:/tmp/x.ts", "crypto"},
             {"pipe:0", "pipe"}};
  emoi_err e = {{0}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int n;
    long na;
    char want[64];
    snprintf(want, sizeof want, "protocol '%s'", bad[i].scheme);
    int rc = read_video(bad[i].url, NULL, 0, &n, &e);
    CHECK(rc == EMO_EINVAL && strstr(e.msg, want) && strstr(e.msg, "protocols") &&
              strstr(e.msg, "--protocols LIST"),
          "video %s: %d %s", bad[i].url, rc, e.msg);
    rc = read_audio(bad[i].url, NULL, &na, &e);
    CHECK(rc == EMO_EINVAL && strstr(e.msg, want), "audio %s: %d %s", bad[i].url, rc, e.msg);
  }
  /* Allowed when asked for: gopher passes the policy and fails on the closed port. */
  media_io io = {0};
  io.protocols = "file,gopher";
  io.timeout_s = 2;
  int n;
  int rc = read_video("gopher://127.0.0.1:1/x", &io, 0, &n, &e);
  CHECK(rc == EMO_EIO, "gopher allowed by protocols: %d %s", rc, e.msg);
  io.protocols = "file";
  rc = read_video("http://127.0.0.1:1/x.mp4", &io, 0, &n, &e);
  CHECK(rc == EMO_EINVAL && strstr(e.msg, "'http'"), "http not in the list: %d %s", rc, e.msg);
  io.protocols = "file;rm";
  CHECK(read_video("/tmp/x.mp4", &io, 0, &n, &e) == EMO_EINVAL, "bad list: %s", e.msg);
}

static void test_local_playlist(void) {
  char dir[128], other[160], path[300];
  snprintf(dir, sizeof dir, "/tmp/emo_tmio_%d", (int)getpid());
  snprintf(other, sizeof other, "%s_other", dir);
  mkdir(dir, 0700);
  mkdir(other, 0700);
  size_t n = 0;
  unsigned char *ts = th_read_file(CORPUS "video/plain.ts", &n);
  CHECK(ts != NULL, "corpus plain.ts");
  if (!ts) return;
  snprintf(path, sizeof path, "%s/seg0.ts", dir);
  write_file(path, ts, n);
  snprintf(path, sizeof path, "%s/seg0.ts", other);
  write_file(path, ts, n);
  free(ts);
  const char *head =
      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n";
  char list[1024];
  snprintf(list, sizeof list, "%s#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n", head);
  snprintf(path, sizeof path, "%s/same.m3u8", dir);
  write_file(path, list, strlen(list));
  emoi_err e = {{0}};
  int frames;
  int rc = read_video(path, NULL, 0, &frames, &e);
  CHECK(rc == 0 && frames > 0, "local playlist, segment beside it: %d frames, rc %d %s", frames, rc,
        rc ? e.msg : "");
  /* A segment in another folder, as a file: url. */
  snprintf(list, sizeof list, "%s#EXTINF:2.0,\nfile:%s/seg0.ts\n#EXT-X-ENDLIST\n", head, other);
  snprintf(path, sizeof path, "%s/elsewhere.m3u8", dir);
  write_file(path, list, strlen(list));
  rc = read_video(path, NULL, 0, &frames, &e);
  CHECK(rc == EMO_EIO && strstr(e.msg, "refused") && frames == 0,
        "playlist naming another folder: %d frames, rc %d %s", frames, rc, e.msg);
  media_io io = {0};
  io.other_hosts = 1;
  rc = read_video(path, &io, 0, &frames, &e);
  CHECK(rc == 0 && frames > 0, "other_hosts = 1 lets it: %d frames, rc %d %s", frames, rc,
        rc ? e.msg : "");
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, other);
  CHECK(system(cmd) == 0, "cleanup");
}

static void test_http_playlist(void) {
  size_t n = 0;
  unsigned char *ts = th_read_file(CORPUS "video/plain.ts", &n);
  if (!ts) return;
  srv seg, pl;
  CHECK(srv_start(&seg, SRV_SERVE, ts, n, n) == 0, "segment server");
  char list[512];
  snprintf(list, sizeof list,
           "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n"
           "http://127.0.0.1:%d/seg0.ts\n#EXT-X-ENDLIST\n",
           seg.port);
  CHECK(srv_start(&pl, SRV_SERVE, list, strlen(list), 0) == 0, "playlist server");
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/live.m3u8", pl.port);
  media_io io = {0};
  io.timeout_s = 2;
  emoi_err e = {{0}};
  int frames;
  int rc = read_video(url, &io, 0, &frames, &e);
  CHECK(rc == EMO_EIO && strstr(e.msg, "refused") && frames == 0,
        "http playlist naming another port: %d frames, rc %d %s", frames, rc, e.msg);
  CHECK(atomic_load(&seg.accepted) == 0, "the other port was never contacted (%d connections)",
        atomic_load(&seg.accepted));
  CHECK(atomic_load(&pl.accepted) >= 1, "the playlist was fetched");
  srv_stop(&pl);
  /* a file: url inside an http playlist */
  snprintf(list, sizeof list,
           "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n"
           "file:%s\n#EXT-X-ENDLIST\n",
           CORPUS "video/plain.ts");
  CHECK(srv_start(&pl, SRV_SERVE, list, strlen(list), 0) == 0, "playlist server");
  snprintf(url, sizeof url, "http://127.0.0.1:%d/live.m3u8", pl.port);
  rc = read_video(url, &io, 0, &frames, &e);
  CHECK(rc == EMO_EIO && strstr(e.msg, "refused") && frames == 0,
        "http playlist naming a local file: %d frames, rc %d %s", frames, rc, e.msg);
  srv_stop(&pl);
  srv_stop(&seg);
  free(ts);
}

/* An HTTP redirect to another host:port is followed inside FFmpeg's http protocol, below the
 * nested-open check: the data that comes back is refused unless other_hosts allows it. */
static void test_http_redirect(void) {
  size_t n = 0;
  unsigned char *ts = th_read_file(CORPUS "video/plain.ts", &n);
  if (!ts) return;
  srv seg, rd;
  CHECK(srv_start(&seg, SRV_SERVE, ts, n, n) == 0, "segment server");
  char to[128], url[128];
  snprintf(to, sizeof to, "http://127.0.0.1:%d/clip.ts", seg.port);
  CHECK(srv_start(&rd, SRV_REDIRECT, to, strlen(to), 0) == 0, "redirecting server");
  snprintf(url, sizeof url, "http://127.0.0.1:%d/clip.ts", rd.port);
  media_io io = {0};
  io.timeout_s = 2;
  emoi_err e = {{0}};
  int frames;
  int rc = read_video(url, &io, 0, &frames, &e);
  CHECK(rc == EMO_EIO && strstr(e.msg, "redirected") && frames == 0,
        "redirect to another port: %d frames, rc %d %s", frames, rc, e.msg);
  io.other_hosts = 1;
  rc = read_video(url, &io, 0, &frames, &e);
  CHECK(rc == 0 && frames > 0, "other_hosts = 1 follows it: %d frames, rc %d %s", frames, rc,
        e.msg);
  srv_stop(&rd);
  srv_stop(&seg);
  free(ts);
}

/* 16 kHz mono s16 WAV of secs seconds (a tone), malloc'd. */
static unsigned char *make_wav(int secs, size_t *size) {
  int ns = 16000 * secs;
  *size = 44 + (size_t)ns * 2;
  unsigned char *b = calloc(1, *size);
  if (!b) return NULL;
  uint32_t v;
  memcpy(b, "RIFF", 4);
  v = (uint32_t)(*size - 8);
  memcpy(b + 4, &v, 4);
  memcpy(b + 8, "WAVEfmt ", 8);
  v = 16;
  memcpy(b + 16, &v, 4);
  uint16_t h[2] = {1, 1};
  memcpy(b + 20, h, 4);
  v = 16000;
  memcpy(b + 24, &v, 4);
  v = 32000;
  memcpy(b + 28, &v, 4);
  h[0] = 2;
  h[1] = 16;
  memcpy(b + 32, h, 4);
  memcpy(b + 36, "data", 4);
  v = (uint32_t)ns * 2;
  memcpy(b + 40, &v, 4);
  for (int i = 0; i < ns; i++) {
    int16_t s = (int16_t)(8000 * ((i / 20) % 2 ? 1 : -1));
    memcpy(b + 44 + 2 * i, &s, 2);
  }
  return b;
}

static void test_timeouts(void) {
  size_t nts = 0, nwav = 0;
  unsigned char *ts = th_read_file(CORPUS "video/plain.ts", &nts);
  unsigned char *wav = make_wav(10, &nwav);
  if (!ts || !wav) {
    CHECK(0, "inputs");
    free(ts);
    free(wav);
    return;
  }
  media_io io = {0};
  io.timeout_s = 1;
  static const struct {
    int mode, audio, threaded;
    const char *what;
  } cases[] = {{SRV_SILENT, 0, 0, "video, server never answers"},
               {SRV_STALL, 0, 1, "video, headers then stall (threaded)"},
               {SRV_STALL, 0, 0, "video, headers then stall"},
               {SRV_SILENT, 1, 0, "audio, server never answers"},
               {SRV_STALL, 1, 0, "audio, headers then stall mid-body"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    srv s;
    const unsigned char *body = cases[i].audio ? wav : ts;
    size_t len = cases[i].audio ? nwav : nts;
    if (srv_start(&s, cases[i].mode, body, len, cases[i].audio ? len / 3 : len / 2) != 0) {
      CHECK(0, "server for %s", cases[i].what);
      continue;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/clip.%s", s.port, cases[i].audio ? "wav" : "ts");
    emoi_err e = {{0}};
    double t0 = now_s();
    int rc, frames = 0;
    long samples = 0;
    if (cases[i].audio)
      rc = read_audio(url, &io, &samples, &e);
    else
      rc = read_video(url, &io, cases[i].threaded, &frames, &e);
    double dt = now_s() - t0;
    printf("%s: rc %d after %.2f s, %d frames, %ld samples: %s\n", cases[i].what, rc, dt, frames,
           samples, e.msg);
    CHECK(rc == EMO_EIO && strstr(e.msg, "timed out"), "%s: %d %s", cases[i].what, rc, e.msg);
    /* not a timing assertion: only that it did not hang (the old audio reader never returned) */
    CHECK(dt < 30, "%s: returned", cases[i].what);
    if (cases[i].audio && cases[i].mode == SRV_STALL)
      CHECK(samples > 0, "audio stall: the samples before the stall came first (%ld)", samples);
    srv_stop(&s);
  }
  free(ts);
  free(wav);
}

static void test_stdin(void) {
  int fd = open(CORPUS "video/plain.ts", O_RDONLY);
  int saved = dup(0);
  if (fd < 0 || saved < 0) {
    CHECK(0, "open corpus / dup stdin");
    return;
  }
  dup2(fd, 0);
  close(fd);
  emoi_err e = {{0}};
  int frames;
  int rc = read_video("-", NULL, 0, &frames, &e);
  dup2(saved, 0);
  close(saved);
  CHECK(rc == 0 && frames > 0, "video from stdin: %d frames rc %d %s", frames, rc, rc ? e.msg : "");
  fd = open(CORPUS "audio/s16.wav", O_RDONLY);
  saved = dup(0);
  dup2(fd, 0);
  close(fd);
  long samples;
  rc = read_audio("-", NULL, &samples, &e);
  dup2(saved, 0);
  close(saved);
  CHECK(rc == 0 && samples > 0, "audio from stdin: %ld samples rc %d %s", samples, rc,
        rc ? e.msg : "");
}

static void synth(uint8_t *rgb, int w, int h, int i) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = rgb + ((size_t)y * w + x) * 3;
      p[0] = (uint8_t)(x * 2 + i);
      p[1] = (uint8_t)(y * 3);
      p[2] = (uint8_t)(128 + i);
    }
}

static void test_writer(void) {
  emoi_err e = {{0}};
  vid_writer *w = NULL;
  static const char *bad[] = {"tcp://127.0.0.1:1", "http://127.0.0.1:1/x.mp4", "-", "pipe:1",
                              "concat:/tmp/a.mp4"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = vidw_open(bad[i], NULL, NULL, 64, 48, 15, &w, &e);
    CHECK(rc == EMO_EINVAL && w == NULL && strstr(e.msg, "file path"), "output %s: %d %s", bad[i],
          rc, e.msg);
  }
  char out[256];
  snprintf(out, sizeof out, "/tmp/emo_tmio_%d_out.mp4", (int)getpid());
  /* the output may not be the audio source itself */
  size_t n = 0;
  unsigned char *mp4 = th_read_file(CORPUS "video/av.mp4", &n);
  if (mp4) write_file(out, mp4, n);
  free(mp4);
  int rc = vidw_open(out, out, NULL, 64, 48, 15, &w, &e);
  CHECK(rc == EMO_EINVAL && strstr(e.msg, "input file itself"), "same file: %d %s", rc, e.msg);
  unlink(out);

  /* A killed run: frames written, never closed; the temporary plays up to its last
   * fragment, out_path does not exist yet. */
  enum { W = 96, H = 64, N = 90 };
  uint8_t *rgb = malloc((size_t)W * H * 3);
  rc = vidw_open(out, NULL, NULL, W, H, 15, &w, &e);
  CHECK(rc == EMO_OK, "open writer: %s", e.msg);
  if (rc != EMO_OK) {
    free(rgb);
    return;
  }
  for (int i = 0; i < N; i++) {
    synth(rgb, W, H, i);
    CHECK(vidw_write(w, rgb, W * 3, i / 15.0, &e) == EMO_OK, "write %d: %s", i, e.msg);
  }
  char part[512];
  snprintf(part, sizeof part, "%s", vidw_part_path(w));
  struct stat st;
  CHECK(strstr(part, "/tmp/.emo_tmio_") && strstr(part, ".part"), "temporary name %s", part);
  CHECK(stat(out, &st) != 0, "out_path does not exist before close");
  int frames = 0;
  vid_reader *r = NULL;
  rc = vid_open(part, NULL, BIG, 0, 0, 0, &r, &e);
  CHECK(rc == EMO_OK, "the killed run's file opens: %s", e.msg);
  if (rc == EMO_OK) {
    rc = drain_video(r, &frames, &e);
    vid_close(&r);
  }
  printf("killed writer after %d frames: %d frames play back (rc %d)\n", N, frames, rc);
  CHECK(frames >= 30 && frames < N && rc >= EMO_EFORMAT, "frames of a killed run: %d rc %d %s",
        frames, rc, e.msg);
  vidw_abort(&w);
  CHECK(w == NULL && stat(part, &st) != 0 && stat(out, &st) != 0,
        "vidw_abort removes the temporary and leaves no output");
  /* and a closed one lands on out_path, temporary gone */
  rc = vidw_open(out, NULL, NULL, W, H, 15, &w, &e);
  for (int i = 0; rc == EMO_OK && i < 10; i++) {
    synth(rgb, W, H, i);
    vidw_write(w, rgb, W * 3, i / 15.0, &e);
  }
  snprintf(part, sizeof part, "%s", w ? vidw_part_path(w) : "");
  CHECK(vidw_close(&w, &e) == EMO_OK, "close: %s", e.msg);
  CHECK(stat(part, &st) != 0 && stat(out, &st) == 0 && (st.st_mode & 0777) != 0600,
        "renamed onto out_path with the usual permissions (%o)", (unsigned)st.st_mode & 0777);
  rc = read_video(out, NULL, 0, &frames, &e);
  CHECK(rc == 0 && frames == 10, "closed file: %d frames rc %d %s", frames, rc, e.msg);
  unlink(out);
  free(rgb);
}

/* Remuxes src's video stream into a raw Annex B H.264 file (the h264 muxer inserts
 * h264_mp4toannexb itself). Returns 0 or -1. */
static int make_raw_h264(const char *src, const char *dst) {
  AVFormatContext *in = NULL, *out = NULL;
  AVPacket *pkt = av_packet_alloc();
  int ok = -1;
  if (!pkt || avformat_open_input(&in, src, NULL, NULL) < 0) goto done;
  if (avformat_find_stream_info(in, NULL) < 0) goto done;
  int vi = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (vi < 0 || avformat_alloc_output_context2(&out, NULL, "h264", dst) < 0) goto done;
  AVStream *os = avformat_new_stream(out, NULL);
  if (!os || avcodec_parameters_copy(os->codecpar, in->streams[vi]->codecpar) < 0) goto done;
  os->codecpar->codec_tag = 0;
  os->time_base = in->streams[vi]->time_base;
  if (avio_open(&out->pb, dst, AVIO_FLAG_WRITE) < 0 || avformat_write_header(out, NULL) < 0)
    goto done;
  while (av_read_frame(in, pkt) >= 0) {
    if (pkt->stream_index == vi) {
      pkt->stream_index = 0;
      av_packet_rescale_ts(pkt, in->streams[vi]->time_base, os->time_base);
      if (av_interleaved_write_frame(out, pkt) < 0) goto done;
    }
    av_packet_unref(pkt);
  }
  ok = av_write_trailer(out) < 0 ? -1 : 0;
done:
  if (out) {
    avio_closep(&out->pb);
    avformat_free_context(out);
  }
  avformat_close_input(&in);
  av_packet_free(&pkt);
  return ok;
}

static void test_truncated_raw(void) {
  const char *src = th_data("video/single_face.mp4");
  if (!src) {
    printf("no ../shared/data: cut raw H.264 case skipped\n");
    return;
  }
  char raw[256], cut[256];
  snprintf(raw, sizeof raw, "/tmp/emo_tmio_%d.h264", (int)getpid());
  snprintf(cut, sizeof cut, "/tmp/emo_tmio_%d_cut.h264", (int)getpid());
  CHECK(make_raw_h264(src, raw) == 0, "raw H.264 from %s", src);
  size_t n = 0;
  unsigned char *b = th_read_file(raw, &n);
  if (!b) return;
  emoi_err e = {{0}};
  int frames;
  int rc = read_video(raw, NULL, 0, &frames, &e);
  CHECK(rc == 0 && frames == 72, "whole raw stream: %d frames rc %d %s", frames, rc, e.msg);
  static const double cuts[] = {0.6, 0.33};
  for (int k = 0; k < 2; k++) {
    write_file(cut, b, (size_t)(n * cuts[k]));
    for (int threaded = 0; threaded < 2; threaded++) {
      rc = read_video(cut, NULL, threaded, &frames, &e);
      CHECK(rc == EMO_EFORMAT && frames > 0 && frames < 72,
            "raw stream cut at %.0f%% (threaded %d): %d frames, rc %d %s", cuts[k] * 100, threaded,
            frames, rc, e.msg);
    }
  }
  /* only the parameter sets and the start of the first frame */
  write_file(cut, b, 200 < n ? 200 : n);
  rc = read_video(cut, NULL, 0, &frames, &e);
  CHECK(rc == EMO_EFORMAT && frames == 0, "header-only raw stream: %d frames rc %d %s", frames, rc,
        e.msg);
  free(b);
  unlink(raw);
  unlink(cut);
}

typedef struct sink {
  int n, n_warn;
  char first[256];
} sink;

static void sink_fn(int level, const char *msg, void *user) {
  sink *s = user;
  if (!s->n) snprintf(s->first, sizeof s->first, "%s", msg);
  s->n++;
  if (level <= EMO_LOG_WARN) s->n_warn++;
}

static void test_log_routing(void) {
  size_t n = 0;
  unsigned char *b = th_read_file(CORPUS "video/plain.mp4", &n);
  if (!b) return;
  for (size_t i = n / 2; i < n / 2 + 300 && i < n; i++) b[i] ^= 0x5a; /* damage */
  char bad[256], errf[256];
  snprintf(bad, sizeof bad, "/tmp/emo_tmio_%d_bad.mp4", (int)getpid());
  snprintf(errf, sizeof errf, "/tmp/emo_tmio_%d_stderr.txt", (int)getpid());
  write_file(bad, b, n);
  free(b);
  fflush(stderr);
  int saved = dup(2), fd = open(errf, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  if (saved < 0 || fd < 0) {
    CHECK(0, "capture stderr");
    return;
  }
  dup2(fd, 2);
  close(fd);
  sink s = {0};
  media_io io = {0};
  io.log.fn = sink_fn;
  io.log.user = &s;
  io.log.level = EMO_LOG_DEBUG;
  emoi_err e1 = {{0}}, e2 = {{0}}, e3 = {{0}};
  int f1, f2, f3;
  int rc1 = read_video(bad, &io, 0, &f1, &e1);  /* with a sink */
  int rc2 = read_video(bad, NULL, 1, &f2, &e2); /* without: dropped, not printed */
  int rc3 = read_video("/nonexistent/emo.mp4", NULL, 0, &f3, &e3);
  size_t before = 0;
  unsigned char *cap = th_read_file(errf, &before);
  free(cap);
  /* the application's own FFmpeg logging (no emo call on this thread) still prints */
  av_log(NULL, AV_LOG_ERROR, "emo-test host message\n");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  size_t after = 0;
  cap = th_read_file(errf, &after);
  printf("damaged file: rc %d, %d frames, %d FFmpeg messages (%d at warn), first: %s\n", rc1, f1,
         s.n, s.n_warn, s.first);
  CHECK(rc1 == EMO_EFORMAT && rc2 == EMO_EFORMAT, "damaged file reported: %d %s / %d %s", rc1,
        e1.msg, rc2, e2.msg);
  CHECK(rc3 == EMO_EIO, "missing file: %d %s", rc3, e3.msg);
  CHECK(s.n > 0, "the sink received FFmpeg's messages about the damaged file");
  CHECK(before == 0, "nothing printed to stderr by the library (%zu bytes: %.200s)", before,
        cap ? (const char *)cap : "");
  CHECK(cap && after > before && strstr((const char *)cap, "emo-test host message"),
        "the host application's av_log still reaches stderr");
  free(cap);
  unlink(errf);
  unlink(bad);
}

int main(void) {
  test_refused_protocols();
  test_local_playlist();
  test_http_playlist();
  test_http_redirect();
  test_timeouts();
  test_stdin();
  test_writer();
  test_truncated_raw();
  test_log_routing();
  return th_finish("test_media_io");
}
