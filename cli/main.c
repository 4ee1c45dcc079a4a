/* main.c: the `emo` command-line tool. It uses only the public API (include/emo.h) and
 * decides what reaches the terminal: JSON Lines results on stdout (or -o FILE), log
 * messages on stderr. This file dispatches the commands and holds what they share (signals,
 * messages, usage); each analysis command has its own file (cli.h).
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

#include "batch.h"
#include "cli.h"
#include "emo.h"
#include "outfile.h"
#include "report.h"
#include "train.h"

void cli_log_to_stderr(emo_log_level level, const char *message, void *user) {
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
void cli_stoppable(emo_context *ctx) {
  g_ctx = ctx;
  g_stoppable = 1;
}

/* The analysis returned: the signal that stopped it, 0 when none. A later signal no longer
 * touches the context (about to be destroyed) and leaves the finished result alone. */
int cli_stopped_by(void) {
  g_ctx = NULL;
  return g_signal;
}

void cli_catch_signals(void) {
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
int cli_exit_status(int stopped, int status) {
  return stopped ? 128 + stopped : status;
}

/* 1 (after a message) when two of a run's outputs name the same file: each would replace the
 * other's result. */
int cli_refuse_same_outputs(const char *const *paths, int n) {
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
void cli_report(const char *path, const char *message) {
  if (message && strstr(message, path))
    fprintf(stderr, "emo: %s\n", message);
  else
    fprintf(stderr, "emo: %s: %s\n", path, message ? message : "failed");
}

int cli_signal(void) {
  return g_signal;
}

void cli_usage(FILE *f) {
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

static int cmd_models(int argc, char **argv) {
  cli_options cp = cli_options_default();
  const char *sub = argc > 2 ? argv[2] : "list";
  int first = cli_parse_options(argc, argv, 3, &cp);
  if (first < 0) return 2;
  emo_model_params p = cp.mp;
  p.log = cli_log_to_stderr;
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
    cli_usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "image") == 0 || strcmp(cmd, "video") == 0 || strcmp(cmd, "audio") == 0)
    cli_catch_signals();
  if (strcmp(cmd, "image") == 0) return cli_image(argc, argv);
  if (strcmp(cmd, "video") == 0) return cli_video(argc, argv);
  if (strcmp(cmd, "audio") == 0) return cli_audio(argc, argv);
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
    cli_usage(stdout);
    return 0;
  }
  fprintf(stderr, "emo: unknown command %s\n", cmd);
  cli_usage(stderr);
  return 2;
}
