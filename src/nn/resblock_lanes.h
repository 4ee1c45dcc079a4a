/* resblock_lanes.h: the residual block's pixel kernels at one vector width, RB_W channels a
 * vector (8: a ymm register; 16: a zmm register), for resblock.c, which includes it once per
 * width after its vector helpers (ld8, st8, splat8, prelu8 and the sixteen-lane ones). Every name
 * takes the width: expand_px8, dw_px8, project_px8, expand_row8, project_row8, and so on. */
#define RB_CAT_(a, b, c) a##b##c
#define RB_CAT(a, b, c) RB_CAT_(a, b, c)
#define RB_N(name) RB_CAT(name, RB_W, )
#define RB_VF RB_CAT(v, RB_W, f)

/* expand_ref for pixels [i, i + np) of a row; np, and c and m where the caller specialises them,
 * are constants after inlining (so that pixel p's operands are at constant offsets). */
RB_INLINE void RB_N(expand_px)(const nn_rb *r, const float *x, float *out, int i, const int np,
                               const int c, const int m) {
  for (int j = 0; j < m; j += RB_W) {
    RB_VF acc[16];
    const RB_VF b = RB_N(ld)(r->ba + j);
    RB_UNROLL for (int p = 0; p < np; p++) acc[p] = b;
    const float *xp = x + (size_t)i * c;
    for (int k = 0; k < c; k++) {
      const RB_VF wv = RB_N(ld)(r->wa_t + (size_t)k * m + j);
      RB_UNROLL for (int p = 0; p < np; p++) {
        RB_VF t = RB_N(splat)(xp[(size_t)p * c + k]) * wv;
        acc[p] = acc[p] + t;
      }
    }
    const RB_VF al = RB_N(ld)(r->aa + j);
    float *op = out + (size_t)(i + 1) * m + j;
    RB_UNROLL for (int p = 0; p < np; p++) RB_N(st)(op + (size_t)p * m, RB_N(prelu)(acc[p], al));
  }
}

/* The depthwise part of project_ref for pixels [i, i + np), into r->dbuf (np, m). */
RB_INLINE void RB_N(dw_px)(const nn_rb *r, const float *const rows[3], int i, const int np,
                           const int m) {
  float *d = r->dbuf;
  for (int j = 0; j < m; j += RB_W) {
    RB_VF acc[16];
    const RB_VF b = RB_N(ld)(r->bd + j);
    RB_UNROLL for (int p = 0; p < np; p++) acc[p] = b;
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++) {
        const RB_VF wv = RB_N(ld)(r->wd + (ky * 3 + kx) * m + j);
        const float *row = rows[ky] + (size_t)(i + kx) * m + j;
        RB_UNROLL for (int p = 0; p < np; p++) {
          RB_VF t = RB_N(ld)(row + (size_t)p * m) * wv;
          acc[p] = acc[p] + t;
        }
      }
    RB_UNROLL for (int p = 0; p < np; p++) RB_N(st)(d + (size_t)p * m + j, acc[p]);
  }
}

/* project_ref for pixels [i, i + np). At sixteen lanes c must be a multiple of 16 and m of 8:
 * the depthwise runs at eight lanes when m is not a multiple of 16. */
RB_INLINE void RB_N(project_px)(const nn_rb *r, const float *const rows[3], const float *x,
                                float *y, int i, const int np, const int c, const int m) {
#if RB_W == 16
  if (m % 16)
    dw_px8(r, rows, i, np, m);
  else
#endif
    RB_N(dw_px)(r, rows, i, np, m);
  const float *d = r->dbuf;
  const float *xp = x + (size_t)i * c;
  float *yp = y + (size_t)i * c;
  for (int j = 0; j < c; j += RB_W) {
    RB_VF acc[16];
    const RB_VF b = RB_N(ld)(r->bb + j);
    RB_UNROLL for (int p = 0; p < np; p++) acc[p] = b;
    for (int k = 0; k < m; k++) {
      const RB_VF wv = RB_N(ld)(r->wb_t + (size_t)k * c + j);
      RB_UNROLL for (int p = 0; p < np; p++) {
        RB_VF t = RB_N(splat)(d[(size_t)p * m + k]) * wv;
        acc[p] = acc[p] + t;
      }
    }
    const RB_VF al = RB_N(ld)(r->ab + j);
    RB_UNROLL for (int p = 0; p < np; p++) {
      RB_VF f = RB_N(ld)(xp + (size_t)p * c + j) + acc[p];
      RB_N(st)(yp + (size_t)p * c + j, RB_N(prelu)(f, al));
    }
  }
}

/* A row in blocks of big pixels, then 4, then 1; channel counts c and m (constants, or r's). */
RB_INLINE void RB_N(expand_row)(const nn_rb *r, const float *x, float *out, const int big,
                                const int c, const int m) {
  int i = 0;
  for (; i + big <= r->w; i += big) RB_N(expand_px)(r, x, out, i, big, c, m);
  for (; i + 4 <= r->w; i += 4) RB_N(expand_px)(r, x, out, i, 4, c, m);
  for (; i < r->w; i++) RB_N(expand_px)(r, x, out, i, 1, c, m);
}

RB_INLINE void RB_N(project_row)(const nn_rb *r, const float *const rows[3], const float *x,
                                 float *y, const int big, const int c, const int m) {
  int i = 0;
  for (; i + big <= r->w; i += big) RB_N(project_px)(r, rows, x, y, i, big, c, m);
  for (; i + 4 <= r->w; i += 4) RB_N(project_px)(r, rows, x, y, i, 4, c, m);
  for (; i < r->w; i++) RB_N(project_px)(r, rows, x, y, i, 1, c, m);
}

#undef RB_VF
#undef RB_N
#undef RB_CAT
#undef RB_CAT_
