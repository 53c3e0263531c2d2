/*
 * gaussmix._hierarchy: the model-based hierarchical agglomeration of gaussmix.hierarchy in C.
 *
 * The same algorithm as the numpy version of gaussmix/hierarchy.py (agglomerate), step for
 * step and with the same ties: a matrix of merge costs, each cluster's cheapest partner, and
 * after every merge the merged cluster's costs against every other cluster (a determinant of
 * a d x d matrix each, by LU with partial pivoting, for merges of more than d rows; against
 * a single row, by the merged cluster's Cholesky factor and the matrix determinant lemma, the
 * same value to rounding).  The numpy version makes one array operation per merge; here the
 * work per merge is a few loops over the active clusters, which is what the agglomeration of
 * a few thousand rows costs.
 *
 * Optional, as gaussmix._kernels: where it was not built the numpy version runs.  The GIL is
 * released while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_ssize_t m, d;
    double alpha, beta;
    const double *z;  /* (m, d) */
    double *cost;     /* (m, m) */
    double *count, *mean, *scatter, *trace, *term, *best_cost, *work;
    int64_t *best, *active; /* active: the indices of the active clusters, in order */
    Py_ssize_t n_active;
    /* the cluster whose scatter is factored (-1: none), its Cholesky factor L (d x d, stored
     * transposed: row j holds column j, for the solves' contiguous updates) and
     * det(W / (n + 1)) for its n rows: the determinant of a merge with one row */
    Py_ssize_t factored;
    double *factor, factor_det;
} State;

/* below this, the smallest ratio of a pivot of the scatter's Cholesky factor (squared) to
 * its diagonal entry, the scatter is too near singular for the determinant lemma's product
 * of a small determinant and a large quadratic form: the merged matrix is factored instead */
#define LEMMA_PIVOT 1e-8

/* n log(max(det, 0) + beta (t + alpha) / n): the criterion of a cluster */
static double criterion(double n, double det, double trace, double alpha, double beta) {
    return n * log((det > 0.0 ? det : 0.0) + beta * (trace + alpha) / n);
}

/* determinant of the d x d matrix a (overwritten), LU with partial pivoting */
static double determinant(double *a, Py_ssize_t d) {
    double det = 1.0;
    for (Py_ssize_t c = 0; c < d; c++) {
        Py_ssize_t p = c;
        double big = fabs(a[c * d + c]);
        for (Py_ssize_t r = c + 1; r < d; r++)
            if (fabs(a[r * d + c]) > big) big = fabs(a[r * d + c]), p = r;
        if (big == 0.0) return 0.0;
        if (p != c) {
            for (Py_ssize_t j = 0; j < d; j++) {
                double t = a[c * d + j];
                a[c * d + j] = a[p * d + j];
                a[p * d + j] = t;
            }
            det = -det;
        }
        double pivot = a[c * d + c];
        det *= pivot;
        for (Py_ssize_t r = c + 1; r < d; r++) {
            double f = a[r * d + c] / pivot;
            if (f == 0.0) continue;
            for (Py_ssize_t j = c + 1; j < d; j++) a[r * d + j] -= f * a[c * d + j];
        }
    }
    return det;
}

/* factor the scatter of cluster a (n > d - 1 rows) for its merges with single rows; leaves
 * s->factored at -1 where it is not positive-definite enough */
static void factor_scatter(State *s, Py_ssize_t a) {
    Py_ssize_t d = s->d;
    const double *w = s->scatter + a * d * d;
    double *l = s->work + d, det = 1.0, n1 = s->count[a] + 1.0; /* the merged matrix's room */
    s->factored = -1;
    for (Py_ssize_t j = 0; j < d; j++) {
        double v = w[j * d + j];
        for (Py_ssize_t k = 0; k < j; k++) v -= l[j * d + k] * l[j * d + k];
        if (!(v > LEMMA_PIVOT * w[j * d + j])) return;
        double root = sqrt(v);
        l[j * d + j] = root;
        det *= v / n1;
        for (Py_ssize_t i = j + 1; i < d; i++) {
            double x = w[i * d + j];
            for (Py_ssize_t k = 0; k < j; k++) x -= l[i * d + k] * l[j * d + k];
            l[i * d + j] = x / root;
        }
    }
    for (Py_ssize_t i = 0; i < d; i++)
        for (Py_ssize_t j = 0; j <= i; j++) s->factor[j * d + i] = l[i * d + j];
    s->factored = a;
    s->factor_det = det;
}

/* the cost of merging clusters a and o */
static double merge_cost(State *s, Py_ssize_t a, Py_ssize_t o) {
    Py_ssize_t d = s->d;
    double na = s->count[a], no = s->count[o], n = na + no, c = na * no / n;
    const double *ma = s->mean + a * d, *mo = s->mean + o * d;
    double *delta = s->work, *merged = s->work + d;
    double sq = 0.0;
    for (Py_ssize_t i = 0; i < d; i++) {
        delta[i] = mo[i] - ma[i];
        sq += delta[i] * delta[i];
    }
    double t = s->trace[a] + s->trace[o] + c * sq;
    double det = 0.0;
    if (n > (double)d && s->factored == a && no == 1.0) {
        /* o is one row: det(W_a + c delta delta^T) = det(W_a) (1 + c delta^T W_a^-1 delta)
         * (the matrix determinant lemma), by the factor of W_a: d^2 / 2 operations, not the
         * d^3 / 3 of factoring the merged matrix (a chain of merges into one cluster, as
         * unstructured rows give, would otherwise cost m^2 d^3 / 6) */
        const double *lt = s->factor;
        double *y = s->factor + d * d, q = 0.0;
        memcpy(y, delta, d * sizeof(double));
        for (Py_ssize_t i = 0; i < d; i++) { /* y = L^-1 delta, by columns of L */
            double yi = y[i] / lt[i * d + i];
            q += yi * yi;
            for (Py_ssize_t r = i + 1; r < d; r++) y[r] -= lt[i * d + r] * yi;
        }
        det = s->factor_det * (1.0 + c * q);
    } else if (n > (double)d) { /* fewer rows: a singular scatter, det zero */
        const double *wa = s->scatter + a * d * d, *wo = s->scatter + o * d * d;
        for (Py_ssize_t i = 0; i < d; i++)
            for (Py_ssize_t j = 0; j < d; j++)
                merged[i * d + j] = (wo[i * d + j] + wa[i * d + j] + c * delta[i] * delta[j]) / n;
        det = determinant(merged, d);
    }
    return criterion(n, det, t, s->alpha, s->beta) - s->term[a] - s->term[o];
}

/* the cheapest partner of cluster r among the active ones (the first on ties: the active
 * list is in increasing order) */
static void find_best(State *s, Py_ssize_t r) {
    const double *row = s->cost + r * s->m;
    int64_t at = -1;
    double low = INFINITY;
    for (Py_ssize_t q = 0; q < s->n_active; q++) {
        int64_t o = s->active[q];
        if (at < 0 || row[o] < low) low = row[o], at = o;
    }
    s->best[r] = at < 0 ? 0 : at;
    s->best_cost[r] = low;
}

static void run(State *s, int64_t *merges, double *costs) {
    Py_ssize_t m = s->m, d = s->d;
    double *cost = s->cost;
    for (Py_ssize_t i = 0; i < m; i++) {
        s->count[i] = 1.0;
        memcpy(s->mean + i * d, s->z + i * d, d * sizeof(double));
        s->trace[i] = 0.0;
        s->term[i] = criterion(1.0, 0.0, 0.0, s->alpha, s->beta);
        s->active[i] = i;
    }
    memset(s->scatter, 0, m * d * d * sizeof(double));
    s->n_active = m;
    /* every pair of singletons: two rows, scatter v v^T / 2 with v their difference */
    double single = s->term[0];
    for (Py_ssize_t i = 0; i < m; i++) {
        cost[i * m + i] = INFINITY;
        for (Py_ssize_t j = i + 1; j < m; j++) {
            double sq = 0.0;
            for (Py_ssize_t f = 0; f < d; f++) {
                double v = s->z[i * d + f] - s->z[j * d + f];
                sq += v * v;
            }
            double det = d == 1 ? sq / 4.0 : 0.0;
            cost[i * m + j] = cost[j * m + i] =
                criterion(2.0, det, sq / 2.0, s->alpha, s->beta) - 2.0 * single;
        }
    }
    for (Py_ssize_t i = 0; i < m; i++) find_best(s, i);
    for (Py_ssize_t step = 0; step < m - 1; step++) {
        Py_ssize_t i = 0;
        for (Py_ssize_t q = 1; q < s->n_active; q++)
            if (s->best_cost[s->active[q]] < s->best_cost[s->active[i]]) i = q;
        i = s->active[i];
        Py_ssize_t j = s->best[i];
        Py_ssize_t a = i < j ? i : j, b = i < j ? j : i;
        merges[2 * step] = a;
        merges[2 * step + 1] = b;
        costs[step] = s->best_cost[i];
        /* a absorbs b */
        double na = s->count[a], nb = s->count[b], c = na * nb / (na + nb), sq = 0.0;
        double *delta = s->work, *ma = s->mean + a * d, *wa = s->scatter + a * d * d;
        const double *wb = s->scatter + b * d * d;
        for (Py_ssize_t f = 0; f < d; f++) {
            delta[f] = s->mean[b * d + f] - ma[f];
            sq += delta[f] * delta[f];
        }
        for (Py_ssize_t f = 0; f < d; f++)
            for (Py_ssize_t g = 0; g < d; g++)
                wa[f * d + g] += wb[f * d + g] + c * delta[f] * delta[g];
        s->trace[a] += s->trace[b] + c * sq;
        for (Py_ssize_t f = 0; f < d; f++) ma[f] += (nb / (na + nb)) * delta[f];
        s->count[a] = na + nb;
        s->term[a] = cost[a * m + b] + s->term[a] + s->term[b];
        /* b leaves */
        Py_ssize_t w = 0;
        for (Py_ssize_t q = 0; q < s->n_active; q++)
            if (s->active[q] != b) s->active[w++] = s->active[q];
        s->n_active = w;
        for (Py_ssize_t q = 0; q < m; q++) cost[b * m + q] = cost[q * m + b] = INFINITY;
        s->best_cost[b] = INFINITY;
        if (step == m - 2) break;
        if (s->count[a] + 1.0 > (double)d) factor_scatter(s, a);
        for (Py_ssize_t q = 0; q < s->n_active; q++) {
            int64_t o = s->active[q];
            if (o == a) continue;
            cost[a * m + o] = cost[o * m + a] = merge_cost(s, a, o);
        }
        s->factored = -1;
        /* clusters whose best partner was a or b look again, unless the merged cluster costs
         * them no more than their best did (every other cost is as it was, and none before
         * a on the list tied with the old best, which came first); the others compare
         * with a */
        for (Py_ssize_t q = 0; q < s->n_active; q++) {
            int64_t o = s->active[q];
            if (o == a) continue;
            double x = cost[o * m + a];
            if (s->best[o] == a || s->best[o] == b) {
                if (x <= s->best_cost[o]) {
                    s->best[o] = a;
                    s->best_cost[o] = x;
                } else {
                    find_best(s, o);
                }
                continue;
            }
            if (x < s->best_cost[o] || (x == s->best_cost[o] && a < s->best[o])) {
                s->best[o] = a;
                s->best_cost[o] = x;
            }
        }
        find_best(s, a);
    }
}

static PyObject *py_agglomerate(PyObject *self, PyObject *args) {
    PyObject *zo, *mo, *co;
    double alpha, beta;
    if (!PyArg_ParseTuple(args, "OddOO", &zo, &alpha, &beta, &mo, &co)) return NULL;
    Py_buffer z = {0}, merges = {0}, costs = {0};
    if (PyObject_GetBuffer(zo, &z, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0) return NULL;
    if (PyObject_GetBuffer(mo, &merges, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&z);
        return NULL;
    }
    if (PyObject_GetBuffer(co, &costs, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&z);
        PyBuffer_Release(&merges);
        return NULL;
    }
    PyObject *result = NULL;
    if (z.ndim != 2 || strcmp(z.format, "d") != 0 || merges.itemsize != 8 ||
        costs.itemsize != 8 || strcmp(costs.format, "d") != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "agglomerate: z must be float64 (m, d), merges int64, costs float64");
        goto done;
    }
    Py_ssize_t m = z.shape[0], d = z.shape[1];
    if (m < 2 || merges.len != 16 * (m - 1) || costs.len != 8 * (m - 1)) {
        PyErr_SetString(PyExc_ValueError, "agglomerate: need m >= 2, merges (m-1, 2), costs (m-1,)");
        goto done;
    }
    State s = {.m = m, .d = d, .alpha = alpha, .beta = beta, .z = z.buf, .factored = -1};
    /* work: delta (d), the merged matrix (d x d), the factor (d x d), a solve (d) */
    size_t doubles = (size_t)m * m + (size_t)m * (6 + d + d * d) + (size_t)(3 * d + 2 * d * d);
    s.cost = PyMem_RawMalloc(doubles * sizeof(double));
    s.best = PyMem_RawMalloc(2 * (size_t)m * sizeof(int64_t));
    if (s.cost == NULL || s.best == NULL) {
        PyMem_RawFree(s.cost);
        PyMem_RawFree(s.best);
        PyErr_NoMemory();
        goto done;
    }
    s.active = s.best + m;
    s.count = s.cost + (size_t)m * m;
    s.trace = s.count + m;
    s.term = s.trace + m;
    s.best_cost = s.term + m;
    s.mean = s.best_cost + m;
    s.scatter = s.mean + (size_t)m * d;
    s.work = s.scatter + (size_t)m * d * d;
    s.factor = s.work + d + d * d;
    Py_BEGIN_ALLOW_THREADS
    run(&s, merges.buf, costs.buf);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(s.cost);
    PyMem_RawFree(s.best);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&z);
    PyBuffer_Release(&merges);
    PyBuffer_Release(&costs);
    return result;
}

static PyMethodDef methods[] = {
    {"agglomerate", py_agglomerate, METH_VARARGS,
     "agglomerate(z, alpha, beta, merges, costs) -> None\n\n"
     "The model-based hierarchical agglomeration of the rows of z (m, d) float64 under the\n"
     "criterion n log(det(W / n) + beta (t + alpha) / n) (see gaussmix.hierarchy): the m - 1\n"
     "merges are written to merges (m - 1, 2) int64 (the first rows of the two clusters),\n"
     "their costs to costs (m - 1,) float64."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gaussmix._hierarchy",
    "The model-based hierarchical agglomeration (see gaussmix/hierarchy.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hierarchy(void) { return PyModule_Create(&module); }
