/* resblock_lanes.h: the residual block's pixel kernels at one vector width, RB_W channels a
 * vector (8: a ymm register; 16: a zmm register), for resblock.c, which includes it once per
 * width after its vector helpers (ld8, st8, splat8, prelu8 and the sixteen-lane ones). Every name
 * takes the width: expand_px8, dw_px8, project_px8, expand_row8, project_row8, and so on. */
#define RB_CAT_(a, b, c) a##b##c
#define RB_CAT(a, b, c) RB_CAT_(a, b, c)
#define RB_N(name) RB_CAT(name, RB_W, )
#define RB_VF RB_CAT(v, RB_W, f)

/* expand_ref for pixels [i, i + np) of a row, nv vectors of output channels at once (each
 * broadcast input value feeds nv products: fewer broadcasts and instructions per multiply-add;
 * m a multiple of nv * RB_W); np, nv, and c and m where the caller specialises them, are
 * constants after inlining (so that pixel p's operands are at constant offsets). */
RB_INLINE void RB_N(expand_px)(const nn_rb *r, const float *x, float *out, int i, const int np,
                               const int c, const int m, const int nv) {
  for (int j = 0; j < m; j += nv * RB_W) {
    RB_VF acc[2][16];
    RB_UNROLL for (int v = 0; v < nv; v++) {
      const RB_VF b = RB_N(ld)(r->ba + j + v * RB_W);
      RB_UNROLL for (int p = 0; p < np; p++) acc[v][p] = b;
    }
    const float *xp = x + (size_t)i * c;
    for (int k = 0; k < c; k++) {
      RB_VF wv[2];
      RB_UNROLL for (int v = 0; v < nv; v++) wv[v] =
          RB_N(ld)(r->wa_t + (size_t)k * m + j + v * RB_W);
      RB_UNROLL for (int p = 0; p < np; p++) {
        const RB_VF s = RB_N(splat)(xp[(size_t)p * c + k]);
        RB_UNROLL for (int v = 0; v < nv; v++) {
          RB_VF t = s * wv[v];
          acc[v][p] = acc[v][p] + t;
        }
      }
    }
    RB_UNROLL for (int v = 0; v < nv; v++) {
      const RB_VF al = RB_N(ld)(r->aa + j + v * RB_W);
      float *op = out + (size_t)(i + 1) * m + j + v * RB_W;
      RB_UNROLL for (int p = 0; p < np; p++)
          RB_N(st)(op + (size_t)p * m, RB_N(prelu)(acc[v][p], al));
    }
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

/* The products of project_px for pixels [0, np) of d (np, m), x and y (np, c). */
RB_INLINE void RB_N(project_mm)(const nn_rb *r, const float *d, const float *xp, float *yp,
                                const int np, const int c, const int m, const int nv) {
  for (int j = 0; j < c; j += nv * RB_W) {
    RB_VF acc[2][16];
    RB_UNROLL for (int v = 0; v < nv; v++) {
      const RB_VF b = RB_N(ld)(r->bb + j + v * RB_W);
      RB_UNROLL for (int p = 0; p < np; p++) acc[v][p] = b;
    }
    for (int k = 0; k < m; k++) {
      RB_VF wv[2];
      RB_UNROLL for (int v = 0; v < nv; v++) wv[v] =
          RB_N(ld)(r->wb_t + (size_t)k * c + j + v * RB_W);
      RB_UNROLL for (int p = 0; p < np; p++) {
        const RB_VF s = RB_N(splat)(d[(size_t)p * m + k]);
        RB_UNROLL for (int v = 0; v < nv; v++) {
          RB_VF t = s * wv[v];
          acc[v][p] = acc[v][p] + t;
        }
      }
    }
    RB_UNROLL for (int v = 0; v < nv; v++) {
      const RB_VF al = RB_N(ld)(r->ab + j + v * RB_W);
      RB_UNROLL for (int p = 0; p < np; p++) {
        RB_VF f = RB_N(ld)(xp + (size_t)p * c + j + v * RB_W) + acc[v][p];
        RB_N(st)(yp + (size_t)p * c + j + v * RB_W, RB_N(prelu)(f, al));
      }
    }
  }
}

/* project_ref for pixels [i, i + np), nv vectors of output channels at once as expand_px (c a
 * multiple of nv * RB_W). At sixteen lanes c must be a multiple of 16 and m of 8: the depthwise
 * runs at eight lanes when m is not a multiple of 16. */
RB_INLINE void RB_N(project_px)(const nn_rb *r, const float *const rows[3], const float *x,
                                float *y, int i, const int np, const int c, const int m,
                                const int nv) {
#if RB_W == 16
  if (m % 16)
    dw_px8(r, rows, i, np, m);
  else
#endif
    RB_N(dw_px)(r, rows, i, np, m);
  /* the products in blocks of pb pixels: np * nv accumulators at most as at nv = 1 */
  const int pb = np >= nv ? np / nv : np;
  RB_UNROLL for (int p0 = 0; p0 < np; p0 += pb)
      RB_N(project_mm)(r, r->dbuf + (size_t)p0 * m, x + (size_t)(i + p0) * c,
                       y + (size_t)(i + p0) * c, pb, c, m, nv);
}

/* A row in blocks of big pixels, then 4, then 1, nv output vectors at once (expand_px);
 * channel counts c and m (constants, or r's). */
RB_INLINE void RB_N(expand_row)(const nn_rb *r, const float *x, float *out, const int big,
                                const int c, const int m, const int nv) {
  int i = 0;
  for (; i + big <= r->w; i += big) RB_N(expand_px)(r, x, out, i, big, c, m, nv);
  for (; i + 4 <= r->w; i += 4) RB_N(expand_px)(r, x, out, i, 4, c, m, nv);
  for (; i < r->w; i++) RB_N(expand_px)(r, x, out, i, 1, c, m, nv);
}

RB_INLINE void RB_N(project_row)(const nn_rb *r, const float *const rows[3], const float *x,
                                 float *y, const int big, const int c, const int m, const int nv) {
  int i = 0;
  for (; i + big <= r->w; i += big) RB_N(project_px)(r, rows, x, y, i, big, c, m, nv);
  for (; i + 4 <= r->w; i += 4) RB_N(project_px)(r, rows, x, y, i, 4, c, m, nv);
  for (; i < r->w; i++) RB_N(project_px)(r, rows, x, y, i, 1, c, m, nv);
}

#undef RB_VF
#undef RB_N
#undef RB_CAT
#undef RB_CAT_
