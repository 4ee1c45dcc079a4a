/* test_persons.c: persons (faces and voices joined), three layers:
 *  - vision/mouth_motion: a patch compared with itself or shifted by a cell moves ~0, a changed
 *    mouth moves more, a face under MM_MIN_FACE pixels gives no patch;
 *  - pipeline/persons: the join is optimal (a case where greedy picking fails), an unjoined
 *    speaker becomes an off-screen person, an unjoined face a listener, a segment names the
 *    face that spoke over it, "speaking" is null without sound;
 *  - emo_analyze_media on real clips (skipped without ../shared/data or the models): a
 *    split-screen interview (every frame and segment carries persons, a person per face, the
 *    summary names the method), a synthetic split screen made with ffmpeg (each turn's segment
 *    names the face that spoke, the off-screen voice is off screen), and bad input: a video
 *    without sound, audio without faces, a soundtrack ending early, faces too small for a
 *    mouth crop. None may crash or lose a line. The overlapped split screen also goes through
 *    emo_analyze_media_lines: its turn records (overlap marked) and the report made of them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "pipeline/persons.h"
#include "vision/mouth_motion.h"

/* ---- mouth motion ---------------------------------------------------------------------- */

static void draw_face(unsigned char *rgb, int w, int h, int open) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int v = 150 + (int)(12 * sin(x / 5.0) * cos(y / 7.0));              /* skin, smooth texture */
      if (y >= 70 - open && y <= 72 + open && x >= 40 && x <= 60) v = 40; /* mouth */
      rgb[(y * w + x) * 3] = rgb[(y * w + x) * 3 + 1] = rgb[(y * w + x) * 3 + 2] = (unsigned char)v;
    }
}

static void test_mouth_motion(void) {
  enum { W = 100, H = 100 };
  static unsigned char a[W * H * 3], b[W * H * 3], c[W * H * 3];
  draw_face(a, W, H, 0);
  draw_face(b, W, H, 0);
  draw_face(c, W, H, 6);
  float box[4] = {20, 20, 60, 60},
        kp[6][2] = {{38, 40}, {62, 40}, {50, 55}, {50, 71}, {22, 45}, {78, 45}};
  float pa[MM_W * MM_H], pb[MM_W * MM_H], pc[MM_W * MM_H];
  CHECK(mm_patch(a, W, H, W * 3, box, (const float(*)[2])kp, pa) == 1, "patch of a 60 px face");
  CHECK(mm_patch(b, W, H, W * 3, box, (const float(*)[2])kp, pb) == 1, "same");
  CHECK(mm_patch(c, W, H, W * 3, box, (const float(*)[2])kp, pc) == 1, "open mouth");
  float still = mm_motion(pa, pb), open = mm_motion(pa, pc);
  CHECK(still < 1e-5f, "identical frames move %g", still);
  CHECK(open > 0.1f, "an opening mouth moves %g", open);
  /* keypoints jittered by 1 px: the shift search absorbs it */
  float kj[6][2];
  memcpy(kj, kp, sizeof kj);
  for (int k = 0; k < 6; k++) kj[k][0] += 1.0f;
  CHECK(mm_patch(b, W, H, W * 3, box, (const float(*)[2])kj, pb) == 1, "jittered");
  float jitter = mm_motion(pa, pb);
  CHECK(jitter < open / 3, "1 px keypoint jitter moves %g, an opening mouth %g", jitter, open);
  float small[4] = {40, 40, 20, 20};
  CHECK(mm_patch(a, W, H, W * 3, small, (const float(*)[2])kp, pa) == 0, "20 px face refused");
  float nan_kp[6][2];
  memcpy(nan_kp, kp, sizeof nan_kp);
  nan_kp[3][0] = NAN;
  CHECK(mm_patch(a, W, H, W * 3, box, (const float(*)[2])nan_kp, pa) == 0, "NaN refused");
  float out_box[4] = {-500, -500, 60, 60}, out_kp[6][2];
  for (int k = 0; k < 6; k++) out_kp[k][0] = out_kp[k][1] = -480;
  CHECK(mm_patch(a, W, H, W * 3, out_box, (const float(*)[2])out_kp, pa) == 0, "outside refused");
}

/* ---- the join --------------------------------------------------------------------------- */

/* Frames every 0.04 s over [t0, t1) with the two tracks' evidence. */
static void frames(psn_state *s, double t0, double t1, float e1, float e2, int voiced) {
  emo_track_face faces[2];
  memset(faces, 0, sizeof faces);
  faces[0].track_id = 1;
  faces[1].track_id = 2;
  faces[0].dominant = faces[1].dominant = 6;
  faces[0].expression[6] = faces[1].expression[6] = 1.0f;
  float ev[2] = {e1, e2};
  emoi_err err = {{0}};
  for (double t = t0; t < t1 - 1e-9; t += 0.04) {
    emo_frame_result f;
    memset(&f, 0, sizeof f);
    f.t = t;
    f.frame = (int64_t)(t / 0.04 + 0.5);
    f.face_count = 2;
    f.faces = faces;
    CHECK(psn_frame(s, &f, ev, 0, voiced, &err) == EMO_OK, "psn_frame");
  }
}

static emo_speech_segment segment(psn_state *s, double start, double end, int speaker) {
  emo_speech_segment g;
  memset(&g, 0, sizeof g);
  g.start = start;
  g.end = end;
  g.speaker = speaker;
  g.dominant = -1;
  emoi_err err = {{0}};
  CHECK(psn_segment(s, &g, &err) == EMO_OK, "psn_segment");
  return g;
}

static void test_join(void) {
  psn_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(psn_create(&s, &err) == EMO_OK, "create");
  emo_track_summary tr[2];
  memset(tr, 0, sizeof tr);
  tr[0].track_id = 1;
  tr[1].track_id = 2;
  emo_video_summary vs;
  memset(&vs, 0, sizeof vs);
  vs.track_count = 2;
  vs.tracks = tr;

  /* Greedy fails here: S1 speaks while both faces move their mouths, neither clearly (affinity
   * 0.6 to track 1, 0.45 to track 2: not two faces at once, which needs both >= 0.5), S2 only
   * while track 1 does (0.55, 0.0). Greedy gives S1 track 1 and leaves S2 without a face; the
   * optimum is S1-track 2, S2-track 1. */
  psn_begin(s);
  frames(s, 0.0, 4.0, 0.6f, 0.45f, 1);
  emo_speech_segment g1 = segment(s, 0.0, 4.0, 1);
  frames(s, 4.0, 8.0, 0.55f, 0.0f, 1);
  emo_speech_segment g2 = segment(s, 4.0, 8.0, 2);
  CHECK(g1.linked && g1.track_id == 1 && g1.person == 1, "segment 1 names track %d", g1.track_id);
  CHECK(g2.linked && g2.track_id == 1, "segment 2 names track %d", g2.track_id);
  CHECK(fabsf(g1.link - 0.6f) < 1e-3f, "segment 1's link %g", g1.link);
  CHECK(g1.overlap_time == 0.0 && g1.overlap_track_id == 0, "no overlap in segment 1");
  tr[0].frames = tr[1].frames = 200;
  vs.frames_analysed = 200;
  vs.duration = 8.0;
  emo_speaker_summary sp[2];
  memset(sp, 0, sizeof sp);
  sp[0].speaker = 1;
  sp[1].speaker = 2;
  sp[0].dominant = sp[1].dominant = -1;
  emo_audio_result au;
  memset(&au, 0, sizeof au);
  au.speaker_count = 2;
  au.speakers = sp;
  const emo_person *p = NULL;
  const emo_person_turn *sp_of = NULL;
  int n = 0, n_seg = 0;
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  CHECK(n == 2, "2 persons, got %d", n);
  if (n == 2) {
    CHECK(p[0].person == 1 && p[0].speaker == 2, "track 1 joined to S2 (got S%d)", p[0].speaker);
    CHECK(p[1].person == 2 && p[1].speaker == 1, "track 2 joined to S1 (got S%d)", p[1].speaker);
    CHECK(fabsf(p[0].link_confidence - 0.55f) < 1e-3f, "confidence %g", p[0].link_confidence);
    CHECK(p[0].on_screen && fabs(p[0].on_screen_time - 8.0) < 1e-6, "on screen 8 s");
    CHECK(fabs(p[0].talk_time - 4.0) < 1e-6, "talk time %g", p[0].talk_time);
    CHECK(p[0].dominant_speaking == 6 && p[0].dominant_listening == -1, "track 1 always spoke");
    CHECK(p[1].dominant_speaking == -1 && p[1].dominant_listening == 6, "track 2 listened");
    CHECK(p[0].overlap_time == 0.0 && p[1].overlap_time == 0.0, "no overlap");
  }

  /* An off-screen voice and a listener: S1 speaks while no face moves its mouth. */
  psn_begin(s);
  frames(s, 0.0, 2.0, 0.05f, 0.02f, 1);
  emo_speech_segment g3 = segment(s, 0.0, 2.0, 1);
  CHECK(g3.linked && g3.track_id == 0, "off-screen segment names track %d", g3.track_id);
  frames(s, 2.0, 4.0, -1.0f, -1.0f, -1);
  au.speaker_count = 1;
  vs.frames_analysed = 100;
  vs.duration = 4.0;
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  CHECK(n == 3, "2 listeners and a voice, got %d", n);
  if (n == 3) {
    CHECK(p[0].speaker == 0 && p[1].speaker == 0, "faces not joined");
    CHECK(p[2].person == 3 && p[2].speaker == 1 && !p[2].on_screen && p[2].track_count == 0,
          "the voice is person 3, off screen");
  }

  /* Split: diarization put both faces' turns into S1 (track 1 carries 0-3 s, track 2 3-6 s),
   * and an off-screen voice 6-8 s too. Each face gets its own turns, the rest is off screen. */
  psn_begin(s);
  frames(s, 0.0, 3.0, 0.9f, 0.1f, 1);
  segment(s, 0.0, 3.0, 1);
  frames(s, 3.0, 6.0, 0.05f, 0.8f, 1);
  segment(s, 3.0, 6.0, 1);
  frames(s, 6.0, 8.0, 0.02f, 0.03f, 1);
  segment(s, 6.0, 8.0, 1);
  au.speaker_count = 1;
  vs.frames_analysed = 200;
  vs.duration = 8.0;
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  CHECK(n == 3 && n_seg == 3, "split: 2 faces and a voice (%d), 3 segments (%d)", n, n_seg);
  if (n == 3 && n_seg == 3) {
    CHECK(p[0].speaker == 1 && p[1].speaker == 1 && p[2].speaker == 1 && !p[2].on_screen,
          "S1 in all three persons");
    CHECK(fabs(p[0].talk_time - 3.0) < 1e-6 && fabs(p[1].talk_time - 3.0) < 1e-6 &&
              fabs(p[2].talk_time - 2.0) < 1e-6,
          "talk split 3 / 3 / 2 s (%g %g %g)", p[0].talk_time, p[1].talk_time, p[2].talk_time);
    CHECK(sp_of[0].person == 1 && sp_of[1].person == 2 && sp_of[2].person == 3 &&
              sp_of[1].start == 3.0 && sp_of[2].segment == 2,
          "turns to P%d P%d P%d", sp_of[0].person, sp_of[1].person, sp_of[2].person);
  }
  /* A speaker carried by one face for only 0.6 s of 6 s is not split. */
  psn_begin(s);
  frames(s, 0.0, 5.4, 0.9f, 0.1f, 1);
  segment(s, 0.0, 5.4, 1);
  frames(s, 5.4, 6.0, 0.1f, 0.9f, 1);
  segment(s, 5.4, 6.0, 1);
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  CHECK(n == 2 && p[0].speaker == 1 && p[1].speaker == 0 && n_seg == 2 && sp_of[1].person == 1,
        "a short stray turn stays with its speaker (%d persons, %d turns)", n, n_seg);
  /* Merge: diarization cut track 1's voice into S1 and S2; both join track 1, track 2 listens. */
  psn_begin(s);
  frames(s, 0.0, 3.0, 0.9f, 0.1f, 1);
  segment(s, 0.0, 3.0, 1);
  frames(s, 3.0, 5.0, 0.8f, 0.05f, 1);
  segment(s, 3.0, 5.0, 2);
  au.speaker_count = 2;
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  CHECK(n == 2, "merge: 2 persons, got %d", n);
  if (n == 2) {
    CHECK(p[0].speaker == 1 && p[0].speaker_count == 2 && p[0].speakers[1] == 2 &&
              fabs(p[0].talk_time - 5.0) < 1e-6,
          "track 1 has S1 and S2 (%d speakers, %g s)", p[0].speaker_count, p[0].talk_time);
    CHECK(p[1].speaker == 0, "track 2 listens");
    char *j = emo_person_json(&p[0]);
    CHECK(j && strstr(j, "\"speakers\":[\"S1\",\"S2\"]"), "speakers in JSON: %s", j ? j : "");
    emo_free(j);
  }

  /* Overlap: diarization gave one segment (0-6 s) to S1 while track 1 speaks alone 0-2 s, both
   * faces speak at once 2-4 s and track 2 alone 4-6 s. Each face gets its own turn over 2-4 s
   * (the turns overlap, marked so), its talk time counts it, the segment says so. */
  psn_begin(s);
  frames(s, 0.0, 2.0, 0.9f, 0.1f, 1);
  frames(s, 2.0, 4.0, 0.85f, 0.8f, 1);
  frames(s, 4.0, 6.0, 0.1f, 0.9f, 1);
  emo_speech_segment g4 = segment(s, 0.0, 6.0, 1);
  CHECK(g4.track_id == 1 && fabs(g4.overlap_time - 2.0) < 1e-6 && g4.overlap_track_id == 2 &&
            g4.overlap_person == 2,
        "segment overlap %g s with track %d", g4.overlap_time, g4.overlap_track_id);
  char *gj = emo_segment_json(&g4);
  CHECK(gj && strstr(gj, "\"overlap_time\":2") && strstr(gj, "\"overlap_person\":\"P2\""),
        "overlap in the segment's JSON: %s", gj ? gj : "");
  emo_free(gj);
  au.speaker_count = 1;
  vs.frames_analysed = 150;
  vs.duration = 6.0;
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  double both[3] = {0, 0, 0}, alone[3] = {0, 0, 0}; /* per person 1, 2: seconds in 2-4 s */
  for (int i = 0; i < n_seg; i++) {
    const emo_person_turn *t = &sp_of[i];
    double o = fmin(t->end, 4.0) - fmax(t->start, 2.0);
    if (t->person >= 1 && t->person <= 2 && o > 0) both[t->person] += t->overlap ? o : 0.0;
    if (t->person >= 1 && t->person <= 2) alone[t->person] += t->overlap ? 0.0 : t->end - t->start;
    CHECK(i == 0 || sp_of[i - 1].start <= t->start, "turns in time order");
  }
  CHECK(fabs(both[1] - 2.0) < 1e-6 && fabs(both[2] - 2.0) < 1e-6,
        "both faces have the overlapped 2 s (P1 %g s, P2 %g s)", both[1], both[2]);
  CHECK(fabs(alone[1] - 2.0) < 1e-6 && fabs(alone[2] - 2.0) < 1e-6,
        "each face its 2 s alone (P1 %g s, P2 %g s)", alone[1], alone[2]);
  CHECK(n == 2 && fabs(p[0].talk_time - 4.0) < 1e-6 && fabs(p[1].talk_time - 4.0) < 1e-6 &&
            fabs(p[0].overlap_time - 2.0) < 1e-6 && fabs(p[1].overlap_time - 2.0) < 1e-6,
        "talk 4 s each, 2 s of it overlapped (%d persons)", n);
  char *pj = n ? emo_person_json(&p[1]) : NULL;
  CHECK(pj && strstr(pj, "\"overlap_time\":2"), "overlap_time in the person's JSON: %s",
        pj ? pj : "");
  emo_free(pj);
  /* the turn records (emo_turn_json) and the report that reads them: both faces' 2-4 s turns
   * marked overlap, inlined in the page with their flag */
  emo_report *rep = NULL;
  CHECK(emo_report_create(NULL, &rep) == EMO_OK, "report");
  int n_over_json = 0;
  for (int i = 0; i < n_seg && rep; i++) {
    char *tj = emo_turn_json(&sp_of[i]);
    CHECK(tj && strncmp(tj, "{\"type\":\"turn\",\"start\":", 23) == 0, "turn JSON: %s",
          tj ? tj : "");
    n_over_json += tj && strstr(tj, "\"overlap\":true") != NULL;
    if (tj && sp_of[i].overlap && sp_of[i].person == 2)
      CHECK(strcmp(tj,
                   "{\"type\":\"turn\",\"start\":2.000,\"end\":4.000,\"person\":\"P2\","
                   "\"track_id\":2,\"speaker\":\"S1\",\"segment\":0,\"overlap\":true}") == 0,
            "P2's overlapped turn: %s", tj);
    if (tj) emo_report_add_line(rep, tj, strlen(tj));
    emo_free(tj);
  }
  CHECK(n_over_json == 2, "two turn records marked overlap: %d", n_over_json);
  char *html = NULL;
  CHECK(rep && emo_report_html(rep, &html) == EMO_OK && html &&
            strstr(html, "[2.000,4.000,\"P1\",\"S1\",1]") &&
            strstr(html, "[2.000,4.000,\"P2\",\"S1\",1]"),
        "the report's page holds both overlapped turns");
  emo_free(html);
  emo_report_destroy(&rep);
  /* ... and a face that never speaks alone (an interview's crosstalk): both 0-4 s, track 2
   * alone 4-6 s, all one speaker: track 1 still gets its overlapped turns */
  psn_begin(s);
  frames(s, 0.0, 4.0, 0.8f, 0.9f, 1);
  frames(s, 4.0, 6.0, 0.1f, 0.9f, 1);
  segment(s, 0.0, 6.0, 1);
  CHECK(psn_finish(s, &vs, &au, &p, &n, &sp_of, &n_seg, &err) == EMO_OK, "finish");
  double t1 = 0, t2 = 0;
  for (int i = 0; i < n_seg; i++) {
    t1 += sp_of[i].person == 1 ? sp_of[i].end - sp_of[i].start : 0.0;
    t2 += sp_of[i].person == 2 ? sp_of[i].end - sp_of[i].start : 0.0;
  }
  CHECK(fabs(t1 - 4.0) < 1e-6 && fabs(t2 - 6.0) < 1e-6,
        "never alone: P1 has %g s (4 overlapped), P2 %g s", t1, t2);

  /* Without sound, speaking is null (-1) even with evidence. */
  emo_track_face face;
  memset(&face, 0, sizeof face);
  face.track_id = 1;
  face.dominant = -1;
  emo_frame_result f;
  memset(&f, 0, sizeof f);
  f.face_count = 1;
  f.faces = &face;
  float ev = 0.9f;
  CHECK(psn_frame(s, &f, &ev, 0, -1, &err) == EMO_OK && face.speaking < 0 && f.persons == 1,
        "no sound: speaking %g", face.speaking);
  CHECK(psn_frame(s, &f, &ev, 0, 0, &err) == EMO_OK && face.speaking == 0.0f,
        "silence: speaking %g", face.speaking);
  /* an audio-visual source's score is used as it is */
  CHECK(psn_frame(s, &f, &ev, 1, -1, &err) == EMO_OK && fabsf(face.speaking - 0.9f) < 1e-6f,
        "audio-visual: speaking %g", face.speaking);
  psn_destroy(&s);
  psn_destroy(&s);
}

/* Random recordings (fixed seed): up to 5 faces, some never seen, scores often high on several
 * at once (overlap), up to 4 speakers. The turns stay in time order, inside the speech, and a
 * person's talk time is the sum of its turns; under ASan (CI) this also checks the bounds of
 * the units and turns (an overlapped piece can make a unit per face). */
static void test_random(void) {
  psn_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(psn_create(&s, &err) == EMO_OK, "create");
  unsigned seed = 12345;
#define RND(n) ((int)((seed = seed * 1103515245u + 12345u) >> 16) % (n))
  int bad_order = 0, bad_talk = 0, n_overlap = 0;
  for (int it = 0; s && it < 300; it++) {
    psn_begin(s);
    int ntr = 1 + RND(5), nsp = 1 + RND(4), nseg = RND(12);
    emo_track_face faces[5];
    emo_track_summary tr[5];
    memset(faces, 0, sizeof faces);
    memset(tr, 0, sizeof tr);
    for (int k = 0; k < ntr; k++) {
      faces[k].track_id = tr[k].track_id = k + 1;
      faces[k].dominant = -1;
      tr[k].frames = RND(4) ? 10 : 0;
    }
    double t = 0.0;
    int64_t nfr = 0;
    for (int g = 0; g < nseg; g++) {
      double d = RND(400) / 100.0;
      for (double x = t; x < t + d; x += 0.04) {
        float ev[5];
        for (int k = 0; k < ntr; k++) ev[k] = RND(3) ? RND(100) / 100.0f : 0.9f;
        emo_frame_result f;
        memset(&f, 0, sizeof f);
        f.t = x;
        f.frame = nfr++;
        f.face_count = ntr;
        f.faces = faces;
        psn_frame(s, &f, ev, 0, 1, &err);
      }
      segment(s, t, t + d, 1 + RND(nsp));
      t += d;
    }
    emo_video_summary vs;
    memset(&vs, 0, sizeof vs);
    vs.track_count = ntr;
    vs.tracks = tr;
    vs.frames_analysed = nfr;
    vs.duration = t;
    emo_speaker_summary sp[4];
    memset(sp, 0, sizeof sp);
    for (int k = 0; k < 4; k++) sp[k].speaker = k + 1, sp[k].dominant = -1;
    emo_audio_result au;
    memset(&au, 0, sizeof au);
    au.speaker_count = nsp;
    au.speakers = sp;
    const emo_person *p = NULL;
    const emo_person_turn *tu = NULL;
    int n = 0, nt = 0;
    CHECK(psn_finish(s, &vs, &au, &p, &n, &tu, &nt, &err) == EMO_OK, "finish: %s", err.msg);
    for (int i = 0; i < nt; i++) {
      bad_order += (i > 0 && tu[i].start < tu[i - 1].start) || tu[i].start < 0 || tu[i].end > t;
      n_overlap += tu[i].overlap;
    }
    for (int k = 0; k < n; k++) {
      double sum = 0.0;
      for (int i = 0; i < nt; i++) sum += tu[i].person == p[k].person ? tu[i].end - tu[i].start : 0;
      bad_talk += fabs(sum - p[k].talk_time) > 1e-6;
    }
  }
#undef RND
  CHECK(bad_order == 0 && bad_talk == 0 && n_overlap > 0,
        "random recordings: %d turns out of order or outside, %d talk times off, %d overlap turns",
        bad_order, bad_talk, n_overlap);
  psn_destroy(&s);
}

/* ---- real clips --------------------------------------------------------------------------- */

typedef struct collect {
  int frames, faces, null_scores, persons_fields, segments, linked, off_screen, n_persons;
  int face_persons, voice_persons, order_ok, after_end;
  int seg_track[64];
  double seg_start[64], seg_end[64], last_t, audio_end;
  int null_after_end, scored_after_end, tiny_scored;
  double seg_overlap; /* the segments' overlap_time summed */
  char method[32];
  float track_x[16]; /* the last box centre x of tracks 1..15 */
} collect;

static int on_frame(const emo_frame_result *f, void *user) {
  collect *c = user;
  if (f->frame < 0) return 0;
  if (c->n_persons) c->order_ok = 0; /* persons come after every frame */
  c->frames++;
  c->last_t = f->t;
  c->persons_fields += f->persons;
  for (int i = 0; i < f->face_count; i++) {
    c->faces++;
    float s = f->faces[i].speaking;
    c->null_scores += s < 0;
    CHECK(s < 0 || (s >= 0 && s <= 1), "speaking %g out of [0, 1]", s);
    CHECK(f->faces[i].person == f->faces[i].track_id, "a face's person is its track's");
    if (c->audio_end > 0 && f->t > c->audio_end + 0.1) {
      c->null_after_end += s < 0;
      c->scored_after_end += s >= 0;
    }
    if (f->faces[i].box[2] < MM_MIN_FACE && s >= 0) c->tiny_scored++;
    int id = f->faces[i].track_id;
    if (id > 0 && id < 16) c->track_x[id] = f->faces[i].box[0] + 0.5f * f->faces[i].box[2];
  }
  return 0;
}

static int on_segment(const emo_speech_segment *g, void *user) {
  collect *c = user;
  if (c->n_persons) c->order_ok = 0;
  if (c->segments < 64) {
    c->seg_track[c->segments] = g->track_id;
    c->seg_start[c->segments] = g->start;
    c->seg_end[c->segments] = g->end;
  }
  c->segments++;
  c->linked += g->linked;
  c->off_screen += g->linked && g->track_id == 0;
  c->seg_overlap += g->overlap_time;
  return 0;
}

static int on_person(const emo_person *p, void *user) {
  collect *c = user;
  c->n_persons++;
  c->face_persons += p->on_screen;
  c->voice_persons += !p->on_screen;
  char *j = emo_person_json(p);
  CHECK(j && strstr(j, "\"type\":\"person\""), "person JSON");
  emo_free(j);
  return 0;
}

static const emo_media_summary *analyze_rp(emo_context *ctx, const emo_run_params *rp,
                                           const char *path, collect *c, int *rc) {
  emo_media_callbacks cb = {on_frame, on_segment, c, on_person, NULL};
  const emo_media_summary *sum = NULL;
  c->order_ok = 1;
  *rc = emo_analyze_media(ctx, rp, path, &cb, &sum);
  if (sum && sum->video->speaking_method)
    snprintf(c->method, sizeof c->method, "%s", sum->video->speaking_method);
  return sum;
}

static const emo_media_summary *analyze(emo_context *ctx, const char *path, collect *c, int *rc) {
  return analyze_rp(ctx, NULL, path, c, rc);
}

/* 1 when the model cache holds the LR-ASD checkpoint (speaking_model "lr_asd" finds it). */
static int lr_asd_cached(void) {
  emo_model_params mp = emo_model_params_default();
  char dir[4096], path[4200];
  if (emo_models_dir(&mp, dir, sizeof dir) != EMO_OK) return 0;
  snprintf(path, sizeof path, "%s/lr_asd_finetuning_TalkSet.model", dir);
  return access(path, R_OK) == 0;
}

/* The LR-ASD speaking source (rp->speaking_model) on the interview: never the default (the mouth
 * motion is, cached checkpoint or not); finite scores (frames are held until their window is
 * final), segments linked, a person per face, the method named; absent weights are an error naming
 * the file and `emo models import`. */
static void test_lr_asd(emo_context *ctx, const char *interview_path) {
  char interview[1024]; /* th_data's buffer is reused below */
  snprintf(interview, sizeof interview, "%s", interview_path);
  emo_run_params rp = emo_run_params_default();
  rp.speaking_model = "/nonexistent/lr_asd.model";
  collect c = {0};
  int rc;
  analyze_rp(ctx, &rp, interview, &c, &rc);
  const char *msg = emo_context_last_error(ctx);
  CHECK(rc == EMO_EIO && msg && strstr(msg, "/nonexistent/lr_asd.model") &&
            strstr(msg, "emo models import"),
        "absent LR-ASD weights: rc %d, \"%s\"", rc, msg ? msg : "");
  /* the default: mouth motion, whether the cache has LR-ASD's checkpoint or not */
  memset(&c, 0, sizeof c);
  analyze_rp(ctx, NULL, interview, &c, &rc);
  CHECK(rc == EMO_OK && strcmp(c.method, "mouth_motion") == 0,
        "the default is mouth motion (\"%s\", LR-ASD cached: %d)", c.method, lr_asd_cached());
  const char *w = th_data("models/lr_asd/finetuning_TalkSet.model");
  if (!lr_asd_cached() && (!w || access(w, R_OK) != 0)) {
    printf("LR-ASD weights absent: the LR-ASD speaking source is not tested\n");
    return;
  }
  rp.speaking_model = lr_asd_cached() ? "lr_asd" : w;
  memset(&c, 0, sizeof c);
  const emo_media_summary *s = analyze_rp(ctx, &rp, interview, &c, &rc);
  CHECK(rc == EMO_OK && s, "interview analysed with LR-ASD: %s", emo_context_last_error(ctx));
  CHECK(c.faces >= 2 * c.frames - 10, "two faces a frame (%d in %d frames)", c.faces, c.frames);
  CHECK(c.null_scores < c.faces / 20, "%d null LR-ASD scores of %d", c.null_scores, c.faces);
  CHECK(c.order_ok && c.persons_fields == c.frames, "held frames keep the order and persons");
  CHECK(c.segments >= 1 && c.linked == c.segments, "segments linked");
  CHECK(c.face_persons == 2, "a person per face, got %d", c.face_persons);
  CHECK(strcmp(c.method, "lr_asd") == 0, "method \"%s\"", c.method);
  printf("interview_overlap with LR-ASD: %d frames, %d null scores of %d, %d segments\n", c.frames,
         c.null_scores, c.faces, c.segments);
}

static int sh(const char *cmd) {
  int rc = system(cmd);
  return rc;
}

static void test_overlap_lines(emo_context *ctx, const char *path);

/* Overlapped speech on a synthetic GRID split screen: LEFT speaks alone 0-3 s, both sides'
 * sentences play with their sound mixed 3-6 s, RIGHT speaks alone 6-9 s (a face is frozen while
 * it does not speak). The final turns must give the overlapped speech (3.5-5.5 s, the sentences'
 * voiced part) to both faces, whatever diarization made of the mixed voices. method: NULL (the
 * mouth motion) or an LR-ASD checkpoint. */
static void test_overlap_clip(emo_context *ctx, const char *dir, const char *grid,
                              const char *method) {
  char cmd[4096], path[600];
  snprintf(path, sizeof path, "%s/overlap.mp4", dir);
  snprintf(
      cmd, sizeof cmd,
      "test -f '%s' || ffmpeg -v error -y -i %s/bbaf2n.mpg -i %s/lrwp9a.mpg -i %s/lbax4n.mpg "
      "-i %s/swiz3n.mpg -filter_complex \"[0:v]fps=25,trim=duration=3,setpts=PTS-STARTPTS[l0];"
      "[1:v]fps=25,trim=duration=3,setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=4[l1];"
      "[l0][l1]concat=n=2:v=1:a=0[l];[2:v]fps=25,trim=duration=3,setpts=PTS-STARTPTS,"
      "tpad=start_mode=clone:start_duration=3[r0];[3:v]fps=25,trim=duration=3,"
      "setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=1[r1];[r0][r1]concat=n=2:v=1:"
      "a=0[r];[l][r]hstack[v];[0:a]aresample=16000,pan=mono|c0=c0[a0];[1:a]aresample=16000,"
      "pan=mono|c0=c0,adelay=3000[a1];[2:a]aresample=16000,pan=mono|c0=c0,adelay=3000[a2];"
      "[3:a]aresample=16000,pan=mono|c0=c0,adelay=6000[a3];[a0][a1][a2][a3]amix=inputs=4:"
      "normalize=0,apad=whole_dur=10[a]\" -map [v] -map [a] -t 10 -c:v libx264 -preset "
      "veryfast -pix_fmt yuv420p -c:a aac '%s'",
      path, grid, grid, grid, grid, path);
  if (sh(cmd) != 0) {
    printf("ffmpeg could not make the overlap clip: not tested\n");
    return;
  }
  collect c = {0};
  int rc;
  emo_run_params rp = emo_run_params_default();
  rp.speaking_model = method;
  const emo_media_summary *sum = analyze_rp(ctx, &rp, path, &c, &rc);
  CHECK(rc == EMO_OK && sum, "overlap clip analysed");
  if (!sum) return;
    /* the side of a face person (its id is its track's): LEFT's box is on the left half of the
     * 720 px frame (a side may have several tracks: its face restarts at 3 s or 6 s) */
#define SIDE(id) ((id) > 0 && (id) < 16 && c.track_x[id] > 0 ? (c.track_x[id] < 360 ? 1 : 2) : 0)
  /* seconds of 3.5-5.5 s in each side's final turns, and how much of it marked overlap */
  double l_cov = 0, r_cov = 0, marked = 0, seg_overlap = c.seg_overlap;
  for (int i = 0; i < sum->turn_count; i++) {
    const emo_person_turn *t = &sum->turns[i];
    double o = fmin(t->end, 5.5) - fmax(t->start, 3.5);
    if (!(o > 0)) continue;
    l_cov += SIDE(t->person) == 1 ? o : 0.0;
    r_cov += SIDE(t->person) == 2 ? o : 0.0;
    marked += t->overlap ? o : 0.0;
  }
  double l_ov = 0, r_ov = 0;
  for (int k = 0; k < sum->person_count; k++) {
    l_ov += SIDE(sum->persons[k].person) == 1 ? sum->persons[k].overlap_time : 0.0;
    r_ov += SIDE(sum->persons[k].person) == 2 ? sum->persons[k].overlap_time : 0.0;
  }
#undef SIDE
  printf(
      "overlap clip (%s): of the 2 s overlapped, LEFT's turns cover %.2f s, RIGHT's %.2f s, "
      "%.2f s marked overlap; persons' overlap %.2f / %.2f s; segments' %.2f s\n",
      c.method, l_cov, r_cov, marked, l_ov, r_ov, seg_overlap);
  CHECK(l_cov >= 1.0 && r_cov >= 1.0,
        "overlapped speech given to both faces (%s): LEFT %.2f s, RIGHT %.2f s of 2", c.method,
        l_cov, r_cov);
  CHECK(marked >= 2.0 && l_ov >= 1.0 && r_ov >= 1.0 && seg_overlap >= 1.0,
        "overlap marked (%s): turns %.2f s, persons %.2f / %.2f s, segments %.2f s", c.method,
        marked, l_ov, r_ov, seg_overlap);
  if (!method) test_overlap_lines(ctx, path);
}

typedef struct lines_buf {
  char *text;
  size_t len, cap;
} lines_buf;

static int add_line(const char *line, size_t len, void *user) {
  lines_buf *b = user;
  if (b->len + len + 2 > b->cap) {
    size_t cap = (b->cap + len + 2) * 2;
    char *t = realloc(b->text, cap);
    if (!t) return 1;
    b->text = t;
    b->cap = cap;
  }
  memcpy(b->text + b->len, line, len);
  b->len += len;
  b->text[b->len++] = '\n';
  b->text[b->len] = 0;
  return 0;
}

/* The overlap clip through emo_analyze_media_lines (the records `emo video` writes): turn
 * records after the person records and before the summary, in time order, at least two marked
 * overlap from two persons whose overlapped turns meet in time; the report made from these lines
 * inlines those turns with their overlap flag (the page draws them in the persons' lanes and
 * the overlap row; tests/report_browser.py checks the drawing). */
static void test_overlap_lines(emo_context *ctx, const char *path) {
  lines_buf b = {0};
  int rc = emo_analyze_media_lines(ctx, NULL, path, add_line, &b);
  CHECK(rc == EMO_OK && b.text, "overlap clip through emo_analyze_media_lines: %d", rc);
  if (!b.text) return;
  int n_turns = 0, n_over = 0, order_ok = 1, after_person = 1, last_person = 0, summary_line = 0;
  int line_no = 0, first_turn = 0, meet = 0;
  double last_start = -1, ov_s[64], ov_e[64];
  char ov_p[64][16];
  for (char *ln = b.text; *ln;) {
    char *nl = strchr(ln, '\n');
    if (nl) *nl = 0; /* one line at a time (put back below) */
    line_no++;
    if (strncmp(ln, "{\"type\":\"person\"", 16) == 0) last_person = line_no;
    if (strncmp(ln, "{\"type\":\"summary\"", 17) == 0) summary_line = line_no;
    double s0 = 0, e0 = 0;
    char who[16] = "";
    if (sscanf(ln, "{\"type\":\"turn\",\"start\":%lf,\"end\":%lf,\"person\":\"%15[^\"]", &s0, &e0,
               who) >= 2) {
      if (!first_turn) first_turn = line_no;
      printf("  %s\n", ln);
      n_turns++;
      order_ok &= s0 >= last_start && e0 > s0;
      last_start = s0;
      if (strstr(ln, "\"overlap\":true") && n_over < 64) {
        for (int k = 0; k < n_over; k++)
          meet |= strcmp(ov_p[k], who) != 0 && fmin(ov_e[k], e0) > fmax(ov_s[k], s0);
        ov_s[n_over] = s0;
        ov_e[n_over] = e0;
        snprintf(ov_p[n_over++], sizeof ov_p[0], "%s", who);
      }
    }
    if (!nl) break;
    *nl = '\n';
    ln = nl + 1;
  }
  after_person = first_turn > last_person && last_person > 0;
  printf("overlap clip as JSON Lines: %d lines, %d turn records, %d marked overlap\n", line_no,
         n_turns, n_over);
  CHECK(n_turns >= 2 && order_ok, "turn records in time order (%d)", n_turns);
  CHECK(after_person && summary_line > first_turn,
        "turns after the person records (line %d > %d) and before the summary (%d)", first_turn,
        last_person, summary_line);
  CHECK(n_over >= 2 && meet, "overlapped turns of two persons at the same time (%d marked)",
        n_over);
  emo_report *rep = NULL;
  char *html = NULL;
  CHECK(emo_report_create(NULL, &rep) == EMO_OK &&
            emo_report_add_text(rep, b.text, b.len) == EMO_OK &&
            emo_report_warnings(rep, NULL, 0) == 0 && emo_report_html(rep, &html) == EMO_OK,
        "the report reads the run without a warning");
  const char *tu = html ? strstr(html, "\"turns\":[[") : NULL;
  const char *tu_end = tu ? strstr(tu, "]],") : NULL;
  if (tu && tu_end) printf("  in the page: %.*s\n", (int)(tu_end + 2 - tu), tu);
  int flagged = 0;
  for (const char *q = tu; q && tu_end && (q = strstr(q, ",1]")) && q < tu_end + 2; q += 3)
    flagged++;
  CHECK(tu && flagged == n_over, "the page holds the turns, %d of them flagged overlap (%d)",
        flagged, n_over);
  emo_free(html);
  emo_report_destroy(&rep);
  free(b.text);
}

static void test_clips(emo_context *ctx) {
  int rc;
  const char *interview = th_data("av/split_screen/interview_overlap.mp4");
  if (interview && access(interview, R_OK) == 0) {
    collect c = {0};
    emo_run_params mouth = emo_run_params_default();
    mouth.speaking_model = "mouth";
    const emo_media_summary *s = analyze_rp(ctx, &mouth, interview, &c, &rc);
    CHECK(rc == EMO_OK && s, "interview analysed");
    CHECK(c.frames > 400 && c.persons_fields == c.frames, "every frame has persons (%d of %d)",
          c.persons_fields, c.frames);
    CHECK(c.faces >= 2 * c.frames - 10, "two faces a frame (%d in %d frames)", c.faces, c.frames);
    CHECK(c.null_scores < c.faces / 10, "%d null scores of %d", c.null_scores, c.faces);
    CHECK(c.segments >= 1 && c.linked == c.segments, "segments linked");
    CHECK(c.face_persons == 2, "a person per face, got %d", c.face_persons);
    CHECK(c.order_ok, "persons after every frame and segment");
    CHECK(strcmp(c.method, "mouth_motion") == 0, "method \"%s\"", c.method);
    CHECK(s && s->person_count == c.n_persons, "summary has the persons delivered");
    char *rttm = s ? emo_persons_rttm(s, "interview") : NULL;
    CHECK(rttm && strstr(rttm, "SPEAKER interview 1 ") && strstr(rttm, " P"), "RTTM by person");
    emo_free(rttm);
    printf("interview_overlap: %d frames, %d segments, %d persons (%d faces, %d voices)\n",
           c.frames, c.segments, c.n_persons, c.face_persons, c.voice_persons);
    test_lr_asd(ctx, interview);
  }

  char dir[] = "/tmp/emo_tpersons_XXXXXX";
  if (!mkdtemp(dir)) return;
  char cmd[4096], path[600];
  const char *asd_w = th_data("models/lr_asd/finetuning_TalkSet.model");
  const char *asd = lr_asd_cached() ? "lr_asd" : asd_w && access(asd_w, R_OK) == 0 ? asd_w : NULL;
  char asd_path[1024] = "";
  if (asd) snprintf(asd_path, sizeof asd_path, "%s", asd); /* th_data's buffer is reused */
  const char *grid = th_data("av/grid");
  /* A synthetic split screen: LEFT speaks 0-3 s, RIGHT 3-6 s, an off-screen voice 6-9 s, then
   * silence; a face is frozen while it does not speak. */
  if (grid && access(grid, R_OK) == 0) {
    snprintf(path, sizeof path, "%s/split.mp4", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -i %s/bbaf2n.mpg -i %s/lbax4n.mpg -i %s/pwij3p.mpg "
             "-filter_complex \"[0:v]fps=25,setpts=PTS-STARTPTS,tpad=stop_mode=clone:"
             "stop_duration=9[l];[1:v]fps=25,setpts=PTS-STARTPTS,tpad=start_mode=clone:"
             "start_duration=3:stop_mode=clone:stop_duration=6[r];[l][r]hstack[v];"
             "[0:a]aresample=16000,pan=mono|c0=c0[a0];[1:a]aresample=16000,pan=mono|c0=c0,"
             "adelay=3000[a1];[2:a]aresample=16000,pan=mono|c0=c0,adelay=6000[a2];"
             "[a0][a1][a2]amix=inputs=3:normalize=0,apad=whole_dur=12[a]\" -map [v] -map [a] "
             "-t 12 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac '%s'",
             grid, grid, grid, path);
    /* the default (mouth motion), then LR-ASD (gated: it runs on both faces during speech) */
    int made = sh(cmd) == 0;
    for (int mth = 0; made && mth < (asd ? 2 : 1); mth++) {
      collect c = {0};
      emo_run_params srp = emo_run_params_default();
      srp.speaking_model = mth == 0 ? NULL : asd_path;
      const emo_media_summary *sum = analyze_rp(ctx, &srp, path, &c, &rc);
      CHECK(rc == EMO_OK && sum, "split screen analysed");
      int left = 0, right = 0, off = 0;
      for (int i = 0; i < c.segments && i < 64; i++) {
        double mid = 0.5 * (c.seg_start[i] + c.seg_end[i]);
        if (mid < 3.0) left = c.seg_track[i];
        if (mid >= 3.0 && mid < 6.0) right = c.seg_track[i];
        if (mid >= 6.0 && mid < 9.0) off = c.seg_track[i] == 0 ? -1 : c.seg_track[i];
      }
      CHECK(left > 0 && right > 0 && left != right, "turns name the two faces (%d, %d)", left,
            right);
      CHECK(off == -1, "the off-screen voice is off screen (track %d)", off);
      CHECK(c.face_persons == 2 && c.voice_persons <= 1, "persons: %d faces, %d voices",
            c.face_persons, c.voice_persons);
      /* the final join (segment_persons, what the RTTM names): each turn to its face, the
       * off-screen voice to a person without face, whatever diarization made of the voices */
      int fl = -1, fr = -1, fo = -1, fo_screen = 1;
      for (int i = 0; sum && i < sum->turn_count; i++) {
        const emo_person_turn *t = &sum->turns[i];
        int who = t->person;
        /* each turn's share of the three spans */
        if (t->start < 2.5 && t->end > 0.5) fl = fl < 0 || fl == who ? who : 0;
        if (t->start < 5.5 && t->end > 3.5) fr = fr < 0 || fr == who ? who : 0;
        if (t->start < 8.5 && t->end > 6.5) {
          fo = fo < 0 || fo == who ? who : 0;
          for (int k = 0; k < sum->person_count; k++)
            if (sum->persons[k].person == who) fo_screen = sum->persons[k].on_screen;
        }
      }
      CHECK(fl == left && fr == right && fo > 0 && !fo_screen,
            "final join (%s): LEFT to P%d (track %d), RIGHT to P%d (track %d), off screen to P%d "
            "(on screen %d)",
            c.method, fl, left, fr, right, fo, fo_screen);
      printf(
          "synthetic split screen (%s): %d segments (LEFT track %d, RIGHT track %d), %d "
          "persons\n",
          c.method, c.segments, left, right, c.n_persons);
    }
  }

  if (grid && access(grid, R_OK) == 0) {
    char grid_dir[1024];
    snprintf(grid_dir, sizeof grid_dir, "%s", grid); /* th_data's buffer is reused */
    test_overlap_clip(ctx, dir, grid_dir, NULL);
    if (asd) test_overlap_clip(ctx, dir, grid_dir, asd_path);
  }

  const char *single = th_data("video/single_face.mp4");
  for (int mth = 0; mth < (asd ? 2 : 1) && single && access(single, R_OK) == 0; mth++) {
    /* mouth motion (the default), then LR-ASD when its weights are there */
    emo_run_params brp = emo_run_params_default();
    brp.speaking_model = mth == 0 ? NULL : asd_path;
    printf("bad input with %s\n", mth == 0 ? "mouth motion (the default)" : "LR-ASD");
    /* no sound: persons from faces only, speaking null */
    snprintf(path, sizeof path, "%s/mute.mp4", dir);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -an -c:v copy '%s'", single, path);
    if (sh(cmd) == 0) {
      collect c = {0};
      analyze_rp(ctx, &brp, path, &c, &rc);
      CHECK(rc == EMO_OK, "silent video analysed");
      CHECK(c.frames > 0 && c.faces > 0 && c.null_scores == c.faces,
            "no sound (%s): %d of %d scores null", c.method, c.null_scores, c.faces);
      CHECK(c.face_persons == 1 && c.voice_persons == 0 && c.segments == 0,
            "one face person, no voice");
    }
    /* a soundtrack that ends after 1 s of a 2.4 s video: null after its end */
    snprintf(path, sizeof path, "%s/short_audio.mkv", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -i '%s' -af atrim=0:1 -c:v copy -c:a pcm_s16le '%s'", single,
             path);
    if (sh(cmd) == 0) {
      collect c = {0};
      c.audio_end = 1.0;
      analyze_rp(ctx, &brp, path, &c, &rc);
      CHECK(rc == EMO_OK, "short soundtrack analysed");
      CHECK(c.null_after_end > 0 && c.scored_after_end == 0,
            "after the sound ends (%s): %d null, %d scored", c.method, c.null_after_end,
            c.scored_after_end);
    }
    /* a damaged file (8 KB of zeros in the middle of a video with PCM sound): analysed up to
     * the damage or through it, every frame delivered with its persons fields, in order */
    snprintf(path, sizeof path, "%s/damaged.mkv", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -i '%s' -c:v copy -c:a pcm_s16le '%s' && "
             "dd if=/dev/zero of='%s' bs=1 seek=$(( $(stat -c %%s '%s') / 2 )) count=8192 "
             "conv=notrunc 2>/dev/null",
             single, path, path, path);
    if (sh(cmd) == 0) {
      collect c = {0};
      analyze_rp(ctx, &brp, path, &c, &rc);
      CHECK(c.frames > 0 && c.persons_fields == c.frames && c.order_ok,
            "damaged (%s): rc %d, %d frames, %d with persons", c.method, rc, c.frames,
            c.persons_fields);
      printf("damaged file (%s): rc %d, %d frames, %d segments\n", c.method, rc, c.frames,
             c.segments);
    }
    /* faces too small for a mouth crop (scaled to 80x45): never scored */
    snprintf(path, sizeof path, "%s/tiny.mkv", dir);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -vf scale=80:45 -c:v ffv1 '%s'", single,
             path);
    if (sh(cmd) == 0) {
      collect c = {0};
      analyze_rp(ctx, &brp, path, &c, &rc);
      CHECK(rc == EMO_OK, "tiny video analysed");
      CHECK(c.tiny_scored == 0, "%d tiny faces scored (%s)", c.tiny_scored, c.method);
      printf("80x45 video: %d faces, %d with speaking null\n", c.faces, c.null_scores);
    }
  }
  const char *noface = th_data("video/no_face.mp4");
  if (noface && access(noface, R_OK) == 0) {
    collect c = {0};
    analyze(ctx, noface, &c, &rc);
    CHECK(rc == EMO_OK, "no_face analysed");
    CHECK(c.faces == 0 && c.face_persons == 0, "no face person");
    CHECK(c.off_screen == c.segments, "every segment off screen (%d of %d)", c.off_screen,
          c.segments);
    CHECK(c.voice_persons >= (c.segments > 0), "voices become persons (%d)", c.voice_persons);
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  sh(cmd);
}

int main(void) {
  test_mouth_motion();
  test_join();
  test_random();
  /* the unit checks above ran; without data or models the rest is skipped (77) */
  if (!th_data("av") || access(th_data("av"), R_OK) != 0) {
    if (th_failures) return th_finish("test_persons");
    th_skip("../shared/data/av is absent: the real clips are not tested");
  }
  if (!th_models_ready()) {
    if (th_failures) return th_finish("test_persons");
    th_skip("models are not in the cache: run `emo models fetch`");
  }
  if (system("ffmpeg -version >/dev/null 2>&1") != 0)
    printf("no ffmpeg: synthetic clips skipped\n");
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(NULL, &model) == EMO_OK, "model");
  CHECK(model && emo_context_create(model, NULL, &ctx) == EMO_OK, "context");
  if (ctx) test_clips(ctx);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  return th_finish("test_persons");
}
