"""Does ``localize`` help, hurt or do nothing in the whole-digit regime? (docs/QUALITY.md part 2)

    python3 benchmarks/digits/localize_digits.py --models flow --seeds 0 1 \
        --rows "sync-SDE (posterior)" FlowEdit "sync-SDE + localize 0.5" "sync-SDE + localize 0.5 hard"

The digits benchmark's edit set (200 held-out digits, each to a seeded other class), 28-step grid, starts
4..26, guidance 1/1, 1/2, 1/4, 1/8 (FlowEdit also 1.5/5.5), 2 model calls per grid step. Row names:
``sync-SDE (posterior)``, ``FlowEdit``, ``sync-SDE + localize T [MAP]`` (MAP one of
``localize_variants.MAPS`` or ``accumulated``; default the core's), ``FlowEdit + localize T``. The source
half is computed once per (model, seed, start, source guidance) and shared by every row and target guidance
of that family (``localize_variants``); budgets are those of each method run alone. Writes
``benchmarks/results/localize_digits.json`` (after every setting) and ``localize_digits.md``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import _store  # noqa: E402
import bench as D  # noqa: E402
import localize_variants as LV  # noqa: E402
from digits_judge import Judge, l1, ssim  # noqa: E402
from digits_model import load  # noqa: E402

OUT_JSON = D.RESULTS / "localize_digits.json"
OUT_MD = D.RESULTS / "localize_digits.md"
COMMAND = "python3 benchmarks/digits/localize_digits.py"
BASE_SYNC, BASE_FE = "sync-SDE (posterior)", "FlowEdit"


def parse_row(name: str) -> dict:
    if name == BASE_SYNC:
        return {"name": name, "family": "sync", "localize": None, "map": "core"}
    if name == BASE_FE:
        return {"name": name, "family": "flowedit", "localize": None, "map": "core"}
    words = name.split()
    if name.startswith("sync-SDE + localize "):
        return {"name": name, "family": "sync", "localize": float(words[3]),
                "map": words[4] if len(words) > 4 else "core"}
    if name.startswith("FlowEdit + localize "):
        return {"name": name, "family": "flowedit", "localize": float(words[3]), "map": "core"}
    raise ValueError(f"unknown row {name!r}")


def settings(row):
    extra = D.PAPER_GUIDANCE.get(row["name"], ())
    return [(k, g) for g in tuple(D.GUIDANCE) + tuple(extra) for k in D.STARTS]


def run_all(models, rows, seeds, store, save, log=print):
    judge = Judge()
    x0, src, tgt = D.sources(D.N_SOURCES)
    done = _store.done_keys(store["runs"], ("model", "method", "seed", "start", "guidance"))
    for name in models:
        model = load(name)
        mrows = [r for r in rows if r["family"] != "flowedit" or name == "flow"]
        for seed in seeds:
            for k in D.STARTS:
                sig = model.sigmas(D.STEPS)[k:]
                steps = len(sig) - 1
                pairs = list(dict.fromkeys(g for r in mrows for kk, g in settings(r) if kk == k))
                for g_src in dict.fromkeys(g[0] for g in pairs):
                    todo = [(r, g) for r in mrows for g in pairs if g[0] == g_src and (k, g) in settings(r)
                            and (name, r["name"], seed, k, g) not in done]
                    if not todo:
                        continue
                    d_src = model.bind(src, g_src)
                    sources = {}
                    for fam in dict.fromkeys(r["family"] for r, _ in todo):
                        t0 = time.time()
                        model.net_evals = 0
                        s = (LV.sync_source(x0, sig, model.family, d_src, seed) if fam == "sync"
                             else LV.FlowEditSource(x0, sig, d_src, seed))
                        sources[fam] = (s, time.time() - t0, model.net_evals)
                    for r, g in todo:
                        s, s_secs, s_evals = sources[r["family"]]
                        d_tgt = model.bind(tgt, g[1])
                        model.net_evals = 0
                        t0 = time.time()
                        if r["family"] == "flowedit":
                            out = LV.flowedit_target(s, d_tgt, r["localize"], LV.MAPS[r["map"]])
                        else:
                            out = LV.sync_target(s, d_tgt, r["localize"], r["map"])
                        secs = time.time() - t0 + s_secs
                        sv = ssim(out, x0)
                        rec = {"model": name, "method": r["name"], "start": k, "sigma": float(sig[0]),
                               "guidance": list(g), "seed": seed, "calls": 2 * steps,
                               "net_evals": (s_evals + model.net_evals) / len(x0), "accuracy": judge.accuracy(out, tgt),
                               "l1": float(l1(out, x0).mean()), "ssim": float(sv.mean()),
                               "ssim_se": float(sv.std() / len(sv) ** 0.5), "seconds": round(secs, 2)}
                        store["runs"].append(rec)
                        log(f"{name} seed {seed} {r['name']:36s} k={k:2d} w={g[0]:g}/{g[1]:g}  "
                            f"acc {rec['accuracy']:.3f}  L1 {rec['l1']:.4f}  SSIM {rec['ssim']:.3f}  {secs:.1f}s")
                    save()


def to_runs(store, seed):
    return [D.Run(r["model"], r["method"], r["start"], r["sigma"], tuple(r["guidance"]), r["calls"], r["net_evals"],
                  r["accuracy"], r["l1"], r["ssim"], r["ssim_se"], r["seconds"])
            for r in store["runs"] if r["seed"] == seed]


def compare(g, model, mine, theirs, key):
    diffs = []
    for a in D.FINE_LEVELS:
        m, t = D.front_at(g[(model, mine)], a, key), D.front_at(g[(model, theirs)], a, key)
        if m is not None and t is not None:
            diffs.append(m - t)
    good = sum((d >= 0) if key == "ssim" else (d <= 0) for d in diffs)
    return good, len(diffs), (sum(diffs) / len(diffs) if diffs else float("nan"))


def markdown(store) -> str:
    seeds = sorted({r["seed"] for r in store["runs"]})
    L = ["# localize on the digits benchmark", "",
         f"Generated by `{COMMAND}` (see its docstring). 200 held-out digits, each to another class; 28-step grid, "
         "starts 4..26, guidance 1/1, 1/2, 1/4, 1/8 (FlowEdit also 1.5/5.5); 2 model calls per grid step for every "
         "row. Fidelity = the judge's target-class accuracy; preservation = SSIM and L1 to the source.", ""]
    for seed in seeds:
        g = D.groups(to_runs(store, seed))
        L += [f"## Seed {seed}: SSIM at matched accuracy", ""] + D._front_table(g, "ssim")
        L += ["", f"Seed {seed}: L1 at matched accuracy (lower is better)", ""] + D._front_table(g, "l1") + [""]
        models = list(dict.fromkeys(m for m, _ in g))
        L += [f"Seed {seed}: each row against the baselines, levels 0.50..0.95 (levels at least as good / levels "
              "both reach, mean difference row minus baseline):", "",
              "| model | row | vs sync-SDE SSIM | vs sync-SDE L1 | vs FlowEdit SSIM | vs FlowEdit L1 |",
              "|---|---|---|---|---|---|"]
        for model in models:
            for (mm, method) in g:
                if mm != model:
                    continue
                cells = []
                for base in (BASE_SYNC, BASE_FE):
                    for key, nd in (("ssim", 3), ("l1", 4)):
                        if (model, base) not in g or method == base:
                            cells.append("-")
                            continue
                        w, n, d = compare(g, model, method, base, key)
                        cells.append(f"{w}/{n}, {d:+.{nd}f}")
                L.append(f"| {model} | {method} | " + " | ".join(cells) + " |")
        L.append("")
    L += ["## All runs", "", "| model | method | seed | k | w | calls | acc | L1 | SSIM | s |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in store["runs"]:
        L.append(f"| {r['model']} | {r['method']} | {r['seed']} | {r['start']} | {r['guidance'][0]:g}/"
                 f"{r['guidance'][1]:g} | {r['calls']} | {r['accuracy']:.3f} | {r['l1']:.4f} | {r['ssim']:.3f} | "
                 f"{r['seconds']:.1f} |")
    L += _store.timing_lines(store)
    return "\n".join(L) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["flow"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--rows", nargs="+", default=[BASE_SYNC, BASE_FE, "sync-SDE + localize 0.5"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    store = _store.load_store(OUT_JSON)

    def save():
        _store.save_store_and_report(store, OUT_JSON, OUT_MD, markdown, atomic=False)

    if args.report:
        save()
        return
    t0 = time.time()
    run_all(args.models, [parse_row(r) for r in args.rows], args.seeds, store, save, log=lambda s: print(s, flush=True))
    _store.record_timing(store, f"{'+'.join(args.models)} seeds {args.seeds} rows {len(args.rows)}", t0)
    save()
    _store.print_written(OUT_JSON, OUT_MD, t0)


if __name__ == "__main__":
    main()
