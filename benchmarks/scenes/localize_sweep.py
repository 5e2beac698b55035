"""Which ``localize`` map is best on the scene benchmark, and does FlowEdit gain from it too?

    python3 benchmarks/scenes/localize_sweep.py --phase core --threads 1           # baselines + t sweep
    python3 benchmarks/scenes/localize_sweep.py --phase variants --t 0.5 --threads 1
    python3 benchmarks/scenes/localize_sweep.py --report                            # markdown from the JSON

The edit set, grid, starts and guidance pairs are bench.py's (72 held-out edits, 24 per kind; 28-step
grid, starts 8..24, guidance 1/1, 2/2, 4/4, 1/4; FlowEdit also at its paper 1.5/5.5), both noise seeds.
Rows (all at 2 model calls per grid step):

* ``--phase core``: sync-SDE (posterior) and FlowEdit (recomputed here), sync-SDE + localize t for t in
  0.25, 0.35, 0.5, 0.7 (the core option), FlowEdit + localize 0.5 (``localize_variants.flowedit_target``).
* ``--phase variants --t T``: the map variants at T (hard threshold, wide ramp, no blur, dilated,
  SAM-Flow-like soft accumulation with a transition band; ``localize_variants``), FlowEdit + localize T,
  edit-friendly DDPM + localize T.

Every finished run is appended to ``benchmarks/results/scenes/localize_sweep.json`` at once (a partial
run is usable, and a rerun skips what is there); the markdown ``localize_sweep.md`` is rewritten after
every setting. Sources are shared between the rows of one family (see ``localize_variants``).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import _store  # noqa: E402
import bench as B  # noqa: E402
import localize_variants as LV  # noqa: E402
from bench_common import grid  # noqa: E402

from comfyui_coupled_sde.sampling import flowedit, sync_sde_edit  # noqa: E402

OUT_JSON = B.RESULTS / "localize_sweep.json"
OUT_MD = B.RESULTS / "localize_sweep.md"
COMMAND = "python3 benchmarks/scenes/localize_sweep.py"
BASE_SYNC, BASE_FE = "sync-SDE (posterior)", "FlowEdit"
CORE_TS = (0.25, 0.35, 0.5, 0.7)
VARIANT_LABELS = {"hard": "hard threshold", "wide": "wide ramp", "noblur": "no blur", "dilated": "dilated 3x3",
                  "accumulated": "soft accumulation + band"}


def rows_for(phase: str, t: float) -> list[dict]:
    """Rows: name, family (sync / flowedit / efddpm), localize, map."""
    if phase == "core":
        return ([{"name": BASE_SYNC, "family": "sync", "localize": None, "map": "core"}]
                + [{"name": f"sync-SDE + localize {x:g}", "family": "sync", "localize": x, "map": "core"}
                   for x in CORE_TS]
                + [{"name": BASE_FE, "family": "flowedit", "localize": None, "map": "core"},
                   {"name": "FlowEdit + localize 0.5", "family": "flowedit", "localize": 0.5, "map": "core"}])
    rows = [{"name": f"sync-SDE + localize {t:g} {label}", "family": "sync", "localize": t, "map": m}
            for m, label in VARIANT_LABELS.items()]
    if t != 0.5:
        rows.append({"name": f"FlowEdit + localize {t:g}", "family": "flowedit", "localize": t, "map": "core"})
    rows.append({"name": f"edit-friendly DDPM + localize {t:g}", "family": "efddpm", "localize": t, "map": "core"})
    return rows


GUIDANCE = ((1.0, 1.0), (2.0, 2.0))  # what this sweep computes (--guidance); see COMMITTED for the rest
COMMITTED = B.RESULTS / "results.json"  # the committed bench.py run: the baselines' other guidance settings
IMPORTED = (BASE_SYNC, BASE_FE, "sync-SDE + localize 0.25", "sync-SDE + localize 0.5")


def settings(row, guidance=None) -> list:
    guidance = GUIDANCE if guidance is None else guidance
    extra = B.PAPER_GUIDANCE.get(row["name"], ()) if tuple(guidance) == tuple(B.GUIDANCE) else ()
    return [(k, g) for g in tuple(guidance) + tuple(extra) for k in B.STARTS]


def committed_runs(store, path=COMMITTED) -> list:
    """The committed bench.py run's settings of the IMPORTED rows that this sweep did not compute (aggregates
    only: ``per_image`` False, so they enter the overall fronts and comparisons, never the per-kind tables)."""
    if not path.exists():
        return []
    have = {(r["method"], r["seed"], r["start"], tuple(r["guidance"])) for r in store["runs"]}
    out = []
    for e in json.loads(path.read_text())["edits"]:
        key = (e["method"], e["seed"], e["start"], tuple(e["guidance"]))
        if e["method"] in IMPORTED and key not in have:
            acc, so, lo = e["accuracy"], e["ssim"]["outside"], e["l1"]["outside"]
            out.append({**{k: e[k] for k in ("method", "start", "sigma", "guidance", "seed", "calls", "seconds")},
                        "net_evals": e.get("net_evals") or float("nan"), "accuracy": acc, "per_image": False,
                        "success": [1] * round(72 * acc) + [0] * (72 - round(72 * acc)),
                        "ssim": {"outside": [sum(x for x in so if x == x) / max(1, sum(x == x for x in so))] * 72},
                        "l1": {"outside": [sum(x for x in lo if x == x) / max(1, sum(x == x for x in lo))] * 72}})
    return out


# --- storage (load / save: _store) ---------------------------------------------------------------------
def empty_store() -> dict:
    """A new store (few_steps keeps the same layout)."""
    return {"runs": [], "checks": {}, "timing": {}}


def run_record(row, k, g, seed, sigma, calls, evals, success, ssim, l1, secs) -> dict:
    return {"method": row["name"], "family": row["family"], "localize": row["localize"], "map": row["map"],
            "start": k, "sigma": sigma, "guidance": list(g), "seed": seed, "calls": calls, "net_evals": evals,
            "accuracy": float(success.float().mean()), "success": success.int().tolist(),
            "ssim": {r: [_num(x, 5) for x in v] for r, v in ssim.items()},
            "l1": {r: [_num(x, 6) for x in v] for r, v in l1.items()}, "seconds": round(secs, 2)}


def _num(x, nd):
    """A rounded float, or None (JSON null) for NaN (an empty region)."""
    x = float(x)
    return None if math.isnan(x) else round(x, nd)


def to_runs(store) -> list:
    nan = float("nan")
    return [B.Run(r["method"], r["start"], r["sigma"], tuple(r["guidance"]), r["seed"], r["calls"], r["net_evals"],
                  torch.tensor(r["success"], dtype=torch.bool),
                  {k: torch.tensor([nan if x is None else x for x in v]) for k, v in r["ssim"].items()},
                  {k: torch.tensor([nan if x is None else x for x in v]) for k, v in r["l1"].items()}, r["seconds"])
            for r in store["runs"]]


# --- running --------------------------------------------------------------------------------------------
def checks(model, es, seed=0, k=20, g=(2.0, 2.0), n=12, t=0.5) -> dict:
    """The shared-source runners against the core on a few edits: max |difference|."""
    sub = es.subset(list(range(0, 72, 72 // n))[:n]) if len(es.x0) >= 72 else es
    sig = grid(model, B.STEPS, k)
    d_src, d_tgt = model.bind(sub.src_caps, g[0]), model.bind(sub.tgt_caps, g[1])
    inc = LV.sync_source(sub.x0, sig, model.family, d_src, seed)
    fe = LV.FlowEditSource(sub.x0, sig, d_src, seed)
    out = {
        "sync_shared_vs_sync_sde_edit": (LV.sync_target(inc, d_tgt) - sync_sde_edit(
            sub.x0, sig, model.family, d_src, d_tgt, seed=seed)).abs().max(),
        "sync_localize_shared_vs_core": (LV.sync_target(inc, d_tgt, t)
                                         - sync_sde_edit(sub.x0, sig, model.family, d_src, d_tgt, seed=seed,
                                                         localize=t)).abs().max(),
        "flowedit_shared_vs_core": (LV.flowedit_target(fe, d_tgt) - flowedit(sub.x0, sig, d_src, d_tgt, seed=seed)
                                    ).abs().max(),
        "core_map_patch_vs_core": (LV.sync_target(inc, d_tgt, t, "core")
                                   - LV.sync_target(inc, d_tgt, t)).abs().max(),
    }
    out = {k: float(v) for k, v in out.items()}
    out["map_restored"] = LV.core_coupled._editable_map is LV.CORE_MAP
    return out


def sweep(model, es, rows, seeds, store, log=print, on_setting=None):
    done = _store.done_keys(store["runs"], ("method", "seed", "start", "guidance"))
    n = len(es.x0)
    all_settings = list(dict.fromkeys(s for row in rows for s in settings(row)))
    for seed in seeds:
        for k, g in all_settings:
            todo = [row for row in rows if (k, g) in settings(row) and (row["name"], seed, k, g) not in done]
            if not todo:
                continue
            sig = grid(model, B.STEPS, k)
            steps = len(sig) - 1
            d_src = model.bind(es.src_caps, g[0])
            d_tgt = model.bind(es.tgt_caps, g[1])
            sources = {}
            for fam in dict.fromkeys(row["family"] for row in todo):
                model.net_evals = 0
                t0 = time.time()
                if fam == "sync":
                    sources[fam] = (LV.sync_source(es.x0, sig, model.family, d_src, seed), time.time() - t0,
                                    model.net_evals)
                elif fam == "flowedit":
                    sources[fam] = (LV.FlowEditSource(es.x0, sig, d_src, seed), time.time() - t0, model.net_evals)
                else:  # edit-friendly DDPM: the resampled path, posterior step
                    sources[fam] = (LV.sync_source(es.x0, sig, model.family, d_src, seed, kind="resample"),
                                    time.time() - t0, model.net_evals)
            for row in todo:
                src, src_s, src_evals = sources[row["family"]]
                model.net_evals = 0
                t0 = time.time()
                if row["family"] == "flowedit":
                    out = LV.flowedit_target(src, d_tgt, row["localize"], LV.MAPS[row["map"]])
                else:
                    out = LV.sync_target(src, d_tgt, row["localize"], row["map"])
                secs = time.time() - t0 + src_s
                success, ssim, l1 = B.measure(out, es)
                rec = run_record(row, k, g, seed, float(sig[0]), 2 * steps, (src_evals + model.net_evals) / n,
                                 success, ssim, l1, secs)
                store["runs"].append(rec)
                del out
                B._release_memory()
                log(f"seed {seed} {row['name']:44s} k={k:2d} w={g[0]:g}/{g[1]:g}  acc {rec['accuracy']:.3f}  "
                    f"SSIM out {float(ssim['outside'].nanmean()):.3f}  L1 {float(l1['outside'].nanmean()):.4f}  "
                    f"{secs:.1f}s")
            if on_setting:
                on_setting()


# --- report ---------------------------------------------------------------------------------------------
def pts(runs, method, seed, key="ssim", idx=None):
    return B.points(runs, method, seed, idx, key=key)


def front_val(runs, method, seed, level, key="ssim", idx=None):
    v = B.front_at(pts(runs, method, seed, key, idx), level)
    return None if v is None else (v if key == "ssim" else -v)


def compare(runs, mine, theirs, seed, key="ssim", idx=None, levels=B.FINE):
    """(levels where mine is at least as good, levels both reach, mean difference mine - theirs)."""
    diffs = []
    for a in levels:
        m, t = front_val(runs, mine, seed, a, key, idx), front_val(runs, theirs, seed, a, key, idx)
        if m is not None and t is not None:
            diffs.append(m - t)
    good = sum((d >= 0) if key == "ssim" else (d <= 0) for d in diffs)
    return good, len(diffs), (sum(diffs) / len(diffs) if diffs else float("nan"))


def _f(v, nd=3):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def table(runs, methods, seed, key="ssim", idx=None):
    nd = 3 if key == "ssim" else 4
    lines = ["| method | " + " | ".join(f"acc {a:g}" for a in B.LEVELS) + " | max acc |",
             "|---|" + "---|" * (len(B.LEVELS) + 1)]
    vals = {m: [front_val(runs, m, seed, a, key, idx) for a in B.LEVELS] for m in methods}
    for m in methods:
        cells = []
        for j, v in enumerate(vals[m]):
            peers = [vals[q][j] for q in methods if vals[q][j] is not None]
            best = (max if key == "ssim" else min)(peers) if peers else None
            cells.append(f"**{_f(v, nd)}**" if v is not None and v == best else _f(v, nd))
        acc = max((r.accuracy(idx) for r in runs if r.method == m and r.seed == seed), default=float("nan"))
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {_f(acc, 2)} |")
    return lines


def kind_idx(kinds, kind):
    return torch.tensor([k == kind for k in kinds])


def best_setting(runs, method, seed, level):
    ok = [r for r in runs if r.method == method and r.seed == seed and r.accuracy() >= level]
    return max(ok, key=lambda r: r.pres()) if ok else None


def _compare_block(runs_mine, runs_theirs, methods, base, seeds):
    """Rows of 'row against base' (SSIM and L1 per seed); ``runs_theirs`` supplies the base's front."""
    lines = []
    for m in methods:
        if m == base:
            continue
        cells = []
        for s in seeds:
            for key, nd in (("ssim", 3), ("l1", 4)):
                w, n, d = compare(runs_mine + [r for r in runs_theirs if r.method == base], m, base, s, key)
                cells.append(f"{w}/{n}, {d:+.{nd}f}" if n else "-")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def markdown(store) -> str:
    computed = to_runs(store)
    imported = to_runs({"runs": committed_runs(store)})
    gset = sorted({r.guidance for r in computed})
    names = {r.method for r in computed}
    # an IMPORTED row not computed here at all (localize 0.25) joins the tables on the same settings
    runs = computed + [r for r in imported if r.method not in names and r.guidance in gset]
    full = computed + imported
    kinds = store.get("kinds", [])
    methods = list(dict.fromkeys([r.method for r in computed] + [r.method for r in runs if r.method not in names]))
    seeds = sorted({r.seed for r in runs})
    gtxt = ", ".join(f"{a:g}/{b:g}" for a, b in gset)
    L = ["# localize sweep on the scene benchmark", "",
         f"Generated by `{COMMAND}` (see its docstring). 72 held-out edits (24 colour, 24 shape, 24 background), "
         f"28-step grid, starts {', '.join(str(k) for k in B.STARTS)}, guidance computed here: {gtxt}; 2 model calls "
         "per grid step for every row. Preservation over the region the edit must not touch, images in [0, 1]. "
         "Fronts are Pareto sets over the settings, interpolated; best per column in bold.", ""]
    if store.get("checks"):
        L += ["Checks (max |difference| on 12 edits, k 20, w 2/2): " + ", ".join(
            f"{k} {v:.2g}" if isinstance(v, float) else f"{k} {v}" for k, v in store["checks"].items()), ""]
    for seed in seeds:
        for key, title in (("ssim", "SSIM outside the edit"), ("l1", "L1 outside the edit (lower is better)")):
            L += [f"## Seed {seed}: {title} at matched accuracy (settings computed here: {gtxt})", ""]
            L += table(runs, methods, seed, key) + [""]
    head = ["| row | " + " | ".join(f"seed {s} SSIM | seed {s} L1" for s in seeds) + " |",
            "|---|" + "---|---|" * len(seeds)]
    for base in (BASE_SYNC, BASE_FE):
        if base not in methods:
            continue
        L += [f"## Each row against {base}, same settings ({gtxt})", "",
              "Levels 0.50, 0.55, ..., 0.90: levels where the row is at least as good (SSIM higher or equal; L1 "
              "lower or equal) / levels both reach, and the mean difference (row minus " + base + ").", ""]
        L += head + _compare_block(runs, [], methods, base, seeds) + [""]
    if imported:
        imp = list(dict.fromkeys(r.method for r in imported))
        L += ["## With the committed run's other guidance settings", "",
              "bench.py's committed results.json (`benchmarks/results/scenes/results.json`; at the 60 settings both "
              "have, the accuracy is identical and the mean SSIM equal to within that file's 3-decimal rounding of its "
              "log-assembled runs, bit-identical where it kept per-image values) adds the settings not computed "
              "here for "
              + ", ".join(imp) + ". Their fronts over all of bench.py's settings:", ""]
        for seed in seeds:
            for key in ("ssim", "l1"):
                L += [f"Seed {seed}, {key.upper()}:", ""] + table(full, imp, seed, key) + [""]
        L += ["Does a setting outside the computed guidance enter these fronts? Mean change of the front over the "
              "levels 0.50..0.90 when those settings are added (SSIM; L1), per seed:", "",
              "| row | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
        for m in imp:
            cells = []
            for s in seeds:
                mine = [r for r in full if r.method == m and r.seed == s and r.guidance in gset]
                both = [r for r in full if r.method == m and r.seed == s]
                out = []
                for key, nd in (("ssim", 3), ("l1", 4)):
                    d = [(front_val(both, m, s, a, key), front_val(mine, m, s, a, key)) for a in B.FINE]
                    extra = sum(1 for a, b in d if a is not None and b is None)
                    diffs = [a - b for a, b in d if a is not None and b is not None]
                    out.append(f"{(sum(diffs) / len(diffs)) if diffs else float('nan'):+.{nd}f}"
                               + (f" (+{extra} levels)" if extra else ""))
                cells.append("; ".join(out))
            L.append(f"| {m} | " + " | ".join(cells) + " |")
        L.append("")
        for base in (BASE_SYNC, BASE_FE):
            if any(r.method == base for r in imported):
                L += [f"Each row ({gtxt} only) against {base}'s full front (all of bench.py's settings):", ""]
                L += head + _compare_block([r for r in runs if r.method != base], full, methods, base, seeds) + [""]
    if kinds:
        L += ["## Per kind (settings computed here)", "",
              "Highest accuracy any setting reaches per kind, and the best-preserving setting with overall accuracy "
              ">= 0.8 with its per-kind accuracy (s0 / s1).", "",
              "| row | max acc colour | max acc shape | max acc background | best @0.8: k, w (s0; s1) | colour "
              "| shape | background | SSIM out | L1 out |", "|---|---|---|---|---|---|---|---|---|---|"]
        for m in [m for m in methods if m in names]:
            cells = []
            for kind in B.KINDS:
                idx = kind_idx(kinds, kind)
                cells.append(" / ".join(_f(max((r.accuracy(idx) for r in runs if r.method == m and r.seed == s),
                                               default=None), 2) for s in seeds))
            bests = [best_setting(runs, m, s, 0.8) for s in seeds]
            ks = "; ".join("-" if b is None else f"k{b.start} w{b.guidance[0]:g}/{b.guidance[1]:g}" for b in bests)
            per = [" / ".join("-" if b is None else _f(b.accuracy(kind_idx(kinds, kind)), 2) for b in bests)
                   for kind in B.KINDS]
            ss = " / ".join("-" if b is None else _f(b.pres()) for b in bests)
            ll = " / ".join("-" if b is None else _f(b.pres("l1"), 4) for b in bests)
            L.append(f"| {m} | " + " | ".join(cells) + f" | {ks} | " + " | ".join(per) + f" | {ss} | {ll} |")
        L.append("")
        for kind in B.KINDS:
            idx = kind_idx(kinds, kind)
            for seed in seeds:
                L += [f"### {kind} edits only, seed {seed}: SSIM outside at matched accuracy (within the kind)", ""]
                L += table(computed, [m for m in methods if m in names], seed, "ssim", idx) + [""]
    L += ["## All runs computed here", "", "| method | seed | k | w | calls | evals | acc | colour | shape "
          "| background | SSIM out | L1 out | s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in computed:
        per = [_f(r.accuracy(kind_idx(kinds, kind)), 2) for kind in B.KINDS] if kinds else ["-"] * 3
        L.append(f"| {r.method} | {r.seed} | {r.start} | {r.guidance[0]:g}/{r.guidance[1]:g} | {r.calls} | "
                 f"{r.net_evals:g} | {r.accuracy():.3f} | " + " | ".join(per)
                 + f" | {_f(r.pres())} | {_f(r.pres('l1'), 4)} | {r.seconds:.1f} |")
    L += _store.timing_lines(store)
    return "\n".join(L) + "\n"


def main():
    global GUIDANCE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", choices=("core", "variants"), default="core")
    p.add_argument("--t", type=float, default=0.5, help="threshold of the variants phase")
    p.add_argument("--seeds", type=int, nargs="+", default=list(B.SEEDS))
    p.add_argument("--only", nargs="*", help="run only these row names")
    p.add_argument("--guidance", nargs="+", default=[f"{a:g}/{b:g}" for a, b in GUIDANCE],
                   help="source/target guidance pairs to compute (bench.py's full set: 1/1 2/2 4/4 1/4)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    p.add_argument("--json", type=pathlib.Path, default=OUT_JSON)
    p.add_argument("--md", type=pathlib.Path, default=OUT_MD)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    store = _store.load_store(args.json, empty_store())
    if args.report:
        _store.write_report(store, args.md, markdown)
        return
    t_all = time.time()
    model = B.load(B.WEIGHTS, B.WEIGHTS.with_suffix(".json"))
    es = B.edit_set()
    store["kinds"] = es.kinds
    if not store.get("checks"):
        store["checks"] = checks(model, es)
        print("checks", store["checks"], flush=True)
    GUIDANCE = tuple(tuple(float(v) for v in g.split("/")) for g in args.guidance)
    rows = rows_for(args.phase, args.t)
    if args.only:
        rows = [r for r in rows if r["name"] in args.only]

    def flush():
        _store.save_store_and_report(store, args.json, args.md, markdown)

    sweep(model, es, rows, tuple(args.seeds), store, log=lambda s: print(s, flush=True), on_setting=flush)
    _store.record_timing(store, f"{args.phase}_{args.t:g}_s", t_all)
    flush()
    _store.print_written(args.json, args.md, t_all)


if __name__ == "__main__":
    main()
