/* test_report.c: the HTML report's reader and writer (emo_report_*) on the bad inputs issue 15
 * names: the hand-made person run of tests/fixtures/report, labels and titles that try to run
 * script, a cut last line, lines edited into nonsense, only garbage, no faces and no speech,
 * one frame, a 10-hour run (bounded memory and page: buckets get wider), and turn records
 * (issue 12's overlapped speech), well-formed and not. What the page
 * draws from it is checked in a real browser by tests/report_browser.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"
#include "harness.h"

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* The page of text (a whole JSONL buffer) with params p (NULL: defaults); NULL if none. */
static char *page(const char *text, const emo_report_params *p, int *n_warn, int *status) {
  emo_report *r = NULL;
  if (emo_report_create(p, &r) != EMO_OK) return NULL;
  CHECK(emo_report_add_text(r, text, strlen(text)) == EMO_OK, "add_text");
  char *html = NULL;
  *status = emo_report_html(r, &html);
  *n_warn = emo_report_warnings(r, NULL, 0);
  emo_report_destroy(&r);
  CHECK(r == NULL, "destroy sets NULL");
  return html;
}

/* The number after `"key":` in the page's data, or NAN. */
static double data_num(const char *html, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(html, pat);
  return p ? atof(p + strlen(pat)) : NAN;
}

static void test_persons_fixture(void) {
  size_t n = 0;
  char *text = (char *)th_read_file(EMO_SOURCE_DIR "/tests/fixtures/report/persons.jsonl", &n);
  CHECK(text != NULL, "fixture");
  if (!text) return;
  char *t = realloc(text, n + 1);
  text = t;
  text[n] = 0;
  int nw = -1, st = 0;
  emo_report_params p = emo_report_params_default();
  p.title = "interview.mp4";
  p.video = "interview.mp4";
  char *html = page(text, &p, &nw, &st);
  CHECK(st == EMO_OK && html, "page of the fixture: %d", st);
  CHECK(nw == 0, "no warnings on a well-formed run: %d", nw);
  if (html) {
    CHECK(count(html, "\"person\":\"P1\"") >= 1, "P1's record and track are kept");
    CHECK(count(html, "\"type\":\"person\"") == 3, "three person records: %d",
          count(html, "\"type\":\"person\""));
    CHECK(strstr(html, "\"au_names\":[\"AU04\",\"AU06\",\"AU12\",\"AU25\"]") != NULL,
          "the action units, in the order first seen");
    CHECK(strstr(html, "\"speaking\":[") && strstr(html, "\"pose\":[") &&
              strstr(html, "\"intensity\":["),
          "speaking, pose and intensity columns");
    CHECK(data_num(html, "frames") == 50, "50 frames: %g", data_num(html, "frames"));
    CHECK(fabs(data_num(html, "duration") - 9.8) < 1e-6, "duration %g", data_num(html, "duration"));
    CHECK(strstr(html, "\"options\":\"5d41402abc4b2a76\""), "the run record's options hash");
    CHECK(count(html, "http://") + count(html, "https://") == 1,
          "no network address but the SVG namespace");
    CHECK(strstr(html, "<title>interview.mp4</title>"), "title");
    CHECK(strstr(html, "\"turns\":[]"), "a run without turn records: no turns");
  }
  emo_free(html);

  /* the same run cut in the middle of its last line and with lines edited by hand */
  char *cut = malloc(n + 4096);
  size_t keep = n * 2 / 3;
  memcpy(cut, text, keep);
  cut[keep] = 0;
  CHECK(cut[keep - 1] != '\n', "cut inside a line");
  html = page(cut, NULL, &nw, &st);
  CHECK(st == EMO_OK && html, "a cut run gives the valid part");
  CHECK(nw == 2, "cut: a warning for the cut line and one that the file was cut: %d", nw);
  emo_free(html);
  snprintf(cut, n + 4096,
           "{\"type\":\"frame\",\"t\":\"soon\",\"faces\":[]}\n"
           "{\"type\":\"frame\",\"t\":1e300,\"faces\":[]}\n"
           "{\"type\":\"frame\",\"t\":1.0,\"faces\":[{\"track_id\":1,\"box\":[1,2,3]},"
           "{\"track_id\":\"x\",\"box\":[1,2,3,4]},{\"track_id\":2,\"box\":[1,2,3,1e99]},"
           "{\"track_id\":3,\"box\":[10,10,50,50],\"score\":7,\"expression\":{\"happy\":2},"
           "\"pose\":{\"pitch\":\"up\"},\"aus\":[1,2],\"speaking\":-1}]}\n"
           "[1,2,3]\n"
           "{\"type\":\"segment\",\"start\":5,\"end\":4}\n"
           "{\"type\":\"segment\",\"start\":1,\"end\":2,\"speaker\":{\"a\":1},\"emotion\":[]}\n"
           "{\"type\":\"martian\"}\n"
           "{\"file\":\"a.jpg\",\"faces\":[]}\n"
           "{\"type\":\"person\",\"person\":7,\"track_ids\":\"all\"}\n"
           "\n"
           "{\"type\":\"frame\",\"t\":2.0,\"faces\":\"none\"}\n");
  html = page(cut, NULL, &nw, &st);
  CHECK(st == EMO_OK && html, "edited lines: the valid part is shown");
  CHECK(nw == 9, "edited lines: one warning for each bad line or face: %d", nw);
  if (html) CHECK(data_num(html, "frames") == 2, "2 usable frames: %g", data_num(html, "frames"));
  emo_free(html);
  free(cut);
  free(text);
}

static void test_escaping(void) {
  const char *evil = "</script><script>document.title='pwned'</script><img src=x onerror=alert(1)>";
  char line[2048];
  char text[8192];
  snprintf(line, sizeof line,
           "{\"type\":\"frame\",\"t\":0.5,\"faces\":[{\"track_id\":1,\"box\":[1,2,30,40],"
           "\"person\":\"%s\",\"aus\":{\"%s\":0.5}}]}\n"
           "{\"type\":\"segment\",\"start\":0,\"end\":1,\"speaker\":\"%s\",\"person\":\"%s\"}\n"
           "{\"type\":\"person\",\"person\":\"%s\",\"track_ids\":[1],\"speaker\":\"\\u2028\"}\n",
           "P<1>", "AU</script>", evil, evil, evil);
  snprintf(text, sizeof text, "%s", line);
  emo_report_params p = emo_report_params_default();
  p.title = "a<b>&\"c'.mp4</title><script>alert(1)</script>";
  p.video = "a%3Cb%3E.mp4";
  int nw = 0, st = 0;
  char *html = page(text, &p, &nw, &st);
  CHECK(st == EMO_OK && html, "page");
  if (html) {
    CHECK(count(html, "</script>") == 2, "only the page's own two </script>: %d",
          count(html, "</script>"));
    CHECK(count(html, "<script") == 2, "only the page's own two <script: %d",
          count(html, "<script"));
    CHECK(count(html, "<img") == 0, "no injected element");
    CHECK(strstr(html, "<title>a&lt;b&gt;&amp;&quot;c&#39;.mp4&lt;/title&gt;"), "title escaped");
    CHECK(strstr(html, "\\u003c/script\\u003e"), "labels escaped inside the data");
    CHECK(strstr(html, "\\u2028") && !strstr(html, "\xe2\x80\xa8"), "U+2028 escaped");
  }
  emo_free(html);
}

static void test_small_and_empty(void) {
  int nw = 0, st = 0;
  char *html = page("", NULL, &nw, &st);
  CHECK(st == EMO_EFORMAT && !html, "empty input: no page (%d)", st);
  html = page("not json\n\x01\x02\xff\n{\"type\":\"frame\"\n", NULL, &nw, &st);
  CHECK(st == EMO_EFORMAT && !html && nw == 3, "garbage: no page, 3 warnings (%d, %d)", st, nw);
  html = page(
      "{\"type\":\"frame\",\"t\":0.0,\"frame\":0,\"face_count\":1,\"detector_ran\":true,"
      "\"faces\":[{\"track_id\":1,\"box\":[10,10,50,50],\"score\":0.9}]}\n",
      NULL, &nw, &st);
  CHECK(st == EMO_OK && html && nw == 0, "one frame");
  emo_free(html);
  html = page(
      "{\"type\":\"frame\",\"t\":0.0,\"faces\":[]}\n{\"type\":\"frame\",\"t\":0.04,"
      "\"faces\":[]}\n{\"type\":\"summary\",\"frames_analysed\":2,\"duration\":0.04}\n",
      NULL, &nw, &st);
  CHECK(st == EMO_OK && html && nw == 0, "no faces, no speech");
  if (html) CHECK(strstr(html, "\"tracks\":[]") && strstr(html, "\"segments\":[]"), "empty");
  emo_free(html);
  /* audio only (emo audio's output) */
  html = page(
      "{\"type\":\"segment\",\"start\":0.5,\"end\":2.0,\"speaker\":\"S1\",\"emotion\":"
      "{\"happy\":0.5,\"calm\":0.5},\"dominant\":\"happy\"}\n"
      "{\"type\":\"summary\",\"duration\":3.0,\"speakers\":[]}\n",
      NULL, &nw, &st);
  CHECK(st == EMO_OK && html, "audio only");
  if (html)
    CHECK(strstr(html, "[0.500,2.000,\"S1\",\"\",-1,-1,\"happy\",[-1,-1,-1,50,-1,-1,-1,50]]"),
          "the segment with its two labels");
  emo_free(html);
  /* more faces at once than samples allowed: buckets stop widening, the page stays valid */
  emo_report_params few = emo_report_params_default();
  few.max_samples = 16;
  emo_report *rf = NULL;
  CHECK(emo_report_create(&few, &rf) == EMO_OK, "create");
  for (int f = 0; rf && f < 200; f++) {
    char l[8192];
    int n = snprintf(l, sizeof l, "{\"type\":\"frame\",\"t\":%d,\"faces\":[", f);
    for (int k = 0; k < 40; k++)
      n += snprintf(l + n, sizeof l - (size_t)n, "%s{\"track_id\":%d,\"box\":[1,2,3,4]}",
                    k ? "," : "", f * 40 + k);
    n += snprintf(l + n, sizeof l - (size_t)n, "]}");
    emo_report_add_line(rf, l, (size_t)n);
  }
  html = NULL;
  CHECK(rf && emo_report_html(rf, &html) == EMO_OK && html, "page");
  if (html)
    CHECK(!strstr(html, ":inf") && !strstr(html, ":nan") && !strstr(html, ":-nan") &&
              !strstr(html, ",inf") && !strstr(html, ",nan"),
          "finite numbers only");
  emo_free(html);
  emo_report_destroy(&rf);
  emo_report_params bad = emo_report_params_default();
  bad.max_buckets = 1;
  emo_report *r = NULL;
  CHECK(emo_report_create(&bad, &r) == EMO_EINVAL && !r, "a cap out of range is refused");
  CHECK(emo_report_html(NULL, NULL) == EMO_EINVAL, "NULL");
  emo_report_destroy(NULL);
}

/* A 10-hour run at 2 analysed frames a second, 2 faces, a segment every 5 s: the page stays
 * small because buckets widen. */
static void test_ten_hours(void) {
  emo_report *r = NULL;
  CHECK(emo_report_create(NULL, &r) == EMO_OK, "create");
  if (!r) return;
  char line[1024];
  const int frames = 10 * 3600 * 2;
  for (int f = 0; f < frames; f++) {
    double t = f * 0.5;
    int n = snprintf(line, sizeof line,
                     "{\"type\":\"frame\",\"t\":%.3f,\"faces\":[{\"track_id\":1,\"box\":[100,100,"
                     "80,80],\"score\":0.9,\"expression\":{\"angry\":0.1,\"disgust\":0,\"fear\":0,"
                     "\"happy\":0.5,\"sad\":0.1,\"surprise\":0,\"neutral\":0.3}},{\"track_id\":%d,"
                     "\"box\":[300,100,80,80],\"score\":0.8}]}",
                     t, 2 + f / 7200);
    CHECK(emo_report_add_line(r, line, (size_t)n) == EMO_OK, "frame %d", f);
    if (f % 10 == 9) {
      n = snprintf(line, sizeof line,
                   "{\"type\":\"segment\",\"start\":%.3f,\"end\":%.3f,\"speaker\":\"S%d\"}",
                   t - 4.5, t - 2.0, 1 + (f / 10) % 3);
      CHECK(emo_report_add_line(r, line, (size_t)n) == EMO_OK, "segment");
    }
  }
  char *html = NULL;
  CHECK(emo_report_html(r, &html) == EMO_OK && html, "page");
  if (html) {
    double step = data_num(html, "step");
    size_t len = strlen(html);
    printf("10 h: step %.2f s, page %.2f MB\n", step, len / 1048576.0);
    CHECK(step >= 36000.0 / 16384 && step <= 4 * 36000.0 / 16384, "buckets widened: %g", step);
    CHECK(len < 8u << 20, "page under 8 MB: %zu", len);
    CHECK(data_num(html, "frames") == frames, "every frame counted");
  }
  emo_free(html);
  emo_report_destroy(&r);
}

/* The run record that opens emo's output: the page's title (no title given), the media's
 * duration, the options object and hash in the header's data; shot cuts and the ids of track
 * events for the identity panel. */
static void test_run_record_and_cuts(void) {
  int nw = 0, st = 0;
  char *html = page(
      "{\"type\":\"run\",\"kind\":\"video\",\"file\":\"talk.mp4\",\"emo_version\":\"0.1.0\","
      "\"duration\":12.5,\"models\":{\"blazeface_short\":\"3bc1\"},\"options\":{\"detector\":"
      "\"auto\",\"score_threshold\":0.5},\"options_hash\":\"0123456789abcdef\"}\n"
      "{\"type\":\"frame\",\"t\":0.0,\"faces\":[{\"track_id\":1,\"box\":[1,1,9,9]}]}\n"
      "{\"type\":\"event\",\"event\":\"track_start\",\"track_id\":1,\"start\":0.0,\"end\":0.0}\n"
      "{\"type\":\"event\",\"event\":\"shot_cut\",\"start\":0.04,\"end\":0.04}\n"
      "{\"type\":\"event\",\"event\":\"track_end\",\"track_id\":1,\"start\":0.0,\"end\":0.0}\n"
      "{\"type\":\"event\",\"event\":\"track_start\",\"track_id\":2,\"start\":0.08,\"end\":0.08}\n",
      NULL, &nw, &st);
  CHECK(st == EMO_OK && html && nw == 0, "a run record and events: a page, no warning (%d)", nw);
  if (html) {
    CHECK(strstr(html, "<title>talk.mp4</title>") && strstr(html, "\"title\":\"talk.mp4\""),
          "no title given: the run record's file names the page");
    CHECK(data_num(html, "duration") == 12.5, "the media's duration from the run record: %g",
          data_num(html, "duration"));
    CHECK(strstr(html, "\"options\":{\"detector\":\"auto\",\"score_threshold\":0.5}") &&
              strstr(html, "\"options_hash\":\"0123456789abcdef\"") &&
              strstr(html, "\"kind\":\"video\""),
          "options, their hash and the kind reach the header's data");
    CHECK(strstr(html, "\"cuts\":[0.040]") && strstr(html, "\"track_start_ids\":[1,2]") &&
              strstr(html, "\"track_end_ids\":[1]"),
          "shot cuts and the track events' ids reach the identity panel's data");
  }
  emo_free(html);
  /* a nested options object (hand-edited) is not kept */
  html = page(
      "{\"type\":\"run\",\"options\":{\"a\":{\"b\":1}}}\n"
      "{\"type\":\"frame\",\"t\":0.0,\"faces\":[]}\n",
      NULL, &nw, &st);
  CHECK(st == EMO_OK && html && !strstr(html, "\"b\":1"), "nested options dropped");
  emo_free(html);
}

/* Turn records (emo_turn_json): kept, inlined in the page as [start,end,person,speaker,overlap]
 * in the order read, and malformed ones skipped with a warning each; the old person fixture
 * (no turn records) gets an empty list, so the page draws it from its segments as before. */
static void test_turns(void) {
  const char *run =
      "{\"type\":\"frame\",\"t\":0.0,\"faces\":[{\"track_id\":1,\"box\":[1,1,9,9],"
      "\"person\":\"P1\"},{\"track_id\":2,\"box\":[20,1,9,9],\"person\":\"P2\"}]}\n"
      "{\"type\":\"segment\",\"start\":0.0,\"end\":6.0,\"speaker\":\"S1\",\"person\":\"P1\","
      "\"track_id\":1,\"on_screen\":true,\"overlap_time\":2,\"overlap_track_id\":2,"
      "\"overlap_person\":\"P2\"}\n"
      "{\"type\":\"person\",\"person\":\"P1\",\"track_ids\":[1],\"speaker\":\"S1\"}\n"
      "{\"type\":\"person\",\"person\":\"P2\",\"track_ids\":[2],\"speaker\":null}\n"
      "{\"type\":\"turn\",\"start\":0,\"end\":2,\"person\":\"P1\",\"speaker\":\"S1\","
      "\"segment\":0,\"overlap\":false}\n"
      "{\"type\":\"turn\",\"start\":2,\"end\":4,\"person\":\"P1\",\"speaker\":\"S1\","
      "\"segment\":0,\"overlap\":true}\n"
      "{\"type\":\"turn\",\"start\":2,\"end\":4,\"person\":\"P2\",\"speaker\":\"S1\","
      "\"segment\":0,\"overlap\":true}\n"
      "{\"type\":\"turn\",\"start\":4,\"end\":6,\"person\":\"P2\",\"speaker\":\"S1\","
      "\"segment\":0}\n"
      "{\"type\":\"turn\",\"start\":6,\"end\":7,\"person\":null,\"speaker\":\"S2\","
      "\"segment\":1,\"overlap\":false}\n"
      /* malformed: each skipped with a warning */
      "{\"type\":\"turn\",\"start\":\"2\",\"end\":4,\"person\":\"P1\"}\n"
      "{\"type\":\"turn\",\"start\":5,\"end\":4,\"person\":\"P1\"}\n"
      "{\"type\":\"turn\",\"start\":1,\"end\":1e300,\"person\":\"P1\"}\n"
      "{\"type\":\"turn\",\"start\":1,\"end\":2,\"person\":\"P1\",\"overlap\":\"yes\"}\n"
      "{\"type\":\"turn\",\"start\":1,\"end\":2,\"person\":7}\n"
      "{\"type\":\"turn\",\"start\":1,\"end\":2,\"speaker\":[\"S1\"]}\n"
      "{\"type\":\"turn\",\"start\":null,\"end\":2}\n"
      "{\"type\":\"turn\"}\n"
      "{\"type\":\"turn\",\"start\":1,\"end\":2,\"person\":\"</script><script>alert(1)"
      "</script>\",\"overlap\":true}\n"
      "{\"type\":\"turn\",\"start\":3,\"end\":3.5,\"pers";
  int nw = -1, st = 0;
  char *html = page(run, NULL, &nw, &st);
  CHECK(st == EMO_OK && html, "a run with turns gives a page: %d", st);
  CHECK(nw == 10, "one warning per malformed turn (8), two for the cut line: %d", nw);
  if (html) {
    CHECK(strstr(html,
                 "\"turns\":[[0.000,2.000,\"P1\",\"S1\",0],[2.000,4.000,\"P1\",\"S1\",1],"
                 "[2.000,4.000,\"P2\",\"S1\",1],[4.000,6.000,\"P2\",\"S1\",0],"
                 "[6.000,7.000,\"\",\"S2\",0],[1.000,2.000,\"\\u003c/script\\u003e"),
          "the turns inlined, overlap marked, a label escaped");
    CHECK(count(html, "</script>") == 2, "the label cannot close the page's script");
  }
  emo_free(html);
  /* too many turns: the rest skipped (max_segments caps turns too) */
  emo_report_params p = emo_report_params_default();
  p.max_segments = 2;
  html = page(run, &p, &nw, &st);
  CHECK(st == EMO_OK && html &&
            strstr(html,
                   "\"turns\":[[0.000,2.000,\"P1\",\"S1\",0],"
                   "[2.000,4.000,\"P1\",\"S1\",1]],"),
        "two turns kept of more");
  CHECK(nw == 11, "the cap warned about once (the malformed 10 stay): %d", nw);
  emo_free(html);
  /* too many segments: one warning, however many are dropped */
  const char *segs =
      "{\"type\":\"segment\",\"start\":0,\"end\":1}\n"
      "{\"type\":\"segment\",\"start\":1,\"end\":2}\n"
      "{\"type\":\"segment\",\"start\":2,\"end\":3}\n"
      "{\"type\":\"segment\",\"start\":3,\"end\":4}\n";
  p.max_segments = 1;
  html = page(segs, &p, &nw, &st);
  CHECK(st == EMO_OK && html && nw == 1, "three segments past the cap: one warning (%d)", nw);
  emo_free(html);
}

int main(void) {
  test_run_record_and_cuts();
  test_persons_fixture();
  test_escaping();
  test_small_and_empty();
  test_ten_hours();
  test_turns();
  return th_finish("test_report");
}
