// SDE-Drag point and mask editor for the "Drag Points (SDE-Drag editor)" node.
//
// The node's own widgets are the single source of truth: `points` holds
// {"sources": [[x, y], ...], "targets": [[x, y], ...]} and `mask_strokes` holds painted discs
// [[x, y, radius, value], ...], both in IMAGE pixels. They are ordinary widget values, so they are
// saved in the workflow JSON and a shared workflow reproduces the drag exactly.
//
// Region drag: `"mode": "region"` in the points JSON (set by the Points | Region switch; absent or
// "windows" is SDE-Drag's point windows) moves the painted region as a whole by the arrows' map:
// 1 arrow a translation, 2 a similarity, 3+ the least-squares affine map (arrowMap below, the same
// map as sampling/drag.py's arrow_transform). The text decides the mode the editor shows.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE_ID = "CoupledSDE_DragPoints";
const HIT_RADIUS = 9; // canvas pixels
const COLORS = {
  source: "#ff4d4d", target: "#3ddc84", arrow: "#ffd54a", mask: "rgba(80, 160, 255, 0.35)",
  // region mode: the painted region where it is, and (stronger, outlined) where the arrows move it
  // (drawn with globalAlpha 0.3 where it is, 0.5 plus a solid outline where it goes)
  outline: "#ff8c00",
  warning: "#ffb74d",
};
const MODES = ["windows", "region"]; // the points JSON's "mode" values that nodes/points.py accepts
const REGION_TIP = "Move the painted region as a whole: paint it, then draw arrows — 1 arrow moves it, " +
  "2 also rotate and scale it, 3 give any affine map";

// The forms nodes/points.py accepts, read the same way, so that the editor shows what a run will use.
// Returns {sources, targets} or {error}; an empty text is no pairs yet (not an error while editing).
function loadJSON(text) {
  const t = String(text ?? "").trim();
  if (!t) return { value: null };
  try {
    return { value: JSON.parse(t.replace(/'/g, '"')) };
  } catch (e) {
    return { error: `not valid JSON (${e.message})` };
  }
}
function toPoint(p) {
  if (p && typeof p === "object" && !Array.isArray(p) && "x" in p && "y" in p) p = [p.x, p.y];
  if (Array.isArray(p) && p.length === 2) {
    const x = Number(p[0]);
    const y = Number(p[1]);
    if (p[0] !== null && p[1] !== null && Number.isFinite(x) && Number.isFinite(y)) return [x, y];
  }
  throw new Error(`expected a point [x, y] or {"x": .., "y": ..}, got ${JSON.stringify(p)}`);
}
function parsePoints(text) {
  const { value: data, error } = loadJSON(text);
  if (error) return { error };
  if (data === null) return { sources: [], targets: [] };
  try {
    let sources;
    let targets;
    const isList = (p) => Array.isArray(p);
    if (data && typeof data === "object" && !Array.isArray(data)) {
      if (!Array.isArray(data.sources) || !Array.isArray(data.targets))
        return { error: "a JSON object needs 'sources' and 'targets' lists" };
      sources = data.sources.map(toPoint);
      targets = data.targets.map(toPoint);
      if ("mode" in data && !MODES.includes(data.mode))
        return { error: `"mode" must be one of ${MODES.join(", ")}, got ${JSON.stringify(data.mode)}` };
    } else if (Array.isArray(data)) {
      if (data.length && data.every((p) => isList(p) && p.length === 4)) {
        sources = data.map((p) => toPoint(p.slice(0, 2)));
        targets = data.map((p) => toPoint(p.slice(2)));
      } else if (data.length && data.every((p) => isList(p) && p.length === 2 && p[0] !== null && typeof p[0] === "object")) {
        sources = data.map((p) => toPoint(p[0]));
        targets = data.map((p) => toPoint(p[1]));
      } else {
        const pts = data.map(toPoint);
        if (pts.length % 2) return { error: `${pts.length} points cannot pair up; list them as source, target, ...` };
        sources = pts.filter((_, i) => i % 2 === 0);
        targets = pts.filter((_, i) => i % 2 === 1);
      }
    } else {
      return { error: `expected drag points (a JSON object or list), got ${typeof data}` };
    }
    if (sources.length !== targets.length)
      return { error: `${sources.length} source points but ${targets.length} target points; they pair up by order` };
    // the size of the image the points were placed on, when the text records it (the editor writes it)
    const size = data && !Array.isArray(data) && data.width > 0 && data.height > 0
      ? { width: Math.round(data.width), height: Math.round(data.height) } : {};
    const mode = data && !Array.isArray(data) && data.mode === "region" ? "region" : "windows";
    return { sources, targets, ...size, mode };
  } catch (e) {
    return { error: e.message };
  }
}
function parseStrokes(text) {
  const { value: data, error } = loadJSON(text);
  if (error) return { error };
  if (data === null) return { strokes: [] };
  if (!Array.isArray(data)) return { error: "expected a list of [x, y, radius, value] discs" };
  const bad = data.find((s) => !Array.isArray(s) || s.length !== 4 || s.some((v) => v === null || !Number.isFinite(Number(v))));
  if (bad !== undefined) return { error: `expected [x, y, radius, value], got ${JSON.stringify(bad)}` };
  return { strokes: data.map((s) => s.map(Number)) };
}

/** The map that takes the arrows' sources to their targets, as sampling/drag.py's arrow_transform
 * computes it: {A: [[a, b], [c, d]], t: [e, f]} (p -> A p + t, in image pixels) or {error}.
 * 1 pair: a translation; 2: the similarity mapping both exactly (z = (t1 - t0) / (s1 - s0) as a
 * complex factor, p -> t0 + z (p - s0)); 3+: the least-squares affine map (exact for 3 points not
 * on one line). */
function arrowMap(sources, targets) {
  const n = Math.min(sources.length, targets.length);
  if (!n) return { error: "no arrows" };
  if (n === 1) return { A: [[1, 0], [0, 1]], t: [targets[0][0] - sources[0][0], targets[0][1] - sources[0][1]] };
  if (n === 2) {
    const [sx, sy] = [sources[1][0] - sources[0][0], sources[1][1] - sources[0][1]];
    const [tx, ty] = [targets[1][0] - targets[0][0], targets[1][1] - targets[0][1]];
    const s2 = sx * sx + sy * sy;
    if (Math.sqrt(s2) < 1e-9) return { error: "the 2 arrows start at one point: start them apart" };
    const zr = (tx * sx + ty * sy) / s2; // (tx + i ty) / (sx + i sy)
    const zi = (ty * sx - tx * sy) / s2;
    const A = [[zr, -zi], [zi, zr]];
    return { A, t: [targets[0][0] - (zr * sources[0][0] - zi * sources[0][1]),
      targets[0][1] - (zi * sources[0][0] + zr * sources[0][1])] };
  }
  // least squares on the centred points: A = (T^T S)(S^T S)^-1, t = mean(T) - A mean(S)
  const mean = (pts) => [0, 1].map((k) => pts.slice(0, n).reduce((a, p) => a + p[k], 0) / n);
  const ms = mean(sources);
  const mt = mean(targets);
  let c00 = 0, c01 = 0, c11 = 0;
  const D = [[0, 0], [0, 0]];
  for (let i = 0; i < n; i++) {
    const s = [sources[i][0] - ms[0], sources[i][1] - ms[1]];
    const t = [targets[i][0] - mt[0], targets[i][1] - mt[1]];
    c00 += s[0] * s[0];
    c01 += s[0] * s[1];
    c11 += s[1] * s[1];
    for (const r of [0, 1]) for (const k of [0, 1]) D[r][k] += t[r] * s[k];
  }
  // the singular values of the centred sources: one (near) zero = the sources lie on one line
  const det = c00 * c11 - c01 * c01;
  const big = (c00 + c11) / 2 + Math.hypot((c00 - c11) / 2, c01);
  const small = big > 0 ? Math.max(0, det) / big : 0;
  if (Math.sqrt(small) <= Math.max(1e-9, 1e-6 * Math.sqrt(big)))
    return { error: "the arrows start on one line (no affine map): start one off it, or use 2", collinear: true };
  const inv = [[c11 / det, -c01 / det], [-c01 / det, c00 / det]];
  const A = [0, 1].map((r) => [0, 1].map((k) => D[r][0] * inv[0][k] + D[r][1] * inv[1][k]));
  return { A, t: [0, 1].map((r) => mt[r] - A[r][0] * ms[0] - A[r][1] * ms[1]) };
}

class DragEditor {
  constructor(node) {
    this.node = node;
    this.mode = "arrows"; // arrows | paint | erase
    this.brush = 24;
    this.pending = null; // a placed source waiting for its target
    this.dragging = null; // {kind: "sources"|"targets", index}
    this.painting = false;
    this.image = new Image();
    this.image.onload = () => this.requestDraw();
    this.imageSrc = "";
    this.frame = 0; // the requestAnimationFrame of a pending redraw
    this.drawn = ""; // what the last draw showed (see changed())
    this.disposed = false;

    this.root = document.createElement("div");
    this.root.className = "coupled-sde-drag";
    this.root.style.cssText = "display:flex;flex-direction:column;gap:4px;width:100%;height:100%;pointer-events:auto;";
    this.toolbar = document.createElement("div");
    this.toolbar.style.cssText = "display:flex;flex-wrap:wrap;gap:4px;align-items:center;font:12px sans-serif;color:#ddd;";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "coupled-sde-drag-canvas";
    this.canvas.style.cssText = "width:100%;flex:1;min-height:200px;background:#222;border-radius:4px;cursor:crosshair;";
    this.status = document.createElement("div");
    this.status.className = "coupled-sde-drag-status";
    this.status.style.cssText = "font:11px sans-serif;color:#aaa;";
    this.root.append(this.toolbar, this.canvas, this.status);
    this.buildToolbar();

    this.canvas.addEventListener("pointerdown", (e) => this.onDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e));
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    // the upstream image may have changed (another file picked) while the pointer was away
    this.root.addEventListener("pointerenter", () => this.refresh());
    this.onWindowUp = (e) => this.onUp(e);
    this.resizeObserver = new ResizeObserver(() => this.requestDraw());
    this.attach();
  }

  // ---- lifecycle -------------------------------------------------------------------------------
  /** Redraw once, at the next animation frame, however many changes come before it. */
  requestDraw() {
    if (this.disposed || this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (!this.disposed) this.draw();
    });
  }
  /** What the editor shows; a redraw is due when it differs from what was last drawn. */
  stateKey() {
    // (the canvas size is not part of it: the ResizeObserver redraws on a resize)
    return [this.widget("points")?.value, this.widget("mask_strokes")?.value, this.imageSrc, this.image.naturalWidth,
      JSON.stringify(this.pending)].join("\u0000");
  }
  /** Look for the upstream image again and redraw if anything shown changed (cheap when nothing did). */
  refresh() {
    if (this.disposed) return;
    this.findUpstreamImage();
    if (this.stateKey() !== this.drawn) this.requestDraw();
  }
  /** Listen while the node is in a graph: on creation, and again when a removed node is added back
   * (undo, or a frontend that moves the node object into a subgraph). */
  attach() {
    if (this.attached) return;
    this.attached = true;
    this.disposed = false;
    // capture phase: Nodes 2.0 stops the pointerup's propagation inside the node
    window.addEventListener("pointerup", this.onWindowUp, true);
    window.addEventListener("pointercancel", this.onWindowUp, true);
    this.resizeObserver.observe(this.canvas);
  }
  /** The node left its graph: drop the window listener, the observer and any pending frame. */
  dispose() {
    this.disposed = true;
    this.attached = false;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.dragging = null;
    this.painting = false;
    window.removeEventListener("pointerup", this.onWindowUp, true);
    window.removeEventListener("pointercancel", this.onWindowUp, true);
    this.resizeObserver.disconnect();
  }

  // ---- widget-backed state --------------------------------------------------------------------
  widget(name) {
    return this.node.widgets?.find((w) => w.name === name);
  }
  // a text that does not parse reads as no pairs (and the status line shows why); it is only
  // replaced when the user draws, clears or undoes in the editor
  get parsedPoints() {
    return parsePoints(this.widget("points")?.value ?? "");
  }
  get points() {
    const p = this.parsedPoints;
    return p.error ? { sources: [], targets: [] } : p;
  }
  set points(p) {
    // with the size of the image they are placed on, so that a saved workflow draws them right before its
    // first run (when the image comes from a VAE Decode, the editor has no picture until then)
    const { w, h, known } = this.size;
    const size = known ? { width: w, height: h } : {};
    // region mode stays on while arrows are drawn (the key is only written in region mode)
    const mode = this.region ? { mode: "region" } : {};
    this.setWidget("points", JSON.stringify({ sources: p.sources, targets: p.targets, ...size, ...mode }));
  }
  /** Region mode: what the points text says (a text that does not parse reads as points mode). */
  get region() {
    return this.parsedPoints.mode === "region";
  }
  /** The Points | Region switch: writes (or removes) "mode": "region" in the points text and
   * keeps its other keys as they are. A text that does not parse is left alone (the status line
   * says why). */
  setRegion(on) {
    const text = this.widget("points")?.value ?? "";
    if (this.parsedPoints.error) return;
    const { value: data } = loadJSON(text);
    const object = data && typeof data === "object" && !Array.isArray(data);
    let next;
    if (object) {
      if (on === (data.mode === "region") && (on || !("mode" in data))) return; // already so
      next = { ...data };
      if (on) next.mode = "region";
      else delete next.mode;
    } else {
      if (!on) return; // an empty text or a list form has no mode: points mode already
      const p = this.points; // a list form becomes the editor's object form
      const { w, h, known } = this.size;
      next = { sources: p.sources, targets: p.targets, ...(known ? { width: w, height: h } : {}), mode: "region" };
    }
    this.setWidget("points", JSON.stringify(next));
  }
  get parsedStrokes() {
    return parseStrokes(this.widget("mask_strokes")?.value ?? "");
  }
  get strokes() {
    return this.parsedStrokes.strokes ?? [];
  }
  set strokes(s) {
    this.setWidget("mask_strokes", JSON.stringify(s));
  }
  setWidget(name, value) {
    const w = this.widget(name);
    if (!w) return;
    w.value = value;
    w.callback?.(value);
    if (this.node.graph) this.node.setDirtyCanvas?.(true, true);
    this.requestDraw();
  }

  // ---- toolbar ---------------------------------------------------------------------------------
  button(label, title, onClick) {
    const b = document.createElement("button");
    b.textContent = label;
    b.title = title;
    b.style.cssText = "padding:2px 6px;font:12px sans-serif;border-radius:3px;border:1px solid #555;background:#333;color:#eee;cursor:pointer;";
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      onClick();
    });
    this.toolbar.append(b);
    return b;
  }
  buildToolbar() {
    // Points | Region: what the arrows drive (the points text's "mode"; draw() shows which is on)
    this.regionButtons = {
      windows: this.button("Points", "Drag with point windows: each arrow moves the content around its source " +
        "point (SDE-Drag); the painted mask is the editable region.", () => this.setRegion(false)),
      region: this.button("Region", REGION_TIP, () => this.setRegion(true)),
    };
    this.regionButtons.windows.style.borderRadius = "3px 0 0 3px";
    this.regionButtons.region.style.borderRadius = "0 3px 3px 0";
    this.regionButtons.region.style.marginLeft = "-4px"; // one segmented switch
    this.regionButtons.region.style.marginRight = "8px";
    this.modeButtons = {
      arrows: this.button("Arrows", "Click a source, then its target. Drag an end to move it; right-click an end to delete its pair.", () => this.setMode("arrows")),
      paint: this.button("Paint mask", "Paint the editable region (white = may change).", () => this.setMode("paint")),
      erase: this.button("Erase", "Erase the editable region.", () => this.setMode("erase")),
    };
    const size = document.createElement("input");
    size.type = "range";
    size.min = "4";
    size.max = "128";
    size.value = String(this.brush);
    size.title = "Brush radius (image pixels)";
    size.style.width = "70px";
    size.addEventListener("input", () => (this.brush = Number(size.value)));
    this.toolbar.append(size);
    this.button("Undo pair", "Remove the last source -> target pair.", () => {
      const p = this.points;
      this.pending = null;
      p.sources.pop();
      p.targets.pop();
      this.points = p;
    });
    this.button("Clear points", "Remove every pair.", () => {
      this.pending = null;
      this.points = { sources: [], targets: [] };
    });
    this.button("Clear mask", "Remove the painted region (whole image editable).", () => (this.strokes = []));
    this.setMode("arrows");
    this.showRegion(false);
  }
  showRegion(on) {
    for (const [m, b] of Object.entries(this.regionButtons)) {
      b.style.background = (m === "region") === on ? (on ? "#b86a12" : "#4a6da7") : "#333";
      b.setAttribute("aria-pressed", String((m === "region") === on));
    }
    // the same button paints what this mode means: the region to move, or the editable area
    this.modeButtons.paint.textContent = on ? "Paint region" : "Paint mask";
    this.modeButtons.paint.title = on ? "Paint the region to move." : "Paint the editable region (white = may change).";
    this.modeButtons.erase.title = on ? "Erase from the region to move." : "Erase the editable region.";
  }
  setMode(mode) {
    this.mode = mode;
    for (const [m, b] of Object.entries(this.modeButtons)) b.style.background = m === mode ? "#4a6da7" : "#333";
    this.canvas.style.cursor = mode === "arrows" ? "crosshair" : "cell";
  }

  // ---- image -----------------------------------------------------------------------------------
  setImage(url) {
    if (url && url !== this.imageSrc) {
      this.imageSrc = url;
      this.image.src = url;
    }
  }
  /** The upstream node of the image input, or null; never throws while the node has no graph
   * (being configured during a paste, clone or Convert to Subgraph, or already removed). */
  upstream() {
    if (this.disposed || !this.node.graph) return null;
    try {
      const slot = this.node.findInputSlot?.("image");
      if (slot == null || slot < 0 || this.node.inputs?.[slot]?.link == null) return null;
      return this.node.getInputNode?.(slot) ?? null;
    } catch {
      return null; // a link that the graph does not hold (yet)
    }
  }
  findUpstreamImage() {
    const origin = this.upstream();
    if (!origin) return;
    if (origin.imgs?.length) return this.setImage(origin.imgs[0].src);
    const name = origin.widgets?.find((w) => w.name === "image")?.value;
    if (typeof name === "string" && name) {
      const clean = name.replace(/ \[(input|output|temp)\]$/, "");
      const parts = clean.split("/");
      const filename = parts.pop();
      const params = new URLSearchParams({ filename, type: "input", subfolder: parts.join("/") });
      this.setImage(api.apiURL(`/view?${params}`));
    }
  }
  get size() {
    // the picture's size; before it is known, the size recorded with the points; else 512 x 512
    if (this.image.naturalWidth && this.image.naturalHeight)
      return { w: this.image.naturalWidth, h: this.image.naturalHeight, known: true };
    const p = this.parsedPoints;
    if (!p.error && p.width && p.height) return { w: p.width, h: p.height, known: true };
    return { w: 512, h: 512, known: false };
  }

  // ---- geometry --------------------------------------------------------------------------------
  layout() {
    const { w, h } = this.size;
    const cw = this.canvas.width;
    const ch = this.canvas.height;
    const scale = Math.min(cw / w, ch / h);
    return { scale, ox: (cw - w * scale) / 2, oy: (ch - h * scale) / 2, w, h };
  }
  toImage(e) {
    const r = this.canvas.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * this.canvas.width;
    const py = ((e.clientY - r.top) / r.height) * this.canvas.height;
    const { scale, ox, oy, w, h } = this.layout();
    const x = Math.round((px - ox) / scale);
    const y = Math.round((py - oy) / scale);
    return { x, y, inside: x >= 0 && y >= 0 && x < w && y < h, px, py };
  }
  toCanvas([x, y]) {
    const { scale, ox, oy } = this.layout();
    return [ox + x * scale, oy + y * scale];
  }
  hit(px, py) {
    const p = this.points;
    for (const kind of ["targets", "sources"]) {
      for (let i = p[kind].length - 1; i >= 0; i--) {
        const [cx, cy] = this.toCanvas(p[kind][i]);
        if (Math.hypot(cx - px, cy - py) <= HIT_RADIUS) return { kind, index: i };
      }
    }
    return null;
  }

  // ---- interaction -----------------------------------------------------------------------------
  onDown(e) {
    e.preventDefault();
    e.stopPropagation();
    const at = this.toImage(e);
    if (this.mode !== "arrows") {
      this.painting = true;
      this.paint(at);
      return;
    }
    const hit = this.hit(at.px, at.py);
    if (e.button === 2) {
      if (hit) {
        const p = this.points;
        p.sources.splice(hit.index, 1);
        p.targets.splice(hit.index, 1);
        this.points = p;
      } else {
        this.pending = null;
        this.requestDraw();
      }
      return;
    }
    if (hit) {
      this.dragging = hit;
      return;
    }
    if (!at.inside) return;
    if (!this.pending) {
      this.pending = [at.x, at.y];
      this.requestDraw();
    } else {
      const p = this.points;
      p.sources.push(this.pending);
      p.targets.push([at.x, at.y]);
      this.pending = null;
      this.points = p;
    }
  }
  onMove(e) {
    if ((this.painting || this.dragging) && e.buttons === 0) this.onUp(); // a release we did not see
    if (this.painting) return this.paint(this.toImage(e));
    if (!this.dragging) return;
    e.stopPropagation();
    const at = this.toImage(e);
    const { w, h } = this.size;
    const p = this.points;
    p[this.dragging.kind][this.dragging.index] = [Math.min(w - 1, Math.max(0, at.x)), Math.min(h - 1, Math.max(0, at.y))];
    this.points = p;
  }
  onUp() {
    this.dragging = null;
    this.painting = false;
  }
  paint(at) {
    if (!at.inside) return;
    const s = this.strokes;
    const last = s[s.length - 1];
    const value = this.mode === "paint" ? 1 : 0;
    if (last && last[3] === value && Math.hypot(last[0] - at.x, last[1] - at.y) < this.brush / 3) return;
    s.push([at.x, at.y, this.brush, value]);
    this.strokes = s;
  }

  // ---- drawing ---------------------------------------------------------------------------------
  draw() {
    this.drawn = this.stateKey();
    const c = this.canvas;
    const r = c.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && (c.width !== Math.round(r.width) || c.height !== Math.round(r.height))) {
      c.width = Math.round(r.width);
      c.height = Math.round(r.height);
    }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const { scale, ox, oy, w, h } = this.layout();
    // enlarged 3x or more (a small image, e.g. the demo scene model's 32x32): whole pixels, not a blur
    ctx.imageSmoothingEnabled = scale < 3;
    if (this.image.complete && this.image.naturalWidth) ctx.drawImage(this.image, ox, oy, w * scale, h * scale);
    else {
      ctx.fillStyle = "#888";
      ctx.font = "12px sans-serif";
      ctx.fillText("Connect a Load Image (or run once) to see the image", 10, 20);
    }
    const parsed = this.parsedPoints;
    const strokes = this.parsedStrokes;
    const region = parsed.mode === "region";
    this.showRegion(region);
    // two lines kept for the region status (its hints and warnings come and go while painting and
    // drawing; a growing status line would shift the canvas under the pointer)
    this.status.style.minHeight = region ? "26px" : "";
    const p = parsed.error ? { sources: [], targets: [] } : parsed;
    const warnings = region ? this.drawRegion(ctx, strokes.strokes ?? [], p, scale, ox, oy, w, h) : [];
    if (!region) this.drawMask(ctx, strokes.strokes ?? [], scale, ox, oy, w, h);
    p.sources.forEach((s, i) => p.targets[i] && this.drawArrow(ctx, this.toCanvas(s), this.toCanvas(p.targets[i])));
    if (this.pending) this.drawDot(ctx, this.toCanvas(this.pending), COLORS.source);
    const errors = [parsed.error && `points: ${parsed.error}`, strokes.error && `mask_strokes: ${strokes.error}`]
      .filter(Boolean);
    this.status.classList.toggle("coupled-sde-drag-error", errors.length > 0);
    this.status.classList.toggle("coupled-sde-drag-warning", !errors.length && warnings.length > 0);
    this.status.style.color = errors.length ? "#ff6b6b" : warnings.length ? COLORS.warning : "#aaa";
    const pending = this.pending ? " — click the target" : "";
    if (errors.length) this.status.textContent = `${errors.join(" · ")} — fix the text, or draw to replace it`;
    else if (region) {
      const n = p.sources.length;
      const hint = n === 0 ? "draw arrows (1 = move, 2 = move, rotate, scale, 3+ = affine)"
        : n === 1 ? "1 arrow = move" : n === 2 ? "2 arrows = move, rotate, scale" : `${n} arrows = affine`;
      this.status.textContent = `region mode: ${hint}` + warnings.map((m) => ` — ${m}`).join("") + pending +
        ` · ${w}×${h} px`;
    } else
      this.status.textContent = `${p.sources.length} pair(s), ${strokes.strokes?.length ? "painted mask" : "whole image editable"}` +
        pending + ` · ${w}×${h} px`;
  }
  /** The painted discs on a canvas of the displayed image's size, opaque `color` where painted
   * (region mode; points mode draws drawMask's translucent discs as before). */
  maskCanvas(strokes, scale, w, h, color, read = false) {
    const off = document.createElement("canvas");
    off.width = Math.max(1, Math.round(w * scale));
    off.height = Math.max(1, Math.round(h * scale));
    const o = off.getContext("2d", read ? { willReadFrequently: true } : undefined);
    o.fillStyle = color;
    for (const [x, y, rad, v] of strokes) {
      o.globalCompositeOperation = v > 0 ? "source-over" : "destination-out";
      o.beginPath();
      o.arc(x * scale, y * scale, rad * scale, 0, 2 * Math.PI);
      o.fill();
    }
    return off;
  }
  /** Region mode: the painted region tinted where it is, and tinted and outlined where the arrows'
   * map sends it (clipped to the image); returns the status line's warnings. */
  drawRegion(ctx, strokes, p, scale, ox, oy, w, h) {
    const warnings = [];
    const mask = strokes.length ? this.maskCanvas(strokes, scale, w, h, COLORS.outline, true) : null;
    const alpha = mask && mask.getContext("2d").getImageData(0, 0, mask.width, mask.height).data;
    let painted = false;
    for (let i = 3; alpha && i < alpha.length; i += 4) if (alpha[i]) { painted = true; break; }
    if (!painted) warnings.push("paint the region to move");
    const n = Math.min(p.sources.length, p.targets.length);
    const map = n ? arrowMap(p.sources, p.targets) : null;
    if (map?.error) warnings.push(map.error);
    const flat = map?.A && Math.abs(map.A[0][0] * map.A[1][1] - map.A[0][1] * map.A[1][0]) < 1e-9;
    if (flat) warnings.push("the map squashes the region flat: move the arrows apart");
    if (!painted) return warnings;
    // the region's outline: the mask shifted 2 px every way, less the mask
    const ring = document.createElement("canvas");
    ring.width = mask.width;
    ring.height = mask.height;
    const r = ring.getContext("2d");
    for (const [dx, dy] of [[-2, 0], [2, 0], [0, -2], [0, 2], [-1.5, -1.5], [1.5, 1.5], [-1.5, 1.5], [1.5, -1.5]])
      r.drawImage(mask, dx, dy);
    r.globalCompositeOperation = "destination-out";
    r.drawImage(mask, 0, 0);
    ctx.save();
    ctx.globalAlpha = 0.3;
    ctx.drawImage(mask, ox, oy); // where it is: faint, with a faint outline
    ctx.globalAlpha = 0.5;
    ctx.drawImage(ring, ox, oy);
    ctx.restore();
    if (!map?.A || flat) return warnings;
    // where it goes: the mask canvas's pixel q is image point q / scale, which the map sends to
    // A q / scale + t, drawn at (ox, oy) + scale * that = A q + (ox, oy) + scale * t
    const { A, t } = map;
    ctx.save();
    ctx.beginPath();
    ctx.rect(ox, oy, w * scale, h * scale);
    ctx.clip();
    ctx.setTransform(A[0][0], A[1][0], A[0][1], A[1][1], ox + scale * t[0], oy + scale * t[1]);
    ctx.globalAlpha = 0.5;
    ctx.drawImage(mask, 0, 0);
    ctx.globalAlpha = 1;
    ctx.drawImage(ring, 0, 0);
    ctx.restore();
    return warnings;
  }
  drawMask(ctx, strokes, scale, ox, oy, w, h) {
    if (!strokes.length) return;
    const off = document.createElement("canvas");
    off.width = Math.max(1, Math.round(w * scale));
    off.height = Math.max(1, Math.round(h * scale));
    const o = off.getContext("2d");
    for (const [x, y, rad, v] of strokes) {
      o.globalCompositeOperation = v > 0 ? "source-over" : "destination-out";
      o.fillStyle = COLORS.mask;
      o.beginPath();
      o.arc(x * scale, y * scale, rad * scale, 0, 2 * Math.PI);
      o.fill();
    }
    ctx.drawImage(off, ox, oy);
  }
  drawDot(ctx, [x, y], color) {
    ctx.fillStyle = color;
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  drawArrow(ctx, a, b) {
    const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    ctx.strokeStyle = COLORS.arrow;
    ctx.fillStyle = COLORS.arrow;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(b[0], b[1]);
    ctx.lineTo(b[0] - 10 * Math.cos(angle - 0.45), b[1] - 10 * Math.sin(angle - 0.45));
    ctx.lineTo(b[0] - 10 * Math.cos(angle + 0.45), b[1] - 10 * Math.sin(angle + 0.45));
    ctx.closePath();
    ctx.fill();
    this.drawDot(ctx, a, COLORS.source);
    this.drawDot(ctx, b, COLORS.target);
  }
}

/** The image a run of the node used (nodes/drag_nodes.py sends it under this key, not as
 * "images", so that the frontend does not show it again below the editor). */
const IMAGE_KEY = "coupled_sde_drag_image";

function chain(object, name, after) {
  const before = object[name];
  object[name] = function () {
    const r = before?.apply(this, arguments);
    after.apply(this, arguments);
    return r;
  };
}

app.registerExtension({
  name: "coupled_sde.drag_editor",
  async nodeCreated(node) {
    if (node.comfyClass !== NODE_ID) return;
    const editor = new DragEditor(node);
    node.coupledSdeDragEditor = editor;
    const widget = node.addDOMWidget("drag_editor", "coupled_sde_drag_editor", editor.root, {
      serialize: false,
      hideOnZoom: false,
      hideInPanel: true, // 1.49+: not an entry of the right side panel's Parameters tab
      getMinHeight: () => 300,
    });
    widget.serialize = false; // keep widgets_values positional: only points and mask_strokes are saved
    // The frontend places a DOM widget at `widget.width ?? node.width`; a panel that sets
    // widget.width would freeze the editor's width. It always follows the node.
    Object.defineProperty(widget, "width", { configurable: true, get: () => undefined, set: () => {} });
    node.setSize?.([Math.max(node.size[0], 360), Math.max(node.size[1], 520)]);

    // redraw when the text boxes change (typed, pasted, loaded, undone)
    for (const name of ["points", "mask_strokes"]) {
      const w = editor.widget(name);
      if (w) chain(w, "callback", () => editor.requestDraw());
    }
    chain(node, "onExecuted", (output) => {
      const img = output?.[IMAGE_KEY]?.[0] ?? output?.images?.[0];
      if (img) {
        const params = new URLSearchParams({ filename: img.filename, type: img.type, subfolder: img.subfolder ?? "" });
        editor.setImage(api.apiURL(`/view?${params}`));
      }
    });
    // the graph may be null here (a node being configured by paste, clone or Convert to
    // Subgraph); refresh() only looks upstream while the node is in a graph
    chain(node, "onConnectionsChange", () => editor.refresh());
    chain(node, "onConfigure", () => editor.requestDraw());
    chain(node, "onAdded", () => {
      editor.attach();
      requestAnimationFrame(() => editor.refresh());
    });
    // the classic canvas draws the node whenever something changed (another file picked upstream,
    // a value loaded): refresh() compares and redraws only then
    chain(node, "onDrawForeground", () => editor.refresh());
    chain(node, "onRemoved", () => editor.dispose());
    requestAnimationFrame(() => editor.refresh());
  },
});
