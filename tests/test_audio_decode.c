/* test_audio_decode.c: media/audio_decode.c on generated and real audio:
 *   - a 440 Hz sine, 44.1 kHz stereo int16 WAV written here, decodes to 16 kHz mono at
 *     440 Hz (zero crossings) with the right sample count;
 *   - a silent 22.05 kHz WAV decodes to exact zeros;
 *   - a text file and an image (no audio stream) give EMO_EFORMAT;
 *   - a WAV cut in half decodes to about half, from memory too;
 *   - real files: RAVDESS FLAC, AMI float32 WAV, the MP3 track of single_face.mp4: sample
 *     count vs header duration * 16000;
 *   - a 142-byte WAV whose LIST/INFO chunk claims 1.6 GB (a fuzz finding) is refused or read
 *     without the process's peak memory growing by more than 64 MB (FFmpeg's allocation cap,
 *     media_io.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "media/audio_decode.h"

static void put16(FILE *f, unsigned v) {
  fputc((int)(v & 255), f);
  fputc((int)((v >> 8) & 255), f);
}
static void put32(FILE *f, uint32_t v) {
  put16(f, v & 0xffff);
  put16(f, v >> 16);
}

/* Writes a 16-bit PCM WAV of n frames; sample(i, ch) gives the value. */
static void write_wav(const char *path, int rate, int ch, int n, double freq, double amp) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  uint32_t data = (uint32_t)(n * ch * 2);
  fwrite("RIFF", 1, 4, f);
  put32(f, 36 + data);
  fwrite("WAVEfmt ", 1, 8, f);
  put32(f, 16);
  put16(f, 1);
  put16(f, (unsigned)ch);
  put32(f, (uint32_t)rate);
  put32(f, (uint32_t)(rate * ch * 2));
  put16(f, (unsigned)(ch * 2));
  put16(f, 16);
  fwrite("data", 1, 4, f);
  put32(f, data);
  for (int i = 0; i < n; i++)
    for (int c = 0; c < ch; c++) {
      double v = amp * sin(2 * M_PI * freq * i / rate);
      put16(f, (unsigned)(uint16_t)(int16_t)lrint(v * 32767));
    }
  fclose(f);
}

/* Decodes a whole file; returns samples (malloc'd) and count, or NULL with the status. */
static float *decode_all(const char *path, int64_t *n, int *status, aud_info *info) {
  emoi_err e = {{0}};
  aud_reader *r = NULL;
  *n = 0;
  *status = aud_open(path, NULL, &r, &e);
  if (*status) return NULL;
  if (info) aud_get_info(r, info);
  int64_t cap = 1 << 16;
  float *x = malloc((size_t)cap * sizeof(float));
  int k;
  while ((k = aud_read(r, x + *n, 1000, &e)) > 0) {
    *n += k;
    if (*n + 1000 > cap) {
      cap *= 2;
      x = realloc(x, (size_t)cap * sizeof(float));
    }
  }
  *status = k;
  aud_close(&r);
  return x;
}

static void test_sine(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/aud_sine_44k_stereo.wav", EMO_BINARY_DIR);
  write_wav(path, 44100, 2, 88200, 440.0, 0.5);
  int64_t n;
  int st;
  aud_info info;
  float *x = decode_all(path, &n, &st, &info);
  CHECK(x && st == 0, "sine: status %d", st);
  if (!x) return;
  CHECK(info.orig_rate == 44100 && info.orig_channels == 2 && fabs(info.duration - 2.0) < 1e-3,
        "info: %d Hz, %d ch, %.3f s, %s", info.orig_rate, info.orig_channels, info.duration,
        info.codec);
  CHECK(llabs(n - 32000) <= 32, "sine: %lld samples for 2 s", (long long)n);
  /* zero crossings over [0.25 s, 1.75 s): 440 Hz gives 2 * 440 * 1.5 = 1320 */
  int zc = 0;
  float peak = 0;
  for (int64_t i = 4000; i < 28000 && i < n; i++) {
    if ((x[i - 1] < 0) != (x[i] < 0)) zc++;
    if (fabsf(x[i]) > peak) peak = fabsf(x[i]);
  }
  double freq = zc / 2.0 / 1.5;
  printf("  sine: %lld samples, %.2f Hz from zero crossings, peak %.3f\n", (long long)n, freq,
         peak);
  CHECK(fabs(freq - 440.0) < 2.0, "frequency %.2f", freq);
  CHECK(peak > 0.45f && peak < 0.55f, "peak %.3f: a 0.5 stereo sine averages to 0.5 in mono", peak);
  free(x);

  /* the same bytes cut in half, from memory */
  size_t size = 0;
  unsigned char *b = th_read_file(path, &size);
  if (b) {
    aud_reader *r = NULL;
    emoi_err e = {{0}};
    size_t half = 44 + (size - 44) / 2;
    CHECK(aud_open_memory(b, half, &r, &e) == 0, "memory open: %s", e.msg);
    int64_t m = 0;
    float buf[777];
    int k;
    while (r && (k = aud_read(r, buf, 777, &e)) > 0) m += k;
    CHECK(llabs(m - 16000) < 400, "half file gave %lld samples", (long long)m);
    aud_close(&r);
    aud_close(&r); /* second close is a no-op */
    free(b);
  }
}

static void test_silence_and_errors(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/aud_silent_22k.wav", EMO_BINARY_DIR);
  write_wav(path, 22050, 1, 33075, 0, 0);
  int64_t n;
  int st;
  float *x = decode_all(path, &n, &st, NULL);
  CHECK(x && st == 0 && llabs(n - 24000) <= 32, "silent: status %d, %lld samples", st,
        (long long)n);
  int nz = 0;
  for (int64_t i = 0; x && i < n; i++) nz += x[i] != 0.0f;
  CHECK(nz == 0, "silent file: %d non-zero samples", nz);
  free(x);

  snprintf(path, sizeof path, "%s/aud_text.txt", EMO_BINARY_DIR);
  FILE *f = fopen(path, "w");
  if (f) {
    for (int i = 0; i < 50; i++) fprintf(f, "This is a text file, line %d, not audio.\n", i);
    fclose(f);
  }
  emoi_err e = {{0}};
  aud_reader *r = NULL;
  st = aud_open(path, NULL, &r, &e);
  CHECK(st == EMO_EFORMAT && !r, "text file: status %d (%s)", st, e.msg);
  st = aud_open("/nonexistent/file.wav", NULL, &r, &e);
  CHECK(st == EMO_EIO, "missing file: status %d (%s)", st, e.msg);
  const char *img = th_data("faces/misc/single_face.jpg");
  if (img) {
    st = aud_open(img, NULL, &r, &e);
    CHECK(st == EMO_EFORMAT && strstr(e.msg, "no audio stream"), "image: %d %s", st, e.msg);
  }
  st = aud_open_memory("", 0, &r, &e);
  CHECK(st < 0 && !r, "empty memory: %d", st);
  CHECK(aud_read(NULL, NULL, 0, &e) == EMO_EINVAL, "aud_read(NULL)");
}

/* A real file: sample count vs duration * 16000 (within 1% + 1 frame). */
static void check_real(const char *rel, const char *codec) {
  const char *p = th_data(rel);
  if (!p) {
    printf("  (%s absent)\n", rel);
    return;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s", p);
  int64_t n;
  int st;
  aud_info info;
  memset(&info, 0, sizeof info);
  float *x = decode_all(path, &n, &st, &info);
  CHECK(x && st == 0, "%s: status %d", rel, st);
  double want = info.duration * 16000;
  printf("  %s: %s %d Hz %d ch, %.3f s -> %lld samples (expected %.0f)\n", rel, info.codec,
         info.orig_rate, info.orig_channels, info.duration, (long long)n, want);
  CHECK(info.duration > 0 && fabs((double)n - want) <= want * 0.01 + 1200, "%s: %lld vs %.0f", rel,
        (long long)n, want);
  CHECK(!codec || strstr(info.codec, codec), "%s: codec %s, expected %s", rel, info.codec, codec);
  double e2 = 0;
  for (int64_t i = 0; x && i < n; i++) e2 += (double)x[i] * x[i];
  CHECK(n > 0 && e2 / (double)n > 1e-8, "%s: silent decode (energy %.3g)", rel,
        e2 / (double)(n ? n : 1));
  free(x);
}

/* The fuzz finding: ff_read_riff_info zeroed a buffer the size of an INFO chunk's header
 * field (0x6139000e bytes) before finding the file ends. */
static const unsigned char riff_bomb[] = {
    0x52, 0x49, 0x46, 0x46, 0x86, 0x06, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20,
    0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0xd5, 0x00, 0x40, 0x1f, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x00,
    0x02, 0x00, 0x10, 0x00, 0x4c, 0x49, 0x53, 0x54, 0x00, 0x00, 0x00, 0x99, 0x49, 0x4e, 0x46, 0x4f,
    0x49, 0x53, 0x46, 0x54, 0x0e, 0x00, 0x39, 0x61, 0x66, 0x00, 0x4c, 0x35, 0x00, 0x76, 0x2e, 0x72,
    0x37, 0x25, 0x31, 0x30, 0x30, 0x00, 0x64, 0x61, 0x74, 0x61, 0x40, 0x06, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x05, 0x32, 0x0a, 0xc5, 0x0d, 0xb6, 0x0f, 0xcd, 0x0f, 0x05, 0x0e, 0x94, 0x0a, 0xe4, 0x05,
    0x81, 0x00, 0x0f, 0xfb, 0x33, 0xf6, 0x7f, 0xf2, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x92,
    0x92, 0x92, 0x92, 0x92, 0x92, 0x92, 0x92, 0xfe, 0x15, 0x7f, 0x00, 0x00, 0x4d, 0x30, 0x6b, 0xbd,
    0x52, 0xe4, 0x84, 0x3d, 0x52, 0xe4, 0x84, 0x3d, 0x51, 0x00, 0x00, 0x00, 0x6a, 0x92};

static long peak_rss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void test_riff_bomb(void) {
  long before = peak_rss_kb();
  emoi_err e = {{0}};
  aud_reader *r = NULL;
  int st = aud_open_memory(riff_bomb, sizeof riff_bomb, &r, &e);
  if (st == EMO_OK) {
    float buf[1024];
    while (aud_read(r, buf, 1024, &e) > 0) {
    }
    aud_close(&r);
  } else {
    CHECK(!r && e.msg[0], "riff bomb: status %d without a message", st);
  }
  long grew = peak_rss_kb() - before;
  CHECK(before > 0 && grew < 64 * 1024, "riff bomb: peak memory grew by %ld kB", grew);
}

int main(void) {
  test_sine();
  test_silence_and_errors();
  test_riff_bomb();
  check_real("ser/ravdess/Actor_01/03-01-01-01-01-01-01.flac", "flac");
  check_real("diarization/ami/trn00.wav", "pcm_f32le");
  check_real("video/single_face.mp4", "mp3");
  return th_finish("audio_decode");
}
