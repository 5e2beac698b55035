"""The fair drag benchmark (issue "Drag that moves"): SDE-Drag vs ODE-Drag vs copy-paste, window and
region drag, against the true dragged scene, on the demo scene model.

    python3 benchmarks/scenes/drag_bench.py --sweep            # seed 0: every setting, one at a time
    python3 benchmarks/scenes/drag_bench.py --final            # the chosen rows, seeds 0 and 1
    python3 benchmarks/scenes/drag_bench.py --report           # the Markdown tables from the stored rows

**Cases, in distribution.** The model was trained with objects jittered at most 2 px around their
caption's quadrant centre, and a drag keeps the caption (the prompt describes the image), so:

* ``within`` (48 held-out scenes): one object moves to its mirror image through its quadrant's
  centre (2.5-5.7 px), staying inside the trained jitter; the caption is kept.
* ``across`` (48 scenes): one object moves 16 px to the empty neighbouring quadrant, landing at
  the same offset from that quadrant's centre; the prompt is the caption of the moved scene (what a
  user types for the result). Both ends are in distribution; only the path is long.

**Ground truth** is the scene graph re-rendered with the object at its target (exact).

**Metrics** (per image, then means): *success* = the judge finds the object within 2.5 px of the
target with its colour and shape, and the same number of objects (no ghost, no loss); *err* =
centroid error (px, median); *SSIM / L1 to the truth* over the whole image; *vacated* = L1 to the
truth over the source footprint outside the target footprint (where the background must come
back); *outside* = SSIM / L1 to the source outside both footprints (dilated 1 px).

**Methods**, at matched model calls (2 per step per paste; the demo preset's 18 steps per paste):
SDE-Drag (coupled reverse SDE, the pack's ``sde_drag``), ODE-Drag (DDIM inversion, the same
paste, ODE back), copy-paste alone (the window pasted on the clean image), and region drag (the
painted object -- its footprint dilated 1 px -- moved as a whole, SDE or ODE). Batched over the
48 images (each image keeps its own points, windows and paste seed; the path noise is drawn for the
batch at once), the same algorithm as ``sde_drag`` per image; ``--check`` runs 4 images both ways and
judges both (the same success, SSIM within 0.01).

**Matched noise.** DDIM inversion to nominal sigma t0 gives a latent whose noise part is smaller
than the schedule's; its effective sigma is measured from a fit ``x_t = a x0 + b + n`` per image,
``sigma' = std(n) / (a + std(n))`` (the forward process has ``(1 - sigma) / sigma = a / std(n)``).
Rows marked "matched" run SDE-Drag from that measured sigma.

Results: ``benchmarks/results/scenes/drag_bench.json`` (one row per case, setting and seed) and
``drag_bench.md`` (the tables in docs/QUALITY.md).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time
from dataclasses import dataclass

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import scene_data as sd  # noqa: E402
import scene_judge as sj  # noqa: E402
from scene_model import load  # noqa: E402

from comfyui_coupled_sde.sampling import (  # noqa: E402
    copy_paste,
    copy_paste_noisy,
    dilate_cells,
    drag_iterations,
    forward_path,
    ode_invert,
    ode_sample,
    sde_drag,
    step_coefficients,
)
from comfyui_coupled_sde.sampling.coupled import difference_form  # noqa: E402
from comfyui_coupled_sde.sampling.drag import moved_region_noisy  # noqa: E402
from comfyui_coupled_sde.sampling.sde_drag import region_plan  # noqa: E402

OUT_DIR = HERE.parents[1] / "benchmarks" / "results" / "scenes"
JSON = OUT_DIR / "drag_bench.json"
MD = OUT_DIR / "drag_bench.md"
TOL = 2.5  # px: success radius (the old benchmark's)
N_SCENES = 48
PASTE_STEPS = 18  # steps per paste: the demo preset's 60 steps x t0 0.3
CASE_SEEDS = {"within": 3000, "across": 3100}  # held out: training used seed 1, the edit benchmark 1000


# --- cases ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    scene: dict
    index: int  # the moved object in ``truth``
    truth: dict  # the scene with the object at its target
    src: tuple  # (x, y) pixel cell holding the object's centre
    tgt: tuple
    prompt: str
    region: torch.Tensor  # (H, W) the painted object: its footprint dilated 1 px
    source: dict  # the object before the move (``scene``'s)


def _painted(obj: dict) -> torch.Tensor:
    return dilate_cells((sd.footprint(obj) > 0)[None, None], 1)[0, 0]


def cases(kind: str, n: int = N_SCENES) -> list[Case]:
    gen, out = torch.Generator().manual_seed(CASE_SEEDS[kind]), []
    centres = {pos: c for pos, c in sd.POSITIONS.items()}
    while len(out) < n:
        s = sd.sample_scene(gen)
        i = int(torch.randint(len(s["objects"]), (), generator=gen))
        o = s["objects"][i]
        qx, qy = centres[o["pos"]]
        src = (int(round(o["cx"] - 0.5)), int(round(o["cy"] - 0.5)))
        if kind == "within":  # the mirror image through the quadrant's centre (test_demo_model's cases)
            tgt = (int(round(2 * qx - o["cx"] - 0.5)), int(round(2 * qy - o["cy"] - 0.5)))
            if math.hypot(tgt[0] - src[0], tgt[1] - src[1]) < 2.5:
                continue
            truth = sd.edit_scene(s, i, dx=tgt[0] - src[0], dy=tgt[1] - src[1])
        else:  # 16 px to a free neighbouring quadrant, the caption of the result
            used = {p["pos"] for p in s["objects"]}
            free = []
            for pos, (px, py) in centres.items():
                if pos not in used and (abs(px - qx) + abs(py - qy)) == 16:
                    free.append(pos)
            if not free:
                continue
            pos = free[int(torch.randint(len(free), (), generator=gen))]
            dx, dy = int(centres[pos][0] - qx), int(centres[pos][1] - qy)
            tgt = (src[0] + dx, src[1] + dy)
            truth = sd.edit_scene(s, i, dx=dx, dy=dy, pos=pos)
            truth["objects"].sort(key=lambda ob: list(sd.POSITIONS).index(ob["pos"]))
            i = truth["objects"].index(next(ob for ob in truth["objects"] if ob["pos"] == pos))
        prompt = sd.caption(s) if kind == "within" else sd.caption(truth)
        out.append(Case(s, i, truth, src, tgt, prompt, _painted(o), o))
    return out


# --- one batched run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    method: str = "SDE"  # SDE | ODE | copy-paste
    move: str = "windows"  # windows | region
    t0: float = 0.3
    r: object = "auto+1"  # int, or "auto+k": the painted object's radius around the arrow's start + k
    step: float = 64.0  # drag step in cells (64: one paste)
    alpha: float = 1.1
    beta: float = 0.3
    cfg: float = 1.0  # cfg_max of SDE Drag's schedule (1 at the end of each paste, this at t0)
    fill: str = "unit"
    bound: object = None  # windows: None | "windows" (mask of both windows + 1 cell); region: margin int | None
    matched: bool = False  # SDE from ODE inversion's measured sigma at this t0
    steps: int = PASTE_STEPS

    def label(self) -> str:
        if self.method == "copy-paste":
            return f"copy-paste alone (clean image, no regeneration), r {self.r}"
        parts = [f"{self.method} {self.move}", f"t0 {self.t0:g}"]
        if self.move == "windows":
            parts.append(f"r {self.r}")
        parts += [f"step {self.step:g}" if self.step < 64 else "1 paste", f"a {self.alpha:g}", f"b {self.beta:g}",
                  f"cfg {self.cfg:g}", f"fill {self.fill}"]
        if self.bound is not None:
            parts.append(f"bound {self.bound}")
        if self.matched:
            parts.append("matched noise")
        return ", ".join(parts)


def _radius(setting: Setting, case: Case) -> int:
    if isinstance(setting.r, int):
        return setting.r
    return window_radius(case.region, case.src, int(str(setting.r).split("+")[1]))


def window_radius(region: torch.Tensor, cell, margin: int = 0) -> int:
    """r "auto+k": the Chebyshev radius, from ``cell``, of the 8-connected component of ``region``
    (``(H, W)``, >= 1/2 inside) that holds it, plus ``margin``. Measured worse than a fixed r, so it
    stays here rather than on the node (docs/QUALITY.md, "Results: drags")."""
    m = region.reshape(region.shape[-2:]) >= 0.5
    x, y = int(cell[0]), int(cell[1])
    if not bool(m[y, x]):
        raise ValueError(f"the arrow starting at ({x}, {y}) does not start on the painted region")
    comp = torch.zeros_like(m)
    comp[y, x] = True
    while True:  # flood fill by dilation inside the mask
        grown = dilate_cells(comp, 1).bool() & m
        if torch.equal(grown, comp):
            break
        comp = grown
    ys, xs = torch.nonzero(comp, as_tuple=True)
    return int(torch.maximum((xs - x).abs(), (ys - y).abs()).max()) + int(margin)


def grid(t0: float, steps: int) -> torch.Tensor:
    """``steps`` steps of the uniform flow grid from sigma ~t0 to 0 (SDE Drag's "normal" schedule)."""
    n = max(steps, round(steps / t0))
    return torch.linspace(1.0, 0.0, n + 1, dtype=torch.float64)[n - steps:]


class Guided:
    """The batched denoiser with SDE Drag's cfg schedule; counts calls per image."""

    def __init__(self, model, prompts, cfg, sig):
        self.model, self.prompts, self.calls = model, prompts, 0
        n = len(sig) - 1
        self.cfg_at = {float(s): 1.0 + (cfg - 1.0) * (n - i) / n for i, s in enumerate(sig[:-1].tolist())}

    def __call__(self, x, sigma, prompts=None):
        self.calls += 1
        return self.model(x, sigma, prompts or self.prompts, self.cfg_at.get(float(sigma), 1.0))

    def pair(self, i, x, y, sig):
        d = self.model(torch.cat([x, y]), sig[i], self.prompts * 2, self.cfg_at.get(float(sig[i]), 1.0))
        self.calls += 2
        return d.chunk(2)


def measured_sigma(xt: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Per image: the sigma a forward-noised latent with ``xt``'s signal-to-noise ratio would have."""
    a_list = []
    for x, c in zip(xt, x0):
        design = torch.stack([c.flatten(), torch.ones(c.numel())], 1).double()
        sol = torch.linalg.lstsq(design, x.flatten().double()[:, None]).solution[:, 0]
        n = x.flatten().double() - design @ sol
        a_list.append(float(n.std() / (sol[0] + n.std())))
    return torch.tensor(a_list)


def run(model, cs: list[Case], setting: Setting, seed: int, keep_output: bool = False) -> dict:
    x0 = sd.render([c.scene for c in cs])
    prompts = [c.prompt for c in cs]
    st = setting
    t0 = st.t0
    if st.matched:
        probe = grid(st.t0, st.steps)
        inv = ode_invert(x0, probe, model.family, Guided(model, prompts, 1.0, probe))
        t0 = float(measured_sigma(inv, x0).mean())
    sig = grid(t0, st.steps)
    guided = Guided(model, prompts, st.cfg, sig)
    family = model.family
    n = len(cs)
    radii = [_radius(st, c) for c in cs]
    if st.method == "copy-paste":
        out = torch.cat([copy_paste(x0[j:j + 1], [c.src], [c.tgt], alpha=1.0, beta=1.0, r=radii[j])
                         for j, c in enumerate(cs)])
        return score(out, cs, st, seed, calls=0, t0=t0, keep_output=keep_output)
    if st.move == "windows":
        plans = [drag_iterations([c.src], [c.tgt], st.step) for c in cs]
    else:
        plans = [region_plan([(c.src[0] + 0.5, c.src[1] + 0.5)], [(c.tgt[0] + 0.5, c.tgt[1] + 0.5)], st.step)
                 for c in cs]
    regions = [c.region[None] for c in cs]
    current = x0
    coeffs = step_coefficients(family, sig, "posterior")
    for k in range(max(len(p) for p in plans)):
        if st.method == "SDE":
            path = forward_path(current, sig, family, seed=seed * 7919 + 2 * k)
            xt = path.points[0]
        else:  # DDIM inversion without guidance (the usual choice; guided inversion drifts), counted
            inverter = Guided(model, prompts, 1.0, sig)
            xt = ode_invert(current, sig, family, inverter)
            guided.calls += inverter.calls
        starts, masks = [], []
        for j in range(n):
            if k >= len(plans[j]):
                starts.append(xt[j:j + 1])
                masks.append(torch.zeros(1, 1, sd.SIZE, sd.SIZE))
                continue
            pseed = seed * 7919 + 1000 * j + 2 * k + 1
            if st.move == "windows":
                s_k, t_k = plans[j][k]
                starts.append(copy_paste_noisy(xt[j:j + 1], float(sig[0]), family, s_k, t_k, alpha=st.alpha,
                                               beta=st.beta, r=radii[j], seed=pseed, fill=st.fill))
                m = torch.ones(1, 1, sd.SIZE, sd.SIZE)
                if st.bound == "windows":
                    m = torch.zeros(1, 1, sd.SIZE, sd.SIZE)
                    for (x, y) in (*s_k, *t_k):
                        m[..., max(0, y - radii[j]): y + radii[j] + 1, max(0, x - radii[j]): x + radii[j] + 1] = 1
                    m = dilate_cells(m, 1)
                masks.append(m)
            else:
                moved, was, now = moved_region_noisy(xt[j:j + 1], float(sig[0]), family, regions[j], plans[j][k],
                                                     st.alpha, st.beta, pseed, st.fill)
                starts.append(moved)
                masks.append(torch.ones(1, 1, sd.SIZE, sd.SIZE) if st.bound is None
                             else dilate_cells((was | now)[:, :1], int(st.bound)))
                regions[j] = now[:, :1].float()  # where the region went: the next paste starts there
        start = torch.cat(starts)
        mask = torch.cat(masks)
        if st.method == "SDE":
            current = difference_form(path, coeffs, lambda i, x, y: guided.pair(i, x, y, sig), mask=mask,
                                      delta0=start - xt)
        else:
            y = ode_sample(start, sig, family, guided)
            current = y * mask + current * (1 - mask)
    calls = guided.calls * 1.0 / max(1, max(len(p) for p in plans)) * (sum(len(p) for p in plans) / n)
    return score(current, cs, st, seed, calls=calls, t0=t0, keep_output=keep_output)


def score(out: torch.Tensor, cs: list[Case], st: Setting, seed: int, calls: float, t0: float,
          keep_output: bool = False) -> dict:
    truth = sd.render([c.truth for c in cs])
    src = sd.render([c.scene for c in cs])
    parsed = sj.parse(out)
    ok, err = [], []
    vac, outside = [], []
    for p, c in zip(parsed, cs):
        o = c.truth["objects"][c.index]
        good, e = sj.landed(p, o, len(c.scene["objects"]), TOL)
        ok.append(good)
        err.append(e)
        src_fp = dilate_cells((sd.footprint(c.source) > 0)[None, None], 1)[0, 0]
        tgt_fp = dilate_cells((sd.footprint(o) > 0)[None, None], 1)[0, 0]
        vac.append(src_fp * (1 - tgt_fp))
        outside.append((1 - src_fp) * (1 - tgt_fp))
    vac_m, out_m = torch.stack(vac)[:, None], torch.stack(outside)[:, None]
    err_t = torch.tensor(err)
    return {**{k: v for k, v in st.__dict__.items()}, "label": st.label(), "seed": seed, "n": len(cs),
            "t0_used": round(t0, 4), "success": float(torch.tensor(ok).float().mean()),
            "median_err_px": float(err_t.median()),
            "ssim_truth": float(sj.masked_ssim(out, truth, torch.ones(len(cs), 1, 32, 32)).mean()),
            "l1_truth": float(sj.masked_l1(out, truth, torch.ones(len(cs), 1, 32, 32)).mean()),
            "l1_vacated": float(sj.masked_l1(out, truth, vac_m).nanmean()),
            "ssim_vacated": float(sj.masked_ssim(out, truth, vac_m).nanmean()),
            "ssim_outside": float(sj.masked_ssim(out, src, out_m).mean()),
            "l1_outside": float(sj.masked_l1(out, src, out_m).mean()),
            "calls_per_image": round(calls, 2), **({"out": out} if keep_output else {})}


# --- the settings ----------------------------------------------------------------------------------------
BASE = Setting()


def sweep_settings() -> list[Setting]:
    """One factor at a time around the demo preset (t0 0.3, r auto+1, one paste, a 1.1, b 0.3, cfg 1)."""
    from dataclasses import replace as rep

    out = []
    for m in ("SDE", "ODE"):
        for t0 in (0.2, 0.3, 0.4, 0.5, 0.6):
            out.append(rep(BASE, method=m, t0=t0))
        for r in (4, 5, 6, 7, "auto+0", "auto+2"):
            out.append(rep(BASE, method=m, r=r))
        out += [rep(BASE, method=m, step=2.0), rep(BASE, method=m, step=2.0, r=4, t0=0.6)]
        out += [rep(BASE, method=m, alpha=a) for a in (1.0, 1.3)]
        out += [rep(BASE, method=m, beta=b) for b in (0.0, 0.6)]
        out += [rep(BASE, method=m, cfg=c) for c in (2.0, 3.0)]
        out += [rep(BASE, method=m, fill="path", t0=t0) for t0 in (0.3, 0.5)]
        out.append(rep(BASE, method=m, bound="windows"))
        for bound in (1, None):
            for fill in ("unit", "path"):
                out.append(rep(BASE, method=m, move="region", bound=bound, fill=fill))
        out.append(rep(BASE, method=m, move="region", bound=1, alpha=1.0))
    for t0 in (0.3, 0.6):
        out.append(rep(BASE, method="SDE", t0=t0, matched=True))
    out.append(rep(BASE, method="copy-paste"))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--final", action="store_true")
    p.add_argument("--check", action="store_true", help="batched run == sde_drag per image (4 images)")
    p.add_argument("--report", action="store_true")
    p.add_argument("--pictures", action="store_true", help="write drag_examples.png (4 cases of each kind)")
    p.add_argument("--cases", nargs="+", default=["within", "across"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n", type=int, default=N_SCENES)
    p.add_argument("--only", default="", help="run only settings whose label contains this")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.report:
        return report()
    model = load()
    if args.check:
        return check(model)
    if args.pictures:
        return pictures(model)
    settings = sweep_settings() if args.sweep else final_settings() if args.final else [BASE]
    settings = [s for s in settings if args.only in s.label()]
    rows = []
    for kind in args.cases:
        cs = cases(kind, args.n)
        for st in settings:
            for seed in args.seeds:
                t = time.time()
                row = {"case": kind, **run(model, cs, st, seed)}
                rows.append(row)
                print(f"{kind:6s} {row['label']:80s} s{seed}: ok {row['success']:.2f} err {row['median_err_px']:.2f} "
                      f"SSIM-gt {row['ssim_truth']:.3f} L1vac {row['l1_vacated']:.4f} "
                      f"SSIM-out {row['ssim_outside']:.3f} t0' {row['t0_used']:.3f} ({time.time() - t:.0f}s)",
                      flush=True)
    save(rows)
    report()


def final_settings() -> list[Setting]:
    """The rows of docs/QUALITY.md's drag table (both seeds, both kinds of case)."""
    from dataclasses import replace as rep

    r5 = rep(BASE, r=5)
    return [rep(r5, method="copy-paste"),
            rep(BASE, method="SDE", t0=0.6, r=4, step=2.0), rep(BASE, method="ODE", t0=0.6, r=4, step=2.0),
            r5, rep(r5, method="ODE"), rep(r5, matched=True),
            rep(r5, t0=0.5), rep(r5, method="ODE", t0=0.5), rep(r5, t0=0.5, matched=True),
            rep(r5, fill="path"), rep(r5, t0=0.5, fill="path"), rep(r5, fill="path", bound="windows"),
            rep(BASE, fill="path"),
            rep(BASE, move="region", bound=1), rep(BASE, move="region", bound=1, fill="path"),
            rep(BASE, move="region", bound=1, fill="path", t0=0.5), rep(BASE, method="ODE", move="region", bound=1)]


def _key(r):
    return (r["case"], r["label"], r["seed"])


def save(rows):
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    old = json.loads(JSON.read_text()) if JSON.is_file() else []
    merged = {_key(r): r for r in old + rows}
    JSON.write_text(json.dumps(sorted(merged.values(), key=_key), indent=1) + "\n")


def report():
    if not JSON.is_file():
        return
    rows = json.loads(JSON.read_text())
    lines = ["# Drag benchmark (benchmarks/scenes/drag_bench.py)", "",
             "Success = within 2.5 px with colour, shape and object count kept. SSIM/L1 to the true dragged scene; "
             "vacated = L1 to the truth where the object left; outside = SSIM to the source outside both "
             "footprints. Calls per image = model evaluations.", ""]
    for kind in ("within", "across"):
        sub = [r for r in rows if r["case"] == kind]
        if not sub:
            continue
        lines += [f"## {kind}", "", "| setting | seeds | success | median err px | SSIM truth | L1 truth | L1 vacated "
                  "| SSIM outside | L1 outside | sigma used | calls |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        labels = sorted({r["label"] for r in sub}, key=lambda s: [r["label"] for r in sub].index(s))
        for lab in labels:
            rs = sorted([r for r in sub if r["label"] == lab], key=lambda r: r["seed"])

            def f(k, fmt, rs=rs):
                return " / ".join(format(r[k], fmt) for r in rs)

            lines.append(f"| {lab} | {' / '.join(str(r['seed']) for r in rs)} | {f('success', '.2f')} | "
                         f"{f('median_err_px', '.2f')} | {f('ssim_truth', '.3f')} | {f('l1_truth', '.4f')} | "
                         f"{f('l1_vacated', '.4f')} | {f('ssim_outside', '.3f')} | {f('l1_outside', '.4f')} | "
                         f"{f('t0_used', '.2f')} | {rs[0]['calls_per_image']:g} |")
        lines.append("")
    MD.write_text("\n".join(lines))


PICTURE_ROWS = (
    ("copy-paste", Setting(method="copy-paste", r=5)),
    ("old bench: SDE t0 .6 r4 3 pastes", Setting(t0=0.6, r=4, step=2.0)),
    ("ODE same", Setting(method="ODE", t0=0.6, r=4, step=2.0)),
    ("SDE windows r5", Setting(r=5)),
    ("ODE windows r5", Setting(method="ODE", r=5)),
    ("SDE windows r5 fill path", Setting(r=5, fill="path")),
    ("SDE region fill path", Setting(move="region", bound=1, fill="path")),
)


def pictures(model, per_kind: int = 4):
    """Source, truth, then each method, for the first cases of each kind (benchmarks/results/scenes/
    drag_examples.png)."""
    from comfyui_coupled_sde.demo.png import draw_text, to_uint8, write_png

    scale, gap, label_w = 4, 4, 170
    tile = sd.SIZE * scale
    cols = []
    for kind in ("within", "across"):
        cs = cases(kind, N_SCENES)[:per_kind]
        col = [("source", sd.render([c.scene for c in cs])), ("truth", sd.render([c.truth for c in cs]))]
        for name, st in PICTURE_ROWS:
            col.append((name, run(model, cs, st, 0, keep_output=True)["out"]))
        cols.append(col)
    n = sum(len(c[0][1]) for c in cols)
    rows = len(cols[0])
    canvas = torch.full((rows * (tile + gap) + 20, label_w + n * (tile + gap), 3), 255, dtype=torch.uint8)
    draw_text(canvas, "within quadrant", label_w, 4, 2)
    draw_text(canvas, "across quadrants (16 px)", label_w + per_kind * (tile + gap), 4, 2)
    for r in range(rows):
        y = 20 + r * (tile + gap)
        draw_text(canvas, cols[0][r][0], 4, y + tile // 2 - 4, 1)
        x = label_w
        for col in cols:
            for img in col[r][1]:
                canvas[y:y + tile, x:x + tile] = to_uint8(img, scale)
                x += tile + gap
    path = write_png(OUT_DIR / "drag_examples.png", canvas)
    print("wrote", path)


def check(model):
    """The batched benchmark computes what sde_drag does per image (SDE windows and region)."""
    cs = cases("within", 4)
    for st in (BASE, Setting(move="region", bound=1)):
        sig = grid(st.t0, st.steps)
        x0 = sd.render([c.scene for c in cs])
        per = []
        for j, c in enumerate(cs):
            g = Guided(model, [c.prompt], 1.0, sig)
            kw = dict(region=c.region[None, None], margin=st.bound, step=st.step) if st.move == "region" else dict(
                r=_radius(st, c), step=st.step)
            src = [(c.src[0] + 0.5, c.src[1] + 0.5)] if st.move == "region" else [c.src]
            tgt = [(c.tgt[0] + 0.5, c.tgt[1] + 0.5)] if st.move == "region" else [c.tgt]
            per.append(sde_drag(x0[j:j + 1], sig, model.family, g, src, tgt, alpha=st.alpha, beta=st.beta,
                                seed=0, **kw))
        one = score(torch.cat(per), cs, st, 0, calls=0, t0=st.t0)
        print(st.label())
        print("  per image (sde_drag):", {k: round(one[k], 3) for k in ("success", "median_err_px", "ssim_truth")})
        row = run(model, cs, st, 0)
        print("  batched:             ", {k: round(row[k], 3) for k in ("success", "median_err_px", "ssim_truth")})


if __name__ == "__main__":
    main()
