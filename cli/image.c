/* image.c: `emo image FILE...`: one JSON line per photo (the library's emo_analyze_image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "emo.h"
#include "outfile.h"

int cli_image(int argc, char **argv) {
  cli_options p = cli_options_default();
  p.mp.reid = 0;  /* photos need no re-identification model */
  p.mp.voice = 0; /* nor speech models */
  int first = cli_parse_options(argc, argv, 2, &p);
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
  cli_stoppable(NULL);   /* Ctrl-C stops between photos */
  for (int i = first; i < argc && !cli_signal() && outfile_ok(out); i++) {
    const emo_image_result *r = NULL;
    tried++;
    rc = emo_analyze_file(ctx, &p.rp, argv[i], &r);
    if (rc != EMO_OK) {
      failures++;
      cli_report(argv[i], emo_context_last_error(ctx));
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
  const int stopped = cli_stopped_by();
  emo_head_destroy(&head);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  /* A run in which no photo could be analysed leaves an earlier output as it was. */
  if (failures == tried && outfile_ok(out))
    outfile_abort(&out);
  else if (outfile_commit(&out) != 0)
    return 1;
  return cli_exit_status(stopped, failures ? 1 : 0);
}
