/*
 * gaussmix._kernels: the prediction pass of a Gaussian mixture, fused.
 *
 * The log-density of a row under component j is
 *
 *     log p_j(x) = base_j - 1/2 |(z - mu_j) U_j|^2,
 *
 * with U_j the upper-triangular Cholesky factor of the precision (full, tied), or its
 * diagonal (diag, spherical): d(d+1)/2 or d multiply-adds per row and component.  numpy can
 * only reach it through a feature matrix [z, upper(z z^T), 1] and a GEMM, or one product per
 * component, and then normalises with a dozen passes over memory.  Here each block of a few
 * rows is transposed into registers' reach, its k log-densities are formed in registers
 * (several components, or several columns of (z - mu_j) U_j, and rows at a time), and its
 * maxima, exponentials, log-sum-exp, responsibilities and labels are produced while the
 * block is still in the first-level cache; nothing but the outputs is written to memory.
 * The GIL is released throughout, so the engine's worker threads run it in parallel.
 *
 * The differences x - mu are formed before any product, as engine.py's direct path does
 * (in units of the frame's scale, a power of two, so that scaling is exact), and the result
 * is exact for rows close to their component even far from the origin.  Only exp and log
 * are our own (exp_nonpos, log_ge1: within a few ulp), so the results agree with the numpy
 * path to rounding (tests/test_kernels.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* log-responsibilities relative to the row's best component are floored here (engine._FLOOR) */
#define FLOOR (-700.0)

/* ln 2 split so that n * LN2_HI is exact for the integers n of exp_nonpos and log_ge1 */
static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;

static inline double exp_nonpos(double x) {
    const double log2e = 1.4426950408889634;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double t = x * log2e + shifter;
    double n = t - shifter;
    double r = (x - n * LN2_HI) - n * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
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
    /* the low bits of t hold n in two's complement; shifted into the exponent field they
       give 2^n (n >= -1010 here, so 2^n is a normal number) */
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 52) + ((uint64_t)1023 << 52);
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
static inline double log_ge1(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint64_t off = bits - 0x3fe6a09e667f3bcdULL; /* bits of sqrt(1/2) */
    int64_t e = (int64_t)off >> 52;
    uint64_t fbits = bits - (off & 0xfff0000000000000ULL);
    double f;
    memcpy(&f, &fbits, sizeof f);
    double s = (f - 1.0) / (f + 1.0), s2 = s * s;
    double p = 2.0 / 23.0;
    p = p * s2 + 2.0 / 21.0;
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
    /* (double)e without an int64 conversion (AVX2 and AVX-512F have none, so the loop
       would not vectorise): e + 1.5 * 2^52 in the bits of a double, minus 1.5 * 2^52 */
    uint64_t ebits = (uint64_t)e + 0x4338000000000000ULL;
    double ed;
    memcpy(&ed, &ebits, sizeof ed);
    ed -= 6755399441055744.0;
    return ed * LN2_HI + (s * p + ed * LN2_LO);
}

/* ------------------------------------------------------------------ the kernel */

typedef double v8d __attribute__((vector_size(64)));
typedef double v4d __attribute__((vector_size(32)));
typedef long long v8l __attribute__((vector_size(64)));
typedef long long v4l __attribute__((vector_size(32)));

/* lanes of a where the comparison mask m (all ones or zero, of integer vector type IT) is
   set, else lanes of b */
#define SELECT(IT, m, a, b) ((__typeof__(a))(((IT)(a) & (m)) | ((IT)(b) & ~(m))))

/* Arguments of one chunk.  x is (m, d) with byte strides; resp is (m, k) with byte strides,
   float64 or float32; labels and lse may be NULL.  log p_j(x) = base_j - |(y - mu_j) U_j|^2 / 2
   with U_j = diag(u_j) or the upper triangle of u_j, and y = z = x * inv_scale, or, with a
   shared transform, y = (z - shift) T (T upper-triangular; diagonal factors only). */
typedef struct {
    const char *x;
    int x_float32;
    Py_ssize_t m, d, k, xs0, xs1;
    double inv_scale;            /* a power of two: scaling by it is exact */
    const double *mu, *u, *base; /* (k, d) in units of scale; factors; (k,) */
    int tri;                     /* factors (k, d, d) upper-triangular, else (k, d) diagonal */
    const double *shift, *transform; /* diagonal factors only, optional: (d,), (d, d) upper */
    double *lse;
    char *resp;
    int resp_float32;
    Py_ssize_t rs0, rs1;
    int64_t *labels;
    /* statistics (without a transform): sums over rows of w_i r_ij, w_i r_ij (z_i - mu_j)
       and w_i r_ij (z_i - mu_j)^2 (diagonal factors) or w_i r_ij (z_i - mu_j)(z_i - mu_j)^T
       (triangular ones), added to nk (k,), s1 (k, d) and s2 (k, d) or (k, d, d); sw the
       sample weights (m,) or NULL */
    const double *sw;
    double *nk, *s1, *s2;
} Chunk;

/* One variant of the kernel per instruction set: VT a vector of L doubles, blocks of
   R = L * H rows, and up to 4 components (diag) or 4 columns of y (tri) at a time, so that
   the 4 * H accumulators stay in registers (AVX-512: 8 of 32 zmm; AVX2: 8 of 16 ymm). */
#define DIAG(NAME, C)                                                                              \
    NAME##_diag(xt, d, c->mu + j0 * d, c->u + j0 * d, c->base + j0, C, lpb + j0 * R)

#define DEFINE_KERNEL(NAME, VT, IT, L, H, ATTR)                                                    \
    /* diag: C (1 to 4) components of a block, u (k, d) the diagonal factors */                    \
    ATTR static inline __attribute__((always_inline)) void NAME##_diag(                            \
        const double *restrict xt, Py_ssize_t d, const double *restrict mus,                       \
        const double *restrict us, const double *restrict base, int C, double *restrict lpb) {     \
        VT acc[4][H];                                                                              \
        for (int j = 0; j < C; j++)                                                                \
            for (int h = 0; h < H; h++) {                                                          \
                VT zero = {0};                                                                     \
                acc[j][h] = zero;                                                                  \
            }                                                                                      \
        for (Py_ssize_t a = 0; a < d; a++) {                                                       \
            VT xv[H];                                                                              \
            for (int h = 0; h < H; h++) memcpy(&xv[h], xt + a * L * H + L * h, sizeof(VT));        \
            for (int j = 0; j < C; j++) {                                                          \
                const double mu = mus[j * d + a], u = us[j * d + a];                               \
                for (int h = 0; h < H; h++) {                                                      \
                    VT t = (xv[h] - mu) * u;                                                       \
                    acc[j][h] += t * t;                                                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int j = 0; j < C; j++)                                                                \
            for (int h = 0; h < H; h++) {                                                          \
                VT v = acc[j][h] * -0.5 + base[j];                                                 \
                memcpy(lpb + j * L * H + L * h, &v, sizeof(VT));                                   \
            }                                                                                      \
    }                                                                                              \
    /* tri: columns b0 to b0 + C - 1 (C from 1 to 4) of y = (x - mu) U, their squares added        \
       to sq, or, if y is given, stored there (feature-major); dt holds the block's                \
       differences x - mu, feature-major */                                                        \
    ATTR static inline __attribute__((always_inline)) void NAME##_columns(                         \
        const double *restrict dt, const double *restrict U, Py_ssize_t d, Py_ssize_t b0,          \
        int C, VT *restrict sq, double *restrict y) {                                              \
        VT acc[4][H];                                                                              \
        for (int c = 0; c < C; c++)                                                                \
            for (int h = 0; h < H; h++) {                                                          \
                VT zero = {0};                                                                     \
                acc[c][h] = zero;                                                                  \
            }                                                                                      \
        /* U is upper-triangular: rows below b0 + C - 1 add nothing to these columns */            \
        for (Py_ssize_t a = 0; a < b0 + C; a++) {                                                  \
            VT t[H];                                                                               \
            for (int h = 0; h < H; h++) memcpy(&t[h], dt + a * L * H + L * h, sizeof(VT));         \
            for (int c = 0; c < C; c++) {                                                          \
                const double u = a <= b0 + c ? U[a * d + b0 + c] : 0.0;                            \
                for (int h = 0; h < H; h++) acc[c][h] += t[h] * u;                                 \
            }                                                                                      \
        }                                                                                          \
        for (int c = 0; c < C; c++)                                                                \
            for (int h = 0; h < H; h++)                                                            \
                if (y)                                                                             \
                    memcpy(y + (b0 + c) * L * H + L * h, &acc[c][h], sizeof(VT));                  \
                else                                                                               \
                    sq[h] += acc[c][h] * acc[c][h];                                                \
    }                                                                                              \
    /* (x - mu) U for a block, U (d, d) upper-triangular: into y (feature-major; may be xt),       \
       or, with y NULL, its squared norm added to sq */                                            \
    ATTR static inline void NAME##_product(const double *xt, Py_ssize_t d,                         \
                                           const double *restrict mu, const double *restrict U,    \
                                           double *restrict dt, VT *restrict sq, double *y) {      \
        enum { R = L * H };                                                                        \
        for (Py_ssize_t a = 0; a < d; a++)                                                         \
            for (int i = 0; i < R; i++) dt[a * R + i] = xt[a * R + i] - mu[a];                     \
        Py_ssize_t b0 = 0;                                                                         \
        for (; b0 + 4 <= d; b0 += 4) NAME##_columns(dt, U, d, b0, 4, sq, y);                       \
        switch (d - b0) {                                                                          \
        case 3: NAME##_columns(dt, U, d, b0, 3, sq, y); break;                                     \
        case 2: NAME##_columns(dt, U, d, b0, 2, sq, y); break;                                     \
        case 1: NAME##_columns(dt, U, d, b0, 1, sq, y); break;                                     \
        }                                                                                          \
    }                                                                                              \
    /* tri: the log-density base - |(x - mu) U|^2 / 2 of a block under one component */            \
    ATTR static inline void NAME##_tri(const double *restrict xt, Py_ssize_t d,                    \
                                       const double *restrict mu, const double *restrict U,        \
                                       double base, double *restrict dt, double *restrict lp) {    \
        VT sq[H];                                                                                  \
        for (int h = 0; h < H; h++) {                                                              \
            VT zero = {0};                                                                         \
            sq[h] = zero;                                                                          \
        }                                                                                          \
        NAME##_product(xt, d, mu, U, dt, sq, NULL);                                                \
        for (int h = 0; h < H; h++) {                                                              \
            VT v = sq[h] * -0.5 + base;                                                            \
            memcpy(lp + L * h, &v, sizeof(VT));                                                    \
        }                                                                                          \
    }                                                                                              \
    /* tri statistics: the pairs (a, b) with a0 <= a < a0 + A (A from 1 to 4) and a <= b of        \
       sum_i r_i dt_ia dt_ib, added to their lane-wise partial sums p2 (packed upper               \
       triangle, row by row) */                                                                    \
    ATTR static inline __attribute__((always_inline)) void NAME##_pairs(                           \
        const double *restrict dt, const VT *restrict r, Py_ssize_t d, Py_ssize_t a0, int A,       \
        double *restrict p2) {                                                                     \
        enum { R = L * H };                                                                        \
        VT ra[4][H];                                                                               \
        for (int i = 0; i < A; i++)                                                                \
            for (int h = 0; h < H; h++) {                                                          \
                VT t;                                                                              \
                memcpy(&t, dt + (a0 + i) * R + L * h, sizeof(VT));                                 \
                ra[i][h] = r[h] * t;                                                               \
            }                                                                                      \
        /* row a of the packed triangle starts at pair a d - a (a - 1) / 2 */                      \
        double *row[4];                                                                            \
        for (int i = 0; i < A; i++) {                                                              \
            const Py_ssize_t a = a0 + i;                                                           \
            row[i] = p2 + (a * d - a * (a - 1) / 2 - a) * L;                                       \
        }                                                                                          \
        for (Py_ssize_t b = a0; b < d; b++) {                                                      \
            VT t[H];                                                                               \
            for (int h = 0; h < H; h++) memcpy(&t[h], dt + b * R + L * h, sizeof(VT));             \
            for (int i = 0; i < A && a0 + i <= b; i++) {                                           \
                double *p = row[i] + b * L;                                                        \
                VT acc;                                                                            \
                memcpy(&acc, p, sizeof(VT));                                                       \
                for (int h = 0; h < H; h++) acc += ra[i][h] * t[h];                                \
                memcpy(p, &acc, sizeof(VT));                                                       \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* statistics of a block: its responsibilities are lpb (k, R) times inv_total (R,); the        \
       sums go to lane-wise partial sums part (k + k d + k n2 vectors, n2 = d for diagonal         \
       factors, d (d + 1) / 2 for triangular ones) */                                              \
    ATTR static inline void NAME##_stats(const Chunk *c, const double *restrict xt,                \
                                         const double *restrict lpb,                               \
                                         const double *restrict inv_total, Py_ssize_t b,           \
                                         Py_ssize_t w, double *restrict dt,                        \
                                         double *restrict part) {                                  \
        enum { R = L * H };                                                                        \
        const Py_ssize_t d = c->d, k = c->k;                                                       \
        double rw[R]; /* each row's weight; 0 for the repeated rows of a short block */            \
        for (int i = 0; i < R; i++)                                                                \
            rw[i] = i < w ? inv_total[i] * (c->sw ? c->sw[b + i] : 1.0) : 0.0;                     \
        const Py_ssize_t n2 = c->tri ? d * (d + 1) / 2 : d;                                        \
        double *pn = part, *p1 = part + k * L, *p2 = part + (k + k * d) * L;                       \
        for (Py_ssize_t j = 0; j < k; j++) {                                                       \
            VT r[H], acc;                                                                          \
            for (int h = 0; h < H; h++) {                                                          \
                VT q, v;                                                                           \
                memcpy(&q, lpb + j * R + L * h, sizeof(VT));                                       \
                memcpy(&v, rw + L * h, sizeof(VT));                                                \
                r[h] = q * v;                                                                      \
            }                                                                                      \
            memcpy(&acc, pn + j * L, sizeof(VT));                                                  \
            for (int h = 0; h < H; h++) acc += r[h];                                               \
            memcpy(pn + j * L, &acc, sizeof(VT));                                                  \
            if (c->tri) {                                                                          \
                for (Py_ssize_t a = 0; a < d; a++) {                                               \
                    const double mu = c->mu[j * d + a];                                            \
                    memcpy(&acc, p1 + (j * d + a) * L, sizeof(VT));                                \
                    for (int h = 0; h < H; h++) {                                                  \
                        VT t;                                                                      \
                        memcpy(&t, xt + a * R + L * h, sizeof(VT));                                \
                        t -= mu;                                                                   \
                        memcpy(dt + a * R + L * h, &t, sizeof(VT));                                \
                        acc += r[h] * t;                                                           \
                    }                                                                              \
                    memcpy(p1 + (j * d + a) * L, &acc, sizeof(VT));                                \
                }                                                                                  \
                double *pj = p2 + j * n2 * L;                                                      \
                Py_ssize_t a0 = 0;                                                                 \
                for (; a0 + 4 <= d; a0 += 4) NAME##_pairs(dt, r, d, a0, 4, pj);                    \
                switch (d - a0) {                                                                  \
                case 3: NAME##_pairs(dt, r, d, a0, 3, pj); break;                                  \
                case 2: NAME##_pairs(dt, r, d, a0, 2, pj); break;                                  \
                case 1: NAME##_pairs(dt, r, d, a0, 1, pj); break;                                  \
                }                                                                                  \
                continue;                                                                          \
            }                                                                                      \
            for (Py_ssize_t a = 0; a < d; a++) {                                                   \
                const double mu = c->mu[j * d + a];                                                \
                VT a1, a2;                                                                         \
                memcpy(&a1, p1 + (j * d + a) * L, sizeof(VT));                                     \
                memcpy(&a2, p2 + (j * d + a) * L, sizeof(VT));                                     \
                for (int h = 0; h < H; h++) {                                                      \
                    VT t, rt;                                                                      \
                    memcpy(&t, xt + a * R + L * h, sizeof(VT));                                    \
                    t -= mu;                                                                       \
                    rt = r[h] * t;                                                                 \
                    a1 += rt;                                                                      \
                    a2 += rt * t;                                                                  \
                }                                                                                  \
                memcpy(p1 + (j * d + a) * L, &a1, sizeof(VT));                                     \
                memcpy(p2 + (j * d + a) * L, &a2, sizeof(VT));                                     \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    ATTR static int NAME(const Chunk *c, double *restrict xt, double *restrict lpb,                \
                         double *restrict dt, double *restrict part) {                             \
        enum { R = L * H };                                                                        \
        const Py_ssize_t d = c->d, k = c->k, ld = c->xs0 / (Py_ssize_t)sizeof(double);             \
        const double s = c->inv_scale;                                                             \
        /* float64 rows with unit stride: the common case gets a loop of its own */                \
        const int contiguous =                                                                     \
            !c->x_float32 && c->xs1 == sizeof(double) && c->xs0 % sizeof(double) == 0;             \
        /* best holds component indices as doubles, so that the loop vectorises */                 \
        double top[R], total[R], best[R], lse[R];                                                  \
        for (Py_ssize_t b = 0; b < c->m; b += R) {                                                 \
            const Py_ssize_t w = c->m - b < R ? c->m - b : R;                                      \
            /* the block's rows, feature-major; a short last block repeats its last row */         \
            if (w == R && contiguous) {                                                            \
                const double *restrict xb = (const double *)(c->x + b * c->xs0);                   \
                for (int i = 0; i < R; i++)                                                        \
                    for (Py_ssize_t a = 0; a < d; a++) xt[a * R + i] = xb[i * ld + a] * s;         \
            } else                                                                                 \
                for (Py_ssize_t i = 0; i < R; i++) {                                               \
                    const char *row = c->x + (b + (i < w ? i : w - 1)) * c->xs0;                   \
                    if (c->x_float32)                                                              \
                        for (Py_ssize_t a = 0; a < d; a++)                                         \
                            xt[a * R + i] = *(const float *)(row + a * c->xs1) * s;                \
                    else                                                                           \
                        for (Py_ssize_t a = 0; a < d; a++)                                         \
                            xt[a * R + i] = *(const double *)(row + a * c->xs1) * s;               \
                }                                                                                  \
            if (c->tri)                                                                            \
                for (Py_ssize_t j = 0; j < k; j++)                                                 \
                    NAME##_tri(xt, d, c->mu + j * d, c->u + j * d * d, c->base[j], dt, lpb + j * R); \
            else {                                                                                 \
                /* a shared transform first: the block's rows become (z - shift) T, in xt */       \
                VT unused[H];                                                                      \
                if (c->transform) NAME##_product(xt, d, c->shift, c->transform, dt, unused, xt);   \
                Py_ssize_t j0 = 0;                                                                 \
                for (; j0 + 4 <= k; j0 += 4) DIAG(NAME, 4);                                        \
                switch (k - j0) {                                                                  \
                case 3: DIAG(NAME, 3); break;                                                      \
                case 2: DIAG(NAME, 2); break;                                                      \
                case 1: DIAG(NAME, 1); break;                                                      \
                }                                                                                  \
            }                                                                                      \
            /* row maxima and their first index, a vector of rows at a time */                     \
            for (int h = 0; h < H; h++) {                                                          \
                VT t, bst = {0};                                                                   \
                memcpy(&t, lpb + L * h, sizeof(VT));                                               \
                for (Py_ssize_t j = 1; j < k; j++) {                                               \
                    VT v;                                                                          \
                    memcpy(&v, lpb + j * R + L * h, sizeof(VT));                                   \
                    const IT better = v > t;                                                       \
                    t = SELECT(IT, better, v, t);                                                  \
                    bst = SELECT(IT, better, bst * 0.0 + (double)j, bst);                          \
                }                                                                                  \
                memcpy(top + L * h, &t, sizeof(VT));                                               \
                memcpy(best + L * h, &bst, sizeof(VT));                                            \
            }                                                                                      \
            /* a maximum below the float64 range (or NaN): the numpy path redoes the chunk */      \
            int bad = 0;                                                                           \
            for (int i = 0; i < R; i++) bad |= !(top[i] >= -DBL_MAX);                              \
            if (bad) return 0;                                                                     \
            if (c->labels)                                                                         \
                for (Py_ssize_t i = 0; i < w; i++) c->labels[b + i] = (int64_t)best[i];            \
            if (!c->lse) continue;                                                                 \
            for (int i = 0; i < R; i++) total[i] = 0.0;                                            \
            for (Py_ssize_t j = 0; j < k; j++)                                                     \
                for (int i = 0; i < R; i++) {                                                      \
                    double v = lpb[j * R + i] - top[i];                                            \
                    v = v > FLOOR ? v : FLOOR;                                                     \
                    v = exp_nonpos(v);                                                             \
                    lpb[j * R + i] = v;                                                            \
                    total[i] += v;                                                                 \
                }                                                                                  \
            for (int i = 0; i < R; i++) lse[i] = top[i] + log_ge1(total[i]);                       \
            memcpy(c->lse + b, lse, (size_t)w * sizeof(double));                                   \
            if (!c->resp && !c->nk) continue;                                                      \
            /* a product with the reciprocal, as engine._normalise */                              \
            for (int i = 0; i < R; i++) total[i] = 1.0 / total[i];                                 \
            if (c->nk) NAME##_stats(c, xt, lpb, total, b, w, dt, part);                            \
            for (Py_ssize_t i = 0; c->resp && i < w; i++) {                                        \
                char *out = c->resp + (b + i) * c->rs0;                                            \
                if (c->resp_float32)                                                               \
                    for (Py_ssize_t j = 0; j < k; j++)                                             \
                        *(float *)(out + j * c->rs1) = (float)(lpb[j * R + i] * total[i]);         \
                else                                                                               \
                    for (Py_ssize_t j = 0; j < k; j++)                                             \
                        *(double *)(out + j * c->rs1) = lpb[j * R + i] * total[i];                 \
            }                                                                                      \
        }                                                                                          \
        if (c->nk) { /* the partial sums, lane by lane, into the outputs */                        \
            const Py_ssize_t n1 = k * d, n2 = c->tri ? d * (d + 1) / 2 : d;                        \
            const double *p2 = part + (k + n1) * L;                                                \
            for (int l = 0; l < L; l++) {                                                          \
                for (Py_ssize_t j = 0; j < k; j++) c->nk[j] += part[j * L + l];                    \
                for (Py_ssize_t q = 0; q < n1; q++) c->s1[q] += part[(k + q) * L + l];             \
                for (Py_ssize_t j = 0; j < k; j++) {                                               \
                    if (!c->tri) {                                                                 \
                        for (Py_ssize_t a = 0; a < d; a++) c->s2[j * d + a] += p2[(j * d + a) * L + l]; \
                        continue;                                                                  \
                    }                                                                              \
                    double *s2 = c->s2 + j * d * d;                                                \
                    for (Py_ssize_t a = 0, q = j * n2; a < d; a++)                                 \
                        for (Py_ssize_t bb = a; bb < d; bb++, q++) {                               \
                            const double v = p2[q * L + l];                                        \
                            s2[a * d + bb] += v;                                                   \
                            if (bb != a) s2[bb * d + a] += v;                                      \
                        }                                                                          \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        return 1;                                                                                  \
    }                                                                                              \

#define NO_ATTR
DEFINE_KERNEL(kernel_baseline, v4d, v4l, 4, 2, NO_ATTR)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define X86_VARIANTS 1
DEFINE_KERNEL(kernel_avx2, v4d, v4l, 4, 2, __attribute__((target("avx2,fma"))))
DEFINE_KERNEL(kernel_avx512, v8d, v8l, 8, 2, __attribute__((target("avx512f"))))
#endif

/* the variant for this CPU, chosen when the module is imported */
static int (*kernel)(const Chunk *, double *, double *, double *, double *) = kernel_baseline;
static Py_ssize_t block_rows = 8;
static const char *target_name = "baseline";

/* Switch to the named variant if this CPU runs it; returns 0 if it does not. */
static int use_target(const char *name) {
    if (!strcmp(name, "baseline")) {
        kernel = kernel_baseline;
        block_rows = 8;
        target_name = "baseline";
        return 1;
    }
#ifdef X86_VARIANTS
    __builtin_cpu_init();
    if (!strcmp(name, "avx512f") && __builtin_cpu_supports("avx512f")) {
        kernel = kernel_avx512;
        block_rows = 16;
        target_name = "avx512f";
        return 1;
    }
    if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        kernel = kernel_avx2;
        block_rows = 8;
        target_name = "avx2";
        return 1;
    }
#endif
    return 0;
}

static void choose_kernel(void) {
    if (!use_target("avx512f") && !use_target("avx2")) use_target("baseline");
}

/* ------------------------------------------------------------------ Python glue */

enum { X, MU, FACTORS, BASE, LSE, RESP, LABELS, SHIFT, TRANSFORM, SW, NK, S1, S2, N_ARGS };

typedef struct {
    Py_buffer view[N_ARGS];
    int held[N_ARGS];
} Views;

static void release(Views *v) {
    for (int i = 0; i < N_ARGS; i++)
        if (v->held[i]) PyBuffer_Release(&v->view[i]);
}

/* The buffer of argument i: ndim dimensions (0: any), of format fmt ("d", "f" or "q"; "df" accepts
   either float), writable and C-contiguous if asked.  None is accepted where optional.
   Sets a Python error and returns -1 otherwise. */
static int view(Views *v, int i, PyObject *obj, const char *name, int ndim, const char *fmt,
                int writable, int contiguous, int optional) {
    if (obj == Py_None && optional) return 0;
    int flags = PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0) |
                (contiguous ? PyBUF_C_CONTIGUOUS : PyBUF_STRIDES);
    if (PyObject_GetBuffer(obj, &v->view[i], flags) < 0) return -1;
    v->held[i] = 1;
    const char *f = v->view[i].format ? v->view[i].format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    char code = f[0] == 'l' && v->view[i].itemsize == 8 ? 'q' : f[0];
    if ((ndim && v->view[i].ndim != ndim) || f[1] != 0 || !strchr(fmt, code)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a %d-D array of format '%s'", name,
                     ndim ? ndim : v->view[i].ndim, fmt);
        return -1;
    }
    return 0;
}

static PyObject *py_mixture_chunk(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"x", "inv_scale", "means", "factors", "base", "lse", "resp",
                            "labels", "shift", "transform", "sample_weight", "nk", "s1", "s2",
                            NULL};
    PyObject *o[N_ARGS];
    for (int i = 0; i < N_ARGS; i++) o[i] = Py_None;
    double inv_scale;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OdOOO|OOO$OOOOOO", names, &o[X], &inv_scale,
                                     &o[MU], &o[FACTORS], &o[BASE], &o[LSE], &o[RESP], &o[LABELS],
                                     &o[SHIFT], &o[TRANSFORM], &o[SW], &o[NK], &o[S1], &o[S2]))
        return NULL;
    Views v = {0};
    if (view(&v, X, o[X], "x", 2, "df", 0, 0, 0) < 0 ||
        view(&v, MU, o[MU], "means", 2, "d", 0, 1, 0) < 0 ||
        view(&v, FACTORS, o[FACTORS], "factors", 0, "d", 0, 1, 0) < 0 ||
        view(&v, BASE, o[BASE], "base", 1, "d", 0, 1, 0) < 0 ||
        view(&v, LSE, o[LSE], "lse", 1, "d", 1, 1, 1) < 0 ||
        view(&v, RESP, o[RESP], "resp", 2, "df", 1, 0, 1) < 0 ||
        view(&v, LABELS, o[LABELS], "labels", 1, "q", 1, 1, 1) < 0 ||
        view(&v, SHIFT, o[SHIFT], "shift", 1, "d", 0, 1, 1) < 0 ||
        view(&v, TRANSFORM, o[TRANSFORM], "transform", 2, "d", 0, 1, 1) < 0 ||
        view(&v, SW, o[SW], "sample_weight", 1, "d", 0, 1, 1) < 0 ||
        view(&v, NK, o[NK], "nk", 1, "d", 1, 1, 1) < 0 ||
        view(&v, S1, o[S1], "s1", 2, "d", 1, 1, 1) < 0 ||
        view(&v, S2, o[S2], "s2", 0, "d", 1, 1, 1) < 0) {
        release(&v);
        return NULL;
    }
    Py_buffer *b = v.view;
    Chunk c = {
        .x = b[X].buf, .x_float32 = b[X].itemsize == 4, .m = b[X].shape[0], .d = b[X].shape[1],
        .k = b[MU].shape[0], .xs0 = b[X].strides[0], .xs1 = b[X].strides[1], .inv_scale = inv_scale,
        .mu = b[MU].buf, .u = b[FACTORS].buf, .tri = b[FACTORS].ndim == 3, .base = b[BASE].buf,
        .lse = v.held[LSE] ? b[LSE].buf : NULL,
        .resp = v.held[RESP] ? b[RESP].buf : NULL,
        .resp_float32 = v.held[RESP] && b[RESP].itemsize == 4,
        .rs0 = v.held[RESP] ? b[RESP].strides[0] : 0,
        .rs1 = v.held[RESP] ? b[RESP].strides[1] : 0,
        .labels = v.held[LABELS] ? b[LABELS].buf : NULL,
        .shift = v.held[SHIFT] ? b[SHIFT].buf : NULL,
        .transform = v.held[TRANSFORM] ? b[TRANSFORM].buf : NULL,
        .sw = v.held[SW] ? b[SW].buf : NULL,
        .nk = v.held[NK] ? b[NK].buf : NULL,
        .s1 = v.held[S1] ? b[S1].buf : NULL,
        .s2 = v.held[S2] ? b[S2].buf : NULL,
    };
    int shapes_ok = c.m > 0 && c.d > 0 && c.k > 0 && b[MU].shape[1] == c.d &&
                    (b[FACTORS].ndim == 2 || b[FACTORS].ndim == 3) && b[FACTORS].shape[0] == c.k &&
                    b[FACTORS].shape[1] == c.d && (!c.tri || b[FACTORS].shape[2] == c.d) &&
                    b[BASE].shape[0] == c.k &&
                    (!c.lse || b[LSE].shape[0] == c.m) &&
                    (!c.resp || (c.lse && b[RESP].shape[0] == c.m && b[RESP].shape[1] == c.k)) &&
                    (!c.labels || b[LABELS].shape[0] == c.m) && !c.shift == !c.transform &&
                    (!c.shift || (!c.tri && b[SHIFT].shape[0] == c.d &&
                                  b[TRANSFORM].shape[0] == c.d && b[TRANSFORM].shape[1] == c.d)) &&
                    !c.nk == !c.s1 && !c.nk == !c.s2 &&
                    (!c.nk || (c.lse && !c.shift && b[NK].shape[0] == c.k &&
                               b[S1].shape[0] == c.k && b[S1].shape[1] == c.d &&
                               b[S2].ndim == b[FACTORS].ndim && b[S2].shape[0] == c.k &&
                               b[S2].shape[1] == c.d && (!c.tri || b[S2].shape[2] == c.d))) &&
                    (!c.sw || (c.nk && b[SW].shape[0] == c.m));
    if (!shapes_ok) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: shapes do not match (resp and statistics need lse; "
                        "shift and transform go together, with diagonal factors; statistics "
                        "nk, s1 and s2 go together, without a transform)");
        release(&v);
        return NULL;
    }
    /* block buffers (feature-major rows, log-densities, differences), then the statistics'
       lane-wise partial sums */
    const size_t n_block = (size_t)(2 * c.d + c.k) * (size_t)block_rows;
    const Py_ssize_t n2 = c.tri ? c.d * (c.d + 1) / 2 : c.d;
    const size_t n_part = c.nk ? (size_t)(c.k + c.k * c.d + c.k * n2) * 8 : 0;
    double *work = PyMem_RawCalloc(n_block + n_part, sizeof(double));
    if (!work) {
        release(&v);
        return PyErr_NoMemory();
    }
    int clean;
    Py_BEGIN_ALLOW_THREADS
    clean = kernel(&c, work, work + c.d * block_rows, work + (c.d + c.k) * block_rows,
                   work + n_block);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(work);
    release(&v);
    return PyBool_FromLong(clean);
}

static PyObject *py_target(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(target_name);
}

static PyObject *py_use_target(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    return PyBool_FromLong(use_target(name));
}

static PyMethodDef methods[] = {
    {"mixture_chunk", (PyCFunction)(void (*)(void))py_mixture_chunk,
     METH_VARARGS | METH_KEYWORDS,
     "mixture_chunk(x, inv_scale, means, factors, base, lse=None, resp=None, labels=None, *,\n"
     "              shift=None, transform=None, sample_weight=None, nk=None, s1=None,\n"
     "              s2=None) -> bool\n\n"
     "Log-sum-exp (m,), responsibilities (m, k) and labels (m,) of the rows x (m, d) under a\n"
     "Gaussian mixture: with y = x * inv_scale (inv_scale a power of two),\n"
     "log p_j(x) = base[j] - |(y - means[j]) U_j|^2 / 2, where U_j is diag(factors[j]) for\n"
     "factors of shape (k, d) and the upper triangle of factors[j] for (k, d, d).  With\n"
     "diagonal factors, a shift (d,) and an upper-triangular transform T (d, d) make\n"
     "y = (x * inv_scale - shift) T, one product per row for all components.  Without a\n"
     "transform, the statistics sum_i w_i r_ij, sum_i w_i r_ij (y_i - means[j]) and\n"
     "sum_i w_i r_ij (y_i - means[j])^2 (diagonal factors; (y_i - means[j])(y_i - means[j])^T\n"
     "with triangular ones) are added to nk (k,), s1 (k, d) and s2 (k, d) or (k, d, d)\n"
     "(r the responsibilities, w the sample weights or 1).  Any of\n"
     "lse, resp and labels may be None (resp needs lse).  Returns False, with the outputs\n"
     "partly written (the statistics untouched), if some row's largest log-density is not\n"
     "finite."},
    {"target", py_target, METH_NOARGS,
     "target() -> str: the instruction set of the variant in use."},
    {"use_target", py_use_target, METH_VARARGS,
     "use_target(name) -> bool: switch to the variant for 'avx512f', 'avx2' or 'baseline'\n"
     "(for tests; not thread-safe); False, changing nothing, if this CPU cannot run it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gaussmix._kernels",
    "The fused prediction pass of Gaussian mixtures (see engine.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    choose_kernel();
    return PyModule_Create(&module);
}
