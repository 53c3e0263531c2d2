/*
 * The body of one variant of the kernel in _kernels.c, included once per instruction set
 * with these macros defined (and undefined again after):
 *
 *   NAME  the driver's name; its helpers are NAME_diag, NAME_columns, ... (FN(_diag), ...)
 *   VT    a vector of L doubles; IT, UT the signed and unsigned integer vectors of the same
 *         size (comparison masks, bits of doubles)
 *   L, H  lanes per vector and vectors per block: blocks of R = L * H rows
 *   ATTR  the target attribute of every function (empty for the baseline)
 *   VMAX  vectors per row of a statistics tile (4 x VMAX accumulators; 4 x 4 at most)
 *
 * Up to 4 components (diag) or 4 columns of y (tri) are formed at a time, so that the 4 * H
 * accumulators stay in registers (AVX-512: 8 of 32 zmm; AVX2: 8 of 16 ymm).
 */
#define FN(suffix) KERNEL_CAT(NAME, suffix)
/* whole vectors loaded from and stored to unaligned places, straight from and to registers
   (memcpy into an array of vectors may go through the stack in halves, and a whole-vector
   load that follows them stalls on the stores) */
typedef VT FN(_uvt) __attribute__((aligned(8), may_alias));
#define LOADV(p) (*(const FN(_uvt) *)(p))
#define STOREV(p, v) (*(FN(_uvt) *)(p) = (v))

/* exp(x) of each lane, x in [FLOOR, 0], in place: x = n ln 2 + r with |r| <= ln 2 / 2, a
   degree-13 Taylor polynomial of exp(r) (its remainder is below 1e-17 there), times 2^n
   formed in the exponent bits (n >= -1010, so 2^n is a normal number).  Within a few ulp of
   the correctly rounded value (tests/test_kernels.py: against extended precision). */
ATTR static inline __attribute__((always_inline)) void FN(_exp)(VT *v) {
    const VT x = *v;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    const VT t = x * 1.4426950408889634 + shifter;
    const VT n = t - shifter;
    const VT r = (x - n * LN2_HI) - n * LN2_LO;
    VT p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* the low bits of t hold n in two's complement: shifted into the exponent field, 2^n */
    const UT bits = ((UT)t << 52) + ((UT){0} + (1023ULL << 52));
    *v = p * (VT)bits;
}
/* log(x) of each lane, x >= 1 (a sum of exponentials, one of them 1), in place: x = 2^e f
   with f in [sqrt(1/2), sqrt(2)), log f = 2 atanh(s), s = (f - 1) / (f + 1), by its series
   to s^23 (|s| < 0.172: remainder below 1e-19).  Within a few ulp. */
ATTR static inline __attribute__((always_inline)) void FN(_log)(VT *v) {
    const UT bits = (UT)*v;
    const UT off = bits - 0x3fe6a09e667f3bcdULL; /* bits of sqrt(1/2); no borrow: x >= 1 */
    const UT e = off >> 52;                      /* x >= 1: e >= 0, a logical shift */
    const VT f = (VT)(bits - (off & 0xfff0000000000000ULL));
    const VT s = (f - 1.0) / (f + 1.0), s2 = s * s;
    VT p = s2 * (2.0 / 23.0) + 2.0 / 21.0;
    p = p * s2 + 2.0 / 19.0;
    p = p * s2 + 2.0 / 17.0;
    p = p * s2 + 2.0 / 15.0;
    p = p * s2 + 2.0 / 13.0;
    p = p * s2 + 2.0 / 11.0;
    p = p * s2 + 2.0 / 9.0;
    p = p * s2 + 2.0 / 7.0;
    p = p * s2 + 2.0 / 5.0;
    p = p * s2 + 2.0 / 3.0;
    p = p * s2 + 2.0;
    /* (double)e without an int64 conversion (AVX2 and AVX-512F have none): e + 1.5 * 2^52
       in the bits of a double, minus 1.5 * 2^52 */
    const VT ed = (VT)(e + 0x4338000000000000ULL) - 6755399441055744.0;
    *v = ed * LN2_HI + (s * p + ed * LN2_LO);
}
/* diag: C (1 to 4) components of a block, u (k, d) the diagonal factors; spherical ones
   (sph) with qb not NULL also store each row's |x - mu|^2 there (for the statistics) */
ATTR static inline __attribute__((always_inline)) void FN(_diag)(
    const double *restrict xt, Py_ssize_t d, const double *restrict mus,
    const double *restrict us, const double *restrict base, int C, int sph,
    double *restrict lpb, double *restrict qb) {
    VT acc[4][H];
    for (int j = 0; j < C; j++)
        for (int h = 0; h < H; h++) {
            VT zero = {0};
            acc[j][h] = zero;
        }
    for (Py_ssize_t a = 0; a < d; a++) {
        VT xv[H];
        for (int h = 0; h < H; h++) xv[h] = LOADV(xt + a * L * H + L * h);
        for (int j = 0; j < C; j++) {
            const double mu = mus[j * d + a], u = us[j * d + a];
            for (int h = 0; h < H; h++) {
                VT t = xv[h] - mu;
                if (!sph) t *= u; /* spherical: one factor per component, applied after */
                acc[j][h] += t * t;
            }
        }
    }
    for (int j = 0; j < C; j++)
        for (int h = 0; h < H; h++) {
            const double u = us[j * d];
            VT v = acc[j][h] * (sph ? -0.5 * u * u : -0.5) + base[j];
            STOREV(lpb + j * L * H + L * h, v);
            if (sph && qb) STOREV(qb + j * L * H + L * h, acc[j][h]);
        }
}
/* diag: every component of a block, 4 at a time (sph a constant, so that each case
   compiles to its own loops) */
ATTR static inline __attribute__((always_inline)) void FN(_diags)(
    const Chunk *c, const double *restrict xt, double *restrict lpb, int sph,
    double *restrict qb) {
    enum { R = L * H };
    const Py_ssize_t d = c->d, k = c->k;
#define DIAG(C)                                                                                   \
    FN(_diag)(xt, d, c->mu + j0 * d, c->u + j0 * d, c->base + j0, C, sph, lpb + j0 * R,          \
              qb ? qb + j0 * R : NULL)
    Py_ssize_t j0 = 0;
    for (; j0 + 4 <= k; j0 += 4) DIAG(4);
    switch (k - j0) {
    case 3: DIAG(3); break;
    case 2: DIAG(2); break;
    case 1: DIAG(1); break;
    }
#undef DIAG
}
/* tri: columns b0 to b0 + C - 1 (C from 1 to 4) of y = (x - mu) U, their squares added
   to sq, or, if y is given, stored there (feature-major); dt holds the block's
   differences x - mu, feature-major, and P the columns' panel (see pack_panels) */
ATTR static inline __attribute__((always_inline)) void FN(_columns)(
    const double *restrict dt, const double *restrict P, Py_ssize_t b0, int C,
    VT *restrict sq, double *restrict y) {
    VT acc[4][H];
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++) {
            VT zero = {0};
            acc[c][h] = zero;
        }
    /* U is upper-triangular: rows below b0 + C - 1 add nothing to these columns, and the
       panel holds zeros under the diagonal */
    for (Py_ssize_t a = 0; a < b0 + C; a++) {
        VT t[H];
        for (int h = 0; h < H; h++) t[h] = LOADV(dt + a * L * H + L * h);
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++) acc[c][h] += t[h] * P[a * 4 + c];
    }
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            if (y)
                STOREV(y + (b0 + c) * L * H + L * h, acc[c][h]);
            else
                sq[h] += acc[c][h] * acc[c][h];
}
/* (x - mu) U for a block, U (d, d) upper-triangular given as panels (pack_panels): into y
   (feature-major; may be xt), or, with y NULL, its squared norm added to sq */
ATTR static inline void FN(_product)(const double *xt, Py_ssize_t d,
                                     const double *restrict mu, const double *restrict P,
                                     double *restrict dt, VT *restrict sq, double *y) {
    enum { R = L * H };
    for (Py_ssize_t a = 0; a < d; a++) /* explicit vectors: a per-element loop may
                                          be vectorised across features, with permutes */
        for (int h = 0; h < H; h++) {
            VT t;
            t = LOADV(xt + a * R + L * h);
            t -= mu[a];
            STOREV(dt + a * R + L * h, t);
        }
    Py_ssize_t b0 = 0;
    for (; b0 + 4 <= d; P += (b0 + 4) * 4, b0 += 4) FN(_columns)(dt, P, b0, 4, sq, y);
    switch (d - b0) {
    case 3: FN(_columns)(dt, P, b0, 3, sq, y); break;
    case 2: FN(_columns)(dt, P, b0, 2, sq, y); break;
    case 1: FN(_columns)(dt, P, b0, 1, sq, y); break;
    }
}
/* tri: the log-density base - |(x - mu) U|^2 / 2 of a block under one component */
ATTR static inline void FN(_tri)(const double *restrict xt, Py_ssize_t d,
                                   const double *restrict mu, const double *restrict U,
                                   double base, double *restrict dt, double *restrict lp) {
    VT sq[H];
    for (int h = 0; h < H; h++) {
        VT zero = {0};
        sq[h] = zero;
    }
    FN(_product)(xt, d, mu, U, dt, sq, NULL);
    for (int h = 0; h < H; h++) {
        VT v = sq[h] * -0.5 + base;
        STOREV(lp + L * h, v);
    }
}
/* tri in float32 lanes (float32 input, well-conditioned factors; engine/planning.py decides):
   twice the rows per vector.  FT holds 2 L floats, HT L floats (a VT's worth); a block's
   R rows are R / (2 L) FT (H is even in every variant).  Conversions go between HT and VT
   (a vector of 2 L doubles is wider than the registers, and would live on the stack). */
typedef float FN(_ft) __attribute__((vector_size(2 * L * sizeof(float))));
typedef float FN(_ht) __attribute__((vector_size(L * sizeof(float))));
typedef FN(_ft) FN(_uft) __attribute__((aligned(4), may_alias));
typedef FN(_ht) FN(_uht) __attribute__((aligned(4), may_alias));
/* columns b0 to b0 + C - 1 (C from 1 to 8: the panels P0 and, beyond 4, P1 of the next 4
   columns) of y = (x - mu) U, in float32 from the block's float32 differences dt; their
   squares added to sq, and with yo not NULL the columns themselves stored there (column b
   at yo + b ys, for the whitened statistics) */
ATTR static inline __attribute__((always_inline)) void FN(_columns32)(
    const float *restrict dt, const float *restrict P0, const float *restrict P1,
    Py_ssize_t b0, int C, FN(_ft) *restrict sq, float *restrict yo, Py_ssize_t ys) {
    enum { R = L * H, LF = 2 * L, HF = R / LF };
    typedef FN(_ft) FT;
    const int C0 = C < 4 ? C : 4, C1 = C - C0;
    FT acc[8][HF];
    for (int c = 0; c < C; c++)
        for (int h = 0; h < HF; h++) {
            const FT zero = {0};
            acc[c][h] = zero;
        }
    /* U is upper-triangular: the first panel's columns need rows below b0 + C0, the
       second's rows below b0 + 4 + C1 */
    for (Py_ssize_t a = 0; a < b0 + C0; a++) {
        FT t[HF];
        for (int h = 0; h < HF; h++) t[h] = *(const FN(_uft) *)(dt + a * R + LF * h);
        for (int c = 0; c < C0; c++)
            for (int h = 0; h < HF; h++) acc[c][h] += t[h] * P0[a * 4 + c];
        for (int c = 0; c < C1; c++)
            for (int h = 0; h < HF; h++) acc[4 + c][h] += t[h] * P1[a * 4 + c];
    }
    for (Py_ssize_t a = b0 + C0; a < b0 + 4 + C1; a++) {
        FT t[HF];
        for (int h = 0; h < HF; h++) t[h] = *(const FN(_uft) *)(dt + a * R + LF * h);
        for (int c = 0; c < C1; c++)
            for (int h = 0; h < HF; h++) acc[4 + c][h] += t[h] * P1[a * 4 + c];
    }
    for (int h = 0; h < HF; h++)
        for (int c = 0; c < C; c++) sq[h] += acc[c][h] * acc[c][h];
    if (yo)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < HF; h++) *(FN(_uft) *)(yo + (b0 + c) * ys + LF * h) = acc[c][h];
}
/* tri in float32 lanes: the log-density base - |(x - mu) U|^2 / 2 of a block under one
   component, U given as float32 panels; the differences are formed in float64 and then
   rounded (exact for rows close to their component, as the float64 path), dt (d, R)
   floats; y itself stored feature-major at yo (row stride ys) unless yo is NULL */
ATTR static inline void FN(_tri32)(const double *restrict xt, Py_ssize_t d,
                                   const double *restrict mu, const float *restrict U,
                                   double base, float *restrict dt, double *restrict lp,
                                   float *restrict yo, Py_ssize_t ys) {
    enum { R = L * H };
    for (Py_ssize_t a = 0; a < d; a++)
        for (int h = 0; h < H; h++) {
            const VT v = LOADV(xt + a * R + L * h) - mu[a];
            *(FN(_uht) *)(dt + a * R + L * h) = __builtin_convertvector(v, FN(_ht));
        }
    enum { HF = R / (2 * L) };
    FN(_ft) sq[HF]; /* sums of d squares in float32: relative error near d eps32 / 2 at
                       most, that of the products themselves */
    for (int h = 0; h < HF; h++) {
        const FN(_ft) zero = {0};
        sq[h] = zero;
    }
    /* two panels at a time: 8 columns of accumulators, enough to hide the latency of
       the multiply-adds */
    Py_ssize_t b0 = 0;
    for (; b0 + 8 <= d; b0 += 8) {
        FN(_columns32)(dt, U, U + (b0 + 4) * 4, b0, 8, sq, yo, ys);
        U += (b0 + 4) * 4 + (b0 + 8) * 4;
    }
    switch (d - b0) {
    case 7: FN(_columns32)(dt, U, U + (b0 + 4) * 4, b0, 7, sq, yo, ys); break;
    case 6: FN(_columns32)(dt, U, U + (b0 + 4) * 4, b0, 6, sq, yo, ys); break;
    case 5: FN(_columns32)(dt, U, U + (b0 + 4) * 4, b0, 5, sq, yo, ys); break;
    case 4: FN(_columns32)(dt, U, NULL, b0, 4, sq, yo, ys); break;
    case 3: FN(_columns32)(dt, U, NULL, b0, 3, sq, yo, ys); break;
    case 2: FN(_columns32)(dt, U, NULL, b0, 2, sq, yo, ys); break;
    case 1: FN(_columns32)(dt, U, NULL, b0, 1, sq, yo, ys); break;
    }
    for (int h = 0; h < HF; h++) {
        float half[2 * L]; /* one store, two loads within it */
        *(FN(_uft) *)half = sq[h];
        for (int e = 0; e < 2; e++) {
            const VT q = __builtin_convertvector(*(const FN(_uht) *)(half + L * e), VT);
            STOREV(lp + 2 * L * h + L * e, q * -0.5 + base);
        }
    }
}
/* tri statistics: the pairs (a, b) with a0 <= a < a0 + A (A from 1 to 4) and a <= b of
   sum_i r_i dt_ia dt_ib, added to their lane-wise partial sums p2 (packed upper
   triangle, row by row) */
ATTR static inline __attribute__((always_inline)) void FN(_pairs)(
    const double *restrict dt, const VT *restrict r, Py_ssize_t d, Py_ssize_t a0, int A,
    double *restrict p2) {
    enum { R = L * H };
    VT ra[4][H];
    for (int i = 0; i < A; i++)
        for (int h = 0; h < H; h++) {
            VT t;
            t = LOADV(dt + (a0 + i) * R + L * h);
            ra[i][h] = r[h] * t;
        }
    /* row a of the packed triangle starts at pair a d - a (a - 1) / 2 */
    double *row[4];
    for (int i = 0; i < A; i++) {
        const Py_ssize_t a = a0 + i;
        row[i] = p2 + (a * d - a * (a - 1) / 2 - a) * L;
    }
    for (Py_ssize_t b = a0; b < d; b++) {
        VT t[H];
        for (int h = 0; h < H; h++) t[h] = LOADV(dt + b * R + L * h);
        for (int i = 0; i < A && a0 + i <= b; i++) {
            double *p = row[i] + b * L;
            VT acc;
            acc = LOADV(p);
            for (int h = 0; h < H; h++) acc += ra[i][h] * t[h];
            STOREV(p, acc);
        }
    }
}
/* tri statistics of a block (d <= 12): its responsibilities are lpb (k, R) times
   inv_total (R,); the sums go to lane-wise partial sums part (k + k d + k n2 vectors,
   n2 = d (d + 1) / 2) */
ATTR static inline void FN(_stats)(const Chunk *c, const double *restrict xt,
                                     const double *restrict lpb,
                                     const double *restrict inv_total, Py_ssize_t b,
                                     Py_ssize_t w, double *restrict dt,
                                     double *restrict part) {
    enum { R = L * H };
    const Py_ssize_t d = c->d, k = c->k;
    double rw[R]; /* each row's weight; 0 for the repeated rows of a short block */
    for (int i = 0; i < R; i++)
        rw[i] = i < w ? inv_total[i] * (c->sw ? c->sw[b + i] : 1.0) : 0.0;
    const Py_ssize_t n2 = d * (d + 1) / 2;
    double *pn = part, *p1 = part + k * L, *p2 = part + (k + k * d) * L;
    for (Py_ssize_t j = 0; j < k; j++) {
        if (c->wh && !c->wh->skip[j]) continue; /* whitened */
        VT r[H], acc;
        for (int h = 0; h < H; h++) {
            VT q, v;
            q = LOADV(lpb + j * R + L * h);
            v = LOADV(rw + L * h);
            r[h] = q * v;
        }
        acc = LOADV(pn + j * L);
        for (int h = 0; h < H; h++) acc += r[h];
        STOREV(pn + j * L, acc);
        for (Py_ssize_t a = 0; a < d; a++) {
            const double mu = c->mu[j * d + a];
            acc = LOADV(p1 + (j * d + a) * L);
            for (int h = 0; h < H; h++) {
                VT t;
                t = LOADV(xt + a * R + L * h);
                t -= mu;
                STOREV(dt + a * R + L * h, t);
                acc += r[h] * t;
            }
            STOREV(p1 + (j * d + a) * L, acc);
        }
        double *pj = p2 + j * n2 * L;
        Py_ssize_t a0 = 0;
        for (; a0 + 4 <= d; a0 += 4) FN(_pairs)(dt, r, d, a0, 4, pj);
        switch (d - a0) {
        case 3: FN(_pairs)(dt, r, d, a0, 3, pj); break;
        case 2: FN(_pairs)(dt, r, d, a0, 2, pj); break;
        case 1: FN(_pairs)(dt, r, d, a0, 1, pj); break;
        }
    }
}
/* diag statistics of gathered rows, one component, features a0 to a0 + A - 1 (A from 1 to
   4; x points at row a0 of the gathered (d, cap) rows): the sums over the n rows (a multiple
   of L) of r t and, if second, r t^2, t = x - mu, added to their lane-wise partial sums p1
   and p2 (A vectors each).  The sums stay in registers while the rows stream past. */
ATTR static inline __attribute__((always_inline)) void FN(_dcols)(
    const double *restrict x, Py_ssize_t cap, Py_ssize_t n, const double *restrict r,
    const double *restrict mu, int A, int second, double *restrict p1, double *restrict p2) {
    /* sums from zero, added to the partial sums at the end (loading them into the
       registers first would stall on the store of the previous group); without
       second, a2 holds the odd vectors' S1 sums */
    VT a1[4], a2[4];
    for (int i = 0; i < A; i++) {
        const VT zero = {0};
        a1[i] = a2[i] = zero;
    }
    if (second)
        for (Py_ssize_t s = 0; s < n; s += L) {
            VT rv;
            rv = LOADV(r + s);
            for (int i = 0; i < A; i++) {
                VT t;
                t = LOADV(x + i * cap + s);
                t -= mu[i];
                const VT rt = rv * t;
                a1[i] += rt;
                a2[i] += rt * t;
            }
        }
    else /* S1 alone: two vectors of rows at a time into 2 A sums, so that the additions do
            not wait on each other (n is a multiple of R = L H, H >= 2) */
        for (Py_ssize_t s = 0; s < n; s += 2 * L) {
            VT rv, rw;
            rv = LOADV(r + s);
            rw = LOADV(r + s + L);
            for (int i = 0; i < A; i++) {
                VT t, u;
                t = LOADV(x + i * cap + s);
                u = LOADV(x + i * cap + s + L);
                a1[i] += rv * (t - mu[i]);
                a2[i] += rw * (u - mu[i]);
            }
        }
    for (int i = 0; i < A; i++) {
        VT t;
        t = LOADV(p1 + i * L);
        t += second ? a1[i] : a1[i] + a2[i];
        STOREV(p1 + i * L, t);
        if (second) {
            t = LOADV(p2 + i * L);
            t += a2[i];
            STOREV(p2 + i * L, t);
        }
    }
}
/* diag statistics of the gathered rows (g->n of them), component by component, into the
   lane-wise partial sums part (k + k d + k d vectors: N, S1, S2), or, with the rows' squared
   distances gathered (g->q: spherical factors, S2 summed over features), k + k d + k
   vectors, their sum weighted by r for S2 (k operations a row instead of k d) */
ATTR static void FN(_dflush)(Py_ssize_t d, Py_ssize_t k, const double *restrict mus,
                             Gathered *restrict g, double *restrict part) {
    const Py_ssize_t cap = g->cap, n = g->n;
    for (Py_ssize_t j = 0; j < k; j++) {
        const double *restrict r = g->r + j * cap, *restrict mu = mus + j * d;
        double *pn = part + j * L, *p1 = part + (k + j * d) * L;
        double *p2 = part + (k + k * d + (g->q ? j : j * d)) * L;
        VT acc = LOADV(pn), a2 = {0};
        if (g->q) a2 = LOADV(p2);
        for (Py_ssize_t s = 0; s < n; s += L) {
            VT t;
            t = LOADV(r + s);
            acc += t;
            if (g->q) {
                VT q;
                q = LOADV(g->q + j * cap + s);
                a2 += t * q;
            }
        }
        STOREV(pn, acc);
        if (g->q) STOREV(p2, a2);
        Py_ssize_t a0 = 0;
#define DCOLS(A)                                                                                  \
    FN(_dcols)(g->x + a0 * cap, cap, n, r, mu + a0, A, !g->q, p1 + a0 * L, p2 + a0 * L)
        for (; a0 + 4 <= d; a0 += 4) DCOLS(4);
        switch (d - a0) {
        case 3: DCOLS(3); break;
        case 2: DCOLS(2); break;
        case 1: DCOLS(1); break;
        }
#undef DCOLS
    }
    g->n = 0;
}
/* diag statistics: a block's rows (feature-major) and weighted responsibilities lpb (k, R)
   times rw (R,) into the gathered rows, whose sums are formed when they are full */
ATTR static inline void FN(_dgather)(Py_ssize_t d, Py_ssize_t k, const double *restrict mus,
                                     const double *restrict xt, const double *restrict lpb,
                                     const double *restrict rw, Gathered *restrict g,
                                     double *restrict part) {
    enum { R = L * H };
    const Py_ssize_t cap = g->cap, n = g->n;
    for (Py_ssize_t a = 0; a < d; a++)
        memcpy(g->x + a * cap + n, xt + a * R, R * sizeof(double));
    for (Py_ssize_t j = 0; j < k; j++)
        for (int i = 0; i < R; i++) g->r[j * cap + n + i] = lpb[j * R + i] * rw[i];
    if (g->q)
        for (Py_ssize_t j = 0; j < k; j++) memcpy(g->q + j * cap + n, g->qb + j * R, R * sizeof(double));
    g->n = n + R;
    if (g->n == cap) FN(_dflush)(d, k, mus, g, part);
}
/* tri statistics, features in the lanes: a tile of S2 (rows a0 to a0 + 3, V vectors of
   columns from c0) is held in registers while n rows stream past:
   S2[a, b] += E[s, a] D[s, b], E = r D the weighted differences (GEMM micro-kernel style) */
ATTR static inline __attribute__((always_inline)) void FN(_tile)(
    const double *restrict D, const double *restrict E, Py_ssize_t dp, Py_ssize_t n,
    Py_ssize_t a0, Py_ssize_t c0, int V, double *restrict S2) {
    VT acc[4][4], dv[4];
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < V; v++) acc[i][v] = LOADV(S2 + (a0 + i) * dp + c0 + v * L);
    for (Py_ssize_t s = 0; s < n; s++) {
        for (int v = 0; v < V; v++) dv[v] = LOADV(D + s * dp + c0 + v * L);
        for (int i = 0; i < 4; i++) {
            const double e = E[s * dp + a0 + i];
            for (int v = 0; v < V; v++) acc[i][v] += e * dv[v];
        }
    }
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < V; v++) STOREV(S2 + (a0 + i) * dp + c0 + v * L, acc[i][v]);
}
/* tri statistics: the upper triangle of component j's S2 (by tiles of 4 rows, up to VMAX
   vectors wide) from n differences D and weighted differences E */
ATTR static void FN(_sums)(Py_ssize_t d, Py_ssize_t j, const double *restrict D,
                           const double *restrict E, Py_ssize_t n, Super *restrict sup) {
    const Py_ssize_t dp = sup->dp;
    double *restrict S2 = sup->s2 + j * dp * dp;
    for (Py_ssize_t a0 = 0; a0 < d; a0 += 4) {
        Py_ssize_t c0 = a0 / L * L; /* the first vector holding column a0 */
        for (; c0 + VMAX * L <= dp; c0 += VMAX * L) FN(_tile)(D, E, dp, n, a0, c0, VMAX, S2);
        switch ((dp - c0) / L) {
        case 3: FN(_tile)(D, E, dp, n, a0, c0, 3, S2); break;
        case 2: FN(_tile)(D, E, dp, n, a0, c0, 2, S2); break;
        case 1: FN(_tile)(D, E, dp, n, a0, c0, 1, S2); break;
        }
    }
}
/* tri statistics of component j's pairs (sup->cnt[j] of them): S1 (a vector of columns at a
   time, in 4 registers: one would make the loop wait on each addition), then S2, the rows
   beyond the pairs up to a multiple of 4 zeroed first */
ATTR static void FN(_pflush)(Py_ssize_t d, Py_ssize_t j, Super *restrict sup) {
    const Py_ssize_t dp = sup->dp, nv = dp / L, n0 = sup->cnt[j], n = (n0 + 3) / 4 * 4;
    double *restrict D = sup->PD + j * sup->stride, *restrict E = sup->PE + j * sup->stride;
    double *restrict s1 = sup->s1 + j * dp;
    memset(D + n0 * dp, 0, (size_t)((n - n0) * dp) * sizeof(double));
    memset(E + n0 * dp, 0, (size_t)((n - n0) * dp) * sizeof(double));
    for (Py_ssize_t v = 0; v < nv; v++) {
        VT acc[4] = {{0}};
        acc[0] = LOADV(s1 + v * L);
        for (Py_ssize_t s = 0; s < n; s += 4)
            for (int q = 0; q < 4; q++) acc[q] += LOADV(E + (s + q) * dp + v * L);
        acc[0] += acc[1] + (acc[2] + acc[3]);
        STOREV(s1 + v * L, acc[0]);
    }
    FN(_sums)(d, j, D, E, n, sup);
    sup->cnt[j] = 0;
}
/* tri statistics of the super-block's rows (sup->n of them), component by component.  A
   component with a responsibility in most of the rows takes their differences D = x - mu_j
   and E = r_j D all at once; one with a few (in many dimensions a row has one component's
   responsibility and the others' underflow) adds those rows alone to its pairs, whose sums
   are formed when it has cap of them: the work follows the pairs that add to the sums. */
ATTR static void FN(_super)(Py_ssize_t d, Py_ssize_t k, Super *restrict sup) {
    const Py_ssize_t dp = sup->dp, n = sup->n, nv = dp / L, cap = sup->cap;
    double *restrict D = sup->D, *restrict E = sup->E;
    for (Py_ssize_t j = 0; j < k; j++) {
        if (sup->only && !sup->only[j]) continue; /* whitened */
        const double *restrict mu = sup->mu + j * dp, *restrict r = sup->r + j * cap;
        VT rsum = {0};
        IT zeros = {0};
        for (Py_ssize_t s = 0; s < n; s += L) {
            VT t;
            t = LOADV(r + s);
            rsum += t;
            zeros -= (IT)(t == 0.0); /* a comparison's lanes are -1 where true */
        }
        double nk = 0.0;
        Py_ssize_t kept = n;
        for (int l = 0; l < L; l++) nk += rsum[l], kept -= zeros[l];
        sup->nk[j] += nk;
        if (2 * kept > n) { /* all rows: a vector of columns at a time, S1 in 4 registers */
            double *restrict s1 = sup->s1 + j * dp;
            for (Py_ssize_t v = 0; v < nv; v++) {
                VT mv, acc[4] = {{0}};
                mv = LOADV(mu + v * L);
                acc[0] = LOADV(s1 + v * L);
                for (Py_ssize_t s = 0; s < n; s += 4)
                    for (int q = 0; q < 4; q++) {
                        VT t;
                        t = LOADV(sup->x + (s + q) * dp + v * L);
                        t -= mv;
                        STOREV(D + (s + q) * dp + v * L, t);
                        t *= r[s + q];
                        STOREV(E + (s + q) * dp + v * L, t);
                        acc[q] += t;
                    }
                acc[0] += acc[1] + (acc[2] + acc[3]);
                STOREV(s1 + v * L, acc[0]);
            }
            FN(_sums)(d, j, D, E, n, sup);
            continue;
        }
        double *restrict PD = sup->PD + j * sup->stride, *restrict PE = sup->PE + j * sup->stride;
        Py_ssize_t m = sup->cnt[j];
        for (Py_ssize_t s = 0; s < n && kept; s++) {
            if (r[s] == 0.0) continue;
            kept--;
            for (Py_ssize_t v = 0; v < nv; v++) {
                VT t;
                t = LOADV(sup->x + s * dp + v * L);
                t -= LOADV(mu + v * L);
                STOREV(PD + m * dp + v * L, t);
                t *= r[s];
                STOREV(PE + m * dp + v * L, t);
            }
            if (++m == cap) {
                sup->cnt[j] = m;
                FN(_pflush)(d, j, sup);
                m = 0;
            }
        }
        sup->cnt[j] = m;
    }
    sup->n = 0;
}
/* tri statistics: a block's rows (row-major) and weighted responsibilities lpb (k, R) times
   rw (R,) into the super-block, whose statistics are formed when it is full; a
   responsibility (lpb times tot) below STATS_TINY is left out */
ATTR static inline void FN(_gather)(Py_ssize_t d, Py_ssize_t k, const double *restrict xt,
                                    const double *restrict lpb, const double *restrict tot,
                                    const double *restrict rw, Super *restrict sup) {
    enum { R = L * H };
    const Py_ssize_t dp = sup->dp, n = sup->n;
    for (int i = 0; i < R; i++)
        for (Py_ssize_t a = 0; a < d; a++) sup->x[(n + i) * dp + a] = xt[a * R + i];
    for (Py_ssize_t j = 0; j < k; j++)
        for (int i = 0; i < R; i++)
            sup->r[j * sup->cap + n + i] =
                lpb[j * R + i] * tot[i] < STATS_TINY ? 0.0 : lpb[j * R + i] * rw[i];
    sup->n = n + R;
    if (sup->n == sup->cap) FN(_super)(d, k, sup);
}
/* whitened statistics (see Whitened in _kernels.c): the sums over a flush's n rows of the
   products of rows a0 to a0 + 3 and b0 to b0 + VMAX - 1 of one component's Z (dz, cap),
   rows in the float32 lanes, 4 VMAX = 2 L sums at once; then folded, each to one lane, and
   added in float64 to the tile's 2 L sums s (lane q: row a0 + q / VMAX, b0 + q % VMAX) */
ATTR static inline __attribute__((always_inline)) void FN(_wtile)(
    const float *restrict z, Py_ssize_t cap, Py_ssize_t n, Py_ssize_t a0, Py_ssize_t b0,
    double *restrict s) {
    enum { LF = 2 * L, B = VMAX };
    typedef FN(_ft) FT;
    _Static_assert(4 * B == LF, "a tile's sums fill one float32 vector");
    FT acc[LF];
    for (int q = 0; q < LF; q++) {
        const FT zero = {0};
        acc[q] = zero;
    }
    for (Py_ssize_t t = 0; t < n; t += LF) {
        FT zb[B];
        for (int v = 0; v < B; v++) zb[v] = *(const FN(_uft) *)(z + (b0 + v) * cap + t);
        for (int i = 0; i < 4; i++) {
            const FT za = *(const FN(_uft) *)(z + (a0 + i) * cap + t);
            for (int v = 0; v < B; v++) acc[i * B + v] += za * zb[v];
        }
    }
    /* fold pairs of vectors until lane q holds the sum of acc[q] */
#if L == 8 /* [a0 + a1, a2 + a3, ..., b0 + b1, ...], log2(16) levels */
    typedef int MT __attribute__((vector_size(16 * sizeof(int))));
    const MT ev = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const MT od = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    for (int m = LF; m > 1; m /= 2)
        for (int q = 0; q < m / 2; q++)
            acc[q] = __builtin_shuffle(acc[2 * q], acc[2 * q + 1], ev) +
                     __builtin_shuffle(acc[2 * q], acc[2 * q + 1], od);
#else /* within each half first (single shuffles): [a0 + a1, a2 + a3, b0 + b1, b2 + b3 |
         a4 + a5, ...], twice, then the halves of two vectors added */
    typedef int MT __attribute__((vector_size(8 * sizeof(int))));
    const MT ev = {0, 2, 8, 10, 4, 6, 12, 14}, od = {1, 3, 9, 11, 5, 7, 13, 15};
    const MT lo = {0, 1, 2, 3, 8, 9, 10, 11}, hi = {4, 5, 6, 7, 12, 13, 14, 15};
    FT p[4], q2[2];
    for (int q = 0; q < 4; q++)
        p[q] = __builtin_shuffle(acc[2 * q], acc[2 * q + 1], ev) +
               __builtin_shuffle(acc[2 * q], acc[2 * q + 1], od);
    for (int q = 0; q < 2; q++)
        q2[q] = __builtin_shuffle(p[2 * q], p[2 * q + 1], ev) +
                __builtin_shuffle(p[2 * q], p[2 * q + 1], od);
    acc[0] = __builtin_shuffle(q2[0], q2[1], lo) + __builtin_shuffle(q2[0], q2[1], hi);
#endif
    float half[LF];
    *(FN(_uft) *)half = acc[0];
    for (int e = 0; e < 2; e++) {
        VT t;
        t = LOADV(s + L * e);
        t += __builtin_convertvector(*(const FN(_uht) *)(half + L * e), VT);
        STOREV(s + L * e, t);
    }
}
/* whitened statistics of component j's gathered rows (wh->fill[j] of them, padded with zero
   rows to a multiple of 2 L): the upper triangle of Z Z^T by tiles of 4 x VMAX rows of Z,
   and Z sr 4 rows at a time */
ATTR static void FN(_wflush)(Py_ssize_t j, Whitened *restrict wh) {
    enum { B = VMAX, LF = 2 * L };
    typedef FN(_ft) FT;
    const Py_ssize_t dz = wh->dz, cap = wh->cap, n0 = wh->fill[j], n = (n0 + LF - 1) / LF * LF;
    float *z = wh->z + j * dz * cap, *sr = wh->sr + j * cap;
    for (Py_ssize_t a = 0; a < dz; a++) memset(z + a * cap + n0, 0, (size_t)(n - n0) * sizeof(float));
    memset(sr + n0, 0, (size_t)(n - n0) * sizeof(float));
    double *s = wh->s + j * wh->ntile * LF;
    for (Py_ssize_t a0 = 0; a0 < dz; a0 += 4)
        for (Py_ssize_t b0 = a0; b0 < dz; b0 += B, s += LF) FN(_wtile)(z, cap, n, a0, b0, s);
    for (Py_ssize_t a0 = 0; a0 < dz; a0 += 4) {
        FT acc[4];
        for (int i = 0; i < 4; i++) {
            const FT zero = {0};
            acc[i] = zero;
        }
        for (Py_ssize_t t = 0; t < n; t += LF) {
            const FT f = *(const FN(_uft) *)(sr + t);
            for (int i = 0; i < 4; i++) acc[i] += *(const FN(_uft) *)(z + (a0 + i) * cap + t) * f;
        }
        for (int i = 0; i < 4; i++) {
            float lane[LF];
            *(FN(_uft) *)lane = acc[i];
            double sum = 0.0;
            for (int q = 0; q < LF; q++) sum += lane[q];
            wh->s1[j * dz + a0 + i] += sum;
        }
    }
    wh->fill[j] = 0;
}
/* whitened statistics: a block's y_j (already in Z at component j's fill position, from the
   products) times sqrt(r_ij w_i), and sqrt(r_ij w_i) itself into sr; lpb (k, R) the
   exponentials, tot (R,) the reciprocals of their sums and rw (R,) each row's weight times
   that reciprocal.  Responsibilities r_ij below STATS_TINY are left out (their float32
   products would be subnormal, which some processors compute many times slower; what they
   leave out is below 2^-80 of each row's weight), and so are their rows: the rows kept move
   up to the fill position, so that a component's sums run over the rows with a
   responsibility for it (in many dimensions about one component's per row).  A component
   without room for another block's rows has its sums formed. */
ATTR static inline void FN(_wgather)(Py_ssize_t d, Py_ssize_t k, const double *restrict lpb,
                                     const double *restrict tot, const double *restrict rw,
                                     Whitened *restrict wh) {
    enum { R = L * H, LF = 2 * L, HF = R / LF };
    typedef FN(_ft) FT;
    const Py_ssize_t dz = wh->dz, cap = wh->cap;
    for (Py_ssize_t j = 0; j < k; j++) {
        if (wh->skip && wh->skip[j]) continue; /* float64 statistics */
        double r[R], nk = 0.0;
        float sr[R];
        for (int i = 0; i < R; i++)
            r[i] = lpb[j * R + i] * tot[i] < STATS_TINY ? 0.0 : lpb[j * R + i] * rw[i];
        for (int i = 0; i < R; i++) nk += r[i];
        for (int i = 0; i < R; i++) sr[i] = (float)sqrt(r[i]);
        wh->nk[j] += nk;
        const Py_ssize_t fill = wh->fill[j];
        float *zj = wh->z + j * dz * cap + fill, *srj = wh->sr + j * cap + fill;
        for (int h = 0; h < HF; h++) {
            const FT f = *(const FN(_uft) *)(sr + LF * h);
            for (Py_ssize_t a = 0; a < d; a++) {
                FN(_uft) *p = (FN(_uft) *)(zj + a * cap + LF * h);
                *p = *p * f;
            }
            *(FN(_uft) *)(srj + LF * h) = f;
        }
        int kept = 0;
        for (int i = 0; i < R; i++) {
            if (r[i] == 0.0) continue;
            if (kept != i) {
                for (Py_ssize_t a = 0; a < d; a++) zj[a * cap + kept] = zj[a * cap + i];
                srj[kept] = srj[i];
            }
            kept++;
        }
        if ((wh->fill[j] = fill + kept) + R > cap) FN(_wflush)(j, wh);
    }
}
/* L consecutive values of a row from column a, float64 or float32, as a vector of doubles
   (through a pointer: a vector return value would change the baseline variant's ABI) */
ATTR static inline __attribute__((always_inline)) void FN(_load)(VT *out, const char *row,
                                                                 int f32, Py_ssize_t a) {
    if (f32) {
        typedef float FT __attribute__((vector_size(L * sizeof(float))));
        FT f;
        memcpy(&f, (const float *)row + a, sizeof(FT));
        *out = __builtin_convertvector(f, VT);
    } else
        *out = LOADV((const double *)row + a);
}
/* A full block of R rows with unit column stride (first row x, row stride xs0 bytes), each
   column a times s[a], into xt feature-major: L x L tiles transposed in registers (L loads,
   a few shuffles and L stores per tile instead of L * L scalar moves), the last d % L
   columns one by one */
ATTR static inline void FN(_rows)(const char *x, Py_ssize_t xs0, int f32, Py_ssize_t d,
                                  const double *restrict s, double *restrict xt) {
    enum { R = L * H };
#ifdef __clang__ /* __builtin_shuffle is gcc's: clang moves every value one by one */
    const Py_ssize_t full = 0;
#else
    const Py_ssize_t full = d / L * L;
    for (int h = 0; h < H; h++)
        for (Py_ssize_t a0 = 0; a0 < full; a0 += L) {
            VT r[L];
            for (int q = 0; q < L; q++) FN(_load)(&r[q], x + (h * L + q) * xs0, f32, a0);
#if L == 8
            const v8l lo = {0, 8, 2, 10, 4, 12, 6, 14}, hi = {1, 9, 3, 11, 5, 13, 7, 15};
            const v8l pa = {0, 1, 8, 9, 4, 5, 12, 13}, pb = {2, 3, 10, 11, 6, 7, 14, 15};
            const v8l qa = {0, 1, 2, 3, 8, 9, 10, 11}, qb = {4, 5, 6, 7, 12, 13, 14, 15};
            VT t[8], u[8], o[8];
            for (int q = 0; q < 8; q += 2) {
                t[q] = __builtin_shuffle(r[q], r[q + 1], lo); /* columns 0 2 4 6 */
                t[q + 1] = __builtin_shuffle(r[q], r[q + 1], hi); /* columns 1 3 5 7 */
            }
            for (int g = 0; g < 8; g += 4) { /* rows g to g + 3 */
                u[g] = __builtin_shuffle(t[g], t[g + 2], pa);         /* columns 0, 4 */
                u[g + 1] = __builtin_shuffle(t[g], t[g + 2], pb);     /* 2, 6 */
                u[g + 2] = __builtin_shuffle(t[g + 1], t[g + 3], pa); /* 1, 5 */
                u[g + 3] = __builtin_shuffle(t[g + 1], t[g + 3], pb); /* 3, 7 */
            }
            static const int col[4][2] = {{0, 4}, {2, 6}, {1, 5}, {3, 7}};
            for (int q = 0; q < 4; q++) {
                o[col[q][0]] = __builtin_shuffle(u[q], u[q + 4], qa);
                o[col[q][1]] = __builtin_shuffle(u[q], u[q + 4], qb);
            }
#else
            const v4l lo = {0, 4, 2, 6}, hi = {1, 5, 3, 7}, qa = {0, 1, 4, 5}, qb = {2, 3, 6, 7};
            VT t[4], o[4];
            t[0] = __builtin_shuffle(r[0], r[1], lo); /* columns 0, 2 of rows 0, 1 */
            t[1] = __builtin_shuffle(r[0], r[1], hi); /* 1, 3 */
            t[2] = __builtin_shuffle(r[2], r[3], lo);
            t[3] = __builtin_shuffle(r[2], r[3], hi);
            o[0] = __builtin_shuffle(t[0], t[2], qa);
            o[2] = __builtin_shuffle(t[0], t[2], qb);
            o[1] = __builtin_shuffle(t[1], t[3], qa);
            o[3] = __builtin_shuffle(t[1], t[3], qb);
#endif
            for (int q = 0; q < L; q++) {
                VT v = o[q] * s[a0 + q];
                STOREV(xt + (a0 + q) * R + h * L, v);
            }
        }
#endif
    for (int i = 0; i < R; i++) {
        const char *row = x + i * xs0;
        for (Py_ssize_t a = full; a < d; a++)
            xt[a * R + i] = (f32 ? ((const float *)row)[a] : ((const double *)row)[a]) * s[a];
    }
}
ATTR static int NAME(const Chunk *c, double *restrict xt, double *restrict lpb,
                     double *restrict dt, double *restrict part, Super *restrict sup,
                     Gathered *restrict g) {
    enum { R = L * H };
    const Py_ssize_t d = c->d, k = c->k;
    const double *s = c->inv_scale;
    /* rows with unit column stride: the common case, transposed by tiles */
    const size_t item = c->x_float32 ? sizeof(float) : sizeof(double);
    const int contiguous = (size_t)c->xs1 == item;
    /* best holds component indices as doubles, so that the loop vectorises; bgb the
       block's background column (its exponentials once normalised) */
    double top[R], total[R], best[R], lse[R], bgb[R];
    for (Py_ssize_t b = 0; b < c->m; b += R) {
        const Py_ssize_t w = c->m - b < R ? c->m - b : R;
        /* the rows two blocks ahead are asked of memory now, so that they arrive while
           this block is computed */
        if (contiguous && b + 3 * R <= c->m) {
            const char *ahead = c->x + (b + 2 * R) * c->xs0;
            for (int i = 0; i < R; i++)
                for (size_t o = 0; o < (size_t)d * item; o += 64)
                    __builtin_prefetch(ahead + i * c->xs0 + o);
        }
        /* the block's rows, feature-major; a short last block repeats its last row */
        if (w == R && contiguous) {
            FN(_rows)(c->x + b * c->xs0, c->xs0, c->x_float32, d, s, xt);
        } else
            for (Py_ssize_t i = 0; i < R; i++) {
                const char *row = c->x + (b + (i < w ? i : w - 1)) * c->xs0;
                if (c->x_float32)
                    for (Py_ssize_t a = 0; a < d; a++)
                        xt[a * R + i] = *(const float *)(row + a * c->xs1) * s[a];
                else
                    for (Py_ssize_t a = 0; a < d; a++)
                        xt[a * R + i] = *(const double *)(row + a * c->xs1) * s[a];
            }
        if (c->tri)
            for (Py_ssize_t j = 0; j < k; j++)
                if (c->u32)
                    FN(_tri32)(xt, d, c->mu + j * d, c->u32 + j * c->panel, c->base[j],
                               (float *)dt, lpb + j * R,
                               c->wh ? c->wh->z + j * c->wh->dz * c->wh->cap + c->wh->fill[j] : NULL,
                               c->wh ? c->wh->cap : 0);
                else
                    FN(_tri)(xt, d, c->mu + j * d, c->u + j * c->panel, c->base[j], dt,
                             lpb + j * R);
        else {
            /* a shared transform first: the block's rows become (z - shift) T, in xt */
            VT unused[H];
            if (c->transform) FN(_product)(xt, d, c->shift, c->transform, dt, unused, xt);
            if (c->spherical)
                FN(_diags)(c, xt, lpb, 1, g ? g->qb : NULL);
            else
                FN(_diags)(c, xt, lpb, 0, NULL);
        }
        /* row maxima and, for labels, their first index, a vector of rows at a time */
        for (int h = 0; h < H; h++) {
            VT t, bst = {0};
            t = LOADV(lpb + L * h);
            if (c->labels || c->hard)
                for (Py_ssize_t j = 1; j < k; j++) {
                    VT v;
                    v = LOADV(lpb + j * R + L * h);
                    const IT better = v > t;
                    t = SELECT(IT, better, v, t);
                    bst = SELECT(IT, better, bst * 0.0 + (double)j, bst);
                }
            else
                for (Py_ssize_t j = 1; j < k; j++) {
                    VT v;
                    v = LOADV(lpb + j * R + L * h);
                    t = SELECT(IT, v > t, v, t);
                }
            STOREV(top + L * h, t);
            STOREV(best + L * h, bst);
        }
        /* a maximum below the float64 range (or NaN): the numpy path redoes the chunk */
        int bad = 0;
        for (int i = 0; i < R; i++) bad |= !(top[i] >= -DBL_MAX);
        if (bad) return 0;
        if (c->bg) /* the background column joins the maxima; ties go to the components */
            for (int i = 0; i < R; i++) {
                bgb[i] = c->bg[b + (i < w ? i : w - 1)];
                if (bgb[i] > top[i]) top[i] = bgb[i], best[i] = -1.0;
            }
        if (c->labels)
            for (Py_ssize_t i = 0; i < w; i++) c->labels[b + i] = (int64_t)best[i];
        if (!c->lse) continue;
        if (c->hard || c->given) { /* responsibilities not the posterior's (see Chunk) */
            for (Py_ssize_t j = 0; j < k; j++)
                for (int i = 0; i < R; i++)
                    lpb[j * R + i] = c->given ? (i < w ? c->given[(b + i) * k + j] : 0.0)
                                              : (double)(best[i] == (double)j);
            for (int i = 0; i < R; i++) total[i] = 1.0;
            memcpy(c->lse + b, top, (size_t)w * sizeof(double));
        } else {
            /* exponentials relative to the maxima (floored), their sums and the log-sum-exp,
               a vector of rows at a time; the exponentials are kept for the responsibilities */
            const int keep = c->resp || c->nk;
            /* without responsibilities, a vector of rows whose lanes are all below SKIP_LSE
               is left out of the sums: each lane's exponential is below e^-50 of its row's sum
               (at least 1: the row's best component adds exp(0) = 1).  The others are compacted
               into cv (the block buffers have room for k + 1 vectors after dt: the
               components' and the background's) and only they go
               through exp, in order of component.  With responsibilities every vector is
               formed: leaving out those at the floor (whose exponentials the sums need) saves
               nothing overall. */
            double *restrict cv = dt + d * R;
            for (int h = 0; h < H; h++) {
                VT t, sum = {0};
                t = LOADV(top + L * h);
                if (keep)
                    for (Py_ssize_t j = 0; j < k; j++) {
                        VT v;
                        v = LOADV(lpb + j * R + L * h);
                        v -= t;
                        v = SELECT(IT, v > FLOOR, v, ((VT){0} + FLOOR)); /* -inf and NaN too */
                        FN(_exp)(&v);
                        STOREV(lpb + j * R + L * h, v);
                        sum += v;
                    }
                if (keep && c->bg) {
                    VT v;
                    v = LOADV(bgb + L * h);
                    v -= t;
                    v = SELECT(IT, v > FLOOR, v, ((VT){0} + FLOOR)); /* -inf too */
                    FN(_exp)(&v);
                    STOREV(bgb + L * h, v);
                    sum += v;
                }
                if (!keep) {
                    Py_ssize_t n = 0;
                    for (Py_ssize_t j = 0; j < k; j++) {
                        VT v;
                        v = LOADV(lpb + j * R + L * h);
                        v -= t;
                        STOREV(cv + n * L, v);
                        n += !ALL_LANES(v < SKIP_LSE);
                    }
                    if (c->bg) {
                        VT v;
                        v = LOADV(bgb + L * h);
                        v -= t;
                        STOREV(cv + n * L, v);
                        n += !ALL_LANES(v < SKIP_LSE);
                    }
                    for (Py_ssize_t i = 0; i < n; i++) {
                        VT v;
                        v = LOADV(cv + i * L);
                        v = SELECT(IT, v > FLOOR, v, ((VT){0} + FLOOR)); /* NaN too */
                        FN(_exp)(&v);
                        sum += v;
                    }
                }
                STOREV(total + L * h, sum);
                FN(_log)(&sum);
                sum += t;
                STOREV(lse + L * h, sum);
            }
            memcpy(c->lse + b, lse, (size_t)w * sizeof(double));
        }
        if (!c->resp && !c->nk) continue;
        /* a product with the reciprocal, as engine/numpy_kernel.py normalise */
        for (int i = 0; i < R; i++) total[i] = 1.0 / total[i];
        if (sup || g || c->wh) { /* each row's weight; 0 for the repeated rows of a short block */
            double rw[R];
            for (int i = 0; i < R; i++)
                rw[i] = i < w ? total[i] * (c->sw ? c->sw[b + i] : 1.0) : 0.0;
            if (c->wh) FN(_wgather)(d, k, lpb, total, rw, c->wh);
            if (sup) /* all components, or those whose statistics are not whitened */
                FN(_gather)(d, k, xt, lpb, total, rw, sup);
            else if (g)
                FN(_dgather)(d, k, c->mu, xt, lpb, rw, g, part);
        }
        if (c->nk && !sup && !g && (!c->wh || c->wh->skip))
            FN(_stats)(c, xt, lpb, total, b, w, dt, part);
        for (Py_ssize_t i = 0; c->resp && i < w; i++) {
            char *out = c->resp + (b + i) * c->rs0;
            if (c->resp_float32) {
                for (Py_ssize_t j = 0; j < k; j++)
                    *(float *)(out + j * c->rs1) = (float)(lpb[j * R + i] * total[i]);
                if (c->bg) *(float *)(out + k * c->rs1) = (float)(bgb[i] * total[i]);
            } else {
                for (Py_ssize_t j = 0; j < k; j++)
                    *(double *)(out + j * c->rs1) = lpb[j * R + i] * total[i];
                if (c->bg) *(double *)(out + k * c->rs1) = bgb[i] * total[i];
            }
        }
    }
    if (c->wh) { /* the whitened sums into the outputs: Z Z^T's rows and columns below d
                    are S2 (mirrored), Z sr's rows below d S1 */
        Whitened *wh = c->wh;
        enum { B = VMAX, LF = 2 * L };
        for (Py_ssize_t j = 0; j < k; j++)
            if (wh->fill[j]) FN(_wflush)(j, wh);
        for (Py_ssize_t j = 0; j < k; j++) {
            if (wh->skip && wh->skip[j]) continue;
            c->nk[j] += wh->nk[j];
            for (Py_ssize_t a = 0; a < d; a++) c->s1[j * d + a] += wh->s1[j * wh->dz + a];
            const double *s = wh->s + j * wh->ntile * LF;
            double *s2 = c->s2 + j * d * d;
            for (Py_ssize_t a0 = 0; a0 < wh->dz; a0 += 4)
                for (Py_ssize_t b0 = a0; b0 < wh->dz; b0 += B, s += LF)
                    for (int q = 0; q < LF; q++) {
                        const Py_ssize_t a = a0 + q / B, bb = b0 + q % B;
                        if (a > bb || bb >= d) continue;
                        s2[a * d + bb] += s[q];
                        if (bb != a) s2[bb * d + a] += s[q];
                    }
        }
    }
    /* and the float64 sums (of the components not whitened, if some are) */
    if (sup) { /* the super-block's sums into the outputs; S2's upper triangle mirrored */
        if (sup->n) FN(_super)(d, k, sup);
        for (Py_ssize_t j = 0; j < k; j++)
            if (sup->cnt[j]) FN(_pflush)(d, j, sup);
        const Py_ssize_t dp = sup->dp;
        for (Py_ssize_t j = 0; j < k; j++) {
            if (sup->only && !sup->only[j]) continue;
            c->nk[j] += sup->nk[j];
            for (Py_ssize_t a = 0; a < d; a++) c->s1[j * d + a] += sup->s1[j * dp + a];
            const double *S2 = sup->s2 + j * dp * dp;
            double *s2 = c->s2 + j * d * d;
            for (Py_ssize_t a = 0; a < d; a++)
                for (Py_ssize_t bb = a; bb < d; bb++) {
                    const double v = S2[a * dp + bb];
                    s2[a * d + bb] += v;
                    if (bb != a) s2[bb * d + a] += v;
                }
        }
    } else if (c->nk && (!c->wh || c->wh->skip)) { /* the partial sums, lane by lane */
        if (g && g->n) FN(_dflush)(d, k, c->mu, g, part);
        const Py_ssize_t n1 = k * d, n2 = c->tri ? d * (d + 1) / 2 : d;
        const double *p2 = part + (k + n1) * L;
        for (int l = 0; l < L; l++) {
            for (Py_ssize_t j = 0; j < k; j++) c->nk[j] += part[j * L + l];
            for (Py_ssize_t q = 0; q < n1; q++) c->s1[q] += part[(k + q) * L + l];
            for (Py_ssize_t j = 0; j < k; j++) {
                if (c->s2_mean) { /* the mean over features */
                    c->s2[j] += p2[j * L + l] / (double)d;
                    continue;
                }
                if (!c->tri) {
                    for (Py_ssize_t a = 0; a < d; a++) c->s2[j * d + a] += p2[(j * d + a) * L + l];
                    continue;
                }
                double *s2 = c->s2 + j * d * d;
                for (Py_ssize_t a = 0, q = j * n2; a < d; a++)
                    for (Py_ssize_t bb = a; bb < d; bb++, q++) {
                        const double v = p2[q * L + l];
                        s2[a * d + bb] += v;
                        if (bb != a) s2[bb * d + a] += v;
                    }
            }
        }
    }
    return 1;
}

/* rows per block of this variant and rows of Z per whitened tile: the driver's buffers are
   sized by them */
enum { FN(_block_rows) = L * H, FN(_tile_rows) = VMAX };

#undef LOADV
#undef STOREV
#undef FN
