// SDE-Drag point and mask editor for the "Drag Points (SDE-Drag editor)" node.
//
// The node's own widgets are the single source of truth: `points` holds
// {"sources": [[x, y], ...], "targets": [[x, y], ...]} and `mask_strokes` holds painted discs
// [[x, y, radius, value], ...], both in IMAGE pixels. They are ordinary widget values, so they are
// saved in the workflow JSON and a shared workflow reproduces the drag exactly.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE_ID = "CoupledSDE_DragPoints";
const HIT_RADIUS = 9; // canvas pixels
const COLORS = { source: "#ff4d4d", target: "#3ddc84", arrow: "#ffd54a", mask: "rgba(80, 160, 255, 0.35)" };

function parseJSON(text, fallback) {
  try {
    const v = JSON.parse(text);
    return v ?? fallback;
  } catch {
    return fallback;
  }
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
    this.image.onload = () => this.draw();
    this.imageSrc = "";

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
    window.addEventListener("pointerup", (e) => this.onUp(e));
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  // ---- widget-backed state --------------------------------------------------------------------
  widget(name) {
    return this.node.widgets?.find((w) => w.name === name);
  }
  get points() {
    const p = parseJSON(this.widget("points")?.value ?? "", {});
    return { sources: Array.isArray(p.sources) ? p.sources : [], targets: Array.isArray(p.targets) ? p.targets : [] };
  }
  set points(p) {
    this.setWidget("points", JSON.stringify({ sources: p.sources, targets: p.targets }));
  }
  get strokes() {
    const s = parseJSON(this.widget("mask_strokes")?.value ?? "", []);
    return Array.isArray(s) ? s : [];
  }
  set strokes(s) {
    this.setWidget("mask_strokes", JSON.stringify(s));
  }
  setWidget(name, value) {
    const w = this.widget(name);
    if (!w) return;
    w.value = value;
    w.callback?.(value);
    this.node.setDirtyCanvas?.(true, true);
    this.draw();
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
  findUpstreamImage() {
    const slot = this.node.findInputSlot?.("image");
    const origin = slot != null && slot >= 0 ? this.node.getInputNode?.(slot) : null;
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
    const w = this.image.naturalWidth || 512;
    const h = this.image.naturalHeight || 512;
    return { w, h };
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
        this.draw();
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
      this.draw();
    } else {
      const p = this.points;
      p.sources.push(this.pending);
      p.targets.push([at.x, at.y]);
      this.pending = null;
      this.points = p;
    }
  }
  onMove(e) {
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
    const c = this.canvas;
    const r = c.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && (c.width !== Math.round(r.width) || c.height !== Math.round(r.height))) {
      c.width = Math.round(r.width);
      c.height = Math.round(r.height);
    }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const { scale, ox, oy, w, h } = this.layout();
    if (this.image.complete && this.image.naturalWidth) ctx.drawImage(this.image, ox, oy, w * scale, h * scale);
    else {
      ctx.fillStyle = "#888";
      ctx.font = "12px sans-serif";
      ctx.fillText("Connect a Load Image (or run once) to see the image", 10, 20);
    }
    this.drawMask(ctx, scale, ox, oy, w, h);
    const p = this.points;
    p.sources.forEach((s, i) => p.targets[i] && this.drawArrow(ctx, this.toCanvas(s), this.toCanvas(p.targets[i])));
    if (this.pending) this.drawDot(ctx, this.toCanvas(this.pending), COLORS.source);
    this.status.textContent = `${p.sources.length} pair(s), ${this.strokes.length ? "painted mask" : "whole image editable"}` +
      (this.pending ? " — click the target" : "") + ` · ${w}×${h} px`;
  }
  drawMask(ctx, scale, ox, oy, w, h) {
    const strokes = this.strokes;
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

app.registerExtension({
  name: "coupled_sde.drag_editor",
  async nodeCreated(node) {
    if (node.comfyClass !== NODE_ID) return;
    const editor = new DragEditor(node);
    node.coupledSdeDragEditor = editor;
    const widget = node.addDOMWidget("drag_editor", "coupled_sde_drag_editor", editor.root, {
      serialize: false,
      hideOnZoom: false,
      getMinHeight: () => 300,
    });
    widget.serialize = false; // keep widgets_values positional: only points and mask_strokes are saved
    node.setSize?.([Math.max(node.size[0], 360), Math.max(node.size[1], 520)]);

    const onExecuted = node.onExecuted;
    node.onExecuted = function (output) {
      onExecuted?.apply(this, arguments);
      const img = output?.images?.[0];
      if (img) {
        const params = new URLSearchParams({ filename: img.filename, type: img.type, subfolder: img.subfolder ?? "" });
        editor.setImage(api.apiURL(`/view?${params}`));
      }
    };
    const onConnectionsChange = node.onConnectionsChange;
    node.onConnectionsChange = function () {
      onConnectionsChange?.apply(this, arguments);
      editor.findUpstreamImage();
    };
    // the upstream image can change (another file picked): look again now and then
    const timer = setInterval(() => {
      if (!node.graph) return clearInterval(timer);
      editor.findUpstreamImage();
      editor.draw();
    }, 1000);
    requestAnimationFrame(() => {
      editor.findUpstreamImage();
      editor.draw();
    });
  },
});
