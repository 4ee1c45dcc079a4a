/* face_geometry.c: see face_geometry.h. The two-pass metric lifting and the solver follow
 * MediaPipe's geometry_pipeline.cc (ScreenToMetricSpaceConverter) and procrustes_solver.cc step
 * by step, in double precision (MediaPipe uses float); the 3x3 SVD is a one-sided Jacobi
 * iteration. The Euler angles are emo's (see emo_head_pose in emo.h): R = Ry(a) Rx(b) Rz(c)
 * with yaw = -a, pitch = -b, roll = -c. */
#include "vision/face_geometry.h"

#include <math.h>
#include <string.h>

#include "core/bytes.h"

/* ---- GeometryPipelineMetadata (protobuf wire format) -------------------------------------- */

/* Skips one field of wire type wt. Returns 0, or -1 when it does not fit or is a group. */
static int pb_skip(bytes_cur *c, unsigned wt) {
  uint64_t v;
  switch (wt) {
    case 0: return bytes_read_varint(c, &v);
    case 1: return bytes_skip(c, 8);
    case 2:
      if (bytes_read_varint(c, &v) != 0) return -1;
      return bytes_skip(c, v);
    case 5: return bytes_skip(c, 4);
    default: return -1;
  }
}

/* Mesh3d: vertex_type (1), primitive_type (2), vertex_buffer (3, floats, packed or not). */
static int parse_mesh(bytes_cur c, const char *label, fg_metadata *m, emoi_err *err) {
  size_t n_floats = 0;
  while (bytes_left(&c) > 0) {
    uint64_t key, v;
    if (bytes_read_varint(&c, &key) != 0) goto bad;
    unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
    if ((field == 1 || field == 2) && wt == 0) {
      if (bytes_read_varint(&c, &v) != 0) goto bad;
      if (v != 0)
        return emoi_fail(err, EMO_EMODEL,
                         "%s: canonical mesh: vertex or primitive type %llu is not "
                         "VERTEX_PT / TRIANGLE",
                         label, (unsigned long long)v);
    } else if (field == 3 && (wt == 5 || wt == 2)) {
      const uint8_t *p;
      uint64_t len = 4;
      if (wt == 2 && bytes_read_varint(&c, &len) != 0) goto bad;
      if (len % 4 != 0 || bytes_read_span(&c, len, &p) != 0) goto bad;
      for (uint64_t k = 0; k < len / 4; k++, n_floats++) {
        if (n_floats >= (size_t)FG_MESH_POINTS * 5)
          return emoi_fail(err, EMO_EMODEL, "%s: canonical mesh has more than %d vertices", label,
                           FG_MESH_POINTS);
        float f = bytes_le_f32(p + 4 * k);
        if (!isfinite(f)) return emoi_fail(err, EMO_EMODEL, "%s: non-finite vertex value", label);
        size_t vi = n_floats / 5, comp = n_floats % 5;
        if (comp < 3) m->canonical[vi][comp] = f; /* then u, v texture coordinates */
      }
    } else if (pb_skip(&c, wt) != 0) {
      goto bad;
    }
  }
  if (n_floats != (size_t)FG_MESH_POINTS * 5)
    return emoi_fail(err, EMO_EMODEL, "%s: canonical mesh has %zu vertex values, expected %d",
                     label, n_floats, FG_MESH_POINTS * 5);
  return EMO_OK;
bad:
  return emoi_fail(err, EMO_EMODEL, "%s: canonical mesh: malformed protobuf", label);
}

/* WeightedLandmarkRef: landmark_id (1, varint), weight (2, float). */
static int parse_basis(bytes_cur c, const char *label, fg_metadata *m, emoi_err *err) {
  uint64_t id = 0;
  float w = 0.0f;
  while (bytes_left(&c) > 0) {
    uint64_t key;
    if (bytes_read_varint(&c, &key) != 0) goto bad;
    unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
    if (field == 1 && wt == 0) {
      if (bytes_read_varint(&c, &id) != 0) goto bad;
    } else if (field == 2 && wt == 5) {
      if (bytes_read_f32(&c, &w) != 0) goto bad;
    } else if (pb_skip(&c, wt) != 0) {
      goto bad;
    }
  }
  if (id >= FG_MESH_POINTS)
    return emoi_fail(err, EMO_EMODEL, "%s: basis landmark %llu out of range", label,
                     (unsigned long long)id);
  if (!(w >= 0.0f && w < 1e6f))
    return emoi_fail(err, EMO_EMODEL, "%s: basis weight of landmark %llu is not in [0, 1e6)", label,
                     (unsigned long long)id);
  if (m->weight[id] == 0.0f && w > 0.0f) m->n_basis++;
  m->weight[id] = w;
  return EMO_OK;
bad:
  return emoi_fail(err, EMO_EMODEL, "%s: procrustes basis: malformed protobuf", label);
}

int fg_metadata_parse(const unsigned char *data, size_t size, const char *label, fg_metadata *m,
                      emoi_err *err) {
  memset(m, 0, sizeof *m);
  if (!label) label = "geometry metadata";
  bytes_cur c = bytes_init(data, size);
  int have_mesh = 0;
  while (bytes_left(&c) > 0) {
    uint64_t key, v;
    if (bytes_read_varint(&c, &key) != 0) goto bad;
    unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
    if ((field == 1 || field == 2) && wt == 2) {
      const uint8_t *p;
      if (bytes_read_varint(&c, &v) != 0 || bytes_read_span(&c, v, &p) != 0) goto bad;
      int rc = field == 1 ? parse_mesh(bytes_init(p, (size_t)v), label, m, err)
                          : parse_basis(bytes_init(p, (size_t)v), label, m, err);
      if (rc != EMO_OK) return rc;
      have_mesh |= field == 1;
    } else if (field == 3 && wt == 0) {
      if (bytes_read_varint(&c, &v) != 0) goto bad;
      if (v == 2)
        return emoi_fail(err, EMO_EMODEL, "%s: made for face-detection input, not landmarks",
                         label);
    } else if (pb_skip(&c, wt) != 0) {
      goto bad;
    }
  }
  if (!have_mesh) return emoi_fail(err, EMO_EMODEL, "%s: no canonical mesh", label);
  if (m->n_basis < 3)
    return emoi_fail(err, EMO_EMODEL, "%s: %d weighted landmarks, at least 3 needed", label,
                     m->n_basis);
  return EMO_OK;
bad:
  return emoi_fail(err, EMO_EMODEL, "%s: malformed protobuf (truncated or bad wire type)", label);
}

/* ---- Weighted orthogonal Procrustes -------------------------------------------------------- */

/* One-sided Jacobi SVD of a (3x3, row-major): a = U diag(s) V^T with U, V rotations (det +1;
 * the sign of the smallest singular value absorbs a reflection) and s sorted by magnitude. */
static void svd3(const double a[3][3], double u[3][3], double s[3], double v[3][3]) {
  double b[3][3];
  memcpy(b, a, sizeof b);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) v[i][j] = i == j;
  for (int sweep = 0; sweep < 40; sweep++) {
    double off = 0.0;
    for (int p = 0; p < 2; p++)
      for (int q = p + 1; q < 3; q++) {
        double alpha = 0, beta = 0, gamma = 0;
        for (int k = 0; k < 3; k++) {
          alpha += b[k][p] * b[k][p];
          beta += b[k][q] * b[k][q];
          gamma += b[k][p] * b[k][q];
        }
        if (fabs(gamma) <= 1e-300) continue;
        off += fabs(gamma) / sqrt(alpha * beta + 1e-300);
        double zeta = (beta - alpha) / (2.0 * gamma);
        double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
        double cs = 1.0 / sqrt(1.0 + t * t), sn = cs * t;
        for (int k = 0; k < 3; k++) {
          double x = b[k][p], y = b[k][q];
          b[k][p] = cs * x - sn * y;
          b[k][q] = sn * x + cs * y;
          x = v[k][p], y = v[k][q];
          v[k][p] = cs * x - sn * y;
          v[k][q] = sn * x + cs * y;
        }
      }
    if (off < 1e-15) break;
  }
  int order[3] = {0, 1, 2};
  double norm[3];
  for (int j = 0; j < 3; j++)
    norm[j] = sqrt(b[0][j] * b[0][j] + b[1][j] * b[1][j] + b[2][j] * b[2][j]);
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (norm[order[j]] > norm[order[i]]) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
  double vs[3][3], us[3][3];
  for (int j = 0; j < 3; j++) {
    int o = order[j];
    s[j] = norm[o];
    for (int k = 0; k < 3; k++) {
      vs[k][j] = v[k][o];
      us[k][j] = norm[o] > 1e-300 ? b[k][o] / norm[o] : 0.0;
    }
  }
  /* u3 = u1 x u2 makes U a rotation; V's det is folded into its third column and s[2]. */
  us[0][2] = us[1][0] * us[2][1] - us[2][0] * us[1][1];
  us[1][2] = us[2][0] * us[0][1] - us[0][0] * us[2][1];
  us[2][2] = us[0][0] * us[1][1] - us[1][0] * us[0][1];
  double det_v = vs[0][0] * (vs[1][1] * vs[2][2] - vs[1][2] * vs[2][1]) -
                 vs[0][1] * (vs[1][0] * vs[2][2] - vs[1][2] * vs[2][0]) +
                 vs[0][2] * (vs[1][0] * vs[2][1] - vs[1][1] * vs[2][0]);
  if (det_v < 0)
    for (int k = 0; k < 3; k++) vs[k][2] = -vs[k][2];
  memcpy(u, us, sizeof us);
  memcpy(v, vs, sizeof vs);
}

/* Solves min sum_i w_i |t_i - (s R src_i + T)|^2 over rotations R, scale s > 0 and T (src and
 * tgt (n, 3)); writes s R into sr and T into tr. Returns 0, or -1 when degenerate. */
static int procrustes(const double (*src)[3], const double (*tgt)[3], const float *w, int n,
                      double sr[3][3], double tr[3]) {
  double wsum = 0, cs[3] = {0};
  for (int i = 0; i < n; i++) {
    wsum += w[i];
    for (int k = 0; k < 3; k++) cs[k] += w[i] * src[i][k];
  }
  if (!(wsum > 0)) return -1;
  for (int k = 0; k < 3; k++) cs[k] /= wsum;
  /* design = sum w t (src - c)^T; MediaPipe's weighted_targets * centered_weighted_sources^T */
  double d[3][3] = {{0}};
  double den = 0;
  for (int i = 0; i < n; i++) {
    if (w[i] == 0.0f) continue;
    double cen[3] = {src[i][0] - cs[0], src[i][1] - cs[1], src[i][2] - cs[2]};
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 3; c++) d[r][c] += w[i] * tgt[i][r] * cen[c];
    den += w[i] * (cen[0] * src[i][0] + cen[1] * src[i][1] + cen[2] * src[i][2]);
  }
  double dn = 0;
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) dn += d[r][c] * d[r][c];
  if (!(sqrt(dn) > 1e-9) || !(den > 1e-9)) return -1;
  double u[3][3], s[3], v[3][3], rot[3][3];
  svd3(d, u, s, v);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++)
      rot[r][c] = u[r][0] * v[c][0] + u[r][1] * v[c][1] + u[r][2] * v[c][2];
  double num = 0; /* sum w (R (src - c)) . t */
  for (int i = 0; i < n; i++) {
    if (w[i] == 0.0f) continue;
    double cen[3] = {src[i][0] - cs[0], src[i][1] - cs[1], src[i][2] - cs[2]};
    for (int r = 0; r < 3; r++)
      num += w[i] * (rot[r][0] * cen[0] + rot[r][1] * cen[1] + rot[r][2] * cen[2]) * tgt[i][r];
  }
  double scale = num / den;
  if (!(scale > 1e-9) || !isfinite(scale)) return -1;
  for (int r = 0; r < 3; r++) {
    double acc = 0;
    for (int i = 0; i < n; i++) {
      if (w[i] == 0.0f) continue;
      double p = scale * (rot[r][0] * src[i][0] + rot[r][1] * src[i][1] + rot[r][2] * src[i][2]);
      acc += w[i] * (tgt[i][r] - p);
    }
    tr[r] = acc / wsum;
    for (int c = 0; c < 3; c++) sr[r][c] = scale * rot[r][c];
  }
  return 0;
}

/* First-column norm of the fitted s R: the scale (MediaPipe's EstimateScale). */
static int estimate_scale(const fg_metadata *m, const double (*src)[3], const double (*pts)[3],
                          double *scale) {
  double sr[3][3], tr[3];
  if (procrustes(src, pts, m->weight, FG_MESH_POINTS, sr, tr) != 0) return -1;
  *scale = sqrt(sr[0][0] * sr[0][0] + sr[1][0] * sr[1][0] + sr[2][0] * sr[2][0]);
  return *scale > 0 ? 0 : -1;
}

int fg_estimate_pose(const fg_metadata *m, const float (*lm)[3], int w, int h,
                     emo_head_pose *pose) {
  enum { N = FG_MESH_POINTS };
  static const double deg = 180.0 / 3.14159265358979323846;
  memset(pose, 0, sizeof *pose);
  if (w <= 0 || h <= 0) return EMO_EINVAL;
  /* MediaPipe's IsScreenLandmarkListTooCompact. */
  double mx = 0, my = 0, maxd = 0;
  for (int i = 0; i < N; i++) {
    if (!isfinite(lm[i][0]) || !isfinite(lm[i][1]) || !isfinite(lm[i][2])) return EMO_EINVAL;
    mx += lm[i][0];
    my += lm[i][1];
  }
  mx /= N;
  my /= N;
  for (int i = 0; i < N; i++) {
    double dx = lm[i][0] - mx, dy = lm[i][1] - my;
    if (dx * dx + dy * dy > maxd) maxd = dx * dx + dy * dy;
  }
  if (sqrt(maxd) <= 1e-3) return EMO_EINVAL;
  /* PerspectiveCameraFrustum */
  double height_near = 2.0 * FG_NEAR * tan(0.5 * FG_VFOV_DEGREES / deg);
  double width_near = (double)w * height_near / (double)h;
  double left = -0.5 * width_near, bottom = -0.5 * height_near;
  double xs = width_near, ys = height_near;
  /* screen, metric and canonical points: 3 x 468 x 3 doubles = 33 KB of stack */
  double s_[N][3], p_[N][3], c_[N][3];
  double depth = 0;
  for (int i = 0; i < N; i++) {
    s_[i][0] = lm[i][0] * xs + left;
    s_[i][1] = (1.0 - lm[i][1]) * ys + bottom; /* TOP_LEFT_CORNER origin */
    s_[i][2] = lm[i][2] * xs;
    depth += s_[i][2];
    for (int k = 0; k < 3; k++) c_[i][k] = m->canonical[i][k];
  }
  depth /= N;
  /* Pass 1: projected XY, z flipped to a right-handed frame. */
  for (int i = 0; i < N; i++) {
    p_[i][0] = s_[i][0];
    p_[i][1] = s_[i][1];
    p_[i][2] = -s_[i][2];
  }
  double scale1, scale2;
  if (estimate_scale(m, (const double(*)[3])c_, (const double(*)[3])p_, &scale1) != 0)
    return EMO_EINVAL;
  /* Pass 2: move and rescale z, unproject XY. */
  for (int i = 0; i < N; i++) {
    double z = (s_[i][2] - depth + FG_NEAR) / scale1;
    p_[i][0] = s_[i][0] * z / FG_NEAR;
    p_[i][1] = s_[i][1] * z / FG_NEAR;
    p_[i][2] = -z;
  }
  if (estimate_scale(m, (const double(*)[3])c_, (const double(*)[3])p_, &scale2) != 0)
    return EMO_EINVAL;
  double total = scale1 * scale2;
  for (int i = 0; i < N; i++) {
    double z = (s_[i][2] - depth + FG_NEAR) / total;
    p_[i][0] = s_[i][0] * z / FG_NEAR;
    p_[i][1] = s_[i][1] * z / FG_NEAR;
    p_[i][2] = -z;
  }
  double sr[3][3], tr[3];
  if (procrustes((const double(*)[3])c_, (const double(*)[3])p_, m->weight, N, sr, tr) != 0)
    return EMO_EINVAL;
  /* residual: weighted RMS of |target - fit| over the basis */
  double wsum = 0, e2 = 0;
  for (int i = 0; i < N; i++) {
    if (m->weight[i] == 0.0f) continue;
    for (int r = 0; r < 3; r++) {
      double f = sr[r][0] * c_[i][0] + sr[r][1] * c_[i][1] + sr[r][2] * c_[i][2] + tr[r];
      e2 += m->weight[i] * (p_[i][r] - f) * (p_[i][r] - f);
    }
    wsum += m->weight[i];
  }
  pose->residual = (float)sqrt(e2 / wsum);
  for (int c = 0; c < 3; c++) {
    for (int r = 0; r < 3; r++) pose->matrix[c * 4 + r] = (float)sr[r][c];
    pose->matrix[c * 4 + 3] = 0.0f;
    pose->matrix[12 + c] = (float)tr[c];
    pose->translation[c] = (float)tr[c];
  }
  pose->matrix[15] = 1.0f;
  double sc = sqrt(sr[0][0] * sr[0][0] + sr[1][0] * sr[1][0] + sr[2][0] * sr[2][0]);
  double R[3][3];
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) R[r][c] = sr[r][c] / sc;
  /* R = Ry(a) Rx(b) Rz(c): R02 = sin a cos b, R22 = cos a cos b, R12 = -sin b,
   * R10 = cos b sin c, R11 = cos b cos c. */
  double a = atan2(R[0][2], R[2][2]);
  double b = asin(fmax(-1.0, fmin(1.0, -R[1][2])));
  double cc = atan2(R[1][0], R[1][1]);
  pose->yaw = (float)(-a * deg);
  pose->pitch = (float)(-b * deg);
  pose->roll = (float)(-cc * deg);
  return EMO_OK;
}
