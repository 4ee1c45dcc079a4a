/* report.c: `emo report RUN.jsonl -o OUT.html [--video FILE]` and the HTML page that `emo video
 * --report OUT.html` writes at the end of a run. The page itself comes from the library
 * (emo_report_*); this file reads the JSON Lines file, works out the video's path relative to
 * the page (so the page and the video can move together), and writes the page like the other
 * outputs (temporary, then rename). */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends s to dst (size cap), percent-encoding what a relative URL must not hold raw. */
static int url_append(char *dst, size_t cap, size_t *len, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~/", *p);
    if (*len + 4 >= cap) return -1;
    if (plain) {
      dst[(*len)++] = (char)*p;
    } else {
      dst[(*len)++] = '%';
      dst[(*len)++] = hex[*p >> 4];
      dst[(*len)++] = hex[*p & 15];
    }
  }
  dst[*len] = 0;
  return 0;
}

int report_video_href(const char *video, const char *html_path, char *href, size_t cap) {
  if (!video || !*video || !html_path || strcmp(html_path, "-") == 0 || cap < 8) return -1;
  if (strstr(video, "://")) return -1; /* a URL: the page cannot rely on it offline */
  char *v = realpath(video, NULL);
  char *pdir = outfile_parent_real(html_path, NULL);
  if (!v || !pdir) {
    free(v);
    free(pdir);
    return -1;
  }
  /* the folders pdir and v's folder share: whole components only */
  size_t common = 0; /* length of the shared prefix, ending before a '/' or at the end */
  for (size_t i = 0;; i++) {
    const int end_d = pdir[i] == 0 || pdir[i] == '/', end_v = v[i] == '/' || v[i] == 0;
    if (end_d && end_v && i > 0) common = i;
    if (pdir[i] == 0 || v[i] == 0 || pdir[i] != v[i]) break;
  }
  if (strcmp(pdir, "/") == 0) common = 0;
  size_t len = 0;
  href[0] = 0;
  int rc = 0;
  for (const char *p = pdir + common; pdir[1] && *p && rc == 0; p++) /* "../" per folder left */
    if (*p == '/') rc = url_append(href, cap, &len, "../");
  if (rc == 0) rc = url_append(href, cap, &len, v + common + 1);
  free(v);
  free(pdir);
  return rc;
}

/* Feeds every line of f to r; -1 (after a message) when reading fails. */
static int feed_file(emo_report *r, FILE *f, const char *path) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int64_t last_len = 0, last_nl = 1;
  while ((n = getline(&line, &cap, f)) >= 0) {
    last_len = n;
    last_nl = n > 0 && line[n - 1] == '\n';
    if (emo_report_add_line(r, line, (size_t)n) == EMO_ENOMEM) {
      free(line);
      fprintf(stderr, "emo: %s: out of memory\n", path);
      return -1;
    }
  }
  int err = ferror(f);
  free(line);
  if (err) {
    fprintf(stderr, "emo: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (last_len > 0 && !last_nl)
    fprintf(stderr, "emo: warning: %s: the last line has no newline (a cut run?)\n", path);
  return 0;
}

int report_write(const emo_report *r, outfile **out) {
  char warn[4096];
  int nw = emo_report_warnings(r, warn, sizeof warn);
  if (nw > 0) {
    fprintf(stderr, "emo: report: %d warning%s (shown in the page too):\n%s", nw, nw > 1 ? "s" : "",
            warn);
  }
  char *html = NULL;
  int rc = emo_report_html(r, &html);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: no report: %s\n",
            rc == EMO_EFORMAT ? "no line of the input is an emo video or emo audio record"
                              : emo_status_str(rc));
    outfile_abort(out);
    return 1;
  }
  outfile_write(*out, html, strlen(html));
  emo_free(html);
  return outfile_commit(out) != 0;
}

int report_open(outfile **out, emo_report **r, const char *html_path, const char *input,
                const char *annotated, const char *const *inputs) {
  char href[8192] = "";
  emo_report_params rp = emo_report_params_default();
  rp.title = input;
  /* the page plays the source (boxes drawn live), else the annotated video */
  if (report_video_href(input, html_path, href, sizeof href) == 0 ||
      (annotated && report_video_href(annotated, html_path, href, sizeof href) == 0))
    rp.video = href;
  if (!(*out = outfile_open(html_path, inputs, 1))) return 1;
  if (emo_report_create(&rp, r) != EMO_OK) {
    fprintf(stderr, "emo: out of memory\n");
    outfile_abort(out);
    return 1;
  }
  return 0;
}

/* 1 when line opens with "type":"run" (emo's own spacing or a JSON writer's): a run record. */
static int starts_run(const char *line) {
  const char *want[] = {"{", "\"type\"", ":", "\"run\""};
  const char *p = line;
  for (int k = 0; k < 4; k++) {
    while (*p == ' ' || *p == '\t') p++;
    if (strncmp(p, want[k], strlen(want[k])) != 0) return 0;
    p += strlen(want[k]);
  }
  return 1;
}

int cmd_report(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *video = NULL, *title = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--video") == 0 ||
        strcmp(a, "--title") == 0) {
      if (!v) {
        fprintf(stderr, "emo: option %s needs a value\n", a);
        return 2;
      }
      if (a[2] == 'v')
        video = v;
      else if (a[2] == 't')
        title = v;
      else
        out = v;
      i++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "emo: unknown option %s (see emo --help)\n", a);
      return 2;
    } else if (!in) {
      in = a;
    } else {
      fprintf(stderr, "emo report: give exactly one JSON Lines file (see emo --help)\n");
      return 2;
    }
  }
  if (!in || !out) {
    fprintf(stderr, "usage: emo report RUN.jsonl -o OUT.html [--video FILE] [--title TEXT]\n");
    return 2;
  }
  char href[8192] = "";
  if (video && report_video_href(video, out, href, sizeof href) != 0) {
    fprintf(stderr, "emo: --video %s: not a file this page can reach by a relative path\n", video);
    return 1;
  }
  FILE *f = strcmp(in, "-") == 0 ? stdin : fopen(in, "rb");
  if (!f) {
    fprintf(stderr, "emo: cannot open %s: %s\n", in, strerror(errno));
    return 1;
  }
  /* The title: --title, else the analysed file named by the run record that opens emo's
   * output (the library falls back to it), else the video or the JSON Lines file. */
  char *first = NULL;
  size_t first_cap = 0;
  ssize_t first_n = getline(&first, &first_cap, f);
  const int has_run = first_n > 0 && starts_run(first);
  emo_report_params rp = emo_report_params_default();
  rp.title = title ? title : (has_run ? NULL : (video ? video : in));
  rp.video = href;
  emo_report *r = NULL;
  if (emo_report_create(&rp, &r) != EMO_OK) {
    fprintf(stderr, "emo: out of memory\n");
    free(first);
    if (f != stdin) fclose(f);
    return 1;
  }
  int rc = 0;
  if (first_n > 0) {
    if (first[first_n - 1] != '\n' && feof(f))
      fprintf(stderr, "emo: warning: %s: the last line has no newline (a cut run?)\n", in);
    if (emo_report_add_line(r, first, (size_t)first_n) == EMO_ENOMEM) {
      fprintf(stderr, "emo: %s: out of memory\n", in);
      rc = -1;
    }
  }
  free(first);
  if (rc == 0) rc = feed_file(r, f, in);
  if (f != stdin) fclose(f);
  const char *inputs[2] = {in, video};
  outfile *o = NULL;
  if (rc == 0 && !(o = outfile_open(out, inputs, video ? 2 : 1))) rc = 1;
  if (rc == 0) rc = report_write(r, &o);
  emo_report_destroy(&r);
  return rc ? 1 : 0;
}
