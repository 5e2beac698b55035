"""Editing-quality benchmark on real digits: sync-SDE against FlowEdit, SDEdit, ODE inversion,
edit-friendly DDPM and Cycle-SDE, with the two shipped models (see docs/QUALITY.md).

    python3 benchmarks/digits/bench.py      # full run: writes benchmarks/results/{quality.md,pareto.png,examples.png}

Every held-out source digit is edited to another class (seeded). Fidelity: the judge's
target-class accuracy. Preservation: L1 and SSIM to the source. Each method runs at every start
step of ``STARTS`` on the ``STEPS``-step grid and every guidance pair of ``GUIDANCE``; its front
is the Pareto set over those settings. Budgets are matched in denoiser calls: 2 per step of the
grid for every method (SDEdit, which needs one per step, gets a grid twice as fine that starts
at the same sigma).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from dataclasses import dataclass, field

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common import (  # noqa: E402
    Counted,
    run_cycle,
    run_ef_ddpm,
    run_flowedit,
    run_ode,
    run_sdedit,
    sync_sde,
)
from digits_data import N_CLASSES, load_split  # noqa: E402
from digits_judge import Judge, l1, ssim  # noqa: E402
from digits_model import MODELS, WEIGHTS, generate, load  # noqa: E402

from comfyui_coupled_sde.sampling import (  # noqa: E402
    NoiseFamily,
)

RESULTS = HERE.parent / "results"
STEPS = 28  # the grid every method shares (Flux's 28 steps); SDEdit gets 2 * STEPS
STARTS = (4, 12, 14, 16, 18, 20, 22, 24, 26)  # start index on that grid (the papers' default is 4 of 28)
GUIDANCE = ((1.0, 1.0), (1.0, 2.0), (1.0, 4.0), (1.0, 8.0))  # (source, target) guidance, every method
PAPER_GUIDANCE = {"FlowEdit": ((1.5, 5.5),)}  # extra pairs: a method's paper default
N_SOURCES = 200  # 20 per class from the held-out split
SEED = 0
COMMAND = "python3 benchmarks/digits/bench.py"


# --- the methods: (model, x0, denoise_src, denoise_tgt, start index, steps, seed) -> edited ----
METHODS = {  # name: (runner, models it runs on)
    "sync-SDE (posterior)": (sync_sde("posterior"), MODELS),
    "sync-SDE (euler)": (sync_sde("euler"), MODELS),
    "resample (euler)": (sync_sde("euler", kind="resample"), MODELS),
    "FlowEdit": (run_flowedit, ("flow",)),
    "SDEdit": (run_sdedit, MODELS),
    "ODE inversion": (run_ode, MODELS),
    "edit-friendly DDPM": (run_ef_ddpm, MODELS),
    "Cycle-SDE": (run_cycle, ("vp",)),
}
SYNC = ("sync-SDE (posterior)", "sync-SDE (euler)")


@dataclass
class Run:
    model: str
    method: str
    start: int
    sigma: float
    guidance: tuple
    calls: int  # denoiser calls per image (source + target)
    net_evals: float  # network evaluations per image (a guided call with w != 1 costs 2)
    accuracy: float
    l1: float
    ssim: float
    ssim_se: float  # standard error of the mean SSIM over the digits
    seconds: float
    edited: torch.Tensor = field(repr=False, default=None)


def sources(n: int = N_SOURCES, seed: int = SEED):
    """``n`` held-out digits (``n / 10`` per class, in split order) and a seeded other class for each."""
    x, y = load_split("test")
    per = n // N_CLASSES
    idx = torch.cat([torch.nonzero(y == c).flatten()[:per] for c in range(N_CLASSES)])
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, N_CLASSES, (len(idx),), generator=gen)
    return x[idx], y[idx], (y[idx] + shift) % N_CLASSES


def run_one(model, method, x0, src, tgt, judge, k, guidance, steps=STEPS, seed=SEED) -> Run:
    runner = METHODS[method][0]
    d_src, d_tgt = Counted(model.bind(src, guidance[0])), Counted(model.bind(tgt, guidance[1]))
    model.net_evals = 0
    t0 = time.time()
    out = runner(model, x0, d_src, d_tgt, k, steps, seed)
    secs = time.time() - t0
    s = ssim(out, x0)
    return Run(model.name, method, k, float(model.sigmas(steps)[k]), tuple(guidance), d_src.calls + d_tgt.calls,
               model.net_evals / len(x0), judge.accuracy(out, tgt), float(l1(out, x0).mean()), float(s.mean()),
               float(s.std() / len(s) ** 0.5), secs, out)


def settings_for(model, method, starts=STARTS, guidance=GUIDANCE):
    for g in tuple(guidance) + PAPER_GUIDANCE.get(method, ()):
        for k in starts:
            if k == 0 and model.family is NoiseFamily.FLOW and "euler" in method:
                continue  # the reference Euler step is singular at a flow sigma of 1
            yield k, g


def benchmark(models=MODELS, methods=tuple(METHODS), n_sources=N_SOURCES, starts=STARTS, guidance=GUIDANCE,
              steps=STEPS, seed=SEED, weights=WEIGHTS, log=print):
    """Every (model, method, start, guidance) run; returns ``(runs, (x0, src, tgt))``.

    ``seed`` seeds every method's noise (paths, SDE noise, FlowEdit's draws)."""
    judge = Judge()
    x0, src, tgt = sources(n_sources)  # the digits and their targets do not depend on ``seed``
    runs = []
    for name in models:
        model = load(name, weights)
        for method in methods:
            if name not in METHODS[method][1]:
                continue
            for k, g in settings_for(model, method, starts, guidance):
                r = run_one(model, method, x0, src, tgt, judge, k, g, steps, seed)
                runs.append(r)
                log(f"{name:4s} {method:22s} k={k:2d} w={g}  acc {r.accuracy:.3f}  L1 {r.l1:.4f}  "
                    f"SSIM {r.ssim:.3f}  {r.calls} calls  {r.seconds:.1f}s")
    return runs, (x0, src, tgt)


def model_checks(models=MODELS, per_class=100, steps=STEPS, weights=WEIGHTS, seed=SEED):
    """The judge's held-out accuracy and, per model, the judge's recognition of its samples per class."""
    judge = Judge()
    x, y = load_split("test")
    out = {"judge": judge.accuracy(x, y), "n_test": len(y)}
    labels = torch.arange(N_CLASSES).repeat_interleave(per_class)
    for name in models:
        pred = judge.predict(generate(load(name, weights), labels, steps=steps, cfg=1.0, seed=seed))
        out[name] = [float((pred[labels == c] == c).float().mean()) for c in range(N_CLASSES)]
    out["per_class"], out["steps"] = per_class, steps
    return out


# --- analysis --------------------------------------------------------------------------------------
def front(runs, key="ssim"):
    """Pareto set (higher accuracy; higher SSIM or lower L1), sorted by accuracy."""
    sign = 1.0 if key == "ssim" else -1.0

    def better_or_equal(q, r):
        return q.accuracy >= r.accuracy and sign * getattr(q, key) >= sign * getattr(r, key)

    pts = [r for r in runs if not any(better_or_equal(q, r) and not better_or_equal(r, q) for q in runs)]
    return sorted(pts, key=lambda r: (r.accuracy, -sign * getattr(r, key)))


def front_at(runs, level, key="ssim"):
    """Preservation of the method's front at target accuracy ``level``: linear interpolation between
    the two neighbouring Pareto points (achievable by running one setting on part of the images and
    the other on the rest); ``None`` where no setting reaches ``level``."""
    pts = front(runs, key)
    if level > pts[-1].accuracy:
        return None
    for p, q in zip([None] + pts, pts):
        if level <= q.accuracy:
            if p is None or q.accuracy == p.accuracy:
                return getattr(q, key)
            t = (level - p.accuracy) / (q.accuracy - p.accuracy)
            return getattr(p, key) + t * (getattr(q, key) - getattr(p, key))


def best_at(runs, level):
    """The single run with the highest SSIM among those with target accuracy >= ``level``."""
    ok = [r for r in runs if r.accuracy >= level]
    return max(ok, key=lambda r: r.ssim) if ok else None


def groups(runs):
    out = {}
    for r in runs:
        out.setdefault((r.model, r.method), []).append(r)
    return out


LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
FINE_LEVELS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50 .. 0.95


def _front_table(g, key):
    fmt, pick = ("{:.3f}", max) if key == "ssim" else ("{:.4f}", min)
    lines = ["| model | method | " + " | ".join(f"acc {a:g}" for a in LEVELS) + " |",
             "|---|---|" + "---|" * len(LEVELS)]
    for (model, method), rs in g.items():
        cells = []
        for a in LEVELS:
            v = front_at(rs, a, key)
            peers = [p for p in (front_at(x, a, key) for (m2, _), x in g.items() if m2 == model) if p is not None]
            cells.append("-" if v is None else (f"**{fmt.format(v)}**" if v == pick(peers) else fmt.format(v)))
        lines.append(f"| {model} | {method} | " + " | ".join(cells) + " |")
    return lines


def comparison(g, model, baseline, sync_methods):
    """Over accuracy levels 0.50..0.95: (levels where sync-SDE's front SSIM >= the baseline's, levels both
    reach, mean SSIM difference sync - baseline); with several solvers, the better front at each level."""
    diffs = []
    for a in FINE_LEVELS:
        mine = [v for v in (front_at(g[(model, m)], a) for m in sync_methods if (model, m) in g) if v is not None]
        theirs = front_at(g[(model, baseline)], a)
        if mine and theirs is not None:
            diffs.append(max(mine) - theirs)
    return sum(d >= 0 for d in diffs), len(diffs), (sum(diffs) / len(diffs) if diffs else float("nan"))


def markdown(runs, n_sources, steps=STEPS, command=COMMAND, checks=None) -> str:
    g = groups(runs)
    lines = [
        "# Editing quality on real digits",
        "",
        f"Generated by `{command}`; method, settings and conclusions in docs/QUALITY.md.",
        f"{n_sources} held-out digits, each edited to a seeded other class, {steps}-step grids. Fidelity = "
        "the judge's target-class accuracy (standard error at most 0.035 at 200 digits); preservation = "
        "SSIM and L1 to the source (images in [0, 1]; a run's mean SSIM has a standard error of about 0.02 "
        "over the digits, a difference between two runs on the same digits about 0.006). "
        "`k` = start index on the grid, `w` = source/target guidance, `calls` = denoiser calls per image "
        "(source + target; a guided call is one call), `evals` = network evaluations per image (a guided "
        "call with w != 1 costs 2).",
        "",
    ]
    if checks:
        lines += ["## Judge and models", "",
                  f"Judge (RBF SVC on the training split) accuracy on the {checks['n_test']} held-out digits: "
                  f"{checks['judge']:.4f}. Samples from noise ({checks['per_class']} per class, "
                  f"{checks['steps']} posterior steps, no guidance) recognised as their class:", "",
                  "| model | " + " | ".join(str(c) for c in range(N_CLASSES)) + " | all |",
                  "|---|" + "---|" * (N_CLASSES + 1)]
        for name in (m for m in MODELS if m in checks):
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in checks[name])
                         + f" | {sum(checks[name]) / N_CLASSES:.3f} |")
        lines.append("")
    lines += ["## Fronts at matched fidelity", "",
              "SSIM to the source of each method's Pareto front (over start step and guidance) at the given "
              "target accuracy, interpolated between neighbouring front points; best per model in bold; "
              "`-` = no setting reaches that accuracy.", ""] + _front_table(g, "ssim")
    lines += ["", "The same for L1 (lower is better):", ""] + _front_table(g, "l1")
    lines += ["", "## Does the sync-SDE front dominate?", "",
              "At the ten accuracy levels 0.50, 0.55, ..., 0.95: at how many is sync-SDE's front SSIM at least "
              "the baseline's, and the mean SSIM difference (sync-SDE minus baseline); with the posterior "
              "solver alone and with the better of the two solvers' fronts at each level.", "",
              "| model | baseline | sync-SDE (posterior) ≥ baseline | mean Δ SSIM | either solver ≥ baseline "
              "| mean Δ SSIM |", "|---|---|---|---|---|---|"]
    for (model, method) in g:
        if method in SYNC or (model, SYNC[0]) not in g:
            continue
        a = comparison(g, model, method, SYNC[:1])
        b = comparison(g, model, method, SYNC)
        lines.append(f"| {model} | {method} | {a[0]} / {a[1]} | {a[2]:+.3f} | {b[0]} / {b[1]} | {b[2]:+.3f} |")
    lines += ["", "## Best single setting at target accuracy ≥ 0.9", "",
              "(The settings shown in examples.png.)", "",
              "| model | method | k | sigma | w | calls | target acc | L1 | SSIM |",
              "|---|---|---|---|---|---|---|---|---|"]
    for (model, method), rs in g.items():
        r = operating_point(rs)
        lines.append(f"| {model} | {method} | {r.start} | {r.sigma:.3g} | {r.guidance[0]:g}/{r.guidance[1]:g} | "
                     f"{r.calls} | {r.accuracy:.3f} | {r.l1:.4f} | {r.ssim:.3f} |")
    lines += ["", "## All runs", "",
              "| model | method | k | sigma | w | calls | evals | target acc | L1 | SSIM | SSIM SE | s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r.model} | {r.method} | {r.start} | {r.sigma:.3g} | {r.guidance[0]:g}/{r.guidance[1]:g} | "
                     f"{r.calls} | {r.net_evals:g} | {r.accuracy:.3f} | {r.l1:.4f} | {r.ssim:.3f} | "
                     f"{r.ssim_se:.3f} | {r.seconds:.1f} |")
    return "\n".join(lines) + "\n"


# --- figures ----------------------------------------------------------------------------------------
COLORS = {m: c for m, c in zip(METHODS, ["tab:red", "tab:orange", "tab:pink", "tab:blue", "tab:gray",
                                         "tab:green", "tab:purple", "tab:brown"])}


def plot_pareto(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r.model for r in runs}, key=MODELS.index)
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 5 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        for method, rs in ((m, rs) for (mod, m), rs in groups(runs).items() if mod == model):
            c, lw = COLORS[method], 2.5 if method in SYNC else 1.5
            for ax, key in zip(row, ("ssim", "l1")):
                ax.scatter([getattr(r, key) for r in rs], [r.accuracy for r in rs], color=c, s=12, alpha=0.35)
                pts = front(rs, key)
                ax.plot([getattr(r, key) for r in pts], [r.accuracy for r in pts], "-o", color=c, lw=lw, ms=4,
                        label=method)
        for ax, key in zip(row, ("SSIM to source (higher = better preserved)",
                                 "L1 to source (lower = better preserved)")):
            ax.set_xlabel(key)
            ax.set_ylabel("target-class accuracy (judge)")
            ax.set_title(f"{model} model" + (" (rectified flow)" if model == "flow" else " (VP, epsilon)"))
            ax.grid(alpha=0.3)
            ax.set_ylim(-0.02, 1.02)
        row[1].invert_xaxis()
        row[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Fidelity vs preservation: each method's Pareto front over start step and guidance "
                 "(faint dots: all runs); up and right is better", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def operating_point(rs, level=0.9):
    """The run shown in the example grid: best SSIM at accuracy >= level, else the most accurate run."""
    return best_at(rs, level) or max(rs, key=lambda r: (r.accuracy, r.ssim))


def plot_examples(runs, data, path, level=0.9):
    """One panel per model: the source row, then one row per method at its operating point."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0, src, tgt = data
    per = len(x0) // N_CLASSES
    show = [c * per + c % per for c in range(N_CLASSES)]  # one source of each class
    models = sorted({r.model for r in runs}, key=MODELS.index)
    picks = {m: [operating_point(rs, level) for (mod, _), rs in groups(runs).items() if mod == m] for m in models}
    rows = 1 + max(len(p) for p in picks.values())
    fig, axes = plt.subplots(1, len(models), figsize=(7.5 * len(models), 0.45 * rows + 1.0), squeeze=False)
    for ax, model in zip(axes[0], models):
        tiles = [x0[show]] + [r.edited[show] for r in picks[model]]
        pad = lambda img: torch.nn.functional.pad(img, (1, 1, 1, 1), value=-1.0)  # noqa: E731
        mosaic = torch.cat([torch.cat([pad(t[i, 0]) for i in range(len(show))], dim=1) for t in tiles], dim=0)
        ax.imshow(((mosaic + 1) / 2).clamp(0, 1).numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([18 * j + 8.5 for j in range(len(show))])
        ax.set_xticklabels([f"{int(src[i])}→{int(tgt[i])}" for i in show], fontsize=8)
        ax.xaxis.tick_top()
        ax.set_yticks([18 * j + 8.5 for j in range(len(tiles))])
        ax.set_yticklabels(["source"] + [f"{r.method}  k={r.start} w={r.guidance[0]:g}/{r.guidance[1]:g}  "
                                         f"acc {r.accuracy:.2f}" for r in picks[model]], fontsize=7)
        ax.set_title(f"{model} model", fontsize=10)
    fig.suptitle(f"Example edits: each method at its best-SSIM setting with target accuracy ≥ {level:g} "
                 "(else its most accurate one)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write_outputs(runs, data, out_dir, n_sources, command=COMMAND, checks=None):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quality.md").write_text(markdown(runs, n_sources, command=command, checks=checks))
    plot_pareto(runs, out_dir / "pareto.png")
    plot_examples(runs, data, out_dir / "examples.png")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=RESULTS)
    p.add_argument("--sources", type=int, default=N_SOURCES)
    p.add_argument("--seed", type=int, default=SEED, help="noise seed of the methods (the edits stay the same)")
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    checks = model_checks()
    print(checks)
    runs, data = benchmark(n_sources=args.sources, seed=args.seed)
    command = COMMAND + ("" if args.seed == SEED else f" --seed {args.seed}")
    write_outputs(runs, data, args.out, args.sources, command=command, checks=checks)
    print(f"wrote {args.out}/quality.md, pareto.png, examples.png in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
