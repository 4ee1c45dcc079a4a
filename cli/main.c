/* main.c: the `emo` command-line tool. It uses only the public API (include/emo.h) and
 * decides what reaches the terminal: JSON Lines results on stdout (or -o FILE), log
 * messages on stderr.
 *
 *   emo image [options] FILE...     analyse photos, one JSON object per line
 *   emo video [options] FILE|URL    a per-frame timeline of tracked faces (JSON Lines)
 *   emo audio [options] FILE|URL    speech segments with speaker, emotion and prosody
 *   emo models fetch | list | dir   manage the model cache
 *   emo version
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emo.h"
#include "outfile.h"

static int g_verbosity = EMO_LOG_WARN;

static void log_to_stderr(emo_log_level level, const char *message, void *user) {
  (void)user;
  static const char *const names[] = {"error", "warning", "info", "debug"};
  fprintf(stderr, "emo: %s: %s\n", level < EMO_LOG_LEVEL_COUNT ? names[level] : "log", message);
}

/* SIGINT and SIGTERM. While the command can stop early (between frames, between photos) the
 * first one only sets g_signal: the command stops there, commits its outputs and exits with
 * 128 + the signal. Elsewhere (loading models, a whole soundtrack) it removes the output
 * temporaries and ends the process as the signal would. Either way the default action is back
 * for the next one, so a second Ctrl-C ends the process at once. SA_RESTART keeps a signal from
 * turning the library's reads and writes into EINTR errors. */
static volatile sig_atomic_t g_signal;    /* the signal that asked to stop, 0: none */
static volatile sig_atomic_t g_stoppable; /* the command checks g_signal now */
static struct sigaction g_default_action;

static void on_signal(int sig) {
  sigaction(SIGINT, &g_default_action, NULL);
  sigaction(SIGTERM, &g_default_action, NULL);
  if (!g_stoppable) {
    outfile_unlink_all_signal_safe();
    raise(sig); /* delivered, with its default action, when this handler returns */
    return;
  }
  g_signal = sig;
}

static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  g_default_action.sa_handler = SIG_DFL;
  sigemptyset(&g_default_action.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* The exit status: 128 + the signal when one stopped the work (stopped: g_signal as it was
 * when the work ended; a signal during the final clean-up leaves the complete result alone). */
static int exit_status(int stopped, int status) {
  return stopped ? 128 + stopped : status;
}

/* Prints the library's message about input path; alone when it already names the path. */
static void report(const char *path, const char *message) {
  if (message && strstr(message, path))
    fprintf(stderr, "emo: %s\n", message);
  else
    fprintf(stderr, "emo: %s: %s\n", path, message ? message : "failed");
}

static void usage(FILE *f) {
  fputs(
      "usage: emo image [options] FILE...   detect faces and expressions in photos (JSON Lines)\n"
      "       emo video [options] FILE|URL  track faces through a video (JSON Lines timeline)\n"
      "       emo audio [options] FILE|URL  speech segments: speaker, emotion, prosody (JSON Lines)\n"
      "       emo models fetch              download the pinned models into the cache\n"
      "       emo models list               show the models, their origin and cache status\n"
      "       emo models dir                print the cache directory\n"
      "       emo version\n"
      "\n"
      "image options:\n"
      "  -o FILE               write JSON Lines to FILE instead of stdout\n"
      "  --detector MODE       auto (default) | short | full\n"
      "  --expression MODEL    fer (default) | faceapi | ensemble | none\n"
      "  --threshold S         detection score threshold (default 0.5)\n"
      "  --max-faces N         at most N faces per image (default 64)\n"
      "  --max-pixels N        refuse images larger than N pixels (default 100000000)\n"
      "  --threads N           threads classifying faces in parallel (default: all cores)\n"
      "  --models DIR          model cache (default $EMO_MODELS or ~/.cache/emo/models)\n"
      "  --reference           use the plain C reference kernels (slow; for checking)\n"
      "  --float-expression    run the expression networks in float32 (default: their big\n"
      "                        1x1 convolutions in int8 on CPUs with AVX512-VNNI)\n"
      "\n"
      "video options (and the image options above):\n"
      "  --fps N               analyse N frames per second of media time (default: every frame)\n"
      "  --detect-every K      run the detector every K frames (default: adaptive)\n"
      "  --csv FILE            also write one CSV row per face per frame\n"
      "  --annotate OUT.mp4    also write the video with boxes, ids and labels (audio copied)\n"
      "  --no-reid             do not load the face-embedding model (ids by overlap only)\n"
      "  --no-voice            skip the soundtrack (no speech segments on the video timeline)\n"
      "                        (speech segments are written for files, not live sources)\n"
      "\n"
      "audio options:\n"
      "  --whole               the whole file is one segment of one speaker\n"
      "  --rttm FILE           also write who-speaks-when as NIST RTTM\n"
      "  --vad-threshold P     speech starts at this VAD probability (default 0.2)\n"
      "  --vad-pad MS          padding around speech; closes gaps under 2x (default 500)\n"
      "  --vad-min-silence MS  silence that ends speech (default 100)\n"
      "  --vad-min-speech MS   shorter speech is dropped (default 250)\n"
      "  --ser-model FILE      speech emotion from a wav2vec2 model converted by\n"
      "                        tools/wav2vec2_convert.py (also for emo video's soundtrack)\n"
      "  -q, --quiet           only errors on stderr\n"
      "  -v, --verbose         more messages on stderr\n"
      "\n"
      "outputs: -o, --csv and --rttm never overwrite an input; a file is replaced only when the\n"
      "run succeeds or is interrupted (until then the result is written to .NAME.XXXXXX beside\n"
      "it, which a killed run leaves behind with whole lines only); a failed run leaves it as\n"
      "it was\n"
      "exit status: 0 done, 1 an input, the models or an output failed, 2 bad usage,\n"
      "  130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM: the output so far is kept, and the\n"
      "  video summary says \"interrupted\":true (a second Ctrl-C stops at once)\n",
      f);
}

/* Parses a non-negative integer option value; returns 0 on success. */
static int parse_long(const char *s, long long lo, long long hi, long long *out) {
  if (!s || !*s) return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out) {
  if (!s || !*s) return -1;
  char *end = NULL;
  errno = 0;
  float v = strtof(s, &end);
  if (errno || *end || !(v >= lo && v <= hi)) return -1;
  *out = v;
  return 0;
}

/* Parses the options shared by analysis commands; returns the index of the first operand,
 * or -1 after printing an error. */
static const char *g_csv_path;
static const char *g_rttm_path;
static int g_whole;

static int parse_options(int argc, char **argv, int i, emo_params *p, const char **out_path) {
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
    long long n;
    if (strcmp(a, "--") == 0) return i + 1;
    if (a[0] != '-' || a[1] == 0) return i;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      if (!v) goto missing;
      *out_path = v;
      i++;
    } else if (strcmp(a, "--detector") == 0) {
      if (!v) goto missing;
      if (strcmp(v, "auto") == 0) p->detector = EMO_DETECTOR_AUTO;
      else if (strcmp(v, "short") == 0) p->detector = EMO_DETECTOR_SHORT;
      else if (strcmp(v, "full") == 0) p->detector = EMO_DETECTOR_FULL;
      else goto bad;
      i++;
    } else if (strcmp(a, "--expression") == 0) {
      if (!v) goto missing;
      if (strcmp(v, "fer") == 0) p->expression = EMO_EXPRESSION_FER;
      else if (strcmp(v, "faceapi") == 0) p->expression = EMO_EXPRESSION_FACEAPI;
      else if (strcmp(v, "ensemble") == 0) p->expression = EMO_EXPRESSION_ENSEMBLE;
      else if (strcmp(v, "none") == 0) p->expression = EMO_EXPRESSION_NONE;
      else goto bad;
      i++;
    } else if (strcmp(a, "--threshold") == 0) {
      if (parse_float(v, 0.0f, 1.0f, &p->score_threshold)) goto bad;
      i++;
    } else if (strcmp(a, "--max-faces") == 0) {
      if (parse_long(v, 1, 100000, &n)) goto bad;
      p->max_faces = (int)n;
      i++;
    } else if (strcmp(a, "--max-pixels") == 0) {
      if (parse_long(v, 1, (long long)1 << 40, &n)) goto bad;
      p->max_pixels = n;
      i++;
    } else if (strcmp(a, "--threads") == 0) {
      if (parse_long(v, 0, 1024, &n)) goto bad;
      p->n_threads = (int)n;
      i++;
    } else if (strcmp(a, "--models") == 0) {
      if (!v) goto missing;
      p->models_dir = v;
      i++;
    } else if (strcmp(a, "--fps") == 0) {
      float f;
      if (parse_float(v, 0.0f, 1000.0f, &f)) goto bad;
      p->analysis_fps = f;
      i++;
    } else if (strcmp(a, "--detect-every") == 0) {
      if (parse_long(v, 1, 100000, &n)) goto bad;
      p->detect_every = (int)n;
      i++;
    } else if (strcmp(a, "--csv") == 0) {
      if (!v) goto missing;
      g_csv_path = v;
      i++;
    } else if (strcmp(a, "--annotate") == 0) {
      if (!v) goto missing;
      p->annotate_path = v;
      i++;
    } else if (strcmp(a, "--vad-threshold") == 0) {
      if (parse_float(v, 0.001f, 0.999f, &p->vad_threshold)) goto bad;
      i++;
    } else if (strcmp(a, "--vad-pad") == 0) {
      if (parse_long(v, 0, 600000, &n)) goto bad;
      p->vad_pad_ms = (int)n;
      i++;
    } else if (strcmp(a, "--vad-min-silence") == 0) {
      if (parse_long(v, 0, 600000, &n)) goto bad;
      p->vad_min_silence_ms = (int)n;
      i++;
    } else if (strcmp(a, "--vad-min-speech") == 0) {
      if (parse_long(v, 0, 600000, &n)) goto bad;
      p->vad_min_speech_ms = (int)n;
      i++;
    } else if (strcmp(a, "--ser-model") == 0) {
      if (!v) goto missing;
      p->ser_model = v;
      i++;
    } else if (strcmp(a, "--rttm") == 0) {
      if (!v) goto missing;
      g_rttm_path = v;
      i++;
    } else if (strcmp(a, "--whole") == 0) {
      g_whole = 1;
    } else if (strcmp(a, "--no-voice") == 0) {
      p->voice = 0;
    } else if (strcmp(a, "--no-reid") == 0) {
      p->reid = 0;
    } else if (strcmp(a, "--reference") == 0) {
      p->reference_kernels = 1;
    } else if (strcmp(a, "--float-expression") == 0) {
      p->float_expression = 1;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      g_verbosity = EMO_LOG_ERROR;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      g_verbosity = g_verbosity < EMO_LOG_INFO ? EMO_LOG_INFO : EMO_LOG_DEBUG;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "emo: unknown option %s (see emo --help)\n", a);
      return -1;
    }
    continue;
  missing:
    fprintf(stderr, "emo: option %s needs a value\n", a);
    return -1;
  bad:
    fprintf(stderr, "emo: invalid value for %s: %s\n", a, v ? v : "(none)");
    return -1;
  }
  return i;
}

static int cmd_image(int argc, char **argv) {
  emo_params p = emo_params_default();
  p.reid = 0;  /* photos need no re-identification model */
  p.voice = 0; /* nor speech models */
  const char *out_path = NULL;
  int first = parse_options(argc, argv, 2, &p, &out_path);
  if (first < 0) return 2;
  if (first >= argc) {
    fprintf(stderr, "emo image: no input files (see emo --help)\n");
    return 2;
  }
  p.log = log_to_stderr;
  p.log_level = (emo_log_level)g_verbosity;

  outfile *out = outfile_open(out_path, (const char *const *)argv + first, argc - first);
  if (!out) return 1;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p, &model);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
    outfile_abort(&out);
    return 1;
  }
  rc = emo_context_create(model, &p, &ctx);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: cannot create context (%s)\n", emo_status_str(rc));
    emo_model_destroy(&model);
    outfile_abort(&out);
    return 1;
  }
  int failures = 0, tried = 0;
  g_stoppable = 1; /* Ctrl-C stops between photos */
  for (int i = first; i < argc && !g_signal && outfile_ok(out); i++) {
    const emo_image_result *r = NULL;
    tried++;
    rc = emo_analyze_file(ctx, argv[i], &r);
    if (rc != EMO_OK) {
      failures++;
      report(argv[i], emo_context_last_error(ctx));
      /* Keep the output a complete record of what was asked: one line per input. */
      char *err = emo_error_json(argv[i], rc, emo_context_last_error(ctx));
      if (err) outfile_line(out, err);
      emo_free(err);
      continue;
    }
    char *json = emo_image_result_json(r, argv[i]);
    if (!json) {
      fprintf(stderr, "emo: out of memory\n");
      failures++;
      continue;
    }
    outfile_line(out, json);
    emo_free(json);
  }
  const int stopped = g_signal;
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  /* A run in which no photo could be analysed leaves an earlier output as it was. */
  if (failures == tried)
    outfile_abort(&out);
  else if (outfile_commit(&out) != 0)
    return 1;
  return exit_status(stopped, failures ? 1 : 0);
}

/* The soundtrack's analysis, run on a thread of its own with a context of its own while the
 * frames are analysed (it is a few percent of the video's cost, and fills the cores' idle
 * time). The frames' lines wait in memory until it is done, because speech segments are
 * interleaved with them by time; past HELD_MAX bytes the video waits for it instead. */
#define HELD_MAX ((size_t)16 << 20)

typedef struct soundtrack {
  pthread_t th;
  int running;       /* the thread was started and not yet joined */
  emo_model *model;  /* the speech models only: the frames' context holds the face models */
  emo_context *ctx;
  const char *path;
  const emo_audio_result *result; /* NULL: no audio stream, or undecodable audio */
} soundtrack;

static void *soundtrack_main(void *arg) {
  soundtrack *a = arg;
  if (emo_analyze_audio(a->ctx, a->path, 0, &a->result) != EMO_OK) a->result = NULL;
  return NULL;
}

/* Lines of frames written while the soundtrack is still being analysed. */
typedef struct held_frame {
  double t;   /* frame time (segments starting at or before it go first), < 0: end */
  size_t end; /* its lines are held.buf[previous end, end) */
} held_frame;

/* State of `emo video` shared with the per-frame callback. */
typedef struct video_out {
  outfile *out, *csv;
  const emo_audio_result *speech; /* the soundtrack's segments, emitted in time order */
  int next_segment;
  soundtrack *audio;              /* non-NULL while its analysis may still be running */
  char *held;                     /* (held_len) lines waiting for the soundtrack */
  size_t held_len, held_cap;
  held_frame *held_frames;        /* (n_held) */
  size_t n_held, cap_held;
  int progress; /* stderr is a terminal */
  double started, last_print;
  int write_failed;
} video_out;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes line s (owned, freed here) and a newline to f, or to the held lines while the
 * soundtrack is being analysed and f is the JSON output. */
static void put_line(video_out *vo, outfile *f, char *s) {
  if (!s) {
    vo->write_failed = 1;
    return;
  }
  if (vo->audio && f == vo->out) {
    size_t n = strlen(s);
    if (vo->held_len + n + 1 > vo->held_cap) {
      size_t cap = vo->held_cap ? vo->held_cap : 1 << 16;
      while (cap < vo->held_len + n + 1) cap *= 2;
      char *b = realloc(vo->held, cap);
      if (!b) {
        vo->write_failed = 1;
        emo_free(s);
        return;
      }
      vo->held = b;
      vo->held_cap = cap;
    }
    memcpy(vo->held + vo->held_len, s, n);
    vo->held[vo->held_len + n] = '\n';
    vo->held_len += n + 1;
  } else if (outfile_line(f, s) < 0) {
    vo->write_failed = 1;
  }
  emo_free(s);
}

/* Writes the speech segments that start before time t (all of them when t < 0). */
static void flush_segments(video_out *vo, double t) {
  const emo_audio_result *a = vo->speech;
  while (a && vo->next_segment < a->segment_count &&
         (t < 0 || a->segments[vo->next_segment].start <= t))
    put_line(vo, vo->out, emo_segment_json(&a->segments[vo->next_segment++]));
}

/* Marks the end of a held frame's lines. */
static void hold_frame(video_out *vo, double t) {
  if (vo->n_held == vo->cap_held) {
    size_t cap = vo->cap_held ? 2 * vo->cap_held : 1024;
    held_frame *h = realloc(vo->held_frames, cap * sizeof *h);
    if (!h) {
      vo->write_failed = 1;
      return;
    }
    vo->held_frames = h;
    vo->cap_held = cap;
  }
  vo->held_frames[vo->n_held].t = t;
  vo->held_frames[vo->n_held].end = vo->held_len;
  vo->n_held++;
}

/* Waits for the soundtrack's analysis, then writes the held frames with the speech segments
 * interleaved by time. */
static void finish_soundtrack(video_out *vo) {
  if (!vo->audio) return;
  if (vo->audio->running) {
    pthread_join(vo->audio->th, NULL);
    vo->audio->running = 0;
  }
  vo->speech = vo->audio->result;
  vo->audio = NULL;
  size_t begin = 0;
  for (size_t i = 0; i < vo->n_held; i++) {
    const held_frame *h = &vo->held_frames[i];
    flush_segments(vo, h->t);
    if (h->end > begin && outfile_write(vo->out, vo->held + begin, h->end - begin) != 0)
      vo->write_failed = 1;
    begin = h->end;
  }
  free(vo->held);
  free(vo->held_frames);
  vo->held = NULL;
  vo->held_frames = NULL;
  vo->held_len = vo->held_cap = vo->n_held = vo->cap_held = 0;
}

static int on_frame(const emo_frame_result *fr, void *user) {
  video_out *vo = user;
  if (vo->audio && (fr->frame < 0 || vo->held_len > HELD_MAX)) finish_soundtrack(vo);
  if (!vo->audio) flush_segments(vo, fr->frame >= 0 ? fr->t : -1.0);
  if (fr->frame >= 0) put_line(vo, vo->out, emo_frame_json(fr));
  for (int i = 0; i < fr->event_count; i++) put_line(vo, vo->out, emo_event_json(&fr->events[i]));
  if (vo->audio) hold_frame(vo, fr->t);
  if (vo->csv && fr->face_count > 0) {
    char *rows = emo_frame_csv(fr);
    if (!rows || outfile_write(vo->csv, rows, strlen(rows)) != 0) vo->write_failed = 1;
    emo_free(rows);
  }
  if (vo->progress && fr->frame >= 0) {
    double now = now_seconds();
    if (now - vo->last_print > 0.25) {
      vo->last_print = now;
      double el = now - vo->started, speed = el > 0 ? fr->t / el : 0;
      fprintf(stderr, "\r%lld frames, t=%.1f s, %.1fx real time", (long long)fr->frame + 1, fr->t,
              speed);
      if (fr->media_duration > 0 && speed > 0)
        fprintf(stderr, ", ETA %.0f s ", (fr->media_duration - fr->t) / speed);
    }
  }
  return vo->write_failed || g_signal; /* the library stops after this frame */
}

static int cmd_video(int argc, char **argv) {
  emo_params p = emo_params_default();
  const char *out_path = NULL;
  int first = parse_options(argc, argv, 2, &p, &out_path);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo video: give exactly one input (see emo --help)\n");
    return 2;
  }
  p.log = log_to_stderr;
  p.log_level = (emo_log_level)g_verbosity;
  video_out vo = {0};
  const char *const *inputs = (const char *const *)argv + first;
  if (!(vo.out = outfile_open(out_path, inputs, 1))) return 1;
  if (g_csv_path) {
    vo.csv = outfile_open(g_csv_path, inputs, 1);
    if (!vo.csv) {
      outfile_abort(&vo.out);
      return 1;
    }
    outfile_write(vo.csv, emo_csv_header(), strlen(emo_csv_header()));
  }
  vo.progress = isatty(2) && g_verbosity >= EMO_LOG_WARN;
  vo.started = now_seconds();
  /* The soundtrack's speech joins the timeline, interleaved by time. It is analysed while the
   * frames are, on a thread, model and context of its own (speech models only, one thread;
   * the frames' model gets the face models only), and only for regular files: a live source
   * would never end. No audio stream, or undecodable audio: frames only. */
  struct stat st;
  const int voice = p.voice && stat(argv[first], &st) == 0 && S_ISREG(st.st_mode);
  emo_params pv = p;
  pv.faces = 0;
  pv.n_threads = 1;
  p.voice = 0;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  soundtrack audio = {0};
  audio.path = argv[first];
  int rc = emo_model_load(&p, &model);
  if (rc == EMO_OK) rc = emo_context_create(model, &p, &ctx);
  if (rc == EMO_OK && voice) rc = emo_model_load(&pv, &audio.model);
  if (rc == EMO_OK && voice) rc = emo_context_create(audio.model, &pv, &audio.ctx);
  const emo_video_summary *sum = NULL;
  int stopped = 0;
  if (rc == EMO_OK) {
    if (voice && pthread_create(&audio.th, NULL, soundtrack_main, &audio) == 0) {
      audio.running = 1;
      vo.audio = &audio;
    } else if (voice) { /* no thread to be had: first, as one thread */
      soundtrack_main(&audio);
      vo.speech = audio.result;
    }
    g_stoppable = 1; /* Ctrl-C stops after the current frame */
    rc = emo_analyze_video(ctx, argv[first], on_frame, &vo, &sum);
    stopped = g_signal;
    if (vo.progress) fputc('\n', stderr);
    finish_soundtrack(&vo); /* when the video stopped before its last callback */
    flush_segments(&vo, -1.0);
    if (sum) {
      emo_video_summary s = *sum;
      s.interrupted = stopped != 0;
      put_line(&vo, vo.out, emo_summary_json(&s));
    }
    if (rc != EMO_OK) report(argv[first], emo_context_last_error(ctx));
  } else {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
  }
  emo_context_destroy(&audio.ctx);
  emo_model_destroy(&audio.model);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  /* Outputs are kept once the analysis ran (up to a damaged stream's break, or a Ctrl-C). */
  if (!sum) {
    outfile_abort(&vo.csv);
    outfile_abort(&vo.out);
  }
  if (vo.write_failed && outfile_ok(vo.out) && (!vo.csv || outfile_ok(vo.csv)))
    fprintf(stderr, "emo: out of memory: output lines are missing\n");
  if (outfile_commit(&vo.csv) != 0) vo.write_failed = 1;
  if (outfile_commit(&vo.out) != 0) vo.write_failed = 1;
  return exit_status(stopped, rc != EMO_OK || vo.write_failed ? 1 : 0);
}

static int cmd_audio(int argc, char **argv) {
  emo_params p = emo_params_default();
  p.faces = 0;
  const char *out_path = NULL;
  int first = parse_options(argc, argv, 2, &p, &out_path);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo audio: give exactly one input (see emo --help)\n");
    return 2;
  }
  p.log = log_to_stderr;
  p.log_level = (emo_log_level)g_verbosity;
  const char *const *inputs = (const char *const *)argv + first;
  outfile *out = outfile_open(out_path, inputs, 1), *rttm = NULL;
  if (!out || (g_rttm_path && !(rttm = outfile_open(g_rttm_path, inputs, 1)))) {
    outfile_abort(&out);
    return 1;
  }
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p, &model);
  if (rc == EMO_OK) rc = emo_context_create(model, &p, &ctx);
  int failed = 0, analysed = 0;
  if (rc == EMO_OK) {
    const emo_audio_result *r = NULL;
    rc = emo_analyze_audio(ctx, argv[first], g_whole, &r);
    if (rc != EMO_OK) report(argv[first], emo_context_last_error(ctx));
    if (r) {
      analysed = 1;
      for (int i = 0; i < r->segment_count; i++) {
        char *j = emo_segment_json(&r->segments[i]);
        if (outfile_line(out, j) != 0) failed = 1;
        emo_free(j);
      }
      char *j = emo_audio_summary_json(r);
      if (outfile_line(out, j) != 0) failed = 1;
      emo_free(j);
      if (g_rttm_path) {
        const char *base = strrchr(argv[first], '/');
        char id[256];
        snprintf(id, sizeof id, "%s", base ? base + 1 : argv[first]);
        char *dot = strrchr(id, '.');
        if (dot) *dot = 0;
        char *t = emo_audio_rttm(r, id);
        if (!t) fprintf(stderr, "emo: out of memory\n");
        if (!t || outfile_write(rttm, t, strlen(t)) != 0) failed = 1;
        emo_free(t);
      }
    }
  } else {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  if (!analysed) { /* nothing came out: earlier outputs stay as they were */
    outfile_abort(&rttm);
    outfile_abort(&out);
  }
  if (outfile_commit(&rttm) != 0) failed = 1;
  if (outfile_commit(&out) != 0) failed = 1;
  return rc != EMO_OK || failed ? 1 : 0;
}

static int cmd_models(int argc, char **argv) {
  emo_params p = emo_params_default();
  const char *unused = NULL;
  const char *sub = argc > 2 ? argv[2] : "list";
  int first = parse_options(argc, argv, 3, &p, &unused);
  if (first < 0) return 2;
  p.log = log_to_stderr;
  p.log_level = g_verbosity < EMO_LOG_INFO ? EMO_LOG_INFO : (emo_log_level)g_verbosity;
  char dir[4096];
  if (emo_models_dir(&p, dir, sizeof dir) != EMO_OK) {
    fprintf(stderr, "emo: model directory path too long\n");
    return 1;
  }
  if (strcmp(sub, "dir") == 0) {
    printf("%s\n", dir);
    return 0;
  }
  if (strcmp(sub, "fetch") == 0) {
    int rc = emo_models_fetch(&p);
    if (rc != EMO_OK) {
      fprintf(stderr, "emo: models fetch failed (%s)\n", emo_status_str(rc));
      return 1;
    }
    fprintf(stderr, "emo: all models verified in %s\n", dir);
    return 0;
  }
  if (strcmp(sub, "list") == 0) {
    printf("cache: %s\n", dir);
    int missing = 0;
    for (int i = 0; i < emo_models_count(); i++) {
      emo_model_info info;
      if (emo_models_info(i, &info) != EMO_OK) continue;
      int st = emo_models_check(&p, i);
      if (st != EMO_OK) missing++;
      printf("%-9s %-22s %-44s %9lld  %s\n    %s (%s)\n",
             st == EMO_OK ? "ok" : (st == EMO_ENOMODEL ? "missing" : "CORRUPT"), info.name,
             info.file, (long long)info.size, info.package, info.task, info.license);
    }
    if (missing) printf("%d file(s) missing or corrupt: run \"emo models fetch\"\n", missing);
    return missing ? 1 : 0;
  }
  fprintf(stderr, "emo models: unknown subcommand %s (fetch, list, dir)\n", sub);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "image") == 0 || strcmp(cmd, "video") == 0 || strcmp(cmd, "audio") == 0)
    catch_signals();
  if (strcmp(cmd, "image") == 0) return cmd_image(argc, argv);
  if (strcmp(cmd, "video") == 0) return cmd_video(argc, argv);
  if (strcmp(cmd, "audio") == 0) return cmd_audio(argc, argv);
  if (strcmp(cmd, "models") == 0) return cmd_models(argc, argv);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("emo %s\n", EMO_VERSION_STRING);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "emo: unknown command %s\n", cmd);
  usage(stderr);
  return 2;
}
