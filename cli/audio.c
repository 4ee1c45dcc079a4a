/* audio.c: `emo audio FILE|URL`: speech segments as they are described (emo_analyze_audio). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "emo.h"
#include "outfile.h"

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

int cli_audio(int argc, char **argv) {
  cli_options p = cli_options_default();
  p.mp.faces = 0;
  p.mp.reid = 0;
  int first = cli_parse_options(argc, argv, 2, &p);
  if (first < 0) return 2;
  if (first != argc - 1) {
    fprintf(stderr, "emo audio: give exactly one input (see emo --help)\n");
    return 2;
  }
  cli_options_log(&p);
  const char *const *inputs = (const char *const *)argv + first;
  const char *outputs[2] = {p.out_path, p.rttm_path};
  if (cli_refuse_same_outputs(outputs, 2)) return 2;
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
    cli_stoppable(ctx); /* Ctrl-C ends it with the segments described so far */
    audio_out ao = {out, 0};
    const emo_media_callbacks cb = {NULL, audio_segment, &ao, NULL, audio_run};
    p.rp.voice_head = head; /* each segment carries the head's answer */
    rc = emo_analyze_audio(ctx, &p.rp, argv[first], &cb, &r);
    stopped = cli_stopped_by();
    failed = ao.failed;
    if (rc != EMO_OK) cli_report(argv[first], emo_context_last_error(ctx));
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
  return cli_exit_status(stopped, rc != EMO_OK || failed ? 1 : 0);
}
