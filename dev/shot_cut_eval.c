/* shot_cut_eval.c: prints the shot cuts vision/shot_cut.c finds in videos, one line per video:
 * "PATH<TAB>t1,t2,..." (hard cuts) "<TAB>g1,..." (dissolves and fades), so that the cut
 * detector can be tuned without running the face pipeline. Built and scored against the
 * labelled cuts by dev/shot_cut_eval.sh. Usage: shot_cut_eval VIDEO... */
#include <stdio.h>
#include <string.h>

#include "media/video_decode.h"
#include "vision/shot_cut.h"

int main(int argc, char **argv) {
  static sc_state sc;
  for (int a = 1; a < argc; a++) {
    emoi_err err = {{0}};
    vid_reader *r = NULL;
    media_io io;
    memset(&io, 0, sizeof io);
    if (vid_open(argv[a], &io, 100000000, 0.0, 0, 0, &r, &err) != 0) {
      fprintf(stderr, "%s: %s\n", argv[a], err.msg);
      return 1;
    }
    sc_reset(&sc);
    char hard[4096] = "", grad[4096] = "";
    vid_frame f;
    while (vid_read(r, &f, &err) == 1) {
      float d = 0.0f;
      sc_kind k = sc_push(&sc, f.rgb, f.width, f.height, f.stride, f.t, &d);
      char *dst = k == SC_HARD ? hard : k == SC_GRADUAL ? grad : NULL;
      if (dst && strlen(dst) < sizeof hard - 16)
        snprintf(dst + strlen(dst), 16, "%s%.3f", *dst ? "," : "", f.t);
    }
    vid_close(&r);
    printf("%s\t%s\t%s\n", argv[a], hard, grad);
  }
  return 0;
}
