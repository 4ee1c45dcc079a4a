/* test_video.c: the video timeline end to end.
 *  - Real videos from ../shared/data/video: no_face.mp4 (no face on any frame, one no_face
 *    span covering the whole video), single_face.mp4 (one track id on every frame),
 *    face_noface.mov (a face until the cut at about 2.35 s, seen by eye in the frames, then
 *    a no_face span to the end).
 *  - Synthetic scenes built here from two photos of different people (faces/identities)
 *    pasted on a textured background and moved along known paths, pushed through the
 *    streaming API: the two paths cross (ids must not switch; boxes follow the paths), and
 *    one person leaves for 2 s and returns (the old id must come back through the face
 *    embedding, although the track timed out).
 *  - The CLI on a real video: valid JSON Lines with frames, the event and a summary; --csv.
 *  - The CLI on a real clip with several faces, with one thread and with two: the same output
 *    byte for byte (the work spread over the workers, face embeddings and the flow of each
 *    box, changes no number), on a clip where flow moves two or more boxes on many frames.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "media/image_decode.h"
#include "media/video_decode.h"

typedef struct stats {
  int frames, max_faces, min_faces, no_face_events;
  int ids[64], n_ids;
  double span_start[8], span_end[8];
  int last_frame_seen;
} stats;

static int collect(const emo_frame_result *f, void *user) {
  stats *s = user;
  if (f->frame >= 0) {
    s->frames++;
    if (f->face_count > s->max_faces) s->max_faces = f->face_count;
    if (f->face_count < s->min_faces) s->min_faces = f->face_count;
    for (int i = 0; i < f->face_count; i++) {
      int id = f->faces[i].track_id, known = 0;
      for (int k = 0; k < s->n_ids; k++) known |= s->ids[k] == id;
      if (!known && s->n_ids < 64) s->ids[s->n_ids++] = id;
    }
  }
  for (int i = 0; i < f->event_count; i++)
    if (f->events[i].type == EMO_EVENT_NO_FACE && s->no_face_events < 8) {
      s->span_start[s->no_face_events] = f->events[i].start;
      s->span_end[s->no_face_events] = f->events[i].end;
      s->no_face_events++;
    }
  return 0;
}

static const emo_video_summary *run_video(emo_context *ctx, const char *rel, stats *s) {
  memset(s, 0, sizeof *s);
  s->min_faces = 1000;
  const emo_video_summary *sum = NULL;
  int rc = th_analyze_frames(ctx, th_data(rel), collect, s, &sum);
  CHECK(rc == EMO_OK, "%s: %s (%s)", rel, emo_status_str(rc), emo_context_last_error(ctx));
  printf("%s: %d frames, faces %d..%d, ids %d, no_face spans %d\n", rel, s->frames, s->min_faces,
         s->max_faces, s->n_ids, s->no_face_events);
  return rc == EMO_OK ? sum : NULL;
}

static void real_videos(emo_context *ctx) {
  stats s;
  const emo_video_summary *sum = run_video(ctx, "video/no_face.mp4", &s);
  if (sum) {
    CHECK(s.frames > 80 && s.max_faces == 0, "no_face: %d frames, max %d faces", s.frames,
          s.max_faces);
    CHECK(
        s.no_face_events == 1 && fabs(s.span_start[0]) < 0.05 && fabs(s.span_end[0] - 3.96) < 0.15,
        "no_face span: %d events, [%.3f, %.3f], want one [0, ~3.96]", s.no_face_events,
        s.span_start[0], s.span_end[0]);
    CHECK(sum->frames_no_face == sum->frames_analysed && sum->track_count == 0, "no_face summary");
  }
  sum = run_video(ctx, "video/single_face.mp4", &s);
  if (sum) {
    CHECK(s.frames >= 60 && s.min_faces == 1 && s.max_faces == 1,
          "single_face: faces %d..%d over %d frames", s.min_faces, s.max_faces, s.frames);
    CHECK(s.n_ids == 1 && sum->track_count == 1, "single_face: %d ids, %d tracks", s.n_ids,
          sum->track_count);
    CHECK(s.no_face_events == 0, "single_face: %d no_face events", s.no_face_events);
    if (sum->track_count == 1)
      CHECK(sum->tracks[0].frames == s.frames && sum->tracks[0].dominant >= 0,
            "single_face track: %lld frames", (long long)sum->tracks[0].frames);
  }
  sum = run_video(ctx, "video/face_noface.mov", &s);
  if (sum) {
    CHECK(s.n_ids == 1, "face_noface: %d ids", s.n_ids);
    CHECK(s.no_face_events == 1, "face_noface: %d no_face spans", s.no_face_events);
    /* The cut is between 2.333 s (last frame with the face) and 2.367 s (black frame);
     * tolerance 0.15 s for the detection schedule. */
    if (s.no_face_events == 1)
      CHECK(fabs(s.span_start[0] - 2.35) < 0.15 && fabs(s.span_end[0] - 6.36) < 0.15,
            "face_noface span [%.3f, %.3f], want [~2.35, ~6.36]", s.span_start[0], s.span_end[0]);
    if (sum->track_count == 1)
      CHECK(sum->tracks[0].first_t < 0.05 && fabs(sum->tracks[0].last_t - 2.35) < 0.15,
            "face_noface track %.3f..%.3f", sum->tracks[0].first_t, sum->tracks[0].last_t);
  }
}

/* ---- Synthetic scenes ------------------------------------------------------------------ */

#define W 640
#define H 360
#define PATCH 150

typedef struct patch {
  uint8_t px[PATCH * PATCH * 3];
  float face_dx, face_dy; /* face box centre relative to the patch centre */
} patch;

/* Cuts a PATCH x PATCH square around the face of a photo (bilinear resize). */
static int make_patch(emo_context *ctx, const char *rel, patch *p) {
  size_t n = 0;
  unsigned char *data = NULL;
  emoi_err err = {{0}};
  img_rgb img = {0};
  if (img_read_file(th_data(rel), 1 << 26, &data, &n, &err) != EMO_OK) return -1;
  int rc = img_decode(data, n, 1 << 26, &img, &err);
  free(data);
  if (rc != EMO_OK) return -1;
  const emo_image_result *r = NULL;
  rc = emo_analyze_rgb(ctx, NULL, img.data, img.width, img.height, img.width * 3, &r);
  if (rc != EMO_OK || r->face_count < 1) {
    img_rgb_free(&img);
    return -1;
  }
  const float *b = r->faces[0].box;
  float side = 1.7f * (b[2] > b[3] ? b[2] : b[3]);
  float cx = b[0] + 0.5f * b[2], cy = b[1] + 0.5f * b[3] - 0.1f * side;
  for (int y = 0; y < PATCH; y++)
    for (int x = 0; x < PATCH; x++) {
      float sx = cx + ((float)x + 0.5f - PATCH / 2.0f) * side / PATCH;
      float sy = cy + ((float)y + 0.5f - PATCH / 2.0f) * side / PATCH;
      int ix = (int)sx, iy = (int)sy;
      if (ix < 0) ix = 0;
      if (iy < 0) iy = 0;
      if (ix >= img.width) ix = img.width - 1;
      if (iy >= img.height) iy = img.height - 1;
      memcpy(p->px + (y * PATCH + x) * 3, img.data + ((size_t)iy * img.width + ix) * 3, 3);
    }
  p->face_dx = 0.0f;
  p->face_dy = 0.1f * PATCH; /* the crop centre was raised by 0.1 side above the face */
  img_rgb_free(&img);
  return 0;
}

static void background(uint8_t *frame) {
  unsigned st = 12345;
  for (int i = 0; i < W * H; i++) {
    int x = i % W, y = i / W;
    int v = 90 + (int)(40 * sin(x * 0.05) * cos(y * 0.07)) + (int)th_randf(&st, 0, 20);
    frame[3 * i] = (uint8_t)v;
    frame[3 * i + 1] = (uint8_t)(v + 10);
    frame[3 * i + 2] = (uint8_t)(v + 20);
  }
}

static void paste(uint8_t *frame, const patch *p, float cx, float cy) {
  int x0 = (int)lrintf(cx - PATCH / 2.0f), y0 = (int)lrintf(cy - PATCH / 2.0f);
  for (int y = 0; y < PATCH; y++)
    for (int x = 0; x < PATCH; x++) {
      int fx = x0 + x, fy = y0 + y;
      if (fx < 0 || fy < 0 || fx >= W || fy >= H) continue;
      memcpy(frame + ((size_t)fy * W + fx) * 3, p->px + (y * PATCH + x) * 3, 3);
    }
}

/* Path of person k at time t (patch centre). */
static void path(int scene, int k, double t, float *x, float *y, int *visible) {
  double u = t / 4.0; /* 4 s scenes */
  *visible = 1;
  if (k == 0) {
    *x = (float)(110 + 420 * u);
    *y = 150;
  } else {
    *x = (float)(530 - 420 * u);
    *y = 215;
  }
  if (scene == 2) { /* a hard cut at 2 s: person 0 in the first shot, person 1 in the second,
                       at the same place */
    *x = 320;
    *y = 180;
    *visible = k == 0 ? t < 2.0 : t >= 2.0;
    return;
  }
  if (scene == 1) { /* person 0 stands still, leaves from 1.0 s to 3.0 s */
    if (k == 0) {
      *x = 140;
      *visible = !(t >= 1.0 && t < 3.0);
    } else {
      *x = 480;
    }
  }
}

static void synthetic(emo_context *ctx, const patch pt[2]) {
  uint8_t *frame = malloc((size_t)W * H * 3), *bg = malloc((size_t)W * H * 3);
  if (!frame || !bg) return;
  background(bg);
  for (int scene = 0; scene < 3; scene++) {
    CHECK(emo_stream_begin(ctx, NULL) == EMO_OK, "stream begin");
    int id_of[2] = {0, 0}, switches = 0, misses = 0, frames = 0;
    float worst = 0;
    for (int f = 0; f < 120; f++) {
      double t = f / 30.0;
      memcpy(frame, bg, (size_t)W * H * 3);
      if (scene == 2 && t >= 2.0) /* the second shot has another background */
        for (size_t i = 0; i < (size_t)W * H * 3; i++) frame[i] = (uint8_t)(255 - frame[i]);
      float px[2], py[2];
      int vis[2];
      for (int k = 0; k < 2; k++) {
        path(scene, k, t, &px[k], &py[k], &vis[k]);
        if (vis[k]) paste(frame, &pt[k], px[k], py[k]);
      }
      if (f == 0 && getenv("EMO_TEST_DUMP")) { /* for looking at the scene by eye */
        char name[64];
        snprintf(name, sizeof name, "/tmp/emo-scene%d.ppm", scene);
        FILE *pf = fopen(name, "wb");
        if (pf) {
          fprintf(pf, "P6\n%d %d\n255\n", W, H);
          fwrite(frame, 1, (size_t)W * H * 3, pf);
          fclose(pf);
        }
      }
      const emo_frame_result *r = NULL;
      int rc = emo_stream_push(ctx, frame, W, H, W * 3, t, &r);
      CHECK(rc == EMO_OK, "push: %s", emo_context_last_error(ctx));
      if (rc != EMO_OK) break;
      frames++;
      /* Match each visible person to the nearest reported face. Person 0 is drawn first, so
       * while the patches overlap person 1 hides part of their face: not counted. */
      int occluded =
          vis[0] && vis[1] && fabsf(px[0] - px[1]) < PATCH && fabsf(py[0] - py[1]) < PATCH;
      for (int k = 0; k < 2; k++) {
        if (!vis[k] || (k == 0 && occluded)) continue;
        float ex = px[k] + pt[k].face_dx, ey = py[k] + pt[k].face_dy;
        int best = -1;
        float bd = 1e9f;
        for (int i = 0; i < r->face_count; i++) {
          const float *b = r->faces[i].box;
          float d = hypotf(b[0] + 0.5f * b[2] - ex, b[1] + 0.5f * b[3] - ey);
          if (d < bd) bd = d, best = i;
        }
        if (best < 0 || bd > 0.35f * PATCH) {
          if (misses++ < 40)
            printf(
                "  scene %d t=%.3f: person %d at (%.0f,%.0f) not reported (%d faces, detector "
                "%d)\n",
                scene, t, k, ex, ey, r->face_count, r->detector_ran);
          continue;
        }
        if (bd > worst) worst = bd;
        int id = r->faces[best].track_id;
        if (id_of[k] == 0)
          id_of[k] = id;
        else if (id_of[k] != id)
          switches++;
      }
    }
    printf("scene %d: %d frames, ids %d/%d, switches %d, misses %d, worst centre error %.1f px\n",
           scene, frames, id_of[0], id_of[1], switches, misses, worst);
    CHECK(id_of[0] > 0 && id_of[1] > 0 && id_of[0] != id_of[1], "scene %d: ids %d/%d", scene,
          id_of[0], id_of[1]);
    CHECK(switches == 0, "scene %d: %d id switches", scene, switches);
    CHECK(misses <= 3, "scene %d: %d missed faces (in frames where the face is in full view)",
          scene, misses);
    const emo_video_summary *sum = NULL;
    CHECK(emo_stream_end(ctx, NULL, &sum) == EMO_OK, "stream end");
    if (sum)
      CHECK(sum->track_count == 2, "scene %d: %d tracks (want 2: %s)", scene, sum->track_count,
            scene == 2 ? "a new person after the cut, not the old id"
                       : "the returning person "
                         "keeps the old id");
  }
  free(frame);
  free(bg);
}

static void cli_video(void) {
  const char *in = th_data("video/single_face.mp4");
  char out[256], csv[256], ann[256], cmd[2048];
  snprintf(out, sizeof out, "/tmp/emo-test-video-%d.jsonl", (int)getpid());
  snprintf(csv, sizeof csv, "/tmp/emo-test-video-%d.csv", (int)getpid());
  snprintf(ann, sizeof ann, "/tmp/emo-test-video-%d.mp4", (int)getpid());
  snprintf(cmd, sizeof cmd, "'%s/emo' video -q -o '%s' --csv '%s' --annotate '%s' '%s'",
           EMO_BINARY_DIR, out, csv, ann, in);
  CHECK(system(cmd) == 0, "CLI video failed: %s", cmd);
  /* The annotated video: every frame, the same size, the audio copied, boxes drawn. */
  vid_reader *vr = NULL;
  emoi_err err = {{0}};
  CHECK(vid_open(ann, NULL, 1 << 24, 0.0, 0, 0, &vr, &err) == EMO_OK, "annotated video: %s",
        err.msg);
  if (vr) {
    vid_info info;
    vid_get_info(vr, &info);
    vid_frame vf;
    int frames = 0;
    while (vid_read(vr, &vf, &err) == 1) frames++;
    printf("annotated video: %dx%d, %d frames, audio %d\n", info.width, info.height, frames,
           info.has_audio);
    CHECK(info.width == 640 && info.height == 360 && frames == 72 && info.has_audio,
          "annotated video %dx%d, %d frames, audio %d", info.width, info.height, frames,
          info.has_audio);
    vid_close(&vr);
  }
  remove(ann);
  size_t n = 0;
  char *text = (char *)th_read_file(out, &n);
  CHECK(text != NULL, "no output");
  if (text) {
    text[n] = 0;
    int frames = 0, lines = 0;
    for (char *p = text; (p = strstr(p, "\"type\":\"frame\"")); p++) frames++;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    CHECK(frames >= 60 && strstr(text, "\"type\":\"summary\"") &&
              strstr(text, "\"event\":\"track_start\"") && strstr(text, "\"event\":\"track_end\""),
          "CLI output: %d frames", frames);
    CHECK(lines >= frames + 3, "%d lines", lines);
    free(text);
  }
  char *c = (char *)th_read_file(csv, &n);
  CHECK(c != NULL && n > 0, "no CSV");
  if (c) {
    c[n] = 0;
    int rows = 0;
    for (size_t i = 0; i < n; i++) rows += c[i] == '\n';
    CHECK(strncmp(c, "t,frame,track_id", 16) == 0 && rows >= 61, "CSV: %d rows", rows);
    free(c);
  }
  remove(out);
  remove(csv);
}

/* A video with garbage in the middle: every decodable frame analysed, the damage reported,
 * exit status 1, and the JSON Lines valid up to the end (including the summary). */
static void cli_damaged(void) {
  size_t n = 0;
  unsigned char *v = th_read_file(th_data("video/single_face.mp4"), &n);
  CHECK(v != NULL && n > 20000, "read single_face.mp4");
  if (!v) return;
  unsigned st = 7;
  for (size_t i = n / 2; i < n / 2 + 3000; i++) v[i] = (unsigned char)th_randf(&st, 0, 255);
  char in[256], out[256], cmd[1024];
  snprintf(in, sizeof in, "/tmp/emo-test-damaged-%d.mp4", (int)getpid());
  snprintf(out, sizeof out, "/tmp/emo-test-damaged-%d.jsonl", (int)getpid());
  FILE *f = fopen(in, "wb");
  if (f) {
    fwrite(v, 1, n, f);
    fclose(f);
  }
  free(v);
  snprintf(cmd, sizeof cmd, "'%s/emo' video -q -o '%s' '%s' 2>/dev/null", EMO_BINARY_DIR, out, in);
  int rc = system(cmd);
  CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "damaged video: exit status %d, want 1",
        WEXITSTATUS(rc));
  char *text = (char *)th_read_file(out, &n);
  CHECK(text != NULL, "damaged video: no output");
  if (text) {
    text[n] = 0;
    int frames = 0, bad = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
      size_t l = strlen(line);
      if (l < 2 || line[0] != '{' || line[l - 1] != '}') bad++;
      if (strstr(line, "\"type\":\"frame\"")) frames++;
    }
    printf("damaged video: %d frames analysed, %d malformed lines\n", frames, bad);
    CHECK(bad == 0 && frames >= 40, "damaged video: %d frames, %d malformed lines", frames, bad);
    free(text);
  }
  remove(in);
  remove(out);
}

/* Runs `emo video` on in with the given extra arguments into out; 1 on success. */
static int run_cli(const char *in, const char *args, const char *out) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s/emo' video -q --no-voice %s -o '%s' '%s'", EMO_BINARY_DIR, args,
           out, in);
  int rc = system(cmd);
  CHECK(rc == 0, "CLI video failed (%d): %s", rc, cmd);
  return rc == 0;
}

static void cli_threads(void) {
  const char *in = th_data("av/scenes/drama_two_shot.mp4");
  if (!in) {
    printf("threads: av/scenes/drama_two_shot.mp4 is absent, skipped\n");
    return;
  }
  char out1[256], out2[256];
  snprintf(out1, sizeof out1, "/tmp/emo-test-threads1-%d.jsonl", (int)getpid());
  snprintf(out2, sizeof out2, "/tmp/emo-test-threads2-%d.jsonl", (int)getpid());
  if (run_cli(in, "--threads 1", out1) && run_cli(in, "--threads 2", out2)) {
    size_t n1 = 0, n2 = 0;
    char *a = (char *)th_read_file(out1, &n1), *b = (char *)th_read_file(out2, &n2);
    CHECK(a && b, "threads: no output");
    if (a && b) {
      size_t at = 0; /* the first difference */
      while (at < n1 && at < n2 && a[at] == b[at]) at++;
      int line = 1;
      for (size_t i = 0; i < at; i++) line += a[i] == '\n';
      a[n1] = 0;
      int frames = 0, flow_multi = 0; /* frames; frames whose 2+ boxes moved by flow */
      for (char *p = a; (p = strstr(p, "\"face_count\":")); p++) {
        frames++;
        int fc = atoi(p + 13);
        if (fc >= 2 && strncmp(strchr(p, ',') + 1, "\"detector_ran\":false", 20) == 0) flow_multi++;
      }
      printf(
          "threads: 1 and 2 threads, %zu and %zu bytes, %d frames, %d with 2+ boxes by flow, "
          "first difference %s (line %d)\n",
          n1, n2, frames, flow_multi, at == n1 && n1 == n2 ? "none" : "at", line);
      CHECK(n1 == n2 && at == n1, "threads: outputs differ from line %d", line);
      CHECK(frames > 0 && flow_multi >= frames / 4,
            "threads: %d of %d frames moved 2+ boxes by flow: the clip no longer tests it",
            flow_multi, frames);
    }
    free(a);
    free(b);
  }
  remove(out1);
  remove(out2);
}

int main(void) {
  if (!th_data("video")) th_skip("../shared/data is absent (set EMO_SHARED_DATA)");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  emo_model_params p = emo_model_params_default();
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(&p, &model) == EMO_OK, "model load");
  CHECK(model && emo_context_create(model, NULL, &ctx) == EMO_OK, "context");
  if (!ctx) return th_finish("test_video");
  real_videos(ctx);
  static patch pt[2];
  if (make_patch(ctx, "faces/identities/train/obama/obama.jpg", &pt[0]) == 0 &&
      make_patch(ctx, "faces/identities/train/rose_leslie/img1.jpg", &pt[1]) == 0)
    synthetic(ctx, pt);
  else
    CHECK(0, "could not cut the identity photos");
  cli_video();
  cli_damaged();
  cli_threads();
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  return th_finish("test_video");
}
