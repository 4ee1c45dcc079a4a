/* video.c: `emo video FILE|URL|-`: the JSON Lines timeline as the library delivers it
 * (emo_analyze_media's callbacks), with --csv, --rttm and --report beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "emo.h"
#include "outfile.h"
#include "report.h"

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

int cli_video(int argc, char **argv) {
  cli_options p = cli_options_default();
  int first = cli_parse_options(argc, argv, 2, &p);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo video: give exactly one input (see emo --help)\n");
    return 2;
  }
  cli_options_log(&p);
  video_out vo = {0};
  const char *const *inputs = (const char *const *)argv + first;
  const char *outputs[5] = {p.out_path, p.csv_path, p.rp.annotate_path, p.report_path, p.rttm_path};
  if (cli_refuse_same_outputs(outputs, 5)) return 2;
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
    if (gallery_failed) cli_report(p.gallery, emo_context_last_error(ctx));
    p.rp.gallery = gallery;
  }
  if (gallery_failed) {
    rc = EMO_EINVAL; /* reported above: no analysis */
  } else if (rc == EMO_OK) {
    /* The soundtrack's speech segments join the timeline (emo.h says in which order). */
    /* the run record (the page's header too) comes first through on_run */
    const emo_media_callbacks cb = {on_frame, on_segment, &vo, on_person, on_run};
    cli_stoppable(ctx); /* Ctrl-C stops after the current frame */
    rc = emo_analyze_media(ctx, &p.rp, argv[first], &cb, &sum);
    stopped = cli_stopped_by();
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
    if (rc != EMO_OK) cli_report(argv[first], emo_context_last_error(ctx));
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
  return cli_exit_status(stopped, rc != EMO_OK || vo.write_failed ? 1 : 0);
}
