/* main.c: the `emo` command-line tool. It uses only the public API (include/emo.h) and
 * decides what reaches the terminal: JSON Lines results on stdout (or -o FILE), log
 * messages on stderr.
 *
 *   emo image [options] FILE...     analyse photos, one JSON object per line
 *   emo video [options] FILE|URL    a per-frame timeline of tracked faces (JSON Lines)
 *   emo audio [options] FILE|URL    speech segments with speaker, emotion and prosody
 *   emo batch MANIFEST -o OUT ...   an archive, sharded, resumable (cli/batch.c)
 *   emo report RUN.jsonl -o OUT.html  an HTML page of a run (report.c)
 *   emo features | train            feature vectors; heads of your own (cli/train.c)
 *   emo models fetch | list | dir   manage the model cache
 *   emo version
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "batch.h"
#include "emo.h"
#include "outfile.h"
#include "report.h"
#include "train.h"

static void log_to_stderr(emo_log_level level, const char *message, void *user) {
  (void)user;
  static const char *const names[] = {"error", "warning", "info", "debug"};
  fprintf(stderr, "emo: %s: %s\n", level < EMO_LOG_LEVEL_COUNT ? names[level] : "log", message);
}

/* SIGINT and SIGTERM. While the command can stop early (between frames, between photos, in
 * an audio analysis) the first one sets g_signal and interrupts the analysis
 * (emo_context_interrupt): the command stops there, commits its outputs and exits with 128 +
 * the signal. Elsewhere (loading models) it removes the output temporaries and ends the
 * process as the signal would. Either way the default action is back
 * for the next one, so a second Ctrl-C ends the process at once. SA_RESTART keeps a signal from
 * turning the library's reads and writes into EINTR errors. */
static volatile sig_atomic_t g_signal;    /* the signal that asked to stop, 0: none */
static volatile sig_atomic_t g_stoppable; /* the command checks g_signal now */
static emo_context *volatile g_ctx;       /* the analysis a signal interrupts, or NULL */
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
  emo_context *c = g_ctx;
  if (c) emo_context_interrupt(c); /* async-signal-safe */
}

/* From here a signal stops ctx's analysis (NULL: the command checks g_signal itself). */
static void stoppable(emo_context *ctx) {
  g_ctx = ctx;
  g_stoppable = 1;
}

/* The analysis returned: the signal that stopped it, 0 when none. A later signal no longer
 * touches the context (about to be destroyed) and leaves the finished result alone. */
static int stopped_by(void) {
  g_ctx = NULL;
  return g_signal;
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

/* 1 (after a message) when two of a run's outputs name the same file: each would replace the
 * other's result. */
static int refuse_same_outputs(const char *const *paths, int n) {
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (outfile_same(paths[i], paths[j])) {
        fprintf(stderr, "emo: %s and %s are the same file: give each output its own\n", paths[i],
                paths[j]);
        return 1;
      }
  return 0;
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
      "       emo audio [options] FILE|URL  speech segments: speaker, emotion, prosody (JSON "
      "Lines)\n"
      "       emo batch MANIFEST -o OUT     an archive: one output folder per file, sharded,\n"
      "                                     resumable (emo batch --help)\n"
      "       emo report RUN.jsonl -o OUT.html [--video FILE]\n"
      "                                     one HTML page of a run (offline, self-contained)\n"
      "       emo features [options] INPUT... -o DIR  feature vectors (NPY + CSV index)\n"
      "       emo train [options] INPUT -o HEAD  train a head on your labels (+ model card)\n"
      "       emo models fetch              download the pinned models into the cache\n"
      "       emo models list               show the models, their origin and cache status\n"
      "       emo models dir                print the cache directory\n"
      "       emo models import FILE...     install model files you downloaded (checked by "
      "sha256)\n"
      "       emo version\n"
      "\n"
      "image options:\n"
      "  -o FILE               write JSON Lines to FILE instead of stdout\n"
      "  --detector MODE       auto (default) | short | full\n"
      "  --expression MODEL    emo (default: emo's own head on face-api's network, trained\n"
      "                        on KDEF, non-commercial) | fer | faceapi | ensemble | none\n"
      "  --face-details LEVEL  none (default) | pose (478 landmarks, head pose) | full (also\n"
      "                        blendshapes, action-unit proxies, intensity); needs\n"
      "                        face_landmarker.task (emo models import)\n"
      "  --landmarks           write the 478 landmarks too (with --face-details)\n"
      "  --landmark-crops      expression crops aligned by the landmarks (with\n"
      "                        --face-details) instead of the detector's keypoints\n"
      "  --threshold S         detection score threshold (default 0.5)\n"
      "  --max-faces N         at most N faces per image (default 64)\n"
      "  --max-pixels N        refuse images larger than N pixels (default 100000000)\n"
      "  --threads N           threads classifying faces in parallel (default: all cores)\n"
      "  --models DIR          model cache (default $EMO_MODELS or ~/.cache/emo/models)\n"
      "  --reference           use the plain C reference kernels (slow; for checking)\n"
      "  --float-expression    run the expression networks in float32 (default: their big\n"
      "                        1x1 convolutions in int8 on CPUs with AVX512-VNNI)\n"
      "  --face-head FILE      also classify each face with a head made by emo train\n"
      "                        (\"custom\" in the JSON and CSV, track and person means;\n"
      "                        image and video)\n"
      "  --voice-head FILE     the same for speech segments (audio and video)\n"
      "  --isa CAP             auto (default) | scalar | avx2 | avx512: the best path of emo's\n"
      "                        own kernels not above CAP that this CPU has (for timings)\n"
      "\n"
      "video options (and the image options above):\n"
      "  --fps N               analyse N frames per second of media time (default: every frame)\n"
      "  --detect-every K      run the detector every K frames (default: adaptive)\n"
      "  --csv FILE            also write one CSV row per face per frame\n"
      "  --annotate OUT.mp4    also write the video with boxes, ids and labels (audio copied;\n"
      "                        with --face-details also the mesh contours and head axes)\n"
      "  --report OUT.html     also write the HTML report of the run (see emo report)\n"
      "  --no-reid             do not load the face-embedding model (ids by overlap only)\n"
      "  --no-track-clustering final identities by the tracker alone (not joined across\n"
      "                        shots by shot threading and constrained clustering)\n"
      "  --gallery DIR|RUN.jsonl  name people from DIR's photos (NAME.jpg or NAME/*.jpg, one\n"
      "                        face each), or from an earlier run's output (its tracks'\n"
      "                        \"embedding\": named RUN:<id>, or its gallery name): "
      "\"gallery\":NAME,\n"
      "                        or \"unknown\" when nobody is close\n"
      "  --no-voice            skip the soundtrack (no speech segments on the video timeline)\n"
      "                        (speech segments are written for files, not live sources)\n"
      "  --no-persons          do not score who speaks nor join speakers to faces\n"
      "  --speaking mouth|lr_asd  what scores who speaks (default: mouth motion; lr_asd: the\n"
      "                        LR-ASD network, installed by emo models import, during speech\n"
      "                        with two or more faces: several times slower)\n"
      "  --rttm FILE           also write who-speaks-when as RTTM, named by person (P1, ...)\n"
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
      "\n"
      "inputs (video and audio): FILE, - (standard input) or a URL\n"
      "  --protocols LIST      protocols a URL may use (default\n"
      "                        file,http,https,rtsp,rtmp,rtmps,udp,rtp,srt)\n"
      "  --io-timeout S        seconds a network read may wait (default 10)\n"
      "  --other-hosts         a playlist or a redirect may lead to other hosts\n"
      "  -q, --quiet           only errors on stderr\n"
      "  -v, --verbose         more messages on stderr\n"
      "\n"
      "outputs: -o, --csv and --rttm never overwrite an input; a file is replaced only when the\n"
      "run succeeds or is interrupted (until then the result is written to .NAME.XXXXXX beside\n"
      "it, which a killed run leaves behind with whole lines only); a failed run leaves it as\n"
      "it was\n"
      "exit status: 0 done, 1 an input, the models or an output failed, 2 bad usage,\n"
      "  130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM: the output so far is kept, and the\n"
      "  summary says \"interrupted\":true (a second Ctrl-C stops at once)\n",
      f);
}

/* What one run of an analysis command (image, video, audio, models) takes from its command
 * line: the library's three params structs as the options set them, and what the CLI itself
 * does with the results. parse_options fills it; the command reads it. The commands share one
 * option set (each ignores what it does not use), so they share this struct. */
typedef struct cli_options {
  emo_model_params mp;
  emo_context_params cp;
  emo_run_params rp;
  int verbosity;           /* -q / -v: the most verbose emo_log_level that reaches stderr */
  const char *out_path;    /* -o: JSON Lines (NULL: stdout) */
  const char *csv_path;    /* --csv (video) */
  const char *report_path; /* --report (video) */
  const char *rttm_path;   /* --rttm (video, audio) */
  const char *face_head;   /* --face-head, --voice-head: emo train's heads */
  const char *voice_head;
  const char *gallery; /* --gallery DIR|RUN.jsonl (video) */
} cli_options;

static cli_options cli_options_default(void) {
  cli_options c;
  memset(&c, 0, sizeof c);
  c.mp = emo_model_params_default();
  c.cp = emo_context_params_default();
  c.rp = emo_run_params_default();
  c.verbosity = EMO_LOG_WARN;
  return c;
}

/* Routes the library's messages to stderr at the verbosity the options chose. */
static void cli_options_log(cli_options *c) {
  c->mp.log = c->cp.log = log_to_stderr;
  c->mp.log_level = c->cp.log_level = (emo_log_level)c->verbosity;
}

/* Parses the options shared by the analysis commands from argv[i] on into *o; returns the
 * index of the first operand, or -1 after printing an error. */
static int parse_options(int argc, char **argv, int i, cli_options *o) {
  emo_model_params *mp = &o->mp;
  emo_context_params *cp = &o->cp;
  emo_run_params *p = &o->rp;
  /* the values of --detector, --expression, --face-details, --speaking, --isa: index = enum */
  static const char *const detectors[] = {"auto", "short", "full"};
  static const char *const expressions[] = {"fer", "faceapi", "ensemble", "none", "emo"};
  static const char *const details[] = {"none", "pose", "full"};
  static const char *const speaking[] = {"mouth", "lr_asd"};
  const char *isas[EMO_ISA_COUNT];
  for (int k = 0; k < EMO_ISA_COUNT; k++) isas[k] = emo_isa_name((emo_isa)k);
#define NAMES(a) a, (int)(sizeof a / sizeof *a)
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
    long long n;
    float f;
    int k;
    if (strcmp(a, "--") == 0) return i + 1;
    if (a[0] != '-' || a[1] == 0) return i;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      if (cli_opt_string(a, v, &o->out_path)) return -1;
      i++;
    } else if (strcmp(a, "--detector") == 0) {
      if (cli_opt_choice(a, v, NAMES(detectors), &k)) return -1;
      p->detector = (emo_detector)k;
      mp->detector = p->detector; /* load only what runs */
      i++;
    } else if (strcmp(a, "--expression") == 0) {
      if (cli_opt_choice(a, v, NAMES(expressions), &k)) return -1;
      mp->expression = (emo_expression_model)k;
      i++;
    } else if (strcmp(a, "--face-details") == 0) {
      if (cli_opt_choice(a, v, NAMES(details), &k)) return -1;
      p->face_details = (emo_details)k;
      mp->landmarks = p->face_details != EMO_DETAILS_NONE; /* load only what runs */
      i++;
    } else if (strcmp(a, "--landmarks") == 0) {
      p->output_landmarks = 1;
    } else if (strcmp(a, "--no-track-clustering") == 0) {
      p->track_clustering = 0;
    } else if (strcmp(a, "--landmark-crops") == 0) {
      p->landmark_crops = 1;
    } else if (strcmp(a, "--threshold") == 0) {
      if (cli_opt_float(a, v, 0.0f, 1.0f, &p->score_threshold)) return -1;
      i++;
    } else if (strcmp(a, "--max-faces") == 0) {
      if (cli_opt_long(a, v, 1, 2048, &n)) return -1;
      cp->max_faces = (int)n;
      i++;
    } else if (strcmp(a, "--max-pixels") == 0) {
      if (cli_opt_long(a, v, 1, (long long)1 << 40, &n)) return -1;
      p->max_pixels = n;
      i++;
    } else if (strcmp(a, "--threads") == 0) {
      if (cli_opt_long(a, v, 0, 1024, &n)) return -1;
      cp->n_threads = (int)n;
      i++;
    } else if (strcmp(a, "--models") == 0) {
      if (cli_opt_string(a, v, &mp->models_dir)) return -1;
      i++;
    } else if (strcmp(a, "--fps") == 0) {
      if (cli_opt_float(a, v, 0.0f, 1000.0f, &f)) return -1;
      p->analysis_fps = f;
      i++;
    } else if (strcmp(a, "--detect-every") == 0) {
      if (cli_opt_long(a, v, 1, 100000, &n)) return -1;
      p->detect_every = (int)n;
      i++;
    } else if (strcmp(a, "--csv") == 0) {
      if (cli_opt_string(a, v, &o->csv_path)) return -1;
      i++;
    } else if (strcmp(a, "--gallery") == 0) {
      if (cli_opt_string(a, v, &o->gallery)) return -1;
      i++;
    } else if (strcmp(a, "--report") == 0) {
      if (cli_opt_string(a, v, &o->report_path)) return -1;
      i++;
    } else if (strcmp(a, "--annotate") == 0) {
      if (cli_opt_string(a, v, &p->annotate_path)) return -1;
      i++;
    } else if (strcmp(a, "--vad-threshold") == 0) {
      if (cli_opt_float(a, v, 0.001f, 0.999f, &p->vad_threshold)) return -1;
      i++;
    } else if (strcmp(a, "--vad-pad") == 0) {
      if (cli_opt_long(a, v, 0, 600000, &n)) return -1;
      p->vad_pad_ms = (int)n;
      i++;
    } else if (strcmp(a, "--vad-min-silence") == 0) {
      if (cli_opt_long(a, v, 0, 600000, &n)) return -1;
      p->vad_min_silence_ms = (int)n;
      i++;
    } else if (strcmp(a, "--vad-min-speech") == 0) {
      if (cli_opt_long(a, v, 0, 600000, &n)) return -1;
      p->vad_min_speech_ms = (int)n;
      i++;
    } else if (strcmp(a, "--ser-model") == 0) {
      if (cli_opt_string(a, v, &mp->ser_model)) return -1;
      i++;
    } else if (strcmp(a, "--face-head") == 0) {
      if (cli_opt_string(a, v, &o->face_head)) return -1;
      mp->features = 1;
      i++;
    } else if (strcmp(a, "--voice-head") == 0) {
      if (cli_opt_string(a, v, &o->voice_head)) return -1;
      i++;
    } else if (strcmp(a, "--rttm") == 0) {
      if (cli_opt_string(a, v, &o->rttm_path)) return -1;
      i++;
    } else if (strcmp(a, "--protocols") == 0) {
      if (cli_opt_string(a, v, &p->protocols)) return -1;
      i++;
    } else if (strcmp(a, "--io-timeout") == 0) {
      if (cli_opt_float(a, v, 0.001f, 86400.0f, &f)) return -1;
      p->io_timeout = f;
      i++;
    } else if (strcmp(a, "--other-hosts") == 0) {
      p->other_hosts = 1;
    } else if (strcmp(a, "--whole") == 0) {
      p->audio_whole = 1;
    } else if (strcmp(a, "--no-voice") == 0) {
      mp->voice = 0;
      p->soundtrack = 0;
    } else if (strcmp(a, "--no-persons") == 0) {
      p->persons = 0;
    } else if (strcmp(a, "--speaking") == 0) {
      if (cli_opt_choice(a, v, NAMES(speaking), &k)) return -1;
      p->speaking_model = v;
      i++;
    } else if (strcmp(a, "--no-reid") == 0) {
      mp->reid = 0;
    } else if (strcmp(a, "--reference") == 0) {
      cp->reference_kernels = 1;
    } else if (strcmp(a, "--float-expression") == 0) {
      cp->float_expression = 1;
    } else if (strcmp(a, "--isa") == 0) {
      if (cli_opt_choice(a, v, NAMES(isas), &k)) return -1;
      cp->isa = (emo_isa)k;
      i++;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o->verbosity = EMO_LOG_ERROR;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      o->verbosity = o->verbosity < EMO_LOG_INFO ? EMO_LOG_INFO : EMO_LOG_DEBUG;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "emo: unknown option %s (see emo --help)\n", a);
      return -1;
    }
  }
#undef NAMES
  return i;
}

static int cmd_image(int argc, char **argv) {
  cli_options p = cli_options_default();
  p.mp.reid = 0;  /* photos need no re-identification model */
  p.mp.voice = 0; /* nor speech models */
  int first = parse_options(argc, argv, 2, &p);
  if (first < 0) return 2;
  if (first >= argc) {
    fprintf(stderr, "emo image: no input files (see emo --help)\n");
    return 2;
  }
  cli_options_log(&p);

  outfile *out = outfile_open(p.out_path, (const char *const *)argv + first, argc - first);
  if (!out) return 1;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p.mp, &model);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
    outfile_abort(&out);
    return 1;
  }
  rc = emo_context_create(model, &p.cp, &ctx);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: cannot create context (%s)\n", emo_status_str(rc));
    emo_model_destroy(&model);
    outfile_abort(&out);
    return 1;
  }
  emo_head *head = NULL;
  if (p.face_head) {
    char herr[1024];
    if (emo_head_load(p.face_head, model, &head, herr, sizeof herr) != EMO_OK) {
      fprintf(stderr, "emo: %s\n", herr);
      emo_context_destroy(&ctx);
      emo_model_destroy(&model);
      outfile_abort(&out);
      return 1;
    }
  }
  { /* the run record opens the output: one photo's name, null for several */
    char *run = emo_run_json_kind(ctx, &p.rp, "image", argc - first == 1 ? argv[first] : NULL, -1);
    if (!run) fprintf(stderr, "emo: out of memory\n");
    if (run) outfile_line(out, run); /* a failed write is said by outfile, and ends the loop */
    emo_free(run);
  }
  int failures = 0, tried = 0;
  p.rp.face_head = head; /* each face carries the head's answer */
  stoppable(NULL);       /* Ctrl-C stops between photos */
  for (int i = first; i < argc && !g_signal && outfile_ok(out); i++) {
    const emo_image_result *r = NULL;
    tried++;
    rc = emo_analyze_file(ctx, &p.rp, argv[i], &r);
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
  const int stopped = stopped_by();
  emo_head_destroy(&head);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  /* A run in which no photo could be analysed leaves an earlier output as it was. */
  if (failures == tried && outfile_ok(out))
    outfile_abort(&out);
  else if (outfile_commit(&out) != 0)
    return 1;
  return exit_status(stopped, failures ? 1 : 0);
}

/* State of `emo video` shared with the callbacks of emo_analyze_media. */
typedef struct video_out {
  outfile *out, *csv;
  emo_report *report; /* --report: every line also goes here */
  outfile *html;      /* --report's page, written at the end */
  int progress;       /* stderr is a terminal */
  double started, last_print;
  int write_failed;
} video_out;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes line s (owned, freed here) to the JSON output. */
static void put_line(video_out *vo, char *s) {
  if (!s || outfile_line(vo->out, s) != 0) vo->write_failed = 1;
  if (s && vo->report && emo_report_add_line(vo->report, s, strlen(s)) == EMO_ENOMEM)
    vo->write_failed = 1;
  emo_free(s);
}

static int on_segment(const emo_speech_segment *s, void *user) {
  video_out *vo = user;
  put_line(vo, emo_segment_json(s));
  return vo->write_failed;
}

static int on_person(const emo_person *p, void *user) {
  video_out *vo = user;
  put_line(vo, emo_person_json(p));
  return vo->write_failed;
}

static int on_run(const char *line, size_t len, void *user) {
  video_out *vo = user;
  (void)len;
  put_line(vo, strdup(line));
  return vo->write_failed;
}

static int on_frame(const emo_frame_result *fr, void *user) {
  video_out *vo = user;
  if (fr->frame >= 0) put_line(vo, emo_frame_json(fr));
  for (int i = 0; i < fr->event_count; i++) put_line(vo, emo_event_json(&fr->events[i]));
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
  return vo->write_failed; /* a signal stops it through emo_context_interrupt */
}

static int cmd_video(int argc, char **argv) {
  cli_options p = cli_options_default();
  int first = parse_options(argc, argv, 2, &p);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo video: give exactly one input (see emo --help)\n");
    return 2;
  }
  cli_options_log(&p);
  video_out vo = {0};
  const char *const *inputs = (const char *const *)argv + first;
  const char *outputs[5] = {p.out_path, p.csv_path, p.rp.annotate_path, p.report_path, p.rttm_path};
  if (refuse_same_outputs(outputs, 5)) return 2;
  if (!(vo.out = outfile_open(p.out_path, inputs, 1))) return 1;
  outfile *rttm = NULL;
  if (p.rttm_path && !(rttm = outfile_open(p.rttm_path, inputs, 1))) {
    outfile_abort(&vo.out);
    return 1;
  }
  if (p.csv_path) {
    vo.csv = outfile_open(p.csv_path, inputs, 1);
    if (!vo.csv) {
      outfile_abort(&rttm);
      outfile_abort(&vo.out);
      return 1;
    }
  }
  if (p.report_path && report_open(&vo.html, &vo.report, p.report_path, argv[first],
                                   p.rp.annotate_path, inputs) != 0) {
    outfile_abort(&vo.csv);
    outfile_abort(&vo.out);
    return 1;
  }
  vo.progress = isatty(2) && p.verbosity >= EMO_LOG_WARN;
  vo.started = now_seconds();
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p.mp, &model);
  if (rc == EMO_OK) rc = emo_context_create(model, &p.cp, &ctx);
  emo_head *heads[2] = {NULL, NULL}; /* --face-head, --voice-head: the library applies them */
  const char *head_paths[2] = {p.face_head, p.voice_head};
  int head_failed = 0;
  for (int k = 0; rc == EMO_OK && k < 2; k++) {
    char herr[1024];
    if (head_paths[k] && emo_head_load(head_paths[k], model, &heads[k], herr, sizeof herr)) {
      fprintf(stderr, "emo: %s\n", herr);
      head_failed = 1;
      rc = EMO_EINVAL;
    }
  }
  p.rp.face_head = heads[0];
  p.rp.voice_head = heads[1];
  if (vo.csv) {
    char *hdr = emo_csv_header_run(&p.rp);
    if (!hdr || outfile_write(vo.csv, hdr, strlen(hdr)) != 0) vo.write_failed = 1;
    emo_free(hdr);
  }
  const emo_media_summary *sum = NULL;
  int stopped = 0;
  emo_gallery *gallery = NULL;
  int gallery_failed = 0;
  if (rc == EMO_OK && p.gallery) {
    gallery_failed = emo_gallery_load(ctx, p.gallery, &gallery) != EMO_OK;
    if (gallery_failed) report(p.gallery, emo_context_last_error(ctx));
    p.rp.gallery = gallery;
  }
  if (gallery_failed) {
    rc = EMO_EINVAL; /* reported above: no analysis */
  } else if (rc == EMO_OK) {
    /* The soundtrack's speech segments join the timeline (emo.h says in which order). */
    /* the run record (the page's header too) comes first through on_run */
    const emo_media_callbacks cb = {on_frame, on_segment, &vo, on_person, on_run};
    stoppable(ctx); /* Ctrl-C stops after the current frame */
    rc = emo_analyze_media(ctx, &p.rp, argv[first], &cb, &sum);
    stopped = stopped_by();
    if (vo.progress) fputc('\n', stderr);
    if (sum) {
      /* the final turns (emo_analyze_media_lines writes them here too) */
      for (int i = 0; sum->turns && i < sum->turn_count && !vo.write_failed; i++)
        put_line(&vo, emo_turn_json(&sum->turns[i]));
      emo_video_summary s = *sum->video;
      s.interrupted = s.interrupted || stopped != 0;
      put_line(&vo, emo_summary_json(&s));
      if (rttm) { /* named by person when there are persons, else by speaker */
        const char *base = strrchr(argv[first], '/');
        char id[256];
        snprintf(id, sizeof id, "%s", base ? base + 1 : argv[first]);
        char *dot = strrchr(id, '.');
        if (dot) *dot = 0;
        char *t = sum->person_count ? emo_persons_rttm(sum, id)
                                    : (sum->audio ? emo_audio_rttm(sum->audio, id) : NULL);
        if ((sum->audio && !t) || (t && outfile_write(rttm, t, strlen(t)) != 0))
          vo.write_failed = 1;
        emo_free(t);
      }
    }
    if (rc != EMO_OK) report(argv[first], emo_context_last_error(ctx));
  } else if (!head_failed) {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
  }
  emo_context_destroy(&ctx);
  emo_head_destroy(&heads[0]);
  emo_head_destroy(&heads[1]);
  emo_gallery_destroy(&gallery);
  emo_model_destroy(&model);
  /* Outputs are kept once the analysis ran (up to a damaged stream's break, or a Ctrl-C). */
  if (!sum) {
    outfile_abort(&vo.html);
    outfile_abort(&rttm);
    outfile_abort(&vo.csv);
    outfile_abort(&vo.out);
  }
  if (vo.write_failed && outfile_ok(vo.out) && (!vo.csv || outfile_ok(vo.csv)))
    fprintf(stderr, "emo: out of memory: output lines are missing\n");
  if (outfile_commit(&rttm) != 0) vo.write_failed = 1;
  if (outfile_commit(&vo.csv) != 0) vo.write_failed = 1;
  if (outfile_commit(&vo.out) != 0) vo.write_failed = 1;
  if (vo.html && report_write(vo.report, &vo.html) != 0) vo.write_failed = 1;
  emo_report_destroy(&vo.report);
  return exit_status(stopped, rc != EMO_OK || vo.write_failed ? 1 : 0);
}

/* `emo audio`'s output: each segment is written as soon as it is described. */
typedef struct audio_out {
  outfile *out;
  int failed;
} audio_out;

static int audio_run(const char *line, size_t len, void *user) {
  audio_out *ao = user;
  (void)len;
  if (outfile_line(ao->out, line) != 0) ao->failed = 1;
  return ao->failed;
}

static int audio_segment(const emo_speech_segment *s, void *user) {
  audio_out *ao = user;
  char *j = emo_segment_json(s);
  if (!j || outfile_line(ao->out, j) != 0) ao->failed = 1;
  emo_free(j);
  return ao->failed;
}

static int cmd_audio(int argc, char **argv) {
  cli_options p = cli_options_default();
  p.mp.faces = 0;
  p.mp.reid = 0;
  int first = parse_options(argc, argv, 2, &p);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo audio: give exactly one input (see emo --help)\n");
    return 2;
  }
  cli_options_log(&p);
  const char *const *inputs = (const char *const *)argv + first;
  const char *outputs[2] = {p.out_path, p.rttm_path};
  if (refuse_same_outputs(outputs, 2)) return 2;
  outfile *out = outfile_open(p.out_path, inputs, 1), *rttm = NULL;
  if (!out || (p.rttm_path && !(rttm = outfile_open(p.rttm_path, inputs, 1)))) {
    outfile_abort(&out);
    return 1;
  }
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p.mp, &model);
  if (rc == EMO_OK) rc = emo_context_create(model, &p.cp, &ctx);
  int failed = 0, analysed = 0, stopped = 0;
  emo_head *head = NULL;
  if (rc == EMO_OK && p.voice_head) {
    char herr[1024];
    rc = emo_head_load(p.voice_head, model, &head, herr, sizeof herr);
    if (rc != EMO_OK) fprintf(stderr, "emo: %s\n", herr);
  }
  if (rc == EMO_OK) {
    const emo_audio_result *r = NULL;
    stoppable(ctx); /* Ctrl-C ends it with the segments described so far */
    audio_out ao = {out, 0};
    const emo_media_callbacks cb = {NULL, audio_segment, &ao, NULL, audio_run};
    p.rp.voice_head = head; /* each segment carries the head's answer */
    rc = emo_analyze_audio(ctx, &p.rp, argv[first], &cb, &r);
    stopped = stopped_by();
    failed = ao.failed;
    if (rc != EMO_OK) report(argv[first], emo_context_last_error(ctx));
    if (r) {
      analysed = 1; /* the segments were written as they came */
      char *j = emo_audio_summary_json(r);
      if (outfile_line(out, j) != 0) failed = 1;
      emo_free(j);
      if (p.rttm_path) {
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
  } else if (!head && !p.voice_head) {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
  }
  emo_head_destroy(&head);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  if (!analysed) { /* nothing came out: earlier outputs stay as they were */
    outfile_abort(&rttm);
    outfile_abort(&out);
  }
  if (outfile_commit(&rttm) != 0) failed = 1;
  if (outfile_commit(&out) != 0) failed = 1;
  return exit_status(stopped, rc != EMO_OK || failed ? 1 : 0);
}

static int cmd_models(int argc, char **argv) {
  cli_options cp = cli_options_default();
  const char *sub = argc > 2 ? argv[2] : "list";
  int first = parse_options(argc, argv, 3, &cp);
  if (first < 0) return 2;
  emo_model_params p = cp.mp;
  p.log = log_to_stderr;
  p.log_level = cp.verbosity < EMO_LOG_INFO ? EMO_LOG_INFO : (emo_log_level)cp.verbosity;
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
  if (strcmp(sub, "import") == 0) {
    if (first >= argc) {
      fprintf(stderr, "emo models import: give the downloaded file(s)\n");
      return 2;
    }
    int failed = 0;
    for (int i = first; i < argc; i++) failed |= emo_models_import(&p, argv[i]) != EMO_OK;
    return failed ? 1 : 0;
  }
  if (strcmp(sub, "list") == 0) {
    printf("cache: %s\n", dir);
    printf("kernels: the %s path (--isa %s)\n", emo_isa_name(emo_isa_pick(cp.cp.isa)),
           emo_isa_name(cp.cp.isa));
    int missing = 0;
    for (int i = 0; i < emo_models_count() + emo_models_import_count(); i++) {
      emo_model_info info;
      if (emo_models_info(i, &info) != EMO_OK) continue;
      int st = emo_models_check(&p, i);
      if (st != EMO_OK && !info.get) missing++;
      printf("%-9s %-22s %-44s %9lld  %s\n    %s (%s)\n",
             st == EMO_OK ? "ok" : (st == EMO_ENOMODEL ? "missing" : "CORRUPT"), info.name,
             info.file, (long long)info.size, info.package ? info.package : "(emo models import)",
             info.task, info.license);
      if (info.get && st != EMO_OK) printf("    get it: %s\n", info.get);
    }
    if (missing) printf("%d file(s) missing or corrupt: run \"emo models fetch\"\n", missing);
    return missing ? 1 : 0;
  }
  fprintf(stderr, "emo models: unknown subcommand %s (fetch, list, dir, import)\n", sub);
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
  if (strcmp(cmd, "batch") == 0) return batch_main(argc, argv);
  if (strcmp(cmd, "report") == 0) return cmd_report(argc, argv);
  if (strcmp(cmd, "features") == 0) return cli_features(argc, argv);
  if (strcmp(cmd, "train") == 0) return cli_train(argc, argv);
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
