/* run_options.c: the option set the analysis commands share (cli_options, cli.h): defaults,
 * logging, and the one parser of their command lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "emo.h"

cli_options cli_options_default(void) {
  cli_options c;
  memset(&c, 0, sizeof c);
  c.mp = emo_model_params_default();
  c.cp = emo_context_params_default();
  c.rp = emo_run_params_default();
  c.verbosity = EMO_LOG_WARN;
  return c;
}

/* Routes the library's messages to stderr at the verbosity the options chose. */
void cli_options_log(cli_options *c) {
  c->mp.log = c->cp.log = cli_log_to_stderr;
  c->mp.log_level = c->cp.log_level = (emo_log_level)c->verbosity;
}

/* Parses the options shared by the analysis commands from argv[i] on into *o; returns the
 * index of the first operand, or -1 after printing an error. */
int cli_parse_options(int argc, char **argv, int i, cli_options *o) {
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
      cli_usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "emo: unknown option %s (see emo --help)\n", a);
      return -1;
    }
  }
#undef NAMES
  return i;
}
