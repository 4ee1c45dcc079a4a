/* test_gallery.c: named people across files (emo_gallery_*, pipeline/gallery.c) on the shared
 * identity photos (faces/identities: train/NAME/ folders, test/ photos): the train folder
 * loads as 5 people; photos of a person given to a video stream name its track after them; a
 * person missing from the gallery is "unknown"; two names for one person are reported as
 * look-alikes; a gallery photo that is corrupt, shows no face or several faces is skipped with
 * a message naming it and why; an empty or missing folder is refused; an earlier run's JSON
 * Lines (its tracks' pooled embeddings) serves as a gallery too. */
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "media/image_decode.h"

static char g_log[8192]; /* warnings of the last load */

static void on_log(emo_log_level level, const char *message, void *user) {
  (void)user;
  if (level <= EMO_LOG_WARN && strlen(g_log) + strlen(message) + 2 < sizeof g_log) {
    strcat(g_log, message);
    strcat(g_log, "\n");
  }
}

static void write_flat_png(const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, 320, 240, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  static png_byte row[320 * 3];
  memset(row, 128, sizeof row);
  for (int y = 0; y < 240; y++) png_write_row(png, row);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

static void put(const char *dir, const char *name, const char *target) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECK(symlink(target, p) == 0, "symlink %s", p);
}

/* Pushes photo rel (under faces/identities) as 3 frames of a stream; returns the faces of the
 * last frame through *fr. */
static int push_photo(emo_context *ctx, const emo_run_params *rp, const char *rel,
                      const emo_frame_result **fr) {
  size_t size = 0;
  unsigned char *data = th_read_file(th_data(rel), &size);
  img_rgb img = {0};
  emoi_err err = {{0}};
  if (!data || img_decode(data, size, 100000000, &img, &err) != EMO_OK) {
    free(data);
    return -1;
  }
  free(data);
  int rc = emo_stream_begin(ctx, rp);
  for (int k = 0; k < 3 && rc == EMO_OK; k++)
    rc = emo_stream_push(ctx, img.data, img.width, img.height, img.width * 3, k / 25.0, fr);
  img_rgb_free(&img);
  return rc;
}

static int has_name(const emo_frame_result *fr, const char *name, const char **also) {
  for (int i = 0; fr && i < fr->face_count; i++)
    if (fr->faces[i].gallery_name && strcmp(fr->faces[i].gallery_name, name) == 0) {
      if (also) *also = fr->faces[i].gallery_also;
      return 1;
    }
  return 0;
}

int main(void) {
  if (!th_data("faces/identities/train"))
    th_skip("faces/identities absent from ../shared/data (set EMO_SHARED_DATA)");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  emo_model_params mp = emo_model_params_default();
  mp.expression = EMO_EXPRESSION_NONE;
  mp.voice = 0;
  emo_context_params cp = emo_context_params_default();
  cp.n_threads = 1;
  cp.log = on_log;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  if (emo_model_load(&mp, &model) != EMO_OK || emo_context_create(model, &cp, &ctx) != EMO_OK) {
    CHECK(0, "model or context");
    return th_finish("test_gallery");
  }
  char train[2048];
  snprintf(train, sizeof train, "%s", th_data("faces/identities/train"));

  /* the whole train folder: 5 people */
  emo_gallery *g = NULL;
  g_log[0] = 0;
  CHECK(emo_gallery_load(ctx, train, &g) == EMO_OK && emo_gallery_person_count(g) == 5 &&
            emo_gallery_count(g) >= 9,
        "train folder: %d people, %d photos; %s", emo_gallery_person_count(g), emo_gallery_count(g),
        emo_context_last_error(ctx));
  printf("gallery: %d photos of %d people\n", emo_gallery_count(g), emo_gallery_person_count(g));
  emo_run_params rp = emo_run_params_default();
  rp.gallery = g;
  const emo_frame_result *fr = NULL;
  CHECK(push_photo(ctx, &rp, "faces/identities/test/obama1.jpg", &fr) == EMO_OK &&
            has_name(fr, "obama", NULL),
        "obama1.jpg not named obama");
  CHECK(push_photo(ctx, &rp, "faces/identities/test/johnsnow_test1.jpg", &fr) == EMO_OK &&
            has_name(fr, "kit_harington", NULL),
        "johnsnow_test1.jpg named %s, not kit_harington",
        fr && fr->face_count && fr->faces[0].gallery_name ? fr->faces[0].gallery_name : "-");
  const emo_video_summary *sum = NULL;
  CHECK(emo_stream_end(ctx, NULL, &sum) == EMO_OK && sum->track_count >= 1 &&
            sum->tracks[0].gallery_name &&
            strcmp(sum->tracks[0].gallery_name, "kit_harington") == 0,
        "summary names the track");
  emo_gallery_destroy(&g);
  emo_gallery_destroy(&g); /* NULL-safe */

  /* a gallery without rose_leslie, with bad photos, and biden under two names */
  char tmp[] = "/tmp/emo_gallery_XXXXXX";
  CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
  char t[4200];
  const char *keep[] = {"alex_lacamoire", "biden", "kit_harington", "obama"};
  for (int i = 0; i < 4; i++) {
    snprintf(t, sizeof t, "%s/%s", train, keep[i]);
    put(tmp, keep[i], t);
  }
  snprintf(t, sizeof t, "%s/biden/biden.jpg", train);
  put(tmp, "biden_twin.jpg", t);
  put(tmp, "group.jpg", th_data("faces/groups/group-1.jpg"));
  char p[4300];
  snprintf(p, sizeof p, "%s/broken.jpg", tmp);
  FILE *f = fopen(p, "wb");
  if (f) {
    fputs("\xff\xd8\xff\xe0 this is not a JPEG", f);
    fclose(f);
  }
  snprintf(p, sizeof p, "%s/wall.png", tmp);
  write_flat_png(p);
  g_log[0] = 0;
  CHECK(emo_gallery_load(ctx, tmp, &g) == EMO_OK && emo_gallery_person_count(g) == 5,
        "mixed folder: %d people; %s", emo_gallery_person_count(g), emo_context_last_error(ctx));
  printf("warnings:\n%s", g_log);
  CHECK(strstr(g_log, "broken.jpg: cannot read"), "corrupt photo message");
  CHECK(strstr(g_log, "wall.png: no face found"), "no-face photo message");
  CHECK(strstr(g_log, "group.jpg: ") && strstr(g_log, " faces: skipped"), "group photo message");
  rp.gallery = g;
  CHECK(push_photo(ctx, &rp, "faces/identities/test/kit_with_rose.jpg", &fr) == EMO_OK &&
            fr->face_count == 2 && has_name(fr, "kit_harington", NULL) &&
            has_name(fr, "unknown", NULL),
        "kit_with_rose.jpg: kit named, rose unknown (%d faces: %s, %s)", fr ? fr->face_count : 0,
        fr && fr->face_count > 0 && fr->faces[0].gallery_name ? fr->faces[0].gallery_name : "-",
        fr && fr->face_count > 1 && fr->faces[1].gallery_name ? fr->faces[1].gallery_name : "-");
  const char *also = NULL;
  CHECK(push_photo(ctx, &rp, "faces/identities/test/obama_and_biden.jpg", &fr) == EMO_OK &&
            (has_name(fr, "biden", &also) || has_name(fr, "biden_twin", &also)) && also &&
            strncmp(also, "biden", 5) == 0,
        "biden under two names: look-alikes not reported (also %s)", also ? also : "none");
  emo_gallery_destroy(&g);

  /* an earlier run's JSON Lines as the gallery: its track's pooled embedding names the same
   * person in another photo "<file>:<id>"; someone else is unknown; a file without embeddings
   * is refused with a message, a malformed embedding skipped with a warning */
  {
    rp.gallery = NULL;
    /* one photo of one run: obama2.jpg (obama.jpg alone scores below reid_threshold 0.65
     * with obama1.jpg; the folder gallery above has both) */
    const char *train_obama = NULL;
    static const char *cands[] = {"faces/identities/train/obama/obama2.jpg",
                                  "faces/identities/train/obama/obama.jpg"};
    for (int i = 0; i < 2 && !train_obama; i++)
      if (th_data(cands[i])) train_obama = cands[i];
    CHECK(train_obama != NULL, "a train photo of obama");
    char run[] = "/tmp/emo_gallery_run_XXXXXX";
    int fd = mkstemp(run);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    CHECK(train_obama && push_photo(ctx, &rp, train_obama, &fr) == EMO_OK &&
              emo_stream_end(ctx, NULL, &sum) == EMO_OK && sum->track_count == 1 &&
              sum->tracks[0].embedding,
          "first run: %d tracks, embedding %p", sum ? sum->track_count : -1,
          sum && sum->track_count ? (const void *)sum->tracks[0].embedding : NULL);
    char *line = sum ? emo_summary_json(sum) : NULL;
    f = fopen(run, "w");
    if (f && line) {
      fputs("{\"type\":\"run\"}\nnot json at all\n", f);
      fputs(line, f);
      fputs("\n{\"type\":\"summary\",\"tracks\":[{\"track_id\":7,\"embedding\":[1,2]}]}\n", f);
      fclose(f);
    }
    emo_free(line);
    g_log[0] = 0;
    CHECK(emo_gallery_load(ctx, run, &g) == EMO_OK && emo_gallery_count(g) == 1 &&
              emo_gallery_person_count(g) == 1,
          "run file as gallery: %d tracks; %s", emo_gallery_count(g), emo_context_last_error(ctx));
    CHECK(strstr(g_log, "malformed embedding"), "malformed embedding warning: %s", g_log);
    const char *base = strrchr(run, '/') + 1;
    char want[256];
    snprintf(want, sizeof want, "%s:1", base);
    CHECK(g && strcmp(emo_gallery_person(g, 0), want) == 0, "person name %s (want %s)",
          g ? emo_gallery_person(g, 0) : "-", want);
    rp.gallery = g;
    CHECK(push_photo(ctx, &rp, "faces/identities/test/obama1.jpg", &fr) == EMO_OK &&
              has_name(fr, want, NULL),
          "obama1.jpg not named %s by the earlier run (%s)", want,
          fr && fr->face_count && fr->faces[0].gallery_name ? fr->faces[0].gallery_name : "-");
    CHECK(push_photo(ctx, &rp, "faces/identities/test/johnsnow_test1.jpg", &fr) == EMO_OK &&
              has_name(fr, "unknown", NULL),
          "johnsnow_test1.jpg not unknown against the earlier run");
    emo_gallery_destroy(&g);
    rp.gallery = NULL;
    f = fopen(run, "w");
    if (f) {
      fputs("{\"type\":\"summary\",\"tracks\":[{\"track_id\":1}]}\n", f);
      fclose(f);
    }
    CHECK(emo_gallery_load(ctx, run, &g) == EMO_EINVAL && !g &&
              strstr(emo_context_last_error(ctx), "no track with an \"embedding\""),
          "run without embeddings: %s", emo_context_last_error(ctx));
    unlink(run);
  }

  /* an empty folder, a missing one */
  char empty[] = "/tmp/emo_gallery_empty_XXXXXX";
  CHECK(mkdtemp(empty) != NULL, "mkdtemp");
  CHECK(emo_gallery_load(ctx, empty, &g) == EMO_EINVAL && !g &&
            strstr(emo_context_last_error(ctx), "no usable photo"),
        "empty folder: %s", emo_context_last_error(ctx));
  CHECK(emo_gallery_load(ctx, "/nonexistent/gallery", &g) == EMO_EIO && !g, "missing folder");
  rmdir(empty);
  const char *names[] = {"alex_lacamoire", "biden",     "kit_harington", "obama",
                         "biden_twin.jpg", "group.jpg", "broken.jpg",    "wall.png"};
  for (int i = 0; i < 8; i++) {
    snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
    unlink(p);
  }
  rmdir(tmp);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  return th_finish("test_gallery");
}
