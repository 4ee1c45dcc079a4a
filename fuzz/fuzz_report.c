/* fuzz_report.c: libFuzzer harness for the report's JSON Lines reader and page writer
 * (emo_report_add_text, emo_report_html in src/output/report.c): any bytes must give a page or
 * EMO_EFORMAT, never a crash, a leak or an out-of-bounds access; small caps make the bucket
 * merging and the record caps run on small inputs. Every page must keep its script intact:
 * exactly the template's two "</script>" whatever the labels hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emo_report_params p = emo_report_params_default();
  p.title = "fuzz</title><script>";
  p.max_buckets = 64;
  p.max_samples = 64;
  p.max_segments = 32;
  p.max_tracks = 16;
  p.max_persons = 8;
  p.max_line_bytes = 1 << 16;
  emo_report *r = NULL;
  if (emo_report_create(&p, &r) != EMO_OK) abort();
  if (emo_report_add_text(r, (const char *)data, size) != EMO_OK) abort();
  char *html = NULL;
  int rc = emo_report_html(r, &html);
  if (rc == EMO_OK && (!html || count(html, "</script>") != 2 || count(html, "<script") != 2))
    abort();
  if (rc != EMO_OK && rc != EMO_EFORMAT) abort();
  char warn[256];
  emo_report_warnings(r, warn, sizeof warn);
  emo_free(html);
  emo_report_destroy(&r);
  return 0;
}
