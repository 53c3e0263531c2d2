/*
 * gaussmix._kernels: the pass of a Gaussian mixture (prediction, and EM but tied), fused.
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
 * EM's statistics are gathered in the same pass, about each component's mean; full ones
 * above d = 12 by a super-block of rows whose products with each component's S2 run as
 * register tiles with the features in the lanes (a GEMM micro-kernel's shape), over only the
 * rows with a responsibility for a component that has few (in many dimensions a row has
 * about one, so the work follows the pairs that add to the sums), diagonal
 * ones from gathered rows, per component and 4 features with the sums in registers
 * (spherical: S2 from the squared distances the log-densities computed).  Float32 input
 * may have the triangular products formed in float32 lanes (gaussmix/engine/planning.py decides), and then
 * its statistics too, in each component's whitened coordinates (see Whitened).
 *
 * The loops themselves are in _kernel_body.h, compiled once per instruction set below.
 *
 * The differences x - mu are formed before any product, as the engine's direct numpy kernel does
 * (in units of the frame's per-feature scales, powers of two, so that scaling is exact), and
 * the result is exact for rows close to their component even far from the origin.  Only exp and log
 * are our own (in _kernel_body.h: within a few ulp, on whole vectors), so the results agree
 * with the numpy path to rounding (tests/test_kernels.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#endif

/* log-responsibilities relative to the row's best component are floored here (engine/numpy_kernel.py: FLOOR) */
#define FLOOR (-700.0)

/* without responsibilities, exponentials relative to the row's best component below
   e^SKIP_LSE (2e-22) are left out of the log-sum-exp: k of them change the row's sum (at
   least 1) by less than k * 2e-22, below the rounding of the exponentials themselves for
   any k up to 10^5 or so */
#define SKIP_LSE (-50.0)

/* responsibilities below this are left out of the statistics: what they leave out is below
   2^-80 of each row's weight, far below the sums' rounding; in float32 their products would
   be subnormal, which some processors compute many times slower, and in float64 leaving
   them out lets the sums skip the pairs of a row and a component that add nothing (see
   _gather and _wgather in _kernel_body.h) */
#define STATS_TINY 0x1p-80

/* lanes of the widest variant's vectors */
#define L_MAX 8

/* ln 2 split so that n * LN2_HI is exact for the integers n of the kernel's exp and log */
static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;

/* ------------------------------------------------------------------ the kernel */

typedef double v8d __attribute__((vector_size(64)));
typedef double v4d __attribute__((vector_size(32)));
typedef long long v8l __attribute__((vector_size(64)));
typedef long long v4l __attribute__((vector_size(32)));
typedef unsigned long long v8u __attribute__((vector_size(64)));
typedef unsigned long long v4u __attribute__((vector_size(32)));

/* lanes of a where the comparison mask m (all ones or zero, of integer vector type IT) is
   set, else lanes of b */
#define SELECT(IT, m, a, b) ((__typeof__(a))(((IT)(a) & (m)) | ((IT)(b) & ~(m))))

/* Whitened statistics (float32 input with float32 products and triangular factors; engine/whitened.py
   decides, and checks the result): each row's y_j = (z - mu_j) U_j, which the products form
   anyway, times sqrt(w r_j), is gathered feature-major: Z (k, dz, cap) floats, dz = d
   rounded up to 4 (the rows beyond d zero), and sqrt(w r_j) itself in sr (k, cap), each
   component's rows with a responsibility for it only (fill[j] of them).  When another
   block's rows would not fit, the component's upper triangle of Z Z^T (its S2 in y's
   coordinates) is summed over them in float32 lanes, rows in the lanes, by tiles of 4 x VMAX rows of Z, and
   added in float64 to s (k, ntile, 2 L); Z sr (its S1) to s1 (k, dz); nk (k,) sums w r_j
   in float64.  About y, the sums are well-conditioned (close to nk times the identity near a
   fit), and a float32 sum of at most cap / (2 L) + log2(2 L) terms per lane is accurate to
   that many float32 roundings (engine/whitened.py's bound); the caller maps them back to z's
   coordinates in float64.  Components flagged in skip (or none, if NULL) are left out: their
   statistics are summed in float64 instead, about their means (Super or the partial sums),
   and the outputs get both, each component's from one. */
typedef struct {
    Py_ssize_t dz, cap, ntile;
    Py_ssize_t *fill; /* (k,) each component's rows gathered so far (see _wgather) */
    float *z, *sr;
    double *s, *s1, *nk;
    const unsigned char *skip;
} Whitened;

/* Arguments of one chunk.  x is (m, d) with byte strides; resp is (m, k) with byte strides,
   float64 or float32; labels and lse may be NULL.  log p_j(x) = base_j - |(y - mu_j) U_j|^2 / 2
   with U_j = diag(u_j) or the upper triangle of u_j, and y = z = x * diag(inv_scale), or,
   with a shared transform, y = (z - shift) T (T upper-triangular; diagonal factors only). */
typedef struct {
    const char *x;
    int x_float32;
    Py_ssize_t m, d, k, xs0, xs1;
    const double *inv_scale;     /* (d,) powers of two: scaling by them is exact */
    const double *mu, *u, *base; /* (k, d) in units of the scales; factors; (k,) */
    int tri;                     /* factors (k, d, d) upper-triangular, else (k, d) diagonal */
    Py_ssize_t panel;            /* triangular factors: u holds k of these panels (pack_panels) */
    const float *u32;            /* or NULL: the panels in float32, for products in float32
                                    lanes (float32 input; engine/planning.py decides) */
    int spherical;               /* diagonal factors constant along each row: (x - mu)^2 summed,
                                    then times u^2 (one multiplication less per entry) */
    const double *shift, *transform; /* diagonal factors only, optional: (d,), panels of T */
    double *lse;
    char *resp;
    int resp_float32;
    Py_ssize_t rs0, rs1;
    int64_t *labels;
    /* statistics (without a transform): sums over rows of w_i r_ij, w_i r_ij (z_i - mu_j)
       and w_i r_ij (z_i - mu_j)^2 (diagonal factors) or w_i r_ij (z_i - mu_j)(z_i - mu_j)^T
       (triangular ones), added to nk (k,), s1 (k, d) and s2 (k, d) or (k, d, d); or, with
       s2_mean (spherical factors, s2 of shape (k,)), the mean over features of the last,
       added to s2 (k,); sw the sample weights (m,) or NULL */
    const double *sw;
    double *nk, *s1, *s2;
    int s2_mean;
    Whitened *wh; /* or NULL: the statistics in y's coordinates, see Whitened */
    /* the responsibilities the statistics and resp take, instead of the posterior ones:
       hard, one-hot at each row's best component (initialisation's nearest centres); or
       given (m, k), C-contiguous (initialisation's given assignments).  lse then holds each
       row's largest log-density, not a log-sum-exp. */
    int hard;
    const double *given;
    /* or NULL: each row's log-density under a background (m,), one more column after the
       k components (mclust's noise component): in the maxima (label -1), the log-sum-exp
       and resp (m, k + 1), not in the statistics */
    const double *bg;
} Chunk;

/* Doubles of the panels of an upper-triangular d x d matrix U: for each group of 4 columns
   b0 to b0 + 3, rows 0 to b0 + 3 (at most d - 1) of those columns, 4 consecutive doubles per
   row, with zeros below the diagonal and beyond column d - 1.  The kernel's products then
   read each row's 4 factors from one place, with no test for the triangle. */
static Py_ssize_t panel_size(Py_ssize_t d) {
    Py_ssize_t size = 0;
    for (Py_ssize_t b0 = 0; b0 < d; b0 += 4) size += (b0 + 4 < d ? b0 + 4 : d) * 4;
    return size;
}
static void pack_panels(const double *U, Py_ssize_t d, double *out) {
    for (Py_ssize_t b0 = 0; b0 < d; b0 += 4) {
        const Py_ssize_t rows = b0 + 4 < d ? b0 + 4 : d;
        for (Py_ssize_t a = 0; a < rows; a++)
            for (Py_ssize_t c = 0; c < 4; c++) {
                const Py_ssize_t col = b0 + c;
                *out++ = col < d && a <= col ? U[a * d + col] : 0.0;
            }
    }
}

/* The statistics of triangular factors gather a super-block of rows first (cap rows, a
   multiple of the block rows): their rows x (cap, dp), row-major and zero-padded to dp
   columns, and weighted responsibilities r (k, cap); then per component either the
   differences D and E = r D (cap, dp) of all its rows, or, for a component with few
   responsibilities among them, its pairs: the differences PD and weighted differences PE of
   the rows with one (up to cap of them, stride doubles apart from one component to the
   next), cnt[j] of them so far.  The sums are nk (k,), s1 (k, dp) and s2 (k, dp, dp)
   (upper triangle, by tiles), with mu (k, dp) the padded means; if only is not NULL, for the
   components it flags alone (the others' statistics are whitened). */
typedef struct {
    Py_ssize_t dp, cap, n, stride;
    Py_ssize_t *cnt;
    double *x, *r, *D, *E, *PD, *PE, *mu, *nk, *s1, *s2;
    const unsigned char *only;
} Super;

/* The statistics of diagonal factors gather a super-block of rows as well (cap rows, a
   multiple of the block rows): their rows x (d, cap), feature-major, and weighted
   responsibilities r (k, cap), n of them so far; when it is full, the sums over its rows
   run per component and group of 4 features with the sums in registers (instead of
   lane-wise partial sums loaded and stored for every block).  With s2_mean, each row's
   squared distances to the means, which the log-densities of spherical factors compute
   anyway, are gathered too, and S2 is their sum weighted by r. */
typedef struct {
    Py_ssize_t cap, n;
    double *x, *r;
    /* s2_mean: the block's squared distances |x - mu_j|^2 (k, R), from the log-densities,
       and the gathered ones (k, cap); else NULL */
    double *qb, *q;
} Gathered;

/* One variant of the kernel per instruction set: _kernel_body.h, included once for each. */
#define KERNEL_CAT_(a, b) a##b
#define KERNEL_CAT(a, b) KERNEL_CAT_(a, b)

#define NAME kernel_baseline
#define VMAX 2
#define VT v4d
#define IT v4l
#define UT v4u
#define L 4
#define H 2
#define ATTR
/* every lane of a comparison mask set */
#define ALL_LANES(m)                                                                             \
    ({                                                                                           \
        const IT m_ = (m);                                                                       \
        int all_ = 1;                                                                            \
        for (int l_ = 0; l_ < L; l_++) all_ &= m_[l_] != 0;                                      \
        all_;                                                                                    \
    })
#include "_kernel_body.h"
#undef NAME
#undef VT
#undef IT
#undef UT
#undef L
#undef H
#undef ATTR
#undef ALL_LANES
#undef VMAX
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define X86_VARIANTS 1
#define NAME kernel_avx2
#define VMAX 2
#define VT v4d
#define IT v4l
#define UT v4u
#define L 4
#define H 2
#define ATTR __attribute__((target("avx2,fma")))
#define ALL_LANES(m) (_mm256_movemask_pd((__m256d)(m)) == 15)
#include "_kernel_body.h"
#undef NAME
#undef VT
#undef IT
#undef UT
#undef L
#undef H
#undef ATTR
#undef ALL_LANES
#undef VMAX
#define NAME kernel_avx512
#define VMAX 4
#define VT v8d
#define IT v8l
#define UT v8u
#define L 8
/* 32-row blocks: the statistics' lane-wise sums are loaded and stored once per block, so
   longer blocks do it less often; chosen by measurement, see benchmarks/README.md (Design
   measurements) */
#define H 4
#define ATTR __attribute__((target("avx512f")))
#define ALL_LANES(m) (_mm512_test_epi64_mask((__m512i)(m), (__m512i)(m)) == 0xff)
#include "_kernel_body.h"
#undef NAME
#undef VT
#undef IT
#undef UT
#undef L
#undef H
#undef ATTR
#undef ALL_LANES
#undef VMAX
#endif

/* the variant for this CPU, chosen when the module is imported */
static int (*kernel)(const Chunk *, double *, double *, double *, double *, Super *,
                     Gathered *) =
    kernel_baseline;
static Py_ssize_t block_rows = kernel_baseline_block_rows;
static Py_ssize_t tile_rows = kernel_baseline_tile_rows;
static const char *target_name = "baseline";

/* Switch to the named variant if this CPU runs it; returns 0 if it does not. */
static int use_target(const char *name) {
    if (!strcmp(name, "baseline")) {
        kernel = kernel_baseline;
        block_rows = kernel_baseline_block_rows;
        tile_rows = kernel_baseline_tile_rows;
        target_name = "baseline";
        return 1;
    }
#ifdef X86_VARIANTS
    __builtin_cpu_init();
    if (!strcmp(name, "avx512f") && __builtin_cpu_supports("avx512f")) {
        kernel = kernel_avx512;
        block_rows = kernel_avx512_block_rows;
        tile_rows = kernel_avx512_tile_rows;
        target_name = "avx512f";
        return 1;
    }
    if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        kernel = kernel_avx2;
        block_rows = kernel_avx2_block_rows;
        tile_rows = kernel_avx2_tile_rows;
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

enum { X, INV_SCALE, MU, FACTORS, BASE, LSE, RESP, LABELS, SHIFT, TRANSFORM, SW, NK, S1, S2, F64,
       GIVEN, BG, N_ARGS };

/* room for the arguments of either entry point (marginal_chunk has more) */
enum { MAX_ARGS = 20 };

typedef struct {
    Py_buffer view[MAX_ARGS];
    int held[MAX_ARGS];
} Views;

static void release(Views *v) {
    for (int i = 0; i < MAX_ARGS; i++)
        if (v->held[i]) PyBuffer_Release(&v->view[i]);
}

/* The buffer of argument i: ndim dimensions (0: any), of format fmt ("d", "f", "q" or "?"; "df" accepts
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

/* Rows of a super-block (and pairs gathered per component): a multiple of the block rows R,
   such that its differences and weighted differences (2 cap dp doubles) take about 32 KiB
   of the first-level cache. */
static Py_ssize_t super_rows(Py_ssize_t dp, Py_ssize_t R) {
    Py_ssize_t cap = 2048 / dp / R * R;
    return cap < R ? R : cap > 8 * R ? 8 * R : cap;
}

/* Rows gathered for the statistics of diagonal factors: a multiple of the block rows R,
   such that the rows and responsibilities ((d + k) cap doubles) take about 32 KiB (the
   first-level cache); chosen by measurement, see benchmarks/README.md (Design
   measurements). */
static Py_ssize_t gathered_rows(Py_ssize_t d, Py_ssize_t k, Py_ssize_t R) {
    Py_ssize_t cap = 4096 / (d + k) / R * R;
    return cap < R ? R : cap > 64 * R ? 64 * R : cap;
}

/* Rows gathered for whitened statistics: a multiple of the block rows R, such that Z (k dz cap
   floats) takes about 256 KiB (the second-level cache), and at most WHITENED_MAX_ROWS, which
   engine/whitened.py's error bound assumes; the size chosen by measurement, see benchmarks/README.md
   (Design measurements) */
enum { WHITENED_MAX_ROWS = 256 };
static Py_ssize_t whitened_rows(Py_ssize_t dz, Py_ssize_t k, Py_ssize_t R) {
    Py_ssize_t cap = 65536 / (dz * k) / R * R;
    return cap < R ? R : cap > WHITENED_MAX_ROWS ? WHITENED_MAX_ROWS / R * R : cap;
}

/* Doubles of a super-block's buffers for k components (each a multiple of 8), and their
   places from base. */
/* The buffers that one loop reads and writes together (x, D, E, r; x, PD, PE) are set 8
   doubles (a cache line) apart beyond their sizes: sizes of multiples of 4 KiB put them at
   the same address modulo 4 KiB, where each store appears to the processor to alias the
   next loads. */
enum { SKEW = 8 };
static size_t super_size(const Super *sup, Py_ssize_t k) {
    const size_t dp = (size_t)sup->dp, cap = (size_t)sup->cap, kk = (size_t)(k + 7) / 8 * 8;
    return (3 + 2 * (size_t)k) * (cap * dp + SKEW) + kk * cap + (size_t)k * dp * (2 + dp) +
           2 * kk;
}
static void super_place(Super *sup, Py_ssize_t k, double *base) {
    const Py_ssize_t dp = sup->dp, cap = sup->cap, kk = (k + 7) / 8 * 8;
    sup->stride = cap * dp + SKEW;
    sup->x = base, base += sup->stride;
    sup->D = base, base += sup->stride;
    sup->E = base, base += sup->stride;
    sup->PD = base, base += k * sup->stride;
    sup->PE = base, base += k * sup->stride;
    sup->r = base, base += kk * cap;
    sup->mu = base, base += k * dp;
    sup->s1 = base, base += k * dp;
    sup->s2 = base, base += k * dp * dp;
    sup->nk = base, base += kk;
    sup->cnt = (Py_ssize_t *)base; /* doubles' room, zeroed */
}

/* Whether every component's diagonal factors are one value (c's factors as given). */
static int spherical_factors(const Chunk *c) {
    if (c->tri) return 0;
    for (Py_ssize_t q = 0; q < c->k * c->d; q++)
        if (c->u[q] != c->u[q / c->d * c->d]) return 0;
    return 1;
}

/* One chunk through the kernel: its buffers (one zeroed allocation), the factors packed in
   panels, then the kernel.  c's s2_mean and spherical are set; products32, stats32 and f64c
   as mixture_chunk's float32_products, float32_statistics and float64_components, checked.
   Returns 1 (clean), 0 (handed back: see mixture_chunk) or -1 (out of memory); needs no
   GIL. */
static int run_chunk(Chunk *c, int products32, int stats32, const unsigned char *f64c) {
    /* block buffers (feature-major rows, log-densities, differences, the vectors of rows
       that need exponentials), then the statistics'
       lane-wise partial sums (diagonal factors, from gathered rows; triangular ones up to
       d = 12) or super-block (triangular ones above) */
    /* k + 1 vectors after the block buffers: the components' and the background's */
    const size_t n_block =
        (size_t)(2 * c->d + c->k) * (size_t)block_rows + (size_t)(c->k + 1) * L_MAX;
    /* triangular factors: lane-wise partial sums of the pairs up to d = 12 (they stay in the
       first-level cache), a super-block above; the crossover chosen by measurement, see
       benchmarks/README.md (Design measurements) */
    const int f64_stats = c->nk && (!stats32 || f64c);
    const int use_super = f64_stats && c->tri && c->d > 12;
    const Py_ssize_t n2 = c->tri ? c->d * (c->d + 1) / 2 : c->d;
    const size_t n_part =
        f64_stats && !use_super
            ? (size_t)(c->k + c->k * c->d + (c->s2_mean ? c->k : c->k * n2)) * 8
            : 0;
    Super sup = {0};
    size_t n_super = 0;
    if (use_super) {
        sup.dp = (c->d + 7) / 8 * 8;
        sup.cap = super_rows(sup.dp, block_rows);
        n_super = super_size(&sup, c->k);
    }
    Gathered g = {0};
    size_t n_gathered = 0;
    if (c->nk && !c->tri) {
        g.cap = gathered_rows(c->d, c->k, block_rows);
        n_gathered = (size_t)(c->d + c->k) * (size_t)g.cap + 2 * SKEW;
        if (c->s2_mean) n_gathered += (size_t)c->k * (size_t)(g.cap + block_rows) + SKEW;
    }
    Whitened wh = {0};
    size_t n_whitened = 0;
    if (stats32) {
        wh.dz = (c->d + 3) / 4 * 4;
        wh.cap = whitened_rows(wh.dz, c->k, block_rows);
        for (Py_ssize_t a0 = 0; a0 < wh.dz; a0 += 4) wh.ntile += (wh.dz - a0) / tile_rows;
        /* Z and sr (floats, in doubles' room), then s, s1 and nk */
        n_whitened = ((size_t)c->k * (size_t)((wh.dz + 1) * wh.cap) + 1) / 2 + SKEW +
                     (size_t)c->k * (size_t)(wh.ntile * 4 * tile_rows + wh.dz) + 2 * (size_t)c->k;
    }
    /* the factors (triangular) or the transform as panels */
    const Py_ssize_t panel = panel_size(c->d);
    const size_t n_panels = (size_t)panel * (c->tri ? (size_t)c->k : c->transform ? 1 : 0);
    /* their float32 copies (in doubles' room) */
    const size_t n_panels32 = products32 ? (n_panels + 1) / 2 : 0;
    /* one zeroed allocation, the super-block 64-byte aligned */
    double *work = PyMem_RawCalloc(
        n_block + n_part + n_super + n_panels + n_gathered + n_panels32 + n_whitened + 16,
        sizeof(double));
    if (!work) return -1;
    if (n_panels) {
        double *packed = work + n_block + n_part + n_super + 8;
        if (c->tri)
            for (Py_ssize_t j = 0; j < c->k; j++) pack_panels(c->u + j * c->d * c->d, c->d, packed + j * panel);
        else
            pack_panels(c->transform, c->d, packed);
        c->panel = panel;
        if (c->tri)
            c->u = packed;
        else
            c->transform = packed;
        if (n_panels32) {
            float *p32 = (float *)(work + n_block + n_part + n_super + 8 + n_panels + n_gathered);
            for (size_t q = 0; q < n_panels; q++) p32[q] = (float)packed[q];
            c->u32 = p32;
        }
    }
    if (n_super) {
        double *base = work + n_block + n_part;
        base += (64 - (uintptr_t)base % 64) % 64 / sizeof(double);
        super_place(&sup, c->k, base);
        sup.only = f64c; /* NULL without float32 statistics (refused above) */
        for (Py_ssize_t j = 0; j < c->k; j++)
            memcpy(sup.mu + j * sup.dp, c->mu + j * c->d, (size_t)c->d * sizeof(double));
    }
    if (n_gathered) {
        g.x = work + n_block + n_part + n_super + 8 + n_panels;
        g.r = g.x + c->d * g.cap + SKEW; /* see super_size */
        if (c->s2_mean) {
            g.q = g.r + c->k * g.cap + SKEW;
            g.qb = g.q + c->k * g.cap + SKEW;
        }
    }
    if (n_whitened) { /* after the float32 panels, 64-byte aligned */
        double *base = work + n_block + n_part + n_super + 8 + n_panels + n_gathered + n_panels32;
        base += (64 - (uintptr_t)base % 64) % 64 / sizeof(double);
        wh.z = (float *)base;
        wh.sr = wh.z + c->k * wh.dz * wh.cap;
        wh.s = base + ((size_t)c->k * (size_t)((wh.dz + 1) * wh.cap) + 1) / 2 + SKEW;
        wh.s1 = wh.s + c->k * wh.ntile * 4 * tile_rows;
        wh.nk = wh.s1 + c->k * wh.dz;
        wh.fill = (Py_ssize_t *)(wh.nk + c->k); /* doubles' room, zeroed */
        wh.skip = f64c;
        c->wh = &wh;
    }
    const int clean = kernel(c, work, work + c->d * block_rows, work + (c->d + c->k) * block_rows,
                   work + n_block, n_super ? &sup : NULL, n_gathered ? &g : NULL);
    PyMem_RawFree(work);
    return clean;
}

static PyObject *py_mixture_chunk(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"x", "inv_scale", "means", "factors", "base", "lse", "resp",
                            "labels", "shift", "transform", "sample_weight", "nk", "s1", "s2",
                            "float32_products", "float32_statistics", "float64_components",
                            "hard", "given", "background", NULL};
    PyObject *o[N_ARGS];
    for (int i = 0; i < N_ARGS; i++) o[i] = Py_None;
    int products32 = 0, stats32 = 0, hard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO|OOO$OOOOOOppOpOO", names, &o[X],
                                     &o[INV_SCALE], &o[MU], &o[FACTORS], &o[BASE], &o[LSE],
                                     &o[RESP], &o[LABELS], &o[SHIFT], &o[TRANSFORM], &o[SW],
                                     &o[NK], &o[S1], &o[S2], &products32, &stats32, &o[F64],
                                     &hard, &o[GIVEN], &o[BG]))
        return NULL;
    Views v = {0};
    if (view(&v, X, o[X], "x", 2, "df", 0, 0, 0) < 0 ||
        view(&v, INV_SCALE, o[INV_SCALE], "inv_scale", 1, "d", 0, 1, 0) < 0 ||
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
        view(&v, S2, o[S2], "s2", 0, "d", 1, 1, 1) < 0 ||
        view(&v, F64, o[F64], "float64_components", 1, "?", 0, 1, 1) < 0 ||
        view(&v, GIVEN, o[GIVEN], "given", 2, "d", 0, 1, 1) < 0 ||
        view(&v, BG, o[BG], "background", 1, "d", 0, 1, 1) < 0) {
        release(&v);
        return NULL;
    }
    Py_buffer *b = v.view;
    Chunk c = {
        .x = b[X].buf, .x_float32 = b[X].itemsize == 4, .m = b[X].shape[0], .d = b[X].shape[1],
        .k = b[MU].shape[0], .xs0 = b[X].strides[0], .xs1 = b[X].strides[1],
        .inv_scale = b[INV_SCALE].buf,
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
        .hard = hard,
        .given = v.held[GIVEN] ? b[GIVEN].buf : NULL,
        .bg = v.held[BG] ? b[BG].buf : NULL,
    };
    int shapes_ok = c.m > 0 && c.d > 0 && c.k > 0 && b[MU].shape[1] == c.d &&
                    b[INV_SCALE].shape[0] == c.d &&
                    (b[FACTORS].ndim == 2 || b[FACTORS].ndim == 3) && b[FACTORS].shape[0] == c.k &&
                    b[FACTORS].shape[1] == c.d && (!c.tri || b[FACTORS].shape[2] == c.d) &&
                    b[BASE].shape[0] == c.k &&
                    (!c.lse || b[LSE].shape[0] == c.m) &&
                    (!c.resp || (c.lse && b[RESP].shape[0] == c.m &&
                                 b[RESP].shape[1] == c.k + (c.bg != NULL))) &&
                    (!c.labels || b[LABELS].shape[0] == c.m) && !c.shift == !c.transform &&
                    (!c.shift || (!c.tri && b[SHIFT].shape[0] == c.d &&
                                  b[TRANSFORM].shape[0] == c.d && b[TRANSFORM].shape[1] == c.d)) &&
                    !c.nk == !c.s1 && !c.nk == !c.s2 &&
                    (!c.nk || (c.lse && !c.shift && b[NK].shape[0] == c.k &&
                               b[S1].shape[0] == c.k && b[S1].shape[1] == c.d &&
                               b[S2].shape[0] == c.k &&
                               (b[S2].ndim == 1 ? !c.tri
                                : b[S2].ndim == b[FACTORS].ndim && b[S2].shape[1] == c.d &&
                                      (!c.tri || b[S2].shape[2] == c.d)))) &&
                    (!c.sw || (c.nk && b[SW].shape[0] == c.m)) &&
                    (!c.given || (!c.hard && c.lse && b[GIVEN].shape[0] == c.m &&
                                  b[GIVEN].shape[1] == c.k)) &&
                    (!c.bg || (!c.hard && !c.given && b[BG].shape[0] == c.m));
    if (!shapes_ok) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: shapes do not match (inv_scale is (d,); resp and "
                        "statistics need lse; "
                        "shift and transform go together, with diagonal factors; statistics "
                        "nk, s1 and s2 go together, without a transform; given is (m, k), "
                        "with lse and without hard; background is (m,), without hard or "
                        "given, and resp then (m, k + 1))");
        release(&v);
        return NULL;
    }
    c.spherical = spherical_factors(&c);
    c.s2_mean = c.nk && b[S2].ndim == 1;
    if (products32 && !(c.tri && c.x_float32)) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: float32_products needs float32 x and triangular factors");
        release(&v);
        return NULL;
    }
    if (stats32 && !(products32 && c.nk)) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: float32_statistics needs float32_products and the "
                        "statistics nk, s1 and s2");
        release(&v);
        return NULL;
    }
    /* components whose statistics stay float64 beside whitened ones */
    const unsigned char *f64c = v.held[F64] ? b[F64].buf : NULL;
    if (f64c && !(stats32 && b[F64].shape[0] == c.k)) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: float64_components needs float32_statistics and one "
                        "flag per component");
        release(&v);
        return NULL;
    }
    int any64 = 0;
    for (Py_ssize_t j = 0; f64c && j < c.k; j++) any64 |= f64c[j] != 0;
    if (!any64) f64c = NULL;
    if (c.s2_mean && !c.spherical) {
        PyErr_SetString(PyExc_ValueError,
                        "mixture_chunk: s2 of shape (k,) (the mean over features) needs "
                        "spherical factors (one value per component)");
        release(&v);
        return NULL;
    }
    int clean;
    Py_BEGIN_ALLOW_THREADS
    clean = run_chunk(&c, products32, stats32, f64c);
    Py_END_ALLOW_THREADS
    release(&v);
    if (clean < 0) return PyErr_NoMemory();
    return PyBool_FromLong(clean);
}

/* ------------------------------------------------------------------ incomplete rows

   Rows with missing values are grouped by missingness pattern and kept compact: pattern p's
   rows are the grouped rows bounds[p] to bounds[p + 1] - 1, and their observed values alone,
   row-major, start at element offsets[p] of values.  Under component j their density is the
   marginal N(x_o; mu_o, S_oo) of the observed coordinates o, which the kernel evaluates with
   the upper-triangular factor U_o = L^-T of S_oo^-1 (S_oo = L L^T; the diagonal 1/sqrt(S_oo)
   for diagonal covariances) on d_o coordinates only.  The kernel's statistics about mu_o are
   lifted to the expected complete-data ones with B = S_mo S_oo^-1 and C = S_mm - B S_om
   (gaussmix/incomplete/marginal.py has the formulas and the numpy twin). */

/* One pattern's operands for all components (buffers for d coordinates, set once). */
typedef struct {
    Py_ssize_t d, k, no, nm;
    int tri;
    Py_ssize_t *obs, *mis;  /* (d,) each: observed and missing coordinates, increasing */
    double *mu, *u, *base;  /* (k, no) means in units of scale; (k, no, no) or (k, no); (k,) */
    double *isc;            /* (no,) the observed coordinates' inverse scales */
    double *B, *C;          /* (k, nm, no) and (k, nm, nm), or C the variances (k, nm) */
    double *low, *linv, *w; /* scratch: (d, d), (d, d), (d, d) */
    double *nk, *s1, *s2;   /* the kernel's statistics about mu_o: (k), (k, no), (k, no, no) */
} Marginal;

static size_t marginal_size(Py_ssize_t d, Py_ssize_t k) {
    const size_t dd = (size_t)d * (size_t)d, kk = (size_t)k;
    return kk * (size_t)d + kk * dd + kk + (size_t)d + 2 * kk * dd + 3 * dd + kk +
           kk * (size_t)d + kk * dd;
}

static void marginal_place(Marginal *g, double *base) {
    const Py_ssize_t d = g->d, k = g->k;
    g->mu = base, base += k * d;
    g->u = base, base += k * d * d;
    g->base = base, base += k;
    g->isc = base, base += d;
    g->B = base, base += k * d * d;
    g->C = base, base += k * d * d;
    g->low = base, base += d * d;
    g->linv = base, base += d * d;
    g->w = base, base += d * d;
    g->nk = base, base += k;
    g->s1 = base, base += k * d;
    g->s2 = base;
}

/* Pattern observed's operands under covariances cov ((k, d, d), or variances (k, d)), means
   (k, d) in units of the scales and constants log_w (k,) (the log-weights and what else is
   added to every row's log-density; the frame's Jacobian, the sum of the observed
   coordinates' log_scale (d,), is taken off here), and the observed coordinates' inverse
   scales from inv_scale (d,).  B and C only if lift.  Returns 0 if a marginal covariance is not positive-definite
   in floating point (the numpy path then redoes the pattern's rows). */
static int marginal_of(Marginal *g, const unsigned char *observed, const double *cov,
                       const double *means, const double *log_w, const double *inv_scale,
                       const double *log_scale, int lift) {
    const Py_ssize_t d = g->d, k = g->k;
    const double half_log_2pi = 0.91893853320467274178;
    Py_ssize_t no = 0, nm = 0;
    for (Py_ssize_t a = 0; a < d; a++)
        if (observed[a])
            g->obs[no++] = a;
        else
            g->mis[nm++] = a;
    g->no = no, g->nm = nm;
    double jacobian = 0.0;
    for (Py_ssize_t a = 0; a < no; a++) {
        g->isc[a] = inv_scale[g->obs[a]];
        jacobian += log_scale[g->obs[a]];
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        double *mu = g->mu + j * no;
        for (Py_ssize_t a = 0; a < no; a++) mu[a] = means[j * d + g->obs[a]];
        double log_det = 0.0; /* of U_o */
        if (!g->tri) {
            const double *var = cov + j * d;
            double *u = g->u + j * no;
            for (Py_ssize_t a = 0; a < no; a++) {
                const double v = var[g->obs[a]];
                if (!(v > 0.0)) return 0;
                u[a] = 1.0 / sqrt(v);
                log_det += log(u[a]);
            }
            for (Py_ssize_t c = 0; lift && c < nm; c++) g->C[j * nm + c] = var[g->mis[c]];
        } else {
            const double *S = cov + j * d * d;
            double *L = g->low, *Li = g->linv;
            for (Py_ssize_t i = 0; i < no; i++) /* S_oo = L L^T, row by row */
                for (Py_ssize_t t = 0; t <= i; t++) {
                    double s = S[g->obs[i] * d + g->obs[t]];
                    for (Py_ssize_t q = 0; q < t; q++) s -= L[i * no + q] * L[t * no + q];
                    if (t < i)
                        L[i * no + t] = s / L[t * no + t];
                    else if (s > 0.0)
                        L[i * no + i] = sqrt(s);
                    else
                        return 0;
                }
            for (Py_ssize_t c = 0; c < no; c++) /* L^-1, lower, column by column */
                for (Py_ssize_t i = c; i < no; i++) {
                    double s = i == c ? 1.0 : 0.0;
                    for (Py_ssize_t q = c; q < i; q++) s -= L[i * no + q] * Li[q * no + c];
                    Li[i * no + c] = s / L[i * no + i];
                }
            double *u = g->u + j * no * no; /* U_o = L^-T */
            for (Py_ssize_t a = 0; a < no; a++) {
                log_det -= log(L[a * no + a]);
                for (Py_ssize_t b = 0; b < no; b++) u[a * no + b] = b >= a ? Li[b * no + a] : 0.0;
            }
            if (lift && nm) {
                double *W = g->w, *B = g->B + j * nm * no, *C = g->C + j * nm * nm;
                for (Py_ssize_t a = 0; a < no; a++) /* W = L^-1 S_om (no, nm) */
                    for (Py_ssize_t c = 0; c < nm; c++) {
                        double s = 0.0;
                        for (Py_ssize_t t = 0; t <= a; t++)
                            s += Li[a * no + t] * S[g->obs[t] * d + g->mis[c]];
                        W[a * nm + c] = s;
                    }
                for (Py_ssize_t c = 0; c < nm; c++) { /* B = W^T L^-1, C = S_mm - W^T W */
                    for (Py_ssize_t a = 0; a < no; a++) {
                        double s = 0.0;
                        for (Py_ssize_t t = a; t < no; t++) s += W[t * nm + c] * Li[t * no + a];
                        B[c * no + a] = s;
                    }
                    for (Py_ssize_t e = c; e < nm; e++) {
                        double s = S[g->mis[c] * d + g->mis[e]];
                        for (Py_ssize_t t = 0; t < no; t++) s -= W[t * nm + c] * W[t * nm + e];
                        C[c * nm + e] = C[e * nm + c] = s;
                    }
                }
            }
        }
        g->base[j] = log_w[j] - (double)no * half_log_2pi - jacobian + log_det;
    }
    return 1;
}

/* The pattern's statistics about mu_o (g's nk, s1, s2) lifted to all coordinates and added
   to nk (k,), s1 (k, d) and s2 (k, d, d) or (k, d): E[x - mu] = A (x_o - mu_o) with
   A = [I; B], and E[(x - mu)(x - mu)^T] = A (x_o - mu_o)(x_o - mu_o)^T A^T + [0, 0; 0, C]. */
static void marginal_lift(const Marginal *g, double *nk, double *s1, double *s2) {
    const Py_ssize_t d = g->d, k = g->k, no = g->no, nm = g->nm;
    const Py_ssize_t *o = g->obs, *m = g->mis;
    double *MO = g->w; /* B s2_oo, (nm, no): the scratch W is free again */
    for (Py_ssize_t j = 0; j < k; j++) {
        const double n = g->nk[j], *t1 = g->s1 + j * no;
        nk[j] += n;
        double *S1 = s1 + j * d;
        for (Py_ssize_t a = 0; a < no; a++) S1[o[a]] += t1[a];
        if (!g->tri) {
            const double *t2 = g->s2 + j * no, *C = g->C + j * nm;
            double *S2 = s2 + j * d;
            for (Py_ssize_t a = 0; a < no; a++) S2[o[a]] += t2[a];
            for (Py_ssize_t c = 0; c < nm; c++) S2[m[c]] += n * C[c];
            continue;
        }
        const double *t2 = g->s2 + j * no * no, *B = g->B + j * nm * no, *C = g->C + j * nm * nm;
        double *S2 = s2 + j * d * d;
        for (Py_ssize_t a = 0; a < no; a++)
            for (Py_ssize_t b = 0; b < no; b++) S2[o[a] * d + o[b]] += t2[a * no + b];
        for (Py_ssize_t c = 0; c < nm; c++) {
            double s = 0.0;
            for (Py_ssize_t a = 0; a < no; a++) s += B[c * no + a] * t1[a];
            S1[m[c]] += s;
            for (Py_ssize_t b = 0; b < no; b++) {
                double v = 0.0;
                for (Py_ssize_t a = 0; a < no; a++) v += B[c * no + a] * t2[a * no + b];
                MO[c * no + b] = v;
                S2[m[c] * d + o[b]] += v;
                S2[o[b] * d + m[c]] += v;
            }
        }
        for (Py_ssize_t c = 0; c < nm; c++)
            for (Py_ssize_t e = c; e < nm; e++) {
                double v = n * C[c * nm + e];
                for (Py_ssize_t b = 0; b < no; b++) v += MO[c * no + b] * B[e * no + b];
                S2[m[c] * d + m[e]] += v;
                if (e != c) S2[m[e] * d + m[c]] += v;
            }
    }
}

/* the arguments of marginal_chunk, in Views as mixture_chunk's */
enum { G_VALUES, G_OFFSETS, G_BOUNDS, G_OBSERVED, G_ISCALE, G_MU, G_COV, G_LOGW, G_LSCALE,
       G_LSE, G_RESP, G_LABELS, G_SW, G_NK, G_S1, G_S2, G_GIVEN, G_BG, G_ARGS };
_Static_assert((int)G_ARGS <= (int)MAX_ARGS && (int)N_ARGS <= (int)MAX_ARGS,
               "Views holds every argument");

static PyObject *py_marginal_chunk(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"values", "offsets", "bounds", "observed", "start", "stop",
                            "inv_scale", "means", "covariances", "log_weights", "log_scale",
                            "lse", "resp", "labels", "sample_weight", "nk", "s1", "s2", "hard",
                            "given", "background", NULL};
    PyObject *o[G_ARGS];
    for (int i = 0; i < G_ARGS; i++) o[i] = Py_None;
    Py_ssize_t start, stop;
    int hard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOnnOOOOOO|OO$OOOOpOO", names, &o[G_VALUES],
                                     &o[G_OFFSETS], &o[G_BOUNDS], &o[G_OBSERVED], &start, &stop,
                                     &o[G_ISCALE], &o[G_MU], &o[G_COV], &o[G_LOGW], &o[G_LSCALE],
                                     &o[G_LSE], &o[G_RESP], &o[G_LABELS], &o[G_SW], &o[G_NK],
                                     &o[G_S1], &o[G_S2], &hard, &o[G_GIVEN],
                                     &o[G_BG]))
        return NULL;
    Views v = {0};
    if (view(&v, G_VALUES, o[G_VALUES], "values", 1, "df", 0, 1, 0) < 0 ||
        view(&v, G_OFFSETS, o[G_OFFSETS], "offsets", 1, "q", 0, 1, 0) < 0 ||
        view(&v, G_BOUNDS, o[G_BOUNDS], "bounds", 1, "q", 0, 1, 0) < 0 ||
        view(&v, G_OBSERVED, o[G_OBSERVED], "observed", 2, "?", 0, 1, 0) < 0 ||
        view(&v, G_ISCALE, o[G_ISCALE], "inv_scale", 1, "d", 0, 1, 0) < 0 ||
        view(&v, G_MU, o[G_MU], "means", 2, "d", 0, 1, 0) < 0 ||
        view(&v, G_COV, o[G_COV], "covariances", 0, "d", 0, 1, 0) < 0 ||
        view(&v, G_LOGW, o[G_LOGW], "log_weights", 1, "d", 0, 1, 0) < 0 ||
        view(&v, G_LSCALE, o[G_LSCALE], "log_scale", 1, "d", 0, 1, 0) < 0 ||
        view(&v, G_LSE, o[G_LSE], "lse", 1, "d", 1, 1, 0) < 0 ||
        view(&v, G_RESP, o[G_RESP], "resp", 2, "df", 1, 0, 1) < 0 ||
        view(&v, G_LABELS, o[G_LABELS], "labels", 1, "q", 1, 1, 1) < 0 ||
        view(&v, G_SW, o[G_SW], "sample_weight", 1, "d", 0, 1, 1) < 0 ||
        view(&v, G_NK, o[G_NK], "nk", 1, "d", 1, 1, 1) < 0 ||
        view(&v, G_S1, o[G_S1], "s1", 2, "d", 1, 1, 1) < 0 ||
        view(&v, G_S2, o[G_S2], "s2", 0, "d", 1, 1, 1) < 0 ||
        view(&v, G_GIVEN, o[G_GIVEN], "given", 2, "d", 0, 1, 1) < 0 ||
        view(&v, G_BG, o[G_BG], "background", 1, "d", 0, 1, 1) < 0) {
        release(&v);
        return NULL;
    }
    Py_buffer *b = v.view;
    const Py_ssize_t P = b[G_OBSERVED].shape[0], d = b[G_OBSERVED].shape[1];
    const Py_ssize_t k = b[G_MU].shape[0];
    const int64_t *offsets = b[G_OFFSETS].buf, *bounds = b[G_BOUNDS].buf;
    const int tri = b[G_COV].ndim == 3, stats = v.held[G_NK];
    const Py_ssize_t n = P ? (Py_ssize_t)bounds[P] : 0;
    int ok = d > 0 && k > 0 && b[G_OFFSETS].shape[0] == P + 1 && b[G_BOUNDS].shape[0] == P + 1 &&
             b[G_MU].shape[1] == d && b[G_COV].shape[0] == k && b[G_COV].shape[1] == d &&
             (b[G_COV].ndim == 2 || (tri && b[G_COV].shape[2] == d)) &&
             b[G_LOGW].shape[0] == k && b[G_ISCALE].shape[0] == d &&
             b[G_LSCALE].shape[0] == d && b[G_LSE].shape[0] == n && 0 <= start &&
             start <= stop && stop <= n &&
             (!v.held[G_RESP] ||
              (b[G_RESP].shape[0] == n && b[G_RESP].shape[1] == k + v.held[G_BG])) &&
             (!v.held[G_LABELS] || b[G_LABELS].shape[0] == n) &&
             (!v.held[G_SW] || (stats && b[G_SW].shape[0] == n)) &&
             v.held[G_NK] == v.held[G_S1] && v.held[G_NK] == v.held[G_S2] &&
             (!stats || (b[G_NK].shape[0] == k && b[G_S1].shape[0] == k &&
                         b[G_S1].shape[1] == d && b[G_S2].ndim == b[G_COV].ndim &&
                         b[G_S2].shape[0] == k && b[G_S2].shape[1] == d &&
                         (!tri || b[G_S2].shape[2] == d))) &&
             (!v.held[G_GIVEN] || (!hard && b[G_GIVEN].shape[0] == n && b[G_GIVEN].shape[1] == k)) &&
             (!v.held[G_BG] || (!hard && !v.held[G_GIVEN] && b[G_BG].shape[0] == n));
    Py_ssize_t first = 0; /* the pattern of row start: the last with bounds[p] <= start */
    for (Py_ssize_t lo = 0, hi = P; ok && lo < hi;) {
        const Py_ssize_t mid = (lo + hi) / 2;
        if (bounds[mid] <= start)
            first = mid, lo = mid + 1;
        else
            hi = mid;
    }
    /* the rows of the patterns met inside values, in order (a call checks only those: a
       pass of many tasks over many patterns checks each once or twice) */
    const size_t item = (size_t)b[G_VALUES].itemsize;
    const unsigned char *observed = b[G_OBSERVED].buf;
    ok = ok && (!P || bounds[0] == 0);
    for (Py_ssize_t p = first; ok && p < P && bounds[p] < stop; p++) {
        Py_ssize_t no = 0;
        for (Py_ssize_t a = 0; a < d; a++) no += observed[p * d + a] != 0;
        ok = no > 0 && bounds[p] <= bounds[p + 1] && offsets[p] >= 0 &&
             offsets[p + 1] - offsets[p] == (bounds[p + 1] - bounds[p]) * no &&
             offsets[p + 1] <= b[G_VALUES].shape[0];
    }
    if (!ok) {
        PyErr_SetString(PyExc_ValueError,
                        "marginal_chunk: shapes do not match (observed (P, d) with a value "
                        "observed in every pattern; offsets and bounds (P + 1,) of the "
                        "patterns' values and rows; 0 <= start <= stop <= rows; inv_scale and "
                        "log_scale (d,), means (k, d), covariances (k, d, d) or (k, d), "
                        "log_weights (k,); lse, resp, labels, sample_weight, given and "
                        "background per row; nk, s1 and s2 together, s2 shaped as the "
                        "covariances; sample_weight with the statistics; given without hard; "
                        "background without hard or given, resp then (n, k + 1))");
        release(&v);
        return NULL;
    }
    Py_ssize_t *handed = PyMem_RawMalloc((size_t)(P + 1) * sizeof(Py_ssize_t));
    Py_ssize_t *idx = PyMem_RawMalloc((size_t)(2 * d) * sizeof(Py_ssize_t));
    double *work = PyMem_RawCalloc(marginal_size(d, k), sizeof(double));
    if (!handed || !idx || !work) {
        PyMem_RawFree(handed), PyMem_RawFree(idx), PyMem_RawFree(work);
        release(&v);
        return PyErr_NoMemory();
    }
    Marginal g = {.d = d, .k = k, .tri = tri, .obs = idx, .mis = idx + d};
    marginal_place(&g, work);
    Py_ssize_t n_handed = 0;
    int failed = 0;
    char *resp = v.held[G_RESP] ? b[G_RESP].buf : NULL;
    const double *sw = v.held[G_SW] ? b[G_SW].buf : NULL, *given = v.held[G_GIVEN] ? b[G_GIVEN].buf : NULL;
    const double *bg = v.held[G_BG] ? b[G_BG].buf : NULL;
    int64_t *labels = v.held[G_LABELS] ? b[G_LABELS].buf : NULL;
    double *lse = b[G_LSE].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t p = first; p < P && bounds[p] < stop && !failed; p++) {
        const Py_ssize_t r0 = bounds[p] > start ? bounds[p] : start;
        const Py_ssize_t r1 = bounds[p + 1] < stop ? bounds[p + 1] : stop;
        if (r1 <= r0) continue;
        if (!marginal_of(&g, observed + p * d, b[G_COV].buf, b[G_MU].buf, b[G_LOGW].buf,
                         b[G_ISCALE].buf, b[G_LSCALE].buf, stats)) {
            handed[n_handed++] = p;
            continue;
        }
        const Py_ssize_t no = g.no, m = r1 - r0;
        Chunk c = {
            .x = (const char *)b[G_VALUES].buf + (size_t)(offsets[p] + (r0 - bounds[p]) * no) * item,
            .x_float32 = item == 4, .m = m, .d = no, .k = k, .xs0 = no * (Py_ssize_t)item,
            .xs1 = (Py_ssize_t)item, .inv_scale = g.isc, .mu = g.mu, .u = g.u, .tri = tri,
            .base = g.base, .lse = lse + r0,
            .resp = resp ? resp + r0 * b[G_RESP].strides[0] : NULL,
            .resp_float32 = resp && b[G_RESP].itemsize == 4,
            .rs0 = resp ? b[G_RESP].strides[0] : 0, .rs1 = resp ? b[G_RESP].strides[1] : 0,
            .labels = labels ? labels + r0 : NULL, .sw = sw ? sw + r0 : NULL,
            .nk = stats ? g.nk : NULL, .s1 = stats ? g.s1 : NULL, .s2 = stats ? g.s2 : NULL,
            .hard = hard, .given = given ? given + r0 * k : NULL, .bg = bg ? bg + r0 : NULL,
        };
        c.spherical = spherical_factors(&c);
        if (stats) {
            memset(g.nk, 0, (size_t)k * sizeof(double));
            memset(g.s1, 0, (size_t)(k * no) * sizeof(double));
            memset(g.s2, 0, (size_t)(k * no * (tri ? no : 1)) * sizeof(double));
        }
        const int clean = run_chunk(&c, 0, 0, NULL);
        if (clean < 0)
            failed = 1;
        else if (!clean)
            handed[n_handed++] = p;
        else if (stats)
            marginal_lift(&g, b[G_NK].buf, b[G_S1].buf, b[G_S2].buf);
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(idx), PyMem_RawFree(work);
    release(&v);
    PyObject *out = failed ? PyErr_NoMemory() : PyList_New(n_handed);
    for (Py_ssize_t i = 0; out && !failed && i < n_handed; i++) {
        PyObject *item_p = PyLong_FromSsize_t(handed[i]);
        if (!item_p) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item_p);
    }
    PyMem_RawFree(handed);
    return out;
}

static PyObject *py_target(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(target_name);
}

static PyObject *py_use_target(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    return PyBool_FromLong(use_target(name));
}

/* The first rows of the numpy path's expanded features: out[a, i] = (x[i, a] - centre[a]) *
   inv_scale[a], the same two float64 roundings as numpy's, for float32 or float64 rows of
   any strides (numpy's own transposing copy out of float32 rows, with the cast, is slower
   than out of float64 rows).  Rows go 64 at a time, so that a tile's rows stay in cache
   while each output row is written. */
static PyObject *py_centred_columns(PyObject *self, PyObject *args) {
    PyObject *o[4];
    if (!PyArg_ParseTuple(args, "OOOO", &o[0], &o[1], &o[2], &o[3])) return NULL;
    Views v = {0};
    if (view(&v, 0, o[0], "x", 2, "df", 0, 0, 0) < 0 ||
        view(&v, 1, o[1], "centre", 1, "d", 0, 1, 0) < 0 ||
        view(&v, 2, o[2], "inv_scale", 1, "d", 0, 1, 0) < 0 ||
        view(&v, 3, o[3], "out", 2, "d", 1, 0, 0) < 0) {
        release(&v);
        return NULL;
    }
    Py_buffer *b = v.view;
    const Py_ssize_t m = b[0].shape[0], d = b[0].shape[1];
    if (b[1].shape[0] != d || b[2].shape[0] != d || b[3].shape[0] != d || b[3].shape[1] != m ||
        b[3].strides[1] != sizeof(double) || b[3].strides[0] % sizeof(double) != 0) {
        release(&v);
        PyErr_SetString(PyExc_ValueError,
                        "centred_columns: x (m, d), centre and inv_scale (d,), out (d, m) with "
                        "unit column stride");
        return NULL;
    }
    const char *x = b[0].buf;
    const Py_ssize_t xs0 = b[0].strides[0], xs1 = b[0].strides[1];
    const double *c = b[1].buf, *sc = b[2].buf;
    double *out = b[3].buf;
    const Py_ssize_t os = b[3].strides[0] / (Py_ssize_t)sizeof(double);
    const int f32 = b[0].itemsize == 4;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i0 = 0; i0 < m; i0 += 64) {
        const Py_ssize_t i1 = i0 + 64 < m ? i0 + 64 : m;
        for (Py_ssize_t a = 0; a < d; a++) {
            double *row = out + a * os;
            const double ca = c[a], sa = sc[a];
            const char *col = x + a * xs1;
            if (f32)
                for (Py_ssize_t i = i0; i < i1; i++)
                    row[i] = ((double)*(const float *)(col + i * xs0) - ca) * sa;
            else
                for (Py_ssize_t i = i0; i < i1; i++)
                    row[i] = (*(const double *)(col + i * xs0) - ca) * sa;
        }
    }
    Py_END_ALLOW_THREADS
    release(&v);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"mixture_chunk", (PyCFunction)(void (*)(void))py_mixture_chunk,
     METH_VARARGS | METH_KEYWORDS,
     "mixture_chunk(x, inv_scale, means, factors, base, lse=None, resp=None, labels=None, *,\n"
     "              shift=None, transform=None, sample_weight=None, nk=None, s1=None,\n"
     "              s2=None, float32_products=False, float32_statistics=False,\n"
     "              float64_components=None, hard=False, given=None,\n"
     "              background=None) -> bool\n\n"
     "Log-sum-exp (m,), responsibilities (m, k) and labels (m,) of the rows x (m, d) under a\n"
     "Gaussian mixture: with y = x * inv_scale (inv_scale (d,), powers of two, per feature),\n"
     "log p_j(x) = base[j] - |(y - means[j]) U_j|^2 / 2, where U_j is diag(factors[j]) for\n"
     "factors of shape (k, d) and the upper triangle of factors[j] for (k, d, d).  With\n"
     "diagonal factors, a shift (d,) and an upper-triangular transform T (d, d) make\n"
     "y = (x * inv_scale - shift) T, one product per row for all components.  Without a\n"
     "transform, the statistics sum_i w_i r_ij, sum_i w_i r_ij (y_i - means[j]) and\n"
     "sum_i w_i r_ij (y_i - means[j])^2 (diagonal factors; (y_i - means[j])(y_i - means[j])^T\n"
     "with triangular ones) are added to nk (k,), s1 (k, d) and s2 (k, d) or (k, d, d)\n"
     "(r the responsibilities, w the sample weights or 1); with spherical factors (one\n"
     "value per component) s2 may be (k,): the mean over features of the diagonal sums.\n"
     "float32_products (float32 x, triangular factors): the products (y - means[j]) U_j in\n"
     "float32 lanes, from differences formed in float64.  float32_statistics (with\n"
     "float32_products): the statistics in the coordinates of y_j = (x * inv_scale -\n"
     "means[j]) U_j instead, sum_i w_i r_ij y_ij and sum_i w_i r_ij y_ij^T y_ij, summed in\n"
     "float32 lanes over at most 256 rows and then in float64 (nk stays float64), except for\n"
     "the components flagged in float64_components (bool (k,)), whose statistics are as\n"
     "without float32_statistics.  background (m,): each row's log-density under one more\n"
     "column after the k components, in the maxima (label -1), the log-sum-exp and resp\n"
     "(then (m, k + 1)), not in the statistics.  Any of\n"
     "lse, resp and labels may be None (resp needs lse).  Returns False, with the outputs\n"
     "partly written (the statistics untouched), if some row's largest log-density is not\n"
     "finite."},
    {"marginal_chunk", (PyCFunction)(void (*)(void))py_marginal_chunk,
     METH_VARARGS | METH_KEYWORDS,
     "marginal_chunk(values, offsets, bounds, observed, start, stop, inv_scale, means,\n"
     "               covariances, log_weights, log_scale, lse, resp=None, labels=None, *,\n"
     "               sample_weight=None, nk=None, s1=None, s2=None, hard=False,\n"
     "               given=None, background=None) -> list\n\n"
     "mixture_chunk's outputs for rows with missing values, rows start to stop - 1 of rows\n"
     "grouped by missingness pattern: pattern p (observed, bool (P, d)) holds rows bounds[p]\n"
     "to bounds[p + 1] - 1, whose observed values alone are values[offsets[p]:offsets[p + 1]]\n"
     "(row-major).  Each row's log-density under component j is its marginal on the observed\n"
     "coordinates o, log_weights[j] + log N(y_o; means[j, o], S_j,oo) - sum_o log_scale[o],\n"
     "y = x * inv_scale (inv_scale and log_scale (d,), per feature; means in units of the\n"
     "scales, covariances (k, d, d), or variances (k, d), in the internal frame).  lse, resp,\n"
     "labels, sample_weight and given are per grouped row (all rows, not start to stop), and\n"
     "so is background: each row's log-density under a column after the components, as\n"
     "mixture_chunk's (resp then (n, k + 1)).  The statistics nk (k,), s1 (k, d) and s2 (k, d, d) or\n"
     "(k, d) get the expected complete-data sums about the means: the conditional\n"
     "expectations of the missing coordinates and their conditional covariances.  Returns the\n"
     "patterns whose rows (within start to stop) were handed back, nothing of them added to\n"
     "the statistics: a row's largest log-density not finite, or a marginal covariance not\n"
     "positive-definite in floating point."},
    {"centred_columns", py_centred_columns, METH_VARARGS,
     "centred_columns(x, centre, inv_scale, out) -> None: out[a, i] = (x[i, a] - centre[a]) *\n"
     "inv_scale[a] in float64, for x (m, d) float32 or float64 of any strides, out (d, m)\n"
     "float64 with unit column stride (a view of a larger buffer's rows is fine)."},
    {"target", py_target, METH_NOARGS,
     "target() -> str: the instruction set of the variant in use."},
    {"use_target", py_use_target, METH_VARARGS,
     "use_target(name) -> bool: switch to the variant for 'avx512f', 'avx2' or 'baseline'\n"
     "(for tests; not thread-safe); False, changing nothing, if this CPU cannot run it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gaussmix._kernels",
    "The fused prediction pass of Gaussian mixtures (see gaussmix/engine/).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    choose_kernel();
    return PyModule_Create(&module);
}
