/* gaussmix report: draws the JSON embedded in #gm-data into the page's inline SVGs.
 *
 * Python computed every number (responsibilities, ellipses, thresholds); this script only
 * maps them to pixels and wires the controls.  No libraries, no network.
 */
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("gm-data").textContent);
  // The SVG namespace, read from the page's own inline SVG (keeps URLs out of this file).
  const SVG_NS = document.getElementById("em-plot").namespaceURI;
  const STEPS = DATA.steps;
  const K = STEPS[0].w.length;
  const N_SHOWN = DATA.points.x.length;

  // ------------------------------------------------------------------ small helpers

  /** Create an SVG element with attributes, appended to parent when given. */
  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  /** Linear map from [d0, d1] to [r0, r1]. */
  function linear(d0, d1, r0, r1) {
    const k = d1 !== d0 ? (r1 - r0) / (d1 - d0) : 0;
    return function (v) { return r0 + (v - d0) * k; };
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

  /** A number for reading: four significant digits, true minus sign. */
  function fmt(v) {
    if (v === null || !isFinite(v)) return "\u2014";
    const a = Math.abs(v);
    const s = a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
    return s.replace("-", "\u2212");
  }

  function thousands(n) { return n.toLocaleString("en-US"); }

  // Component colours: Tableau 10, then evenly spaced hues.
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
    "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"];
  function color(j) {
    return j < PALETTE.length ? PALETTE[j] : "hsl(" + ((j * 137.508) % 360).toFixed(0) + ",55%,48%)";
  }
  // Covariance types in the selection charts: colour and marker shape.
  const TYPE_STYLE = [
    { color: "#1f5fa8", marker: "circle" }, { color: "#c23b4e", marker: "square" },
    { color: "#2e8540", marker: "triangle" }, { color: "#8a5a9e", marker: "diamond" },
    { color: "#b8860b", marker: "circle" }, { color: "#555", marker: "square" }];

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

  function clipRect(svg, id, box) {
    const clip = el("clipPath", { id: id }, el("defs", {}, svg));
    el("rect", { x: box.left, y: box.top, width: box.width, height: box.height }, clip);
    return "url(#" + id + ")";
  }

  function pathFrom(xs, ys) {
    let d = "";
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || !isFinite(ys[i])) continue;
      d += (d ? "L" : "M") + xs[i].toFixed(1) + "," + ys[i].toFixed(1);
    }
    return d;
  }

  // ------------------------------------------------------------------ EM snapshots

  /** Component index and probability of each shown point at step s (decoded lazily). */
  const decoded = [];
  function memberships(s) {
    if (decoded[s]) return decoded[s];
    const w = DATA.code_width, z = STEPS[s].z, p = STEPS[s].p;
    const labels = new Int32Array(N_SHOWN), prob = new Float32Array(N_SHOWN);
    for (let i = 0; i < N_SHOWN; i++) {
      labels[i] = parseInt(z.substr(i * w, w), 36);
      prob[i] = parseInt(p.substr(2 * i, 2), 10) / 100;
    }
    decoded[s] = { labels: labels, prob: prob };
    return decoded[s];
  }

  function phaseText(s) {
    const st = STEPS[s], starts = DATA.starts, n = DATA.n;
    const hasShort = STEPS.some(function (t) { return t.phase === "short"; });
    if (st.phase === "short") {
      const rows = st.rows < n ? "a random subsample of " + thousands(st.rows) + " rows" : "all " + thousands(n) + " rows";
      return "Short run of start " + (starts.retained + 1) + " of " + starts.n + " (the start kept), iteration " + st.iter + ", on " + rows + ".";
    }
    if (st.phase === "full") {
      return "Run on all " + thousands(n) + " rows, iteration " + st.iter + (hasShort ? ", continuing the best short run (start " + (starts.retained + 1) + ")." : ".");
    }
    return "Fitted model: the parameters after the last M-step (" + (DATA.chosen.converged ? "converged" : "not converged") + ").";
  }

  function stepName(st) {
    return st.phase === "fitted" ? "fitted model" : (st.phase === "short" ? "short run" : "all rows") + ", iteration " + st.iter;
  }

  // ------------------------------------------------------------------ main plot

  const emSvg = document.getElementById("em-plot");
  const BOX = { left: 70, top: 14, width: 590, height: 420 };
  const emView = { circles: [], outer: [], inner: [], means: [], curves: [], total: null };

  function buildEmPlot() {
    const pts = DATA.points;
    let sc;
    if (DATA.view === "density") {
      // 1-D: x = value, y = density; points in a jittered strip below zero.
      const ymax = DATA.density.ymax;
      sc = frame(emSvg, BOX, pts.xrange, [-0.2 * ymax, ymax], { xlabel: DATA.labels[0], ylabel: "density", yMin: 0 });
      const h = DATA.density;
      const bars = el("g", { class: "hist" }, emSvg);
      for (let i = 0; i < h.heights.length; i++) {
        const x0 = sc.x(h.edges[i]), x1 = sc.x(h.edges[i + 1]);
        el("rect", { x: x0, y: sc.y(h.heights[i]), width: Math.max(x1 - x0 - 0.5, 0.5), height: sc.y(0) - sc.y(h.heights[i]), fill: "#dde1e7" }, bars);
      }
      el("line", { x1: BOX.left, x2: BOX.left + BOX.width, y1: sc.y(0), y2: sc.y(0), stroke: "#7b8390" }, emSvg);
      sc.py = function (j) { return sc.y(-(0.03 + 0.16 * j) * ymax); };
    } else {
      sc = frame(emSvg, BOX, pts.xrange, pts.yrange, { xlabel: DATA.labels[0], ylabel: DATA.labels[1] });
      sc.py = sc.y;
    }
    emView.sc = sc;
    const clip = clipRect(emSvg, "em-clip", BOX);
    const layer = el("g", { "clip-path": clip }, emSvg);
    const r = N_SHOWN > 1000 ? 2.4 : N_SHOWN > 300 ? 3 : 3.6;
    const pointLayer = el("g", { class: "points" }, layer);
    for (let i = 0; i < N_SHOWN; i++) {
      emView.circles.push(el("circle", { class: "point", cx: sc.x(pts.x[i]).toFixed(1), cy: sc.py(pts.y[i]).toFixed(1), r: r }, pointLayer));
    }
    const shapes = el("g", { class: "components" }, layer);
    for (let j = 0; j < K; j++) {
      if (DATA.view === "density") {
        emView.curves.push(el("path", { class: "curve", fill: "none", stroke: color(j), "stroke-width": 2 }, shapes));
      } else {
        emView.outer.push(el("path", { class: "ellipse", fill: color(j), stroke: color(j), "data-component": j }, shapes));
        emView.inner.push(el("path", { class: "ellipse inner", stroke: color(j) }, shapes));
        emView.means.push(el("path", { class: "mean", stroke: color(j) }, shapes));
      }
    }
    if (DATA.view === "density") emView.total = el("path", { class: "curve total", fill: "none", stroke: "#1d2430", "stroke-width": 1.6 }, shapes);
    drawPlotLegend();
  }

  /** A key in the plot's corner: what the marks mean. */
  function drawPlotLegend() {
    const g = el("g", { class: "chart-legend" }, emSvg);
    const x0 = BOX.left + 10, y0 = BOX.top + 14;
    let row = 0;
    function item(draw, label) {
      const y = y0 + 17 * row++;
      draw(x0 + 8, y);
      text(g, x0 + 22, y + 4, label);
    }
    el("rect", { x: x0 - 4, y: y0 - 12, width: 178, height: DATA.view === "density" ? 60 : 77, fill: "#fff", "fill-opacity": 0.85, stroke: "#d9dde3" }, g);
    if (DATA.view === "density") {
      item(function (x, y) { el("line", { x1: x - 7, x2: x + 7, y1: y, y2: y, stroke: "#1d2430", "stroke-width": 1.6 }, g); }, "mixture density");
      item(function (x, y) { el("line", { x1: x - 7, x2: x + 7, y1: y, y2: y, stroke: color(0), "stroke-width": 2 }, g); }, "weighted component");
    } else {
      item(function (x, y) { el("ellipse", { cx: x, cy: y, rx: 8, ry: 5, fill: "none", stroke: "#555", "stroke-width": 2 }, g); }, "2\u03c3 contour");
      item(function (x, y) { el("ellipse", { cx: x, cy: y, rx: 5, ry: 3, fill: "none", stroke: "#555", "stroke-dasharray": "3 2" }, g); }, "1\u03c3 contour");
      item(function (x, y) { el("path", { d: "M" + (x - 5) + "," + y + "h10M" + x + "," + (y - 5) + "v10", stroke: "#555", "stroke-width": 2.5 }, g); }, "component mean");
    }
    item(function (x, y) { el("circle", { cx: x, cy: y, r: 3.5, fill: "#9aa", stroke: "#111", "stroke-width": 1.6 }, g); }, "flagged as anomalous");
  }

  /** Sampled outline of an ellipse (centre, semi-axes a, b scaled by m, angle) in pixels. */
  function ellipsePath(g, m, sc) {
    const cx = g[0], cy = g[1], a = g[2] * m, b = g[3] * m, c = Math.cos(g[4]), s = Math.sin(g[4]);
    let d = "";
    for (let i = 0; i <= 72; i++) {
      const t = (2 * Math.PI * i) / 72, ex = a * Math.cos(t), ey = b * Math.sin(t);
      d += (i ? "L" : "M") + sc.x(cx + c * ex - s * ey).toFixed(1) + "," + sc.y(cy + s * ex + c * ey).toFixed(1);
    }
    return d + "Z";
  }

  function drawDensities(st) {
    const sc = emView.sc, xr = DATA.points.xrange, n = 240;
    const xs = [], total = new Float64Array(n + 1);
    for (let i = 0; i <= n; i++) xs.push(xr[0] + ((xr[1] - xr[0]) * i) / n);
    const px = xs.map(sc.x);
    for (let j = 0; j < K; j++) {
      const mu = st.g[j][0], sd = Math.max(st.g[j][1], 1e-300), w = st.w[j];
      const ys = xs.map(function (x, i) {
        const v = (w * Math.exp(-0.5 * ((x - mu) / sd) ** 2)) / (sd * Math.sqrt(2 * Math.PI));
        total[i] += v;
        return sc.y(v);
      });
      emView.curves[j].setAttribute("d", pathFrom(px, ys));
    }
    emView.total.setAttribute("d", pathFrom(px, Array.from(total, sc.y)));
  }

  /** Show step s: point colours and opacities, component shapes, legend, labels. */
  function renderStep(s) {
    const st = STEPS[s], mem = memberships(s);
    const floor = K > 1 ? 1 / K : 0;
    for (let i = 0; i < N_SHOWN; i++) {
      const c = emView.circles[i];
      c.setAttribute("fill", color(mem.labels[i]));
      const certainty = K > 1 ? (mem.prob[i] - floor) / (0.99 - floor) : 1;
      c.setAttribute("fill-opacity", (0.18 + 0.72 * Math.max(0, Math.min(1, certainty))).toFixed(2));
    }
    if (DATA.view === "density") {
      drawDensities(st);
    } else {
      const sc = emView.sc;
      for (let j = 0; j < K; j++) {
        emView.outer[j].setAttribute("d", ellipsePath(st.g[j], 2, sc));
        emView.inner[j].setAttribute("d", ellipsePath(st.g[j], 1, sc));
        const mx = sc.x(st.g[j][0]).toFixed(1), my = sc.y(st.g[j][1]).toFixed(1);
        emView.means[j].setAttribute("d", "M" + (mx - 6) + "," + my + "h12M" + mx + "," + (my - 6) + "v12");
      }
    }
    emSvg.setAttribute("data-step", s);
    updateLegend(st);
    document.getElementById("em-step-label").textContent =
      "Step " + (s + 1) + " of " + STEPS.length + " \u00b7 " + stepName(st);
    document.getElementById("em-phase").textContent =
      phaseText(s) + " Mean log-likelihood per row: " + fmt(st.ll) + ".";
    moveCursor(s);
  }

  // ------------------------------------------------------------------ component legend

  const legendItems = [];
  function buildLegend() {
    const ul = document.getElementById("em-legend");
    for (let j = 0; j < K; j++) {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color(j);
      const name = document.createElement("span");
      name.textContent = "c" + j;
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.background = color(j);
      bar.appendChild(fill);
      const w = document.createElement("span");
      w.className = "w";
      li.append(sw, name, bar, w);
      ul.appendChild(li);
      legendItems.push({ fill: fill, w: w });
    }
    const note = document.createElement("li");
    note.className = "note";
    note.textContent = "bar: the component's weight at this step";
    ul.appendChild(note);
  }

  function updateLegend(st) {
    for (let j = 0; j < K; j++) {
      legendItems[j].fill.style.width = (100 * st.w[j]).toFixed(1) + "%";
      legendItems[j].w.textContent = st.w[j].toFixed(3);
    }
  }

  // ------------------------------------------------------------------ log-likelihood chart

  const llSvg = document.getElementById("ll-plot");
  const llView = {};

  function buildLLPlot() {
    const box = { left: 70, top: 14, width: 650, height: 190 };
    const S = STEPS.length;
    const kept = STEPS.map(function (st) { return st.ll; });
    const others = DATA.starts.curves.filter(function (_, i) { return i !== DATA.starts.retained; });
    // y range: the kept start in full; other starts may be clipped far below it
    const keptMin = Math.min.apply(null, kept), keptMax = Math.max.apply(null, kept);
    const spread = Math.max(keptMax - keptMin, 1e-6 * Math.abs(keptMax), 1e-12);
    let lo = keptMin, hi = keptMax;
    for (const c of others) for (const v of c) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
    lo = Math.max(lo, keptMin - 1.5 * spread);
    const pad = 0.06 * (hi - lo || spread);
    const maxX = Math.max(S, Math.max.apply(null, DATA.starts.curves.map(function (c) { return c.length; })));
    const xt = ticks(1, maxX, 10).values.filter(function (v) { return Number.isInteger(v) && v >= 1; });
    const nShort = STEPS.filter(function (st) { return st.phase === "short"; }).length;
    const dom = [0.5, maxX + 0.5];
    const xs = linear(dom[0], dom[1], box.left, box.left + box.width);
    if (nShort > 0) {
      // shade the short-run iterations before drawing the axes
      el("rect", { class: "phase-band", x: xs(0.5), y: box.top, width: xs(nShort + 0.5) - xs(0.5), height: box.height }, llSvg);
    }
    const sc = frame(llSvg, box, dom, [lo - pad, hi + pad], { xlabel: "EM iteration (step)", ylabel: "mean log-likelihood", xticks: xt });
    if (nShort > 0) {
      text(llSvg, xs(0.5) + 6, box.top + box.height - 8, "short runs" + (DATA.starts.n > 1 ? " (" + DATA.starts.n + " starts)" : ""), { class: "phase-text" });
    }
    if (nShort < S - 1) text(llSvg, xs(nShort + 0.5) + 6, box.top + box.height - 8, "on all rows", { class: "phase-text" });
    const layer = el("g", { "clip-path": clipRect(llSvg, "ll-clip", box) }, llSvg);
    for (const c of others) {
      el("path", { d: pathFrom(c.map(function (_, i) { return sc.x(i + 1); }), c.map(sc.y)), fill: "none", stroke: "#aab1bc", "stroke-width": 1.2 }, layer);
    }
    const px = kept.map(function (_, i) { return sc.x(i + 1); }), py = kept.map(sc.y);
    el("path", { d: pathFrom(px.slice(0, nShort + 1), py.slice(0, nShort + 1)), fill: "none", stroke: "#1f5fa8", "stroke-width": 2, "stroke-dasharray": "5 3" }, layer);
    el("path", { d: pathFrom(px.slice(nShort), py.slice(nShort)), fill: "none", stroke: "#1f5fa8", "stroke-width": 2 }, layer);
    for (let i = 0; i < S; i++) {
      el("circle", { cx: px[i], cy: py[i], r: i === S - 1 ? 4 : 2.6, fill: i === S - 1 ? "#fff" : "#1f5fa8", stroke: "#1f5fa8", "stroke-width": 1.5 }, layer);
    }
    llView.cursor = el("line", { class: "cursor", y1: box.top, y2: box.top + box.height }, llSvg);
    llView.dot = el("circle", { r: 6, fill: "none", stroke: "#e15759", "stroke-width": 2 }, llSvg);
    llView.px = px;
    llView.py = py;
    // key, right of the plot
    const g = el("g", { class: "chart-legend" }, llSvg);
    const lx = box.left + box.width + 18;
    const keys = [
      [{ stroke: "#1f5fa8", "stroke-width": 2, "stroke-dasharray": "5 3" }, "kept start, short run"],
      [{ stroke: "#1f5fa8", "stroke-width": 2 }, "kept start, all rows"],
      [{ stroke: "#aab1bc", "stroke-width": 1.2 }, "other starts"]];
    const shown = [nShort > 0, nShort < S - 1, others.length > 0];
    let row = 0;
    keys.forEach(function (kv, i) {
      if (!shown[i]) return;
      const y = box.top + 16 + 18 * row++;
      el("line", Object.assign({ x1: lx, x2: lx + 22, y1: y, y2: y }, kv[0]), g);
      text(g, lx + 28, y + 4, kv[1]);
    });
    const y = box.top + 16 + 18 * row;
    el("circle", { cx: lx + 11, cy: y, r: 4, fill: "#fff", stroke: "#1f5fa8", "stroke-width": 1.5 }, g);
    text(g, lx + 28, y + 4, "fitted model");
  }

  function moveCursor(s) {
    if (!llView.cursor) return;
    llView.cursor.setAttribute("x1", llView.px[s]);
    llView.cursor.setAttribute("x2", llView.px[s]);
    llView.dot.setAttribute("cx", llView.px[s]);
    llView.dot.setAttribute("cy", llView.py[s]);
  }

  // ------------------------------------------------------------------ BIC / AIC charts

  /** BIC or AIC against k, one line per covariance type; zoom: clip far from the minimum. */
  function buildCriterionPlot(svgId, key, label, zoom) {
    const svg = document.getElementById(svgId);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const sel = DATA.selection;
    const box = { left: 78, top: 14, width: 330, height: 240 };
    const ks = Array.from(new Set(sel.rows.map(function (r) { return r.k; }))).sort(function (a, b) { return a - b; });
    const vals = sel.rows.map(function (r) { return r[key]; }).filter(function (v) { return v !== null; });
    if (vals.length === 0) return;
    vals.sort(function (a, b) { return a - b; });
    const lo = vals[0];
    let hi = vals[vals.length - 1];
    if (zoom) {
      // up to twice the distance from the minimum to the median candidate
      const median = vals[Math.floor((vals.length - 1) / 2)];
      if (median > lo) hi = Math.min(hi, lo + 2 * (median - lo));
    }
    const pad = 0.06 * (hi - lo || Math.abs(hi) || 1);
    const xdom = [ks[0] - 0.5, ks[ks.length - 1] + 0.5];
    const step = Math.max(1, Math.ceil(ks.length / 10));
    const sc = frame(svg, box, xdom, [lo - pad, hi + pad], { xlabel: "number of components k", ylabel: label + " (lower is better)", xticks: ks.filter(function (_, i) { return i % step === 0; }) });
    const layer = el("g", { "clip-path": clipRect(svg, svgId + "-clip", { left: box.left, top: box.top - 6, width: box.width, height: box.height + 12 }) }, svg);
    const g = el("g", { class: "chart-legend" }, svg);
    sel.types.forEach(function (type, t) {
      const style = TYPE_STYLE[t % TYPE_STYLE.length];
      const rows = sel.rows.filter(function (r) { return r.type === type; }).sort(function (a, b) { return a.k - b.k; });
      // a line through the fitted candidates (a failed one leaves a gap)
      let d = "";
      let prev = null;
      for (const r of rows) {
        if (r[key] === null) { prev = null; continue; }
        d += (prev === null ? "M" : "L") + sc.x(r.k).toFixed(1) + "," + sc.y(r[key]).toFixed(1);
        prev = r;
      }
      el("path", { d: d, fill: "none", stroke: style.color, "stroke-width": 1.8 }, layer);
      for (const r of rows) if (r[key] !== null) marker(layer, style.marker, sc.x(r.k), sc.y(r[key]), 3.6, style.color);
      const y = box.top + 10 + 18 * t;
      const lx = box.left + box.width + 16;
      el("line", { x1: lx, x2: lx + 22, y1: y, y2: y, stroke: style.color, "stroke-width": 1.8 }, g);
      marker(g, style.marker, lx + 11, y, 3.6, style.color);
      text(g, lx + 30, y + 4, type);
    });
    const best = sel.rows[sel.best];
    if (best[key] !== null) {
      const bx = sc.x(best.k), by = sc.y(best[key]);
      el("circle", { class: "chosen-mark", cx: bx, cy: by, r: 9 }, layer);
      const ly = box.top + 10 + 18 * sel.types.length + 8;
      const lx = box.left + box.width + 16;
      el("circle", { class: "chosen-mark", cx: lx + 11, cy: ly, r: 7 }, g);
      text(g, lx + 30, ly + 4, "chosen \u2605");
      text(g, lx + 30, ly + 20, "k = " + best.k + ", " + best.type);
    }
  }

  // ------------------------------------------------------------------ anomaly threshold

  function applyThreshold(s) {
    const a = DATA.anomaly;
    let shown = 0;
    for (let i = 0; i < N_SHOWN; i++) {
      const flagged = a.flag_step[i] <= s;
      emView.circles[i].classList.toggle("flagged", flagged);
      if (flagged) shown++;
    }
    const count = a.count[s];
    const pct = (a.permille[s] / 10).toFixed(1) + " %";
    document.getElementById("anomaly-pct").textContent = pct;
    const out = document.getElementById("anomaly-count");
    out.setAttribute("data-count", count);
    out.setAttribute("data-shown", shown);
    let msg = thousands(count) + " of " + thousands(DATA.n) + " rows flagged";
    if (s > 0) msg += " (log-density < " + fmt(a.threshold[s]) + ")";
    if (N_SHOWN < DATA.n) msg += "; " + thousands(shown) + " of the " + thousands(N_SHOWN) + " points drawn";
    out.textContent = msg + ".";
  }

  // ------------------------------------------------------------------ notes and swatches

  function writeNotes() {
    const notes = [];
    if (DATA.view !== "density") {
      notes.push("Ellipses are the one-sigma (dashed) and two-sigma (solid) contours of each component, crosses its mean.");
    }
    if (DATA.view === "pca") {
      const e = DATA.explained;
      notes.push("The " + DATA.d + " columns are projected on the first two principal components of the data (together " +
        (100 * (e[0] + e[1])).toFixed(1) + "% of its variance); means and ellipses are exact projections of each component.");
    } else if (DATA.view === "density") {
      notes.push("One column: the x axis is its value, the curves are each component's weighted density and the mixture's (black) over a histogram of the data; the points lie in a jittered strip below zero (their height has no meaning).");
    }
    if (N_SHOWN < DATA.n) notes.push("Showing " + thousands(N_SHOWN) + " of the " + thousands(DATA.n) + " rows (a fixed random subsample).");
    document.getElementById("view-note").textContent = notes.join(" ");
    document.getElementById("data-note").textContent = thousands(DATA.n) + " rows \u00d7 " + DATA.d + (DATA.d === 1 ? " column." : " columns.");
    document.querySelectorAll(".swatch[data-component]").forEach(function (sw) {
      sw.style.background = color(Number(sw.getAttribute("data-component")));
    });
  }

  // ------------------------------------------------------------------ controls

  const slider = document.getElementById("em-step");
  const playButton = document.getElementById("em-play");
  let timer = null;

  function setPlaying(on) {
    if (on && timer === null) {
      if (Number(slider.value) >= STEPS.length - 1) { slider.value = 0; renderStep(0); }
      timer = window.setInterval(function () {
        const next = Number(slider.value) + 1;
        if (next >= STEPS.length) { setPlaying(false); return; }
        slider.value = next;
        renderStep(next);
      }, 450);
    } else if (!on && timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
    playButton.textContent = timer !== null ? "\u275a\u275a Pause" : "\u25b6 Play";
    playButton.setAttribute("aria-pressed", timer !== null ? "true" : "false");
  }

  function init() {
    writeNotes();
    buildEmPlot();
    buildLegend();
    buildLLPlot();
    const zoom = document.getElementById("criterion-zoom");
    function drawCriteria() {
      buildCriterionPlot("bic-plot", "bic", "BIC", zoom.checked);
      buildCriterionPlot("aic-plot", "aic", "AIC", zoom.checked);
    }
    zoom.addEventListener("change", drawCriteria);
    drawCriteria();
    slider.max = STEPS.length - 1;
    slider.value = STEPS.length - 1;  // open on the fitted model
    slider.addEventListener("input", function () { setPlaying(false); renderStep(Number(slider.value)); });
    playButton.addEventListener("click", function () { setPlaying(timer === null); });
    const anomaly = document.getElementById("anomaly");
    anomaly.max = DATA.anomaly.count.length - 1;
    anomaly.value = DATA.anomaly.default;
    anomaly.addEventListener("input", function () { applyThreshold(Number(anomaly.value)); });
    renderStep(STEPS.length - 1);
    applyThreshold(Number(anomaly.value));
    document.body.setAttribute("data-ready", "true");
  }

  init();
})();
