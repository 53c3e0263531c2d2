/*
 * gaussmix._jacobi: one sweep of exact Jacobi rotations of a common orientation in C.
 *
 * The same sweep as gaussmix/covariance/_orientation.py (rotation_sweep_numpy): the
 * orientation D of the models EVE and VVE minimising sum_k tr(W_k D diag(m_k) D^T), each pair
 * (a, b) of columns rotated by the exact minimiser 2t = atan2(-B, -A) of the change, in the
 * order of the pairs given (the numpy version rotates a round of disjoint pairs at once, which
 * is the same as one after another).  The numpy version spends its time in the interpreter
 * on d x d products; here a sweep is a few k d^3 loops.
 *
 * orient runs the whole alternation of the common orientation's M-step (the sweeps and the
 * eigenvalues' closed form between them, and the stopping rule of
 * gaussmix/covariance/_constrained.py's iterate) without returning to Python.
 *
 * Optional, as gaussmix._kernels: where it was not built the numpy version runs.  The GIL is
 * released while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* one sweep of D (d, d) in place; G is scratch of (k + 1) d^2 doubles */
static void run(Py_ssize_t k, Py_ssize_t d, const double *W, const double *m,
                const int64_t *pairs, Py_ssize_t n_pairs, double *D, double *G) {
    /* G_k = D^T (W_k D), T = W_k D (d, d) the scratch after G */
    double *T = G + k * d * d;
    for (Py_ssize_t c = 0; c < k; c++) {
        const double *w = W + c * d * d;
        double *g = G + c * d * d;
        for (Py_ssize_t p = 0; p < d; p++)
            for (Py_ssize_t j = 0; j < d; j++) {
                double t = 0.0;
                for (Py_ssize_t q = 0; q < d; q++) t += w[p * d + q] * D[q * d + j];
                T[p * d + j] = t;
            }
        for (Py_ssize_t i = 0; i < d; i++)
            for (Py_ssize_t j = 0; j < d; j++) {
                double s = 0.0;
                for (Py_ssize_t p = 0; p < d; p++) s += D[p * d + i] * T[p * d + j];
                g[i * d + j] = s;
            }
    }
    for (Py_ssize_t r = 0; r < n_pairs; r++) {
        Py_ssize_t a = (Py_ssize_t)pairs[2 * r], b = (Py_ssize_t)pairs[2 * r + 1];
        double A = 0.0, B = 0.0;
        for (Py_ssize_t c = 0; c < k; c++) {
            const double *g = G + c * d * d;
            double dm = m[c * d + a] - m[c * d + b];
            A += dm * (g[a * d + a] - g[b * d + b]);
            B += dm * g[a * d + b];
        }
        A *= 0.5;
        /* no gain (A = B = 0, exactly): no rotation, rather than atan2's arbitrary angle */
        if (A == 0.0 && B == 0.0) continue;
        double half = 0.5 * atan2(-B, -A), cs = cos(half), sn = sin(half);
        /* columns a, b of D and of each G_k, then rows a, b of each G_k */
        for (Py_ssize_t i = 0; i < d; i++) {
            double x = D[i * d + a], y = D[i * d + b];
            D[i * d + a] = cs * x + sn * y;
            D[i * d + b] = cs * y - sn * x;
        }
        for (Py_ssize_t c = 0; c < k; c++) {
            double *g = G + c * d * d;
            for (Py_ssize_t i = 0; i < d; i++) {
                double x = g[i * d + a], y = g[i * d + b];
                g[i * d + a] = cs * x + sn * y;
                g[i * d + b] = cs * y - sn * x;
            }
            for (Py_ssize_t j = 0; j < d; j++) {
                double x = g[a * d + j], y = g[b * d + j];
                g[a * d + j] = cs * x + sn * y;
                g[b * d + j] = cs * y - sn * x;
            }
        }
    }
}

static int get(PyObject *o, Py_buffer *view, int flags, const char *format, int ndim) {
    if (PyObject_GetBuffer(o, view, flags | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return -1;
    if (view->ndim != ndim || view->itemsize != 8 ||
        (format != NULL && strcmp(view->format, format) != 0)) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError,
                        "gaussmix._jacobi: the arrays must be C-contiguous, float64 (pairs "
                        "int64 (p, 2)), of the shapes the function's docstring gives");
        return -1;
    }
    return 0;
}

/* whether every index of pairs (n_pairs, 2) is in 0 .. d - 1; if not, a ValueError is set */
static int pairs_in_range(const int64_t *pairs, Py_ssize_t n_pairs, Py_ssize_t d) {
    for (Py_ssize_t i = 0; i < 2 * n_pairs; i++)
        if (pairs[i] < 0 || pairs[i] >= d) {
            PyErr_SetString(PyExc_ValueError, "gaussmix._jacobi: a pair's index is out of range");
            return 0;
        }
    return 1;
}

static PyObject *py_sweep(PyObject *self, PyObject *args) {
    PyObject *objects[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objects[0], &objects[1], &objects[2], &objects[3],
                          &objects[4]))
        return NULL;
    static const int ndims[5] = {2, 3, 2, 2, 2};
    static const char *formats[5] = {"d", "d", "d", NULL, "d"};
    Py_buffer views[5];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 5; got++) {
        int flags = got == 4 ? PyBUF_WRITABLE : 0;
        if (get(objects[got], &views[got], flags, formats[got], ndims[got]) < 0) goto done;
    }
    Py_ssize_t d = views[0].shape[0], k = views[1].shape[0], n_pairs = views[3].shape[0];
    if (views[0].shape[1] != d || views[1].shape[1] != d || views[1].shape[2] != d ||
        views[2].shape[0] != k || views[2].shape[1] != d || views[3].shape[1] != 2 ||
        views[4].shape[0] != d || views[4].shape[1] != d) {
        PyErr_SetString(PyExc_ValueError, "sweep: shapes do not agree");
        goto done;
    }
    const int64_t *pairs = views[3].buf;
    if (!pairs_in_range(pairs, n_pairs, d)) goto done;
    double *G = PyMem_RawMalloc((size_t)((k + 1) * d * d + 1) * sizeof(double));
    if (G == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    memcpy(views[4].buf, views[0].buf, (size_t)(d * d) * sizeof(double));
    run(k, d, views[1].buf, views[2].buf, pairs, n_pairs, views[4].buf, G);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(G);
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}


/* the eigenvalues delta (k, d) of D given the scatters S (k, d, d) and the objective
 * sum_k n_k (sum_i log delta_ki + e_ki / delta_ki), e_ki = D[:, i]^T S_k D[:, i]; with
 * equal_volume, delta_k = e_k scaled to the weighted mean of the e_k's geometric means */
static double eigenvalues(Py_ssize_t k, Py_ssize_t d, const double *D, const double *S,
                          const double *n, int equal_volume, double *e, double *delta) {
    for (Py_ssize_t c = 0; c < k; c++) {
        const double *s = S + c * d * d;
        for (Py_ssize_t i = 0; i < d; i++) {
            double v = 0.0;
            for (Py_ssize_t p = 0; p < d; p++) {
                double t = 0.0;
                for (Py_ssize_t q = 0; q < d; q++) t += s[p * d + q] * D[q * d + i];
                v += D[p * d + i] * t;
            }
            e[c * d + i] = v;
        }
    }
    if (equal_volume) {
        double total = 0.0, weighted = 0.0;
        for (Py_ssize_t c = 0; c < k; c++) {
            double logs = 0.0;
            for (Py_ssize_t i = 0; i < d; i++) logs += log(e[c * d + i]);
            delta[c * d] = exp(logs / (double)d); /* the geometric mean, for now */
            total += n[c];
            weighted += n[c] * delta[c * d];
        }
        for (Py_ssize_t c = 0; c < k; c++) {
            double scale = weighted / total / delta[c * d];
            for (Py_ssize_t i = 0; i < d; i++) delta[c * d + i] = e[c * d + i] * scale;
        }
    } else {
        memcpy(delta, e, (size_t)(k * d) * sizeof(double));
    }
    double value = 0.0;
    for (Py_ssize_t c = 0; c < k; c++) {
        double logs = 0.0, ratios = 0.0;
        for (Py_ssize_t i = 0; i < d; i++) {
            logs += log(delta[c * d + i]);
            ratios += e[c * d + i] / delta[c * d + i];
        }
        value += n[c] * (logs + ratios);
    }
    return value;
}

/* alternate sweeps of D and the eigenvalues' closed form from D (in place) until a step
 * lowers the objective by at most threshold, max_iter steps at most; a step that would
 * raise it (or make it NaN) is not taken. Scratch: (k + 1) d^2 + 4 k d + d^2 doubles. */
static void orient(Py_ssize_t k, Py_ssize_t d, const double *W, const double *S,
                   const double *n, int equal_volume, double threshold, long max_iter,
                   const int64_t *pairs, Py_ssize_t n_pairs, double *D, double *delta,
                   double *scratch) {
    double *G = scratch, *e = G + (k + 1) * d * d, *m = e + k * d, *new_delta = m + k * d;
    double *new_D = new_delta + k * d;
    eigenvalues(k, d, D, S, n, equal_volume, e, delta);
    double best = INFINITY;
    for (long it = 0; it < max_iter; it++) {
        for (Py_ssize_t i = 0; i < k * d; i++) m[i] = 1.0 / delta[i];
        memcpy(new_D, D, (size_t)(d * d) * sizeof(double));
        run(k, d, W, m, pairs, n_pairs, new_D, G);
        double value = eigenvalues(k, d, new_D, S, n, equal_volume, e, new_delta);
        if (best < INFINITY && !(value <= best)) break;
        int done = !(best - value > threshold);
        memcpy(D, new_D, (size_t)(d * d) * sizeof(double));
        memcpy(delta, new_delta, (size_t)(k * d) * sizeof(double));
        best = value;
        if (done) break;
    }
}

static PyObject *py_orient(PyObject *self, PyObject *args) {
    PyObject *objects[6];
    int equal_volume;
    double threshold;
    long max_iter;
    if (!PyArg_ParseTuple(args, "OOOOpdlOO", &objects[0], &objects[1], &objects[2],
                          &objects[3], &equal_volume, &threshold, &max_iter, &objects[4],
                          &objects[5]))
        return NULL;
    /* D (in/out), W, S, n, pairs, delta (out) */
    static const int ndims[6] = {2, 3, 3, 1, 2, 2};
    static const char *formats[6] = {"d", "d", "d", "d", NULL, "d"};
    Py_buffer views[6];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 6; got++) {
        int flags = (got == 0 || got == 5) ? PyBUF_WRITABLE : 0;
        if (get(objects[got], &views[got], flags, formats[got], ndims[got]) < 0) goto done;
    }
    Py_ssize_t d = views[0].shape[0], k = views[1].shape[0], n_pairs = views[4].shape[0];
    if (views[0].shape[1] != d || views[1].shape[1] != d || views[1].shape[2] != d ||
        views[2].shape[0] != k || views[2].shape[1] != d || views[2].shape[2] != d ||
        views[3].shape[0] != k || views[4].shape[1] != 2 || views[5].shape[0] != k ||
        views[5].shape[1] != d) {
        PyErr_SetString(PyExc_ValueError, "orient: shapes do not agree");
        goto done;
    }
    const int64_t *pairs = views[4].buf;
    if (!pairs_in_range(pairs, n_pairs, d)) goto done;
    double *scratch = PyMem_RawMalloc((size_t)((k + 2) * d * d + 4 * k * d + 1) * sizeof(double));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    orient(k, d, views[1].buf, views[2].buf, views[3].buf, equal_volume, threshold, max_iter,
           pairs, n_pairs, views[0].buf, views[5].buf, scratch);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"sweep", py_sweep, METH_VARARGS,
     "sweep(D, W, m, pairs, out) -> None\n\n"
     "One sweep of exact Jacobi rotations of the orientation D (d, d) lowering\n"
     "sum_k tr(W_k D diag(m_k) D^T), W (k, d, d), m (k, d), over the column pairs (p, 2) int64\n"
     "in order; the swept orientation is written to out (d, d). All float64, C-contiguous."},
    {"orient", py_orient, METH_VARARGS,
     "orient(D, W, S, n, equal_volume, threshold, max_iter, pairs, delta) -> None\n\n"
     "The common orientation's alternation of gaussmix/covariance/common_orientation.py:\n"
     "sweeps of D (d, d, updated in place) and the eigenvalues' closed form, written to\n"
     "delta (k, d), from the scatters S (k, d, d), their weights n (k,) and W = n S, until a\n"
     "step lowers the objective by at most threshold (max_iter steps at most)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gaussmix._jacobi",
    "Jacobi rotations of a common orientation (see gaussmix/covariance/_orientation.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jacobi(void) { return PyModule_Create(&module); }
