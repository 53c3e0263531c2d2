/* gaussmix report: draws the JSON embedded in #gm-data into the page's inline SVGs.
 *
 * Python made every fit (each candidate, each EM iteration replayed, the failure
 * demonstrations) and embedded their parameters; this script evaluates those mixtures at
 * the drawn points (memberships, log-densities, contours), projects them on the axes the
 * reader picks, and maps numbers to pixels.  It fits nothing.  No libraries, no network.
 */
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("gm-data").textContent);
  // The SVG namespace, read from the page's own inline SVG (keeps URLs out of this file).
  const SVG_NS = document.getElementById("main-plot").namespaceURI;
  const LOG_2PI = Math.log(2 * Math.PI);

  // ------------------------------------------------------------------ small helpers

  /** Create an SVG element with attributes, appended to parent when given. */
  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  /** Create an HTML element with a class and text. */
  function html(tag, cls, content, parent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined && content !== null) node.textContent = content;
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /** Linear map from [d0, d1] to [r0, r1]. */
  function linear(d0, d1, r0, r1) {
    const k = d1 !== d0 ? (r1 - r0) / (d1 - d0) : 0;
    const f = function (v) { return r0 + (v - d0) * k; };
    f.invert = function (p) { return k !== 0 ? d0 + (p - r0) / k : d0; };
    return f;
  }

  /** About `count` round tick values covering [lo, hi], and their spacing. */
  function ticks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0) || !isFinite(span)) return { values: [lo], step: 1 };
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    const step = (r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1) * mag;
    const values = [];
    // a span below the values' own precision has one tick (and no endless loop)
    if (step <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12) return { values: [lo], step: span };
    for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++) values.push(i * step);
    return { values: values, step: step };
  }

  /** Tick label with as many decimals as the spacing needs; exponents for extreme scales. */
  function tickLabel(v, step) {
    if (v === 0) return "0";
    if (Math.abs(v) >= 1e6 || step < 1e-4) return v.toExponential(1).replace("-", "\u2212");
    const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));
    return v.toFixed(decimals).replace("-", "\u2212");
  }

  /** Python's format(v, ".4g") with a true minus sign: the tables' number format. */
  function num(v, digits) {
    const p = digits || 4;
    if (v === null || v === undefined || !isFinite(v)) return "\u2014";
    if (v === 0) return "0";
    const parts = v.toExponential(p - 1).split("e");
    const exp = Number(parts[1]);
    let s;
    if (exp < -4 || exp >= p) {
      let mantissa = parts[0];
      if (mantissa.indexOf(".") >= 0) mantissa = mantissa.replace(/0+$/, "").replace(/\.$/, "");
      s = mantissa + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
    } else {
      s = v.toFixed(Math.max(0, p - 1 - exp));
      if (s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
    }
    return s.replace(/-/g, "\u2212");
  }

  /** A criterion or total log-likelihood: one decimal, thousands separators. */
  function total(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2014";
    return v.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }).replace("-", "\u2212");
  }

  function thousands(n) { return n.toLocaleString("en-US"); }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  /** Little-endian float32 (or float64) numbers from base64, as _encoding.pack wrote them. */
  function floats(b64, wide) {
    const bin = atob(b64), size = wide ? 8 : 4;
    const view = new DataView(new ArrayBuffer(bin.length));
    for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
    const out = new Float64Array(bin.length / size);
    for (let i = 0; i < out.length; i++) out[i] = wide ? view.getFloat64(8 * i, true) : view.getFloat32(4 * i, true);
    return out;
  }

  // Component colours: Tableau 10, then evenly spaced hues.
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
    "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"];
  function color(j) {
    return j < PALETTE.length ? PALETTE[j] : "hsl(" + ((j * 137.508) % 360).toFixed(0) + ",55%,48%)";
  }
  /** Uncertainty 0 (pale) .. 1 (dark red). */
  function heat(u) {
    const t = Math.max(0, Math.min(1, u));
    const a = [226, 222, 204], b = [165, 15, 21];
    return "rgb(" + a.map(function (c, i) { return Math.round(c + (b[i] - c) * Math.sqrt(t)); }).join(",") + ")";
  }
  // Covariance types in the selection charts: colour and marker shape.
  const TYPE_COLORS = ["#1f5fa8", "#c23b4e", "#2e8540", "#8a5a9e", "#b8860b", "#555",
    "#17becf", "#d62728", "#7f7f7f", "#bcbd22", "#e377c2", "#8c564b", "#9467bd", "#2ca02c"];
  const MARKERS = ["circle", "square", "triangle", "diamond"];

  function marker(parent, shape, x, y, size, fill) {
    const s = size;
    if (shape === "square") return el("rect", { x: x - s, y: y - s, width: 2 * s, height: 2 * s, fill: fill }, parent);
    if (shape === "triangle") return el("path", { d: "M" + x + "," + (y - 1.25 * s) + "L" + (x + 1.2 * s) + "," + (y + s) + "L" + (x - 1.2 * s) + "," + (y + s) + "Z", fill: fill }, parent);
    if (shape === "diamond") return el("path", { d: "M" + x + "," + (y - 1.3 * s) + "L" + (x + 1.3 * s) + "," + y + "L" + x + "," + (y + 1.3 * s) + "L" + (x - 1.3 * s) + "," + y + "Z", fill: fill }, parent);
    return el("circle", { cx: x, cy: y, r: s, fill: fill }, parent);
  }

  /**
   * Draw grid, axes, ticks and labels of a chart; return its scales.
   * box: {left, top, width, height} in viewBox units; opts: xlabel, ylabel, xticks, yMin.
   */
  function frame(svg, box, xdom, ydom, opts) {
    const x = linear(xdom[0], xdom[1], box.left, box.left + box.width);
    const y = linear(ydom[0], ydom[1], box.top + box.height, box.top);
    const grid = el("g", { class: "grid" }, svg);
    const axes = el("g", { class: "axis" }, svg);
    const xt = opts.xticks ? { values: opts.xticks, step: 1 } : ticks(xdom[0], xdom[1], opts.nx || 7);
    const yt = ticks(ydom[0], ydom[1], opts.ny || 6);
    const bottom = box.top + box.height;
    for (const v of xt.values) {
      if (v < xdom[0] || v > xdom[1]) continue;
      el("line", { x1: x(v), x2: x(v), y1: box.top, y2: bottom }, grid);
      el("line", { x1: x(v), x2: x(v), y1: bottom, y2: bottom + 5 }, axes);
      text(axes, x(v), bottom + 18, tickLabel(v, xt.step), { class: "tick", "text-anchor": "middle" });
    }
    for (const v of yt.values) {
      if (v < ydom[0] || v > ydom[1] || (opts.yMin !== undefined && v < opts.yMin)) continue;
      el("line", { x1: box.left, x2: box.left + box.width, y1: y(v), y2: y(v) }, grid);
      el("line", { x1: box.left - 5, x2: box.left, y1: y(v), y2: y(v) }, axes);
      text(axes, box.left - 8, y(v) + 4, tickLabel(v, yt.step), { class: "tick", "text-anchor": "end" });
    }
    el("path", { d: "M" + box.left + "," + box.top + "V" + bottom + "H" + (box.left + box.width), fill: "none" }, axes);
    if (opts.xlabel) text(svg, box.left + box.width / 2, bottom + 40, opts.xlabel, { class: "axis-label", "text-anchor": "middle" });
    if (opts.ylabel) {
      const cy = box.top + box.height / 2;
      text(svg, 16, cy, opts.ylabel, { class: "axis-label", "text-anchor": "middle", transform: "rotate(-90 16 " + cy + ")" });
    }
    return { x: x, y: y };
  }

  let clipCount = 0;
  function clipRect(svg, box) {
    const id = "clip-" + (++clipCount);
    const clip = el("clipPath", { id: id }, el("defs", {}, svg));
    el("rect", { x: box.left, y: box.top, width: box.width, height: box.height }, clip);
    return "url(#" + id + ")";
  }

  /** A pixel coordinate for a path, kept within a range SVG parses (shapes far outside
   *  the plot are clipped anyway). */
  function px(v) { return Math.max(-1e5, Math.min(1e5, v)).toFixed(1); }

  function pathFrom(xs, ys) {
    let d = "";
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || !isFinite(ys[i])) continue;
      d += (d ? "L" : "M") + px(xs[i]) + "," + px(ys[i]);
    }
    return d;
  }

  // ------------------------------------------------------------------ data sets

  /** A data set as drawn: frame coordinates of the drawn rows and the axes offered. */
  function makeDataset(spec) {
    const d = spec.d, z = floats(spec.z), n = z.length / d;
    let logScale = 0;
    for (let c = 0; c < d; c++) logScale += Math.log(spec.scale[c]);
    const axes = spec.axes.map(function (a) {
      if (a.kind === "pc") return Object.assign({}, a, { vec: a.vec });
      const vec = new Array(d).fill(0);
      vec[a.index] = spec.scale[a.index];
      return Object.assign({}, a, { vec: vec, offset: spec.centre[a.index] });
    });
    // the missing columns of each drawn point (null: complete); its z holds their imputations
    const miss = new Array(n).fill(null);
    if (spec.missing) spec.missing.points.forEach(function (i, t) { miss[i] = spec.missing.columns[t]; });
    return { spec: spec, d: d, n: n, z: z, rows: spec.rows, axes: axes, logScale: logScale,
      centre: spec.centre, scale: spec.scale, columns: spec.columns, miss: miss };
  }

  /** Value of each drawn point on an axis (user units). */
  function coordinates(ds, axis) {
    const out = new Float64Array(ds.n), v = axis.vec, d = ds.d;
    for (let i = 0; i < ds.n; i++) {
      let s = axis.offset;
      for (let c = 0; c < d; c++) s += v[c] * ds.z[i * d + c];
      out[i] = s;
    }
    return out;
  }

  // ------------------------------------------------------------------ mixtures

  const stateCache = new WeakMap();
  /** A packed state (weights, frame means, precision factors U) unpacked for a d-dim set. */
  function mixture(spec, d) {
    if (stateCache.has(spec)) return stateCache.get(spec);
    const f = floats(spec.b, spec.f64), k = spec.k;
    const w = f.subarray(0, k), mu = f.subarray(k, k + k * d);
    const U = new Float64Array(k * d * d);
    let at = k + k * d;
    for (let j = 0; j < k; j++) {
      for (let r = 0; r < d; r++) {
        if (spec.diag) { U[j * d * d + r * d + r] = f[at++]; continue; }
        for (let c = r; c < d; c++) U[j * d * d + r * d + c] = f[at++];
      }
    }
    const cst = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let logdet = 0;
      for (let r = 0; r < d; r++) logdet += Math.log(U[j * d * d + r * d + r]);
      cst[j] = Math.log(w[j]) + logdet - 0.5 * d * LOG_2PI;
    }
    const m = { k: k, d: d, w: w, mu: mu, U: U, cst: cst, spec: spec };
    stateCache.set(spec, m);
    return m;
  }

  const marginalCache = new WeakMap();
  /**
   * Mixture m on the observed columns of points missing the columns `missing` (frame
   * units): per component the Cholesky factor L of Sigma_oo (Sigma = U^-T U^-1) and
   * log w_j - log|L| - q/2 log 2pi, and the log of the frame's scales of those columns.
   */
  function marginalOn(m, ds, missing) {
    let byKey = marginalCache.get(m);
    if (!byKey) { byKey = new Map(); marginalCache.set(m, byKey); }
    const key = missing.join(",");
    if (byKey.has(key)) return byKey.get(key);
    const d = m.d, obs = [];
    for (let c = 0; c < d; c++) if (missing.indexOf(c) < 0) obs.push(c);
    const q = obs.length, comps = [];
    let logScale = 0;
    for (const c of obs) logScale += Math.log(ds.scale[c]);
    for (let j = 0; j < m.k; j++) {
      // column c of U^-1: (U^-1 e_c), so Sigma[a][b] is the dot product of two of them
      const cols = obs.map(function (c) { const e = new Float64Array(d); e[c] = 1; return solveUpper(m, j, e); });
      const L = new Float64Array(q * q);
      let logdet = 0;
      for (let a = 0; a < q; a++) {
        for (let b = 0; b <= a; b++) {
          let v = dot(cols[a], cols[b]);
          for (let t = 0; t < b; t++) v -= L[a * q + t] * L[b * q + t];
          L[a * q + b] = a === b ? Math.sqrt(Math.max(v, 1e-300)) : v / L[b * q + b];
        }
        logdet += Math.log(L[a * q + a]);
      }
      comps.push({ L: L, cst: Math.log(m.w[j]) - logdet - 0.5 * q * LOG_2PI });
    }
    const out = { obs: obs, q: q, comps: comps, logScale: logScale };
    byKey.set(key, out);
    return out;
  }

  /** Log-densities lp[j] of point i of ds on its observed columns only (as the library). */
  function marginalLogp(m, ds, i, lp) {
    const g = marginalOn(m, ds, ds.miss[i]), q = g.q, y = new Float64Array(q);
    if (q === 0) {  // nothing observed: the mixing weights, a density of 1 (float32 weights)
      let total = 0;
      for (let j = 0; j < m.k; j++) total += m.w[j];
      for (let j = 0; j < m.k; j++) lp[j] = Math.log(m.w[j] / total);
      return 0;
    }
    for (let j = 0; j < m.k; j++) {
      const L = g.comps[j].L;
      let maha = 0;
      for (let a = 0; a < q; a++) {  // L y = z_o - mu_o, forward
        let v = ds.z[i * m.d + g.obs[a]] - m.mu[j * m.d + g.obs[a]];
        for (let t = 0; t < a; t++) v -= L[a * q + t] * y[t];
        y[a] = v / L[a * q + a];
        maha += y[a] * y[a];
      }
      lp[j] = g.comps[j].cst - 0.5 * maha;
    }
    return g.logScale;
  }

  const evalCache = new WeakMap();
  /**
   * Memberships and log-densities of the drawn points of ds under mixture m, as the library
   * computes them: log w_j + log|U_j| - d/2 log 2pi - |(z - mu_j) U_j|^2 / 2, normalised
   * by log-sum-exp; log p(x) in the data's units (the frame's scales divided out).
   */
  function evaluate(m, ds) {
    let byData = evalCache.get(m);
    if (!byData) { byData = new Map(); evalCache.set(m, byData); }
    if (byData.has(ds)) return byData.get(ds);
    const k = m.k, d = m.d, n = ds.n;
    const proba = new Float64Array(n * k), logp = new Float64Array(n);
    const label = new Int32Array(n), maxp = new Float64Array(n);
    const diff = new Float64Array(d), lp = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      let top = -Infinity, logScale = ds.logScale;
      if (ds.miss && ds.miss[i]) logScale = marginalLogp(m, ds, i, lp);
      for (let j = 0; j < k; j++) {
        if (ds.miss && ds.miss[i]) { if (lp[j] > top) top = lp[j]; continue; }
        const base = j * d * d;
        for (let c = 0; c < d; c++) diff[c] = ds.z[i * d + c] - m.mu[j * d + c];
        let maha = 0;
        for (let c = 0; c < d; c++) {
          let y = 0;
          for (let r = 0; r <= c; r++) y += diff[r] * m.U[base + r * d + c];
          maha += y * y;
        }
        lp[j] = m.cst[j] - 0.5 * maha;
        if (lp[j] > top) top = lp[j];
      }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(lp[j] - top);
      const lse = top + Math.log(sum);
      logp[i] = lse - logScale;
      let best = 0, bestP = -1;
      for (let j = 0; j < k; j++) {
        const p = Math.exp(lp[j] - lse);
        proba[i * k + j] = p;
        if (p > bestP) { bestP = p; best = j; }
      }
      label[i] = best;
      maxp[i] = bestP;
    }
    const out = { proba: proba, logp: logp, label: label, maxp: maxp, k: k };
    byData.set(ds, out);
    return out;
  }

  /** Solve U t = a for upper-triangular U (component j of m). */
  function solveUpper(m, j, a) {
    const d = m.d, base = j * d * d, t = new Float64Array(d);
    for (let r = d - 1; r >= 0; r--) {
      let s = a[r];
      for (let c = r + 1; c < d; c++) s -= m.U[base + r * d + c] * t[c];
      t[r] = s / m.U[base + r * d + r];
    }
    return t;
  }

  function dot(a, b) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; }

  /**
   * Component j projected on axes ax, ay (user units): mean and 2x2 covariance
   * a Sigma b^T with Sigma = U^-T U^-1, i.e. (U^-1 a) . (U^-1 b).
   */
  function projectComponent(m, j, ax, ay) {
    const mu = m.mu.subarray(j * m.d, (j + 1) * m.d);
    const ta = solveUpper(m, j, ax.vec), tb = solveUpper(m, j, ay.vec);
    return { cx: ax.offset + dot(ax.vec, mu), cy: ay.offset + dot(ay.vec, mu),
      sxx: dot(ta, ta), sxy: dot(ta, tb), syy: dot(tb, tb) };
  }

  /** One-sigma ellipse of a 2x2 covariance: semi-axes a >= b and the angle of a. */
  function ellipse(p) {
    const mean = (p.sxx + p.syy) / 2, half = (p.sxx - p.syy) / 2;
    const r = Math.sqrt(half * half + p.sxy * p.sxy);
    return { cx: p.cx, cy: p.cy, a: Math.sqrt(Math.max(mean + r, 0)), b: Math.sqrt(Math.max(mean - r, 0)),
      angle: 0.5 * Math.atan2(2 * p.sxy, p.sxx - p.syy) };
  }

  /** Log-density of the projected (marginal) mixture at (u, v), for density contours. */
  function marginal(m, ax, ay) {
    const comps = [];
    for (let j = 0; j < m.k; j++) {
      const p = projectComponent(m, j, ax, ay);
      const det = p.sxx * p.syy - p.sxy * p.sxy;
      comps.push({ p: p, det: det, c: Math.log(m.w[j]) - LOG_2PI - 0.5 * Math.log(det) });
    }
    return function (u, v) {
      let top = -Infinity;
      const lp = comps.map(function (q) {
        const du = u - q.p.cx, dv = v - q.p.cy;
        const maha = (q.p.syy * du * du - 2 * q.p.sxy * du * dv + q.p.sxx * dv * dv) / q.det;
        const val = q.det > 0 ? q.c - 0.5 * maha : -Infinity;
        if (val > top) top = val;
        return val;
      });
      if (top === -Infinity) return -Infinity;
      let s = 0;
      for (const x of lp) s += Math.exp(x - top);
      return top + Math.log(s);
    };
  }

  /** A 1-D component: mean and standard deviation in the data's units. */
  function component1d(m, j, ds) {
    return { mu: ds.centre[0] + ds.scale[0] * m.mu[j], sd: ds.scale[0] / m.U[j] };
  }

  /** Marching squares: line segments where the grid crosses level, as an SVG path. */
  function contourPath(grid, nx, ny, level, px, py) {
    let d = "";
    function lerp(a, b, va, vb) { return a + (b - a) * (level - va) / (vb - va); }
    for (let j = 0; j < ny - 1; j++) {
      for (let i = 0; i < nx - 1; i++) {
        const v0 = grid[j * nx + i], v1 = grid[j * nx + i + 1];
        const v2 = grid[(j + 1) * nx + i + 1], v3 = grid[(j + 1) * nx + i];
        const c = (v0 > level ? 1 : 0) | (v1 > level ? 2 : 0) | (v2 > level ? 4 : 0) | (v3 > level ? 8 : 0);
        if (c === 0 || c === 15) continue;
        const x0 = px[i], x1 = px[i + 1], y0 = py[j], y1 = py[j + 1];
        const e = [
          [lerp(x0, x1, v0, v1), y0], [x1, lerp(y0, y1, v1, v2)],
          [lerp(x0, x1, v3, v2), y1], [x0, lerp(y0, y1, v0, v3)]];
        const SEG = { 1: [[3, 0]], 2: [[0, 1]], 3: [[3, 1]], 4: [[1, 2]], 5: [[3, 0], [1, 2]], 6: [[0, 2]], 7: [[3, 2]],
          8: [[2, 3]], 9: [[0, 2]], 10: [[0, 1], [2, 3]], 11: [[1, 2]], 12: [[1, 3]], 13: [[0, 1]], 14: [[0, 3]] };
        for (const s of SEG[c]) {
          const a = e[s[0]], b = e[s[1]];
          d += "M" + a[0].toFixed(1) + "," + a[1].toFixed(1) + "L" + b[0].toFixed(1) + "," + b[1].toFixed(1);
        }
      }
    }
    return d;
  }

  function quantile(sorted, q) {
    if (!sorted.length) return NaN;
    const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  // ------------------------------------------------------------------ projection

  const MAIN = makeDataset(DATA.data);
  const SETS = { user: MAIN };
  for (const key in DATA.datasets) SETS[key] = makeDataset(DATA.datasets[key]);
  const projection = { x: 0, y: Math.min(1, MAIN.axes.length - 1) };
  /** The axes drawn for a data set: the reader's pick for the user's, the first two else. */
  function axesOf(ds) {
    if (ds === MAIN) return [ds.axes[projection.x], ds.axes[projection.y]];
    return [ds.axes[0], ds.axes[Math.min(1, ds.axes.length - 1)]];
  }

  // ------------------------------------------------------------------ scatter plots

  /**
   * A plot of a data set with a mixture (or hard labels) drawn over it: points, one- and
   * two-sigma ellipses of each component, optional density contours.  1-D data sets are
   * drawn as the mixture's density over a histogram, the points in a strip below.
   */
  function makePlot(svg, ds, opts) {
    const plot = { svg: svg, ds: ds, opts: opts || {}, circles: [], shapes: null };
    const box = plot.opts.small ? { left: 52, top: 10, width: 270, height: 220 } : { left: 70, top: 14, width: 590, height: 420 };
    plot.box = box;

    plot.layout = function (ymax) {
      clear(svg);
      plot.circles = [];
      const axes = axesOf(ds);
      plot.axes = axes;
      plot.oneD = ds.d === 1;
      const xs = coordinates(ds, axes[0]);
      plot.xs = xs;
      const span = function (v) {
        let lo = Infinity, hi = -Infinity;
        for (const x of v) { if (x < lo) lo = x; if (x > hi) hi = x; }
        const pad = hi > lo ? 0.06 * (hi - lo) : Math.max(Math.abs(lo), 1) * 0.1;
        return [lo - pad, hi + pad];
      };
      let sc;
      if (plot.oneD) {
        plot.ymax = ymax || 1;
        sc = frame(svg, box, span(xs), [-0.2 * plot.ymax, plot.ymax], { xlabel: axes[0].label, ylabel: plot.opts.small ? "" : "density", yMin: 0, nx: plot.opts.small ? 4 : 7 });
        const h = ds.spec.histogram;
        const bars = el("g", { class: "hist" }, svg);
        for (let i = 0; i < h.heights.length; i++) {
          const x0 = sc.x(h.edges[i]), x1 = sc.x(h.edges[i + 1]);
          el("rect", { x: x0, y: sc.y(Math.min(h.heights[i], plot.ymax)), width: Math.max(x1 - x0 - 0.5, 0.5), height: sc.y(0) - sc.y(Math.min(h.heights[i], plot.ymax)), fill: "#dde1e7" }, bars);
        }
        el("line", { x1: box.left, x2: box.left + box.width, y1: sc.y(0), y2: sc.y(0), stroke: "#7b8390" }, svg);
        plot.ys = new Float64Array(ds.n);
        for (let i = 0; i < ds.n; i++) {
          const jitter = Math.abs(Math.sin((i + 1) * 12.9898) * 43758.5453) % 1;
          plot.ys[i] = -(0.03 + 0.14 * jitter) * plot.ymax;
        }
      } else {
        plot.ys = coordinates(ds, axes[1]);
        sc = frame(svg, box, span(xs), span(plot.ys), { xlabel: plot.opts.small ? axes[0].short : axes[0].label, ylabel: plot.opts.small ? axes[1].short : axes[1].label, nx: plot.opts.small ? 4 : 7, ny: plot.opts.small ? 4 : 6 });
      }
      plot.sc = sc;
      const layer = el("g", { "clip-path": clipRect(svg, box) }, svg);
      plot.contours = el("g", { class: "contours" }, layer);
      const points = el("g", { class: "points" }, layer);
      const r = plot.opts.small ? (ds.n > 1000 ? 1.6 : 2.2) : (ds.n > 1000 ? 2.4 : ds.n > 300 ? 3 : 3.6);
      for (let i = 0; i < ds.n; i++) {
        const cls = ds.miss && ds.miss[i] ? "point imputed" : "point";
        plot.circles.push(el("circle", { class: cls, cx: sc.x(xs[i]).toFixed(1), cy: sc.y(plot.ys[i]).toFixed(1), r: r }, points));
      }
      plot.shapes = el("g", { class: "components" }, layer);
      plot.overlay = el("g", { class: "overlay" }, layer);
    };

    /** Colour points: mode "components" (by info), "uncertainty", or "labels" (hard). */
    plot.colour = function (mode, info, labels) {
      const n = ds.n;
      for (let i = 0; i < n; i++) {
        const c = plot.circles[i];
        if (labels) {
          c.setAttribute("fill", color(labels[i]));
          c.setAttribute("fill-opacity", "0.85");
        } else if (!info) {
          c.setAttribute("fill", "#9aa3ad");
          c.setAttribute("fill-opacity", "0.55");
        } else if (mode === "uncertainty") {
          c.setAttribute("fill", heat(info.k > 1 ? (1 - info.maxp[i]) / (1 - 1 / info.k) : 0));
          c.setAttribute("fill-opacity", "0.9");
        } else {
          const floor = info.k > 1 ? 1 / info.k : 0;
          const certainty = info.k > 1 ? (info.maxp[i] - floor) / (0.99 - floor) : 1;
          c.setAttribute("fill", color(info.label[i]));
          c.setAttribute("fill-opacity", (mode === "density" ? 0.35 : 0.18 + 0.72 * Math.max(0, Math.min(1, certainty))).toFixed(2));
        }
      }
    };

    /** Draw the components of mixture m (ellipses, or 1-D density curves). */
    plot.components = function (m, highlight) {
      clear(plot.shapes);
      const sc = plot.sc, g = plot.shapes;
      plot.geometry = [];
      if (!m) return;
      if (plot.oneD) {
        const xr = [sc.x.invert(plot.box.left), sc.x.invert(plot.box.left + plot.box.width)];
        const n = 240, xs = [], totalY = new Float64Array(n + 1);
        for (let i = 0; i <= n; i++) xs.push(xr[0] + ((xr[1] - xr[0]) * i) / n);
        const px = xs.map(sc.x);
        for (let j = 0; j < m.k; j++) {
          const c = component1d(m, j, ds);
          plot.geometry.push([c.mu, c.sd]);
          const ys = xs.map(function (x, i) {
            const v = (m.w[j] * Math.exp(-0.5 * Math.pow((x - c.mu) / c.sd, 2))) / (c.sd * Math.sqrt(2 * Math.PI));
            totalY[i] += v;
            return sc.y(v);
          });
          el("path", { class: "curve", d: pathFrom(px, ys), fill: "none", stroke: color(j), "stroke-width": 2, "data-component": j, "data-geometry": c.mu + " " + c.sd }, g);
        }
        el("path", { class: "curve total", d: pathFrom(px, Array.from(totalY, sc.y)), fill: "none", stroke: "#1d2430", "stroke-width": 1.6 }, g);
        return;
      }
      const ax = plot.axes[0], ay = plot.axes[1];
      for (let j = 0; j < m.k; j++) {
        const e = ellipse(projectComponent(m, j, ax, ay));
        plot.geometry.push([e.cx, e.cy, e.a, e.b, e.angle]);
        const geo = [e.cx, e.cy, e.a, e.b, e.angle].join(" ");
        el("path", { class: "ellipse", d: ellipsePath(e, 2, sc), fill: color(j), stroke: color(j), "data-component": j, "data-geometry": geo }, g);
        el("path", { class: "ellipse inner", d: ellipsePath(e, 1, sc), stroke: color(j) }, g);
        const mx = sc.x(e.cx), my = sc.y(e.cy);
        el("path", { class: "mean", d: "M" + px(mx - 6) + "," + px(my) + "h12M" + px(mx) + "," + px(my - 6) + "v12", stroke: color(j) }, g);
        const tiny = Math.abs(sc.x(e.cx + e.a) - mx) < 4 && Math.abs(sc.y(e.cy + e.a) - my) < 4;
        if (highlight === j || tiny) el("circle", { class: "halo", cx: px(mx), cy: px(my), r: highlight === j ? 11 : 7, stroke: color(j) }, g);
      }
    };

    /** k-means centres as crosses. */
    plot.centres = function (centres) {
      clear(plot.shapes);
      const ax = plot.axes[0], ay = plot.axes[1], sc = plot.sc, d = ds.d;
      for (let j = 0; j < centres.length / d; j++) {
        const c = centres.subarray(j * d, (j + 1) * d);
        const mx = sc.x(ax.offset + dot(ax.vec, c)), my = sc.y(ay.offset + dot(ay.vec, c));
        el("path", { class: "mean centre", d: "M" + (mx - 7) + "," + (my - 7) + "l14,14M" + (mx - 7) + "," + (my + 7) + "l14,-14", stroke: "#1d2430" }, plot.shapes);
      }
    };

    /** Density contours of the projected mixture, and the threshold contour when exact. */
    plot.density = function (m, info, cut) {
      clear(plot.contours);
      if (!m || plot.oneD) {
        if (m && plot.oneD && cut !== null && cut !== undefined) {
          const y = plot.sc.y(Math.exp(cut));
          el("line", { class: "threshold", x1: plot.box.left, x2: plot.box.left + plot.box.width, y1: y, y2: y }, plot.contours);
        }
        return;
      }
      const f = marginal(m, plot.axes[0], plot.axes[1]);
      const nx = 72, ny = 60, sc = plot.sc, box = plot.box;
      const px = [], py = [], grid = new Float64Array(nx * ny);
      for (let i = 0; i < nx; i++) px.push(box.left + (box.width * i) / (nx - 1));
      for (let j = 0; j < ny; j++) py.push(box.top + (box.height * j) / (ny - 1));
      for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) grid[j * nx + i] = f(sc.x.invert(px[i]), sc.y.invert(py[j]));
      const own = [];
      for (let i = 0; i < ds.n; i++) own.push(f(plot.xs[i], plot.ys[i]));
      own.sort(function (a, b) { return a - b; });
      const shares = [0.1, 0.25, 0.5, 0.75, 0.9];
      shares.forEach(function (q, i) {
        el("path", { class: "contour", d: contourPath(grid, nx, ny, quantile(own, 1 - q), px, py), "stroke-opacity": (0.35 + 0.12 * (shares.length - i)).toFixed(2) }, plot.contours);
      });
      if (ds.d === 2 && cut !== null && cut !== undefined) {
        el("path", { class: "threshold", d: contourPath(grid, nx, ny, cut, px, py) }, plot.contours);
      }
    };

    plot.flags = function (flagged) {
      for (let i = 0; i < ds.n; i++) plot.circles[i].classList.toggle("flagged", !!(flagged && flagged[i]));
    };
    return plot;
  }

  /** Sampled outline of an ellipse (centre, semi-axes a, b scaled by s, angle) in pixels. */
  function ellipsePath(e, s, sc) {
    const a = e.a * s, b = e.b * s, c = Math.cos(e.angle), sn = Math.sin(e.angle);
    let d = "";
    for (let i = 0; i <= 72; i++) {
      const t = (2 * Math.PI * i) / 72, ex = a * Math.cos(t), ey = b * Math.sin(t);
      d += (i ? "L" : "M") + px(sc.x(e.cx + c * ex - sn * ey)) + "," + px(sc.y(e.cy + sn * ex + c * ey));
    }
    return d + "Z";
  }

  /** Largest density of a 1-D mixture (for the density view's y range). */
  function peak1d(m, ds, lo, hi) {
    let best = 0;
    for (let i = 0; i <= 200; i++) {
      const x = lo + ((hi - lo) * i) / 200;
      let s = 0;
      for (let j = 0; j < m.k; j++) {
        const c = component1d(m, j, ds);
        s += (m.w[j] * Math.exp(-0.5 * Math.pow((x - c.mu) / c.sd, 2))) / (c.sd * Math.sqrt(2 * Math.PI));
      }
      if (s > best) best = s;
    }
    return best;
  }

  /** y range of a 1-D density view: the histogram and the states' peaks, capped. */
  function densityTop(ds, states) {
    const h = ds.spec.histogram;
    const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
    const histTop = Math.max.apply(null, h.heights);
    const peaks = states.map(function (m) { return peak1d(m, ds, lo, hi); });
    const last = peaks[peaks.length - 1] || histTop;
    const top = Math.max(histTop, last);
    return Math.min(Math.max.apply(null, [top].concat(peaks)), 2.5 * top) * 1.08;
  }

  // ------------------------------------------------------------------ legends

  /** A list item for component j: swatch, name, a bar of `share` (0..1) and its value. */
  function componentBar(ul, j, share, value) {
    const li = html("li", "", null, ul);
    const sw = html("span", "swatch", null, li);
    sw.style.background = color(j);
    html("span", "", "c" + j, li);
    const bar = html("span", "bar", null, li);
    const fill = html("span", "", null, bar);
    fill.style.background = color(j);
    fill.style.width = (100 * share).toFixed(1) + "%";
    html("span", "w", value, li);
    return li;
  }

  function fillLegend(ul, m) {
    clear(ul);
    if (!m) return;
    for (let j = 0; j < m.k; j++) {
      componentBar(ul, j, m.w[j], m.w[j].toFixed(3)).lastChild.setAttribute("data-weight", m.w[j]);
    }
    html("li", "note", "bar: the component's weight", ul);
  }

  // ------------------------------------------------------------------ candidates

  const CANDS = DATA.candidates;
  const CHOSEN = DATA.chosen;
  const CRIT = DATA.criterion;
  const TYPES = Array.from(new Set(CANDS.map(function (c) { return c.type; })));
  const KS = Array.from(new Set(CANDS.map(function (c) { return c.k; }))).sort(function (a, b) { return a - b; });
  const view = { candidate: CHOSEN, mode: "components", selected: null, hover: null };
  const mainPlot = makePlot(document.getElementById("main-plot"), MAIN, {});

  function candidateName(c) { return "k = " + c.k + ", " + c.type; }
  function drawnMixture() {
    const c = CANDS[view.candidate];
    return c.state ? mixture(c.state, MAIN.d) : null;
  }

  function buildGrid() {
    const host = document.getElementById("candidate-grid");
    const table = html("table", "grid", null, host);
    const head = html("tr", "", null, html("thead", "", null, table));
    html("th", "", CRIT.toUpperCase() + " \u2212 chosen", head);
    for (const k of KS) html("th", "", "k=" + k, head);
    const body = html("tbody", "", null, table);
    const buttons = [];
    TYPES.forEach(function (type, r) {
      const tr = html("tr", "", null, body);
      html("th", "", type, tr).setAttribute("scope", "row");
      KS.forEach(function (k, c) {
        const td = html("td", "", null, tr);
        const i = CANDS.findIndex(function (x) { return x.k === k && x.type === type; });
        if (i < 0) return;
        const cand = CANDS[i];
        const b = html("button", "cand", null, td);
        b.type = "button";
        b.setAttribute("data-candidate", i);
        b.setAttribute("data-row", r);
        b.setAttribute("data-col", c);
        const value = cand[CRIT];
        if (cand.state === undefined || value === null) {
          b.disabled = true;
          b.textContent = "\u2014";
          b.title = candidateName(cand) + ": not fitted" + (cand.error ? " (" + cand.error + ")" : "");
        } else {
          const delta = value - CANDS[CHOSEN][CRIT];
          b.textContent = i === CHOSEN ? "\u2605" : (delta >= 0 ? "+" : "\u2212") + Math.abs(delta).toFixed(delta !== 0 && Math.abs(delta) < 10 ? 1 : 0);
          b.title = candidateName(cand) + ": " + CRIT.toUpperCase() + " " + total(value);
          b.setAttribute("aria-label", candidateName(cand) + (i === CHOSEN ? ", the chosen model" : ""));
        }
        if (i === CHOSEN) b.classList.add("chosen");
        b.addEventListener("click", function () { drawCandidate(i); });
        buttons.push(b);
      });
    });
    // arrow keys move between the grid's buttons
    host.addEventListener("keydown", function (ev) {
      const b = ev.target.closest && ev.target.closest("button.cand");
      if (!b) return;
      const r = Number(b.getAttribute("data-row")), c = Number(b.getAttribute("data-col"));
      const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      const mv = moves[ev.key];
      if (!mv) return;
      const next = buttons.find(function (x) { return Number(x.getAttribute("data-row")) === r + mv[0] && Number(x.getAttribute("data-col")) === c + mv[1]; });
      if (next) { next.focus(); ev.preventDefault(); }
    });
  }

  /** Draw candidate i everywhere it shows: plot, legend, anomaly count, charts, tables. */
  function drawCandidate(i) {
    view.candidate = i;
    const cand = CANDS[i];
    document.querySelectorAll("#candidate-grid button.cand").forEach(function (b) {
      const on = Number(b.getAttribute("data-candidate")) === i;
      b.classList.toggle("drawn", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    document.querySelectorAll("tr[data-candidate]").forEach(function (tr) {
      tr.classList.toggle("drawn", Number(tr.getAttribute("data-candidate")) === i);
    });
    const label = document.getElementById("drawn-label");
    label.textContent = candidateName(cand) + (i === CHOSEN ? " \u2605 (the chosen model)" : " (the chosen model \u2605 is " + candidateName(CANDS[CHOSEN]) + ")");
    label.setAttribute("data-candidate", i);
    document.getElementById("back-to-chosen").disabled = i === CHOSEN;
    if (MAIN.d === 1) mainPlot.layout(densityTop(MAIN, [drawnMixture()]));
    renderMain();
    drawCriteria();
    renderParameters();
    showPoint(view.selected);
  }

  function renderMain() {
    const m = drawnMixture();
    const info = m ? evaluate(m, MAIN) : null;
    mainPlot.colour(view.mode, info);
    mainPlot.components(m);
    mainPlot.svg.setAttribute("data-candidate", view.candidate);
    mainPlot.svg.setAttribute("data-mode", view.mode);
    fillLegend(document.getElementById("main-legend"), m);
    applyThreshold();
  }

  // ------------------------------------------------------------------ anomaly threshold

  const anomaly = document.getElementById("anomaly");
  function applyThreshold() {
    const s = Number(anomaly.value), cand = CANDS[view.candidate], a = cand.anomaly;
    const m = drawnMixture();
    const cut = a ? a.cut[s] : null;
    let shown = 0;
    const flagged = new Uint8Array(MAIN.n);
    if (m && cut !== null) {
      const info = evaluate(m, MAIN);
      for (let i = 0; i < MAIN.n; i++) if (info.logp[i] < cut) { flagged[i] = 1; shown++; }
    }
    mainPlot.flags(flagged);
    mainPlot.density(view.mode === "density" ? m : null, null, cut);
    const count = a ? a.count[s] : 0;
    document.getElementById("anomaly-pct").textContent = (DATA.anomaly.permille[s] / 10).toFixed(1) + " %";
    const out = document.getElementById("anomaly-count");
    out.setAttribute("data-count", count);
    out.setAttribute("data-shown", shown);
    let msg = thousands(count) + " of " + thousands(DATA.n) + " rows flagged";
    if (cut !== null) msg += " (log-density < " + num(cut) + ")";
    if (MAIN.n < DATA.n) msg += "; " + thousands(shown) + " of the " + thousands(MAIN.n) + " points drawn";
    out.textContent = msg + ".";
  }

  // ------------------------------------------------------------------ one point up close

  /** Show (or clear) the memberships and log-density of drawn point i. */
  function showPoint(i) {
    const box = document.getElementById("point-info");
    mainPlot.overlay && clear(mainPlot.overlay);
    const m = drawnMixture();
    if (i === null || i === undefined || !m) {
      box.removeAttribute("data-index");
      box.innerHTML = "";
      html("p", "note", "Hover or click a point, or focus the plot and press \u2190 / \u2192.", box);
      return;
    }
    const info = evaluate(m, MAIN);
    clear(box);
    box.setAttribute("data-index", i);
    box.setAttribute("data-row", MAIN.rows[i]);
    box.setAttribute("data-logp", info.logp[i]);
    const c = mainPlot.circles[i];
    el("circle", { class: "selected", cx: c.getAttribute("cx"), cy: c.getAttribute("cy"), r: 7 }, mainPlot.overlay);
    const values = [], missing = MAIN.miss[i] || [];
    for (let f = 0; f < Math.min(MAIN.d, 6); f++) values.push(MAIN.columns[f] + " " + num(MAIN.centre[f] + MAIN.scale[f] * MAIN.z[i * MAIN.d + f]) + (missing.indexOf(f) >= 0 ? " (imputed)" : ""));
    html("p", "row", "Row " + MAIN.rows[i] + (view.selected === i ? " (selected)" : "") + ": " + values.join(", ") + (MAIN.d > 6 ? ", \u2026" : ""), box);
    if (missing.length) {
      box.setAttribute("data-missing", missing.join(","));
      const q = MAIN.d - missing.length;
      html("p", "note", "Missing " + missing.map(function (f) { return MAIN.columns[f]; }).join(", ") + ": drawn at the chosen model\u2019s conditional expectation; " + (q ? "memberships and log p(x) use the " + q + " observed column" + (q === 1 ? "" : "s") : "nothing observed: the memberships are the mixing weights") + ".", box);
    } else box.removeAttribute("data-missing");
    const u = 1 - info.maxp[i];
    html("p", "", "log p(x) = " + num(info.logp[i]) + " \u00b7 uncertainty 1 \u2212 max p = " + num(u, 3), box).className = "logp";
    const ul = html("ul", "legend memberships", null, box);
    for (let j = 0; j < info.k; j++) {
      const p = info.proba[i * info.k + j];
      const li = componentBar(ul, j, p, p < 0.0005 && p > 0 ? "<0.001" : p.toFixed(3));
      li.setAttribute("data-component", j);
      li.setAttribute("data-p", p);
    }
  }

  function nearestPoint(ev) {
    const svg = mainPlot.svg, pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const ctm = svg.getScreenCTM();
    if (!ctm) return null;
    const p = pt.matrixTransform(ctm.inverse());
    let best = null, bestD = 100;  // within 10 viewBox units
    for (let i = 0; i < MAIN.n; i++) {
      const c = mainPlot.circles[i];
      const dx = Number(c.getAttribute("cx")) - p.x, dy = Number(c.getAttribute("cy")) - p.y;
      const dd = dx * dx + dy * dy;
      if (dd < bestD) { bestD = dd; best = i; }
    }
    return best;
  }

  function wirePointEvents() {
    const svg = mainPlot.svg;
    svg.addEventListener("mousemove", function (ev) {
      if (view.selected !== null) return;
      const i = nearestPoint(ev);
      if (i !== view.hover) { view.hover = i; showPoint(i); }
    });
    svg.addEventListener("mouseleave", function () { if (view.selected === null) { view.hover = null; showPoint(null); } });
    svg.addEventListener("click", function (ev) {
      const i = nearestPoint(ev);
      view.selected = i === view.selected ? null : i;
      showPoint(view.selected === null ? i : view.selected);
    });
    let order = null;
    svg.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { view.selected = null; showPoint(null); return; }
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      ev.preventDefault();
      if (!order || order.stamp !== mainPlot.xs) {
        order = Array.from({ length: MAIN.n }, function (_, i) { return i; }).sort(function (a, b) { return mainPlot.xs[a] - mainPlot.xs[b]; });
        order.stamp = mainPlot.xs;
      }
      const at = view.selected === null ? -1 : order.indexOf(view.selected);
      const next = ev.key === "ArrowRight" ? Math.min(order.length - 1, at + 1) : Math.max(0, at < 0 ? 0 : at - 1);
      view.selected = order[next];
      showPoint(view.selected);
    });
  }

  // ------------------------------------------------------------------ criterion charts

  /** A criterion against k, one line per covariance type; the chosen and drawn marked. */
  function buildCriterionPlot(svg, key, zoom) {
    clear(svg);
    const box = { left: 78, top: 14, width: 300, height: 240 };
    const rows = CANDS.map(function (c, i) { return { k: c.k, type: c.type, v: c[key], i: i }; });
    const vals = rows.map(function (r) { return r.v; }).filter(function (v) { return v !== null && v !== undefined; });
    if (vals.length === 0) return;
    vals.sort(function (a, b) { return a - b; });
    const lo = vals[0];
    let hi = vals[vals.length - 1];
    if (zoom) {
      const median = vals[Math.floor((vals.length - 1) / 2)];
      if (median > lo) hi = Math.min(hi, lo + 2 * (median - lo));
    }
    const pad = 0.06 * (hi - lo || Math.abs(hi) || 1);
    const xdom = [KS[0] - 0.5, KS[KS.length - 1] + 0.5];
    const step = Math.max(1, Math.ceil(KS.length / 10));
    const sc = frame(svg, box, xdom, [lo - pad, hi + pad], { xlabel: "number of components k", ylabel: key.toUpperCase() + " (lower is better)", xticks: KS.filter(function (_, i) { return i % step === 0; }) });
    const layer = el("g", { "clip-path": clipRect(svg, { left: box.left, top: box.top - 6, width: box.width, height: box.height + 12 }) }, svg);
    const g = el("g", { class: "chart-legend" }, svg);
    const rowH = TYPES.length > 8 ? 13 : 18;
    TYPES.forEach(function (type, t) {
      const colour = TYPE_COLORS[t % TYPE_COLORS.length], shape = MARKERS[t % MARKERS.length];
      const mine = rows.filter(function (r) { return r.type === type; }).sort(function (a, b) { return a.k - b.k; });
      let d = "", prev = null;
      for (const r of mine) {
        if (r.v === null || r.v === undefined) { prev = null; continue; }
        d += (prev === null ? "M" : "L") + sc.x(r.k).toFixed(1) + "," + sc.y(r.v).toFixed(1);
        prev = r;
      }
      el("path", { d: d, fill: "none", stroke: colour, "stroke-width": 1.8 }, layer);
      for (const r of mine) {
        if (r.v === null || r.v === undefined) continue;
        const mk = marker(layer, shape, sc.x(r.k), sc.y(r.v), 3.6, colour);
        mk.setAttribute("class", "pick");
        mk.setAttribute("data-candidate", r.i);
        const tip = el("title", {}, mk);
        tip.textContent = candidateName(CANDS[r.i]) + ": " + key.toUpperCase() + " " + total(r.v);
        mk.addEventListener("click", function () { drawCandidate(r.i); });
      }
      const y = box.top + 10 + rowH * t, lx = box.left + box.width + 16;
      el("line", { x1: lx, x2: lx + 22, y1: y, y2: y, stroke: colour, "stroke-width": 1.8 }, g);
      marker(g, shape, lx + 11, y, 3.2, colour);
      text(g, lx + 30, y + 4, type);
    });
    const lx = box.left + box.width + 16;
    let ly = box.top + 10 + rowH * TYPES.length + 8;
    const best = CANDS[CHOSEN];
    if (best[key] !== null && best[key] !== undefined) {
      el("circle", { class: "chosen-mark", cx: sc.x(best.k), cy: sc.y(best[key]), r: 9 }, layer);
      el("circle", { class: "chosen-mark", cx: lx + 11, cy: ly, r: 7 }, g);
      text(g, lx + 30, ly + 4, "chosen \u2605");
      ly += 18;
    }
    const drawn = CANDS[view.candidate];
    if (drawn[key] !== null && drawn[key] !== undefined) {
      el("circle", { class: "drawn-mark", cx: sc.x(drawn.k), cy: sc.y(drawn[key]), r: 13, "data-candidate": view.candidate }, layer);
      el("circle", { class: "drawn-mark", cx: lx + 11, cy: ly, r: 7 }, g);
      text(g, lx + 30, ly + 4, "drawn");
      text(g, lx + 30, ly + 20, candidateName(drawn));
    }
  }

  function drawCriteria() {
    const zoom = document.getElementById("criterion-zoom").checked;
    for (const key of DATA.criteria) {
      const svg = document.getElementById(key + "-plot");
      if (svg) buildCriterionPlot(svg, key, zoom);
    }
  }

  // ------------------------------------------------------------------ parameter tables

  function table(head, rows, cls) {
    const t = html("table", cls || "", null);
    const tr = html("tr", "", null, html("thead", "", null, t));
    for (const h of head) html("th", "", h, tr);
    const body = html("tbody", "", null, t);
    for (const row of rows) {
      const r = html("tr", "", null, body);
      const th = html("th", "", null, r);
      th.setAttribute("scope", "row");
      if (row[0] instanceof Node) th.appendChild(row[0]); else th.textContent = row[0];
      for (const cell of row.slice(1)) html("td", "", cell, r);
    }
    return t;
  }

  function swatch(j) {
    const span = document.createElement("span");
    const sw = html("span", "swatch", null, span);
    sw.setAttribute("data-component", j);
    sw.style.background = color(j);
    span.appendChild(document.createTextNode("c" + j));
    return span;
  }

  /** Dense covariance of component j in the data's units: S = D U^-T U^-1 D. */
  function covariance(m, j, ds) {
    const d = m.d, S = new Float64Array(d * d), cols = [];
    for (let c = 0; c < d; c++) {
      const e = new Float64Array(d);
      e[c] = ds.scale[c];
      cols.push(solveUpper(m, j, e));
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) S[a * d + b] = dot(cols[a], cols[b]);
    return S;
  }

  function meanOf(m, j, ds) {
    const out = [];
    for (let c = 0; c < m.d; c++) out.push(ds.centre[c] + ds.scale[c] * m.mu[j * m.d + c]);
    return out;
  }

  /** The drawn candidate's weights, means, standard deviations and covariance matrices. */
  function renderParameters() {
    const host = document.getElementById("parameter-tables");
    const cand = CANDS[view.candidate], m = drawnMixture();
    const label = document.getElementById("parameters-label");
    label.textContent = "k = " + cand.k + ", " + cand.type + " covariances" + (view.candidate === CHOSEN ? ": the chosen model \u2605" : " (not the chosen model)");
    host.setAttribute("data-candidate", view.candidate);
    clear(host);
    if (!m) { html("p", "note", "This candidate could not be fitted: " + (cand.error || ""), host); return; }
    const names = MAIN.columns, d = m.d;
    const covs = [];
    for (let j = 0; j < m.k; j++) covs.push(covariance(m, j, MAIN));
    html("h3", "", "Weights and means", host);
    host.appendChild(table(["component", "weight"].concat(names.map(function (c) { return "mean of " + c; })),
      covs.map(function (_, j) { return [swatch(j), num(m.w[j])].concat(meanOf(m, j, MAIN).map(function (v) { return num(v); })); }), "numeric"));
    html("h3", "", "Standard deviations (square roots of the covariance diagonals)", host);
    host.appendChild(table(["component"].concat(names.map(function (c) { return "sd of " + c; })),
      covs.map(function (S, j) { return [swatch(j)].concat(names.map(function (_, a) { return num(Math.sqrt(Math.max(S[a * d + a], 0))); })); }), "numeric"));
    if (d >= 2 && d <= 12) {
      html("h3", "", "Covariance matrices", host);
      const box = html("div", "matrices", null, host);
      covs.forEach(function (S, j) {
        const fig = html("figure", "", null, box);
        html("figcaption", "", null, fig).appendChild(swatch(j));
        fig.appendChild(table([""].concat(names), names.map(function (nm, a) {
          return [nm].concat(names.map(function (_, b) { return num(S[a * d + b]); }));
        }), "numeric matrix"));
      });
    } else if (d > 12) {
      html("p", "note", "Full covariance matrices are not shown for " + d + " features (more than 12).", host);
    }
  }

  // ------------------------------------------------------------------ EM player

  const REPLAYS = DATA.replays;
  const emPlot = makePlot(document.getElementById("em-plot"), MAIN, {});
  const llSvg = document.getElementById("ll-plot");
  const player = { run: null, frames: [], frame: 0, timer: null, states: [] };
  const emSlider = document.getElementById("em-step");
  const playButton = document.getElementById("em-play");

  function currentRun() {
    const start = REPLAYS.starts[Number(document.getElementById("em-start").value)];
    return { start: start, run: start.runs[document.getElementById("em-seed").value] };
  }

  /**
   * Half-steps of a replay with T E-steps: 0 the start; 2t-1 E-step t (memberships under
   * theta_t); 2t M-step t (ellipses move to theta_t+1, the fitted parameters after the
   * last); 2T+1 the fitted model's memberships.
   */
  function framesOf(run) {
    const T = run.steps.length, frames = [{ colours: null, shapes: 0, ll: 0, kind: "start" }];
    for (let t = 1; t <= T; t++) {
      frames.push({ colours: t - 1, shapes: t - 1, ll: t, kind: "E", t: t });
      frames.push({ colours: t - 1, shapes: t < T ? t : T, ll: t, kind: "M", t: t });
    }
    frames.push({ colours: T, shapes: T, ll: T + 1, kind: "fitted" });
    return frames;
  }

  function loadRun() {
    setPlaying(false);
    const cr = currentRun();
    player.run = cr.run;
    const note = document.getElementById("em-start-note");
    if (!cr.run || cr.run.error) {
      note.textContent = cr.start.label + ": " + cr.start.note + ". " + (cr.run ? "This start failed: " + cr.run.error : "Not computed for this seed.");
      player.frames = [];
      emSlider.max = 0;
      clear(llSvg);
      emPlot.layout(MAIN.d === 1 ? 1 : undefined);
      emPlot.colour("components", null);
      return;
    }
    const run = cr.run;
    const nShort = run.steps.filter(function (s) { return s.phase === "short"; }).length;
    const nFull = run.steps.length - nShort;
    const how = nShort && nFull ? " (" + nShort + " in the short runs, then " + nFull + " on all rows)" : nShort ? " (in the short runs, which here used " + (run.steps[0].rows < DATA.n ? thousands(run.steps[0].rows) + " sampled rows)" : "all rows)") : "";
    note.textContent = cr.start.label + ": " + cr.start.note + ". " + (run.final.converged ? "Converged" : "Not converged") + " after " + plural(run.steps.length, "iteration") + how + (run.final.reseeds.length ? "; " + plural(run.final.reseeds.length, "component") + " re-seeded" : "") + ".";
    player.states = run.steps.map(function (s) { return mixture(s.state, MAIN.d); }).concat([mixture(run.final.state, MAIN.d)]);
    player.frames = framesOf(run);
    emSlider.max = player.frames.length - 1;
    emPlot.layout(MAIN.d === 1 ? densityTop(MAIN, player.states) : undefined);
    buildLLPlot(run);
    showFrame(player.frames.length - 1);
  }

  function showFrame(f) {
    if (!player.frames.length) return;
    player.frame = f;
    emSlider.value = f;
    const fr = player.frames[f], run = player.run, T = run.steps.length;
    const colours = fr.colours === null ? null : player.states[fr.colours];
    const shapes = player.states[fr.shapes];
    emPlot.colour("components", colours ? evaluate(colours, MAIN) : null);
    emPlot.components(shapes);
    emPlot.svg.setAttribute("data-frame", f);
    emPlot.svg.setAttribute("data-kind", fr.kind);
    document.getElementById("em-e").classList.toggle("on", fr.kind === "E");
    document.getElementById("em-m").classList.toggle("on", fr.kind === "M");
    let label, phase;
    if (fr.kind === "start") {
      label = "Start";
      phase = "The initial parameters, before the first E-step: no memberships yet.";
    } else if (fr.kind === "fitted") {
      label = "Fitted model";
      phase = "Memberships under the fitted parameters (" + (run.final.converged ? "converged" : "not converged") + " after " + plural(T, "iteration") + "); mean log-likelihood per row " + num(run.final.ll, 6) + ".";
    } else {
      const st = run.steps[fr.t - 1];
      const where = st.phase === "short" ? "short run" + (st.rows < DATA.n ? " on " + thousands(st.rows) + " sampled rows" : "") : "on all rows";
      label = "Iteration " + fr.t + " of " + T + ", " + (fr.kind === "E" ? "E-step" : "M-step");
      phase = fr.kind === "E" ? "Memberships recomputed under the current parameters (" + where + "); mean log-likelihood per row " + num(st.ll, 6) + "." : "Weights, means and covariances re-estimated from these memberships" + (fr.t === T ? ": the fitted model." : ".");
    }
    const lab = document.getElementById("em-step-label");
    lab.textContent = label + " \u00b7 half-step " + (f + 1) + " of " + player.frames.length;
    lab.setAttribute("data-kind", fr.kind);
    document.getElementById("em-phase").textContent = phase;
    renderEmParams(shapes);
    moveLL(fr);
  }

  function renderEmParams(m) {
    const host = document.getElementById("em-params");
    clear(host);
    const names = MAIN.columns.slice(0, 6);
    const t = table(["", "weight"].concat(names.map(function (c) { return "mean " + c; })),
      Array.from({ length: m.k }, function (_, j) {
        return [swatch(j), num(m.w[j])].concat(meanOf(m, j, MAIN).slice(0, 6).map(function (v) { return num(v); }));
      }), "numeric compact");
    t.setAttribute("data-weights", Array.from(m.w).join(" "));
    t.setAttribute("data-means", Array.from({ length: m.k }, function (_, j) { return meanOf(m, j, MAIN).join(","); }).join(" "));
    host.appendChild(t);
    if (MAIN.d > 6) html("p", "note", "Means of the first 6 of " + MAIN.d + " columns.", host);
  }

  const llView = {};
  function buildLLPlot(run) {
    clear(llSvg);
    const box = { left: 70, top: 14, width: 650, height: 190 };
    const kept = run.steps.map(function (s) { return s.ll; });
    const S = kept.length;
    const all = kept.concat([run.final.ll]);
    const others = run.curves.filter(function (_, i) { return i !== run.retained; });
    const keptMin = Math.min.apply(null, all), keptMax = Math.max.apply(null, all);
    const spread = Math.max(keptMax - keptMin, 1e-6 * Math.abs(keptMax), 1e-12);
    let lo = keptMin, hi = keptMax;
    for (const c of others) for (const v of c) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    lo = Math.max(lo, keptMin - 1.5 * spread);
    hi = Math.min(hi, keptMax + 1.5 * spread);
    const pad = 0.06 * Math.max(hi - lo, spread);
    const maxX = Math.max(S + 1, Math.max.apply(null, [0].concat(run.curves.map(function (c) { return c.length; }))));
    const xt = ticks(1, maxX, 10).values.filter(function (v) { return Number.isInteger(v) && v >= 1; });
    const nShort = run.steps.filter(function (st) { return st.phase === "short"; }).length;
    const dom = [0.5, maxX + 0.5];
    const xs = linear(dom[0], dom[1], box.left, box.left + box.width);
    if (nShort > 0) el("rect", { class: "phase-band", x: xs(0.5), y: box.top, width: xs(nShort + 0.5) - xs(0.5), height: box.height }, llSvg);
    const sc = frame(llSvg, box, dom, [lo - pad, hi + pad], { xlabel: "EM iteration", ylabel: "mean log-likelihood", xticks: xt });
    if (nShort > 0) text(llSvg, xs(0.5) + 6, box.top + box.height - 8, "short runs" + (run.starts > 1 ? " (" + run.starts + " starts)" : ""), { class: "phase-text" });
    const layer = el("g", { "clip-path": clipRect(llSvg, box) }, llSvg);
    for (const c of others) el("path", { d: pathFrom(c.map(function (_, i) { return sc.x(i + 1); }), c.map(sc.y)), fill: "none", stroke: "#aab1bc", "stroke-width": 1.2 }, layer);
    llView.px = all.map(function (_, i) { return sc.x(i + 1); });
    llView.py = all.map(sc.y);
    llView.line = el("path", { fill: "none", stroke: "#1f5fa8", "stroke-width": 2 }, layer);
    llView.dots = el("g", {}, layer);
    llView.cursor = el("line", { class: "cursor", y1: box.top, y2: box.top + box.height }, llSvg);
    const g = el("g", { class: "chart-legend" }, llSvg);
    const lx = box.left + box.width + 18;
    el("line", { x1: lx, x2: lx + 22, y1: box.top + 16, y2: box.top + 16, stroke: "#1f5fa8", "stroke-width": 2 }, g);
    text(g, lx + 28, box.top + 20, "this start");
    if (others.length) {
      el("line", { x1: lx, x2: lx + 22, y1: box.top + 34, y2: box.top + 34, stroke: "#aab1bc", "stroke-width": 1.2 }, g);
      text(g, lx + 28, box.top + 38, "other starts");
    }
    el("circle", { cx: lx + 11, cy: box.top + 52, r: 4, fill: "#fff", stroke: "#1f5fa8", "stroke-width": 1.5 }, g);
    text(g, lx + 28, box.top + 56, "fitted model");
  }

  function moveLL(fr) {
    const n = fr.ll;
    llView.line.setAttribute("d", pathFrom(llView.px.slice(0, n), llView.py.slice(0, n)));
    clear(llView.dots);
    for (let i = 0; i < n; i++) {
      const fitted = i === llView.px.length - 1;
      el("circle", { cx: llView.px[i], cy: llView.py[i], r: fitted ? 4 : 2.6, fill: fitted ? "#fff" : "#1f5fa8", stroke: "#1f5fa8", "stroke-width": 1.5 }, llView.dots);
    }
    llSvg.setAttribute("data-points", n);
    const at = Math.max(0, n - 1);
    llView.cursor.setAttribute("x1", llView.px[at]);
    llView.cursor.setAttribute("x2", llView.px[at]);
    llView.cursor.style.display = n ? "" : "none";
  }

  function setPlaying(on) {
    if (on && player.timer === null && player.frames.length) {
      if (player.frame >= player.frames.length - 1) showFrame(0);
      player.timer = window.setInterval(function () {
        const next = player.frame + 1;
        if (next < player.frames.length) showFrame(next);
        if (next >= player.frames.length - 1) setPlaying(false);
      }, 350);
    } else if (!on && player.timer !== null) {
      window.clearInterval(player.timer);
      player.timer = null;
    }
    playButton.textContent = player.timer !== null ? "\u275a\u275a Pause" : "\u25b6 Play";
    playButton.setAttribute("aria-pressed", player.timer !== null ? "true" : "false");
  }

  function buildPlayer() {
    const startSel = document.getElementById("em-start"), seedSel = document.getElementById("em-seed");
    REPLAYS.starts.forEach(function (s, i) {
      const o = html("option", "", s.label, startSel);
      o.value = i;
      o.title = s.note;
    });
    REPLAYS.seeds.forEach(function (s) { html("option", "", String(s), seedSel).value = s; });
    seedSel.value = String(REPLAYS.seed);
    startSel.addEventListener("change", loadRun);
    seedSel.addEventListener("change", loadRun);
    emSlider.addEventListener("input", function () { setPlaying(false); showFrame(Number(emSlider.value)); });
    playButton.addEventListener("click", function () { setPlaying(player.timer === null); });
    document.getElementById("em-first").addEventListener("click", function () { setPlaying(false); showFrame(0); });
    document.getElementById("em-last").addEventListener("click", function () { setPlaying(false); showFrame(player.frames.length - 1); });
    document.getElementById("em-prev").addEventListener("click", function () { setPlaying(false); showFrame(Math.max(0, player.frame - 1)); });
    document.getElementById("em-next").addEventListener("click", function () { setPlaying(false); showFrame(Math.min(player.frames.length - 1, player.frame + 1)); });
  }

  // ------------------------------------------------------------------ failure modes

  const failurePlots = [];
  function buildFailures() {
    const host = document.getElementById("failure-panels");
    for (const f of DATA.failures) {
      const ds = SETS[f.data];
      const box = html("div", "failure", null, host);
      box.setAttribute("data-failure", f.id);
      html("h3", "", f.title, box);
      html("p", "source note", f.source, box);
      const row = html("div", "failure-row", null, box);
      for (const p of f.panels) {
        const fig = html("figure", "failure-panel", null, row);
        html("figcaption", "panel-title", p.title, fig);
        const svg = el("svg", { viewBox: "0 0 340 290", role: "img", "aria-label": f.title + ": " + p.title }, fig);
        html("p", "note", p.caption, fig);
        const plot = makePlot(svg, ds, { small: true });
        failurePlots.push({ plot: plot, panel: p, ds: ds });
      }
      if (f.curves) {
        const fig = html("figure", "failure-panel", null, row);
        html("figcaption", "panel-title", "log-likelihood per row, per iteration", fig);
        const svg = el("svg", { viewBox: "0 0 340 290", role: "img", "aria-label": "Log-likelihood per iteration with and without regularisation" }, fig);
        html("p", "note", "Without regularisation the likelihood jumps when the component collapses: no real group earns it.", fig);
        drawCurves(svg, f.curves, f.mark);
      }
      html("p", "lesson", f.lesson, box);
    }
    drawFailures();
  }

  function drawFailures() {
    for (const fp of failurePlots) {
      const p = fp.panel, plot = fp.plot;
      const m = p.state ? mixture(p.state, fp.ds.d) : null;
      plot.layout(fp.ds.d === 1 ? densityTop(fp.ds, m ? [m] : []) : undefined);
      if (p.labels) {
        const labels = new Int32Array(fp.ds.n);
        for (let i = 0; i < fp.ds.n; i++) labels[i] = parseInt(p.labels[i], 36);
        plot.colour("components", null, labels);
        plot.centres(floats(p.centres));
      } else {
        plot.colour("components", m ? evaluate(m, fp.ds) : null);
        plot.components(m, p.highlight);
      }
    }
  }

  function drawCurves(svg, curves, mark) {
    const box = { left: 56, top: 10, width: 266, height: 220 };
    const all = [].concat.apply([], curves.map(function (c) { return c.values; }));
    const lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    const pad = 0.06 * (hi - lo || 1);
    const len = Math.max.apply(null, curves.map(function (c) { return c.values.length; }));
    const sc = frame(svg, box, [0.5, len + 0.5], [lo - pad, hi + pad], { xlabel: "EM iteration", nx: 5, ny: 5, xticks: ticks(1, len, 5).values.filter(Number.isInteger) });
    const colours = ["#c23b4e", "#1f5fa8"];
    const g = el("g", { class: "chart-legend" }, svg);
    curves.forEach(function (c, i) {
      const v = c.values;
      el("path", { class: "curve", d: pathFrom(v.map(function (_, t) { return sc.x(t + 1); }), v.map(sc.y)), fill: "none", stroke: colours[i % 2], "stroke-width": 2 }, svg);
      const y = box.top + box.height - 30 + 14 * i;
      el("line", { x1: box.left + 110, x2: box.left + 130, y1: y, y2: y, stroke: colours[i % 2], "stroke-width": 2 }, g);
      text(g, box.left + 136, y + 4, c.label);
    });
    const first = curves[0].values;
    if (mark) el("circle", { cx: sc.x(mark), cy: sc.y(first[mark - 1]), r: 5, fill: "none", stroke: "#1d2430", "stroke-width": 1.5 }, svg);
  }

  // ------------------------------------------------------------------ projection control

  function buildProjection() {
    const box = document.getElementById("projection");
    if (MAIN.d <= 2) return;
    box.hidden = false;
    const xs = document.getElementById("axis-x"), ys = document.getElementById("axis-y");
    MAIN.axes.forEach(function (a, i) {
      html("option", "", a.label, xs).value = i;
      html("option", "", a.label, ys).value = i;
    });
    xs.value = projection.x;
    ys.value = projection.y;
    function change() {
      projection.x = Number(xs.value);
      projection.y = Number(ys.value);
      redrawAll();
    }
    xs.addEventListener("change", change);
    ys.addEventListener("change", change);
  }

  function redrawAll() {
    mainPlot.layout();
    renderMain();
    showPoint(view.selected);
    emPlot.layout();
    if (player.frames.length) showFrame(player.frame); else emPlot.colour("components", null);
    drawFailures();
    writeNotes();
  }

  // ------------------------------------------------------------------ notes

  function writeNotes() {
    const notes = [];
    if (MAIN.d === 1) {
      notes.push("One column: the curves are each component's weighted density and the mixture's (black) over a histogram of the data; the points lie in a jittered strip below zero (their height has no meaning).");
    } else {
      notes.push("Ellipses are the one-sigma (dashed) and two-sigma (solid) contours of each component, crosses its mean.");
    }
    if (MAIN.d > 2) {
      const ax = axesOf(MAIN);
      notes.push("Drawn on " + ax[0].short + " and " + ax[1].short + ": means and ellipses are exact projections of each component.");
    }
    if (view.mode === "density") {
      notes.push(MAIN.d === 2 ? "Grey contours enclose the densest 10, 25, 50, 75 and 90 % of the drawn points under the drawn model; the red contour is the anomaly threshold on log p(x)." :
        MAIN.d > 2 ? "Grey contours are the density of the projection (the mixture's marginal on this plane), enclosing 10 to 90 % of the drawn points; the threshold applies to the full density, so flagged points are ringed instead." :
          "The red line is the anomaly threshold on the density.");
    }
    if (view.mode === "uncertainty") notes.push("Colour: 1 \u2212 the largest membership probability, from pale (certain) to dark red (as uncertain as " + (CANDS[view.candidate].k > 1 ? "1 \u2212 1/k" : "possible") + ").");
    if (MAIN.spec.sample) notes.push(MAIN.spec.sample);
    document.getElementById("view-note").textContent = notes.join(" ");
    document.getElementById("data-note").textContent = thousands(DATA.n) + " rows \u00d7 " + DATA.d + (DATA.d === 1 ? " column." : " columns.");
    document.querySelectorAll(".swatch[data-component]").forEach(function (sw) {
      sw.style.background = color(Number(sw.getAttribute("data-component")));
    });
  }

  // ------------------------------------------------------------------ start

  function init() {
    buildProjection();
    mainPlot.layout(MAIN.d === 1 ? densityTop(MAIN, [drawnMixture()]) : undefined);
    buildGrid();
    anomaly.max = DATA.anomaly.permille.length - 1;
    anomaly.value = DATA.anomaly.default;
    anomaly.addEventListener("input", applyThreshold);
    document.querySelectorAll("input[name='view-mode']").forEach(function (r) {
      r.addEventListener("change", function () { view.mode = r.value; renderMain(); writeNotes(); });
    });
    document.getElementById("back-to-chosen").addEventListener("click", function () { drawCandidate(CHOSEN); });
    document.getElementById("criterion-zoom").addEventListener("change", drawCriteria);
    document.querySelectorAll("tr[data-candidate]").forEach(function (tr) {
      const i = Number(tr.getAttribute("data-candidate"));
      if (!CANDS[i].state) return;
      tr.tabIndex = 0;
      tr.classList.add("pickable");
      tr.addEventListener("click", function () { drawCandidate(i); });
      tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); drawCandidate(i); } });
    });
    wirePointEvents();
    drawCandidate(CHOSEN);
    buildPlayer();
    loadRun();
    buildFailures();
    writeNotes();
    document.body.setAttribute("data-ready", "true");
  }

  init();
})();
