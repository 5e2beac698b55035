"""Few steps: how sync-SDE, its ``localize`` variant and FlowEdit edit on 4-, 8-, 12- and 28-step grids.

    nice -n 10 python3 benchmarks/scenes/few_steps.py --threads 1     # the measurement (both seeds)
    python3 benchmarks/scenes/few_steps.py --report                   # markdown from the JSON

Issue 19: few-step distilled models (Flux.2 klein, 4 steps; Z-Image-Turbo, 8 steps) are what many users
run. The scene model (the pack's demo model) is **not** distilled: a few-step run of it measures the
discretisation of the coupled SDE (and of FlowEdit) on a coarse grid, not how a distilled model
behaves (a distilled model is trained to jump between the few sigmas it is run on).

The edit set, judge, metrics, model and runners are bench.py's (72 held-out edits, 24 colour, 24 shape,
24 background). For each step count N, the uniform 'simple' flow grid of N steps (``model.sigmas(N)``,
as bench.py builds its 28-step grid) sliced at every start index k whose sigma ``1 - k / N`` lies in
[0.25, 0.95] (N = 28: bench.py's starts 4, 8, ..., 24, so that the 28-step rows tie to the committed
``results.json``); guidance 1/1 and 2/2; both noise seeds. Rows: sync-SDE (posterior solver, the core's
``sync_sde_edit``), sync-SDE + localize 0.5, FlowEdit (the core's ``flowedit``), and sync-SDE with the
euler solver at N = 4 and 8. 2 model calls per grid step for every row.

Every finished run is appended to ``benchmarks/results/scenes/few_steps.json`` at once (a partial run is
usable and a rerun skips what is there); ``few_steps.md`` is rewritten after every setting.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import _store  # noqa: E402
import bench as B  # noqa: E402
import localize_sweep as LS  # noqa: E402
from bench_common import run_flowedit, sync_sde  # noqa: E402

OUT_JSON = B.RESULTS / "few_steps.json"
OUT_MD = B.RESULTS / "few_steps.md"
COMMAND = "nice -n 10 python3 benchmarks/scenes/few_steps.py --threads 1"
STEP_COUNTS = (4, 8, 12, 28)
SIGMA_RANGE = (0.25, 0.95)
STARTS_28 = (4, 8, 12, 16, 20, 24)  # bench.py's committed starts (8..24) and the demo presets' 4
GUIDANCE = ((1.0, 1.0), (2.0, 2.0))
POST, LOC, FE, EULER = "sync-SDE (posterior)", "sync-SDE + localize 0.5", "FlowEdit", "sync-SDE (euler)"
METHODS = {POST: sync_sde("posterior"), LOC: sync_sde("posterior", localize=0.5), FE: run_flowedit,
           EULER: sync_sde("euler")}
EULER_STEPS = (4, 8)
KIND_OK = 0.9  # a per-kind setting "works" when at least this share of the kind's 24 edits succeed on both seeds


def starts_for(n: int) -> list[int]:
    if n == 28:
        return list(STARTS_28)
    lo, hi = SIGMA_RANGE
    return [k for k in range(n) if lo - 1e-9 <= 1.0 - k / n <= hi + 1e-9]


def methods_for(n: int) -> list[str]:
    return [POST, LOC, FE] + ([EULER] if n in EULER_STEPS else [])


def label(method: str, n: int) -> str:
    return f"{method} · {n} steps"


# --- storage (localize_sweep's format, plus the step count) ----------------------------------------------
def record(run: B.Run, steps: int) -> dict:
    return {"steps": steps, "method": run.method, "start": run.start, "sigma": run.sigma,
            "guidance": list(run.guidance), "seed": run.seed, "calls": run.calls, "net_evals": run.net_evals,
            "accuracy": run.accuracy(), "success": run.success.int().tolist(),
            "ssim": {"outside": [LS._num(x, 5) for x in run.ssim["outside"]]},
            "l1": {"outside": [LS._num(x, 6) for x in run.l1["outside"]]}, "seconds": round(run.seconds, 2)}


def to_runs(store, relabel=True) -> list:
    """bench.Run objects; with ``relabel`` the method name carries the step count (one front per N)."""
    recs = [{**r, "method": label(r["method"], r["steps"]) if relabel else r["method"]} for r in store["runs"]]
    return LS.to_runs({"runs": recs})


# --- running ----------------------------------------------------------------------------------------------
def measure(model, es, store, step_counts, seeds, guidance, only=None, log=print, on_setting=None):
    done = _store.done_keys(store["runs"], ("steps", "method", "seed", "start", "guidance"))
    for seed in seeds:
        for n in step_counts:
            for g in guidance:
                for k in starts_for(n):
                    todo = [m for m in methods_for(n) if (only is None or m in only)
                            and (n, m, seed, k, tuple(g)) not in done]
                    for m in todo:
                        run = B.run_edit(model, m, METHODS[m], es, k, g, seed, steps=n)
                        store["runs"].append(record(run, n))
                        log(f"N={n:2d} seed {seed} {m:24s} k={k:2d} (sigma {run.sigma:.3f}) w={g[0]:g}/{g[1]:g}  "
                            f"acc {run.accuracy():.3f}  SSIM out {run.pres():.4f}  L1 {run.pres('l1'):.4f}  "
                            f"{run.calls} calls  {run.seconds:.1f}s")
                    if todo and on_setting:
                        on_setting()


# --- the check against the committed 28-step numbers --------------------------------------------------
def committed_check(store, path=LS.COMMITTED) -> dict:
    """Each 28-step run here that bench.py's committed results.json also has (same method, seed, start,
    guidance): accuracy, mean SSIM and mean L1 outside. The committed file keeps 3-decimal (SSIM) and
    4-decimal (L1) aggregates for most runs (assembled from a log), so equal means equal to that rounding."""
    if not path.exists():
        return {}
    ref = {}
    for e in json.loads(path.read_text())["edits"]:
        so = [x for x in e["ssim"]["outside"] if x == x]
        lo = [x for x in e["l1"]["outside"] if x == x]
        ref[(e["method"], e["seed"], e["start"], tuple(e["guidance"]))] = (
            e["accuracy"], sum(so) / len(so), sum(lo) / len(lo))
    rows = []
    for r in store["runs"]:
        key = (r["method"], r["seed"], r["start"], tuple(r["guidance"]))
        if r["steps"] != 28 or key not in ref:
            continue
        so = [x for x in r["ssim"]["outside"] if x is not None]
        lo = [x for x in r["l1"]["outside"] if x is not None]
        a, s, l1 = ref[key]
        rows.append((abs(r["accuracy"] - a), abs(sum(so) / len(so) - s), abs(sum(lo) / len(lo) - l1)))
    if not rows:
        return {}
    return {"settings": len(rows), "accuracy_equal": sum(d[0] < 1e-6 for d in rows),
            "max_abs_accuracy": max(d[0] for d in rows), "max_abs_ssim": max(d[1] for d in rows),
            "max_abs_l1": max(d[2] for d in rows),
            "ssim_within_rounding": sum(d[1] <= 5e-4 + 1e-6 for d in rows),
            "l1_within_rounding": sum(d[2] <= 5e-5 + 1e-7 for d in rows)}


# --- report -------------------------------------------------------------------------------------------
def _f(v, nd=3):
    return LS._f(v, nd)


def kind_idx(kinds, kind):
    return LS.kind_idx(kinds, kind)


def front_table(runs, seeds, key="ssim"):
    nd = 3 if key == "ssim" else 4
    L = ["| method | N | " + " | ".join(f"acc {a:g}" for a in B.LEVELS) + " | max acc | calls / edit | s / setting |",
         "|---|---|" + "---|" * (len(B.LEVELS) + 3)]
    for m in METHODS:
        for n in STEP_COUNTS:
            name = label(m, n)
            mine = [r for r in runs if r.method == name]
            if not mine:
                continue
            cells = [" / ".join(_f(LS.front_val(runs, name, s, a, key), nd) for s in seeds) for a in B.LEVELS]
            acc = " / ".join(_f(max((r.accuracy() for r in mine if r.seed == s), default=None), 2) for s in seeds)
            calls = sorted({r.calls for r in mine})
            secs = sum(r.seconds for r in mine) / len(mine)
            L.append(f"| {m} | {n} | " + " | ".join(cells) + f" | {acc} | {calls[0]}–{calls[-1]} | {secs:.1f} |")
    return L


def versus_table(runs, seeds, other_of):
    """Each (method, N) against a reference front: levels at least as good / levels both reach, mean
    difference (SSIM; L1), per seed."""
    L = ["| method | N | against | " + " | ".join(f"seed {s} SSIM | seed {s} L1" for s in seeds) + " |",
         "|---|---|---|" + "---|---|" * len(seeds)]
    for m in METHODS:
        for n in STEP_COUNTS:
            name, ref = label(m, n), other_of(m, n)
            if ref is None or ref == name or not any(r.method == name for r in runs) \
                    or not any(r.method == ref for r in runs):
                continue
            cells = []
            for s in seeds:
                for key, nd in (("ssim", 3), ("l1", 4)):
                    w, k, d = LS.compare(runs, name, ref, s, key)
                    cells.append(f"{w}/{k}, {d:+.{nd}f}" if k else "-")
            L.append(f"| {m} | {n} | {ref} | " + " | ".join(cells) + " |")
    return L


def kind_sweep_table(runs, kinds, seeds, method):
    """Per-kind successes (of 24; seed 0 / seed 1) against the start sigma, per guidance."""
    gs = sorted({r.guidance for r in runs})
    head = [f"{kind} {g[0]:g}/{g[1]:g}" for kind in B.KINDS for g in gs]
    L = ["| N | k | sigma | " + " | ".join(head) + " |", "|---|---|---|" + "---|" * len(head)]
    for n in STEP_COUNTS:
        name = label(method, n)
        for k in sorted({r.start for r in runs if r.method == name}):
            sig = next(r.sigma for r in runs if r.method == name and r.start == k)
            cells = []
            for kind in B.KINDS:
                idx = kind_idx(kinds, kind)
                for g in gs:
                    per = []
                    for s in seeds:
                        r = [x for x in runs if x.method == name and x.start == k and x.guidance == g and x.seed == s]
                        per.append(str(int(r[0].success[idx].sum())) if r else "-")
                    cells.append("/".join(per))
            L.append(f"| {n} | {k} | {sig:.3f} | " + " | ".join(cells) + " |")
    return L


def best_per_kind(runs, kinds, seeds, name, kind):
    """The setting (start, guidance) whose edits of ``kind`` succeed in at least KIND_OK of cases on every
    seed, with the highest mean SSIM outside over the seeds (else the one with the highest mean accuracy)."""
    idx = kind_idx(kinds, kind)
    by = {}
    for r in runs:
        if r.method == name and r.seed in seeds:
            by.setdefault((r.start, r.guidance), {})[r.seed] = r
    full = {s: v for s, v in by.items() if len(v) == len(seeds)}
    if not full:
        return None
    acc = {s: [v[x].accuracy(idx) for x in seeds] for s, v in full.items()}
    ssim = {s: sum(v[x].pres(idx=idx) for x in seeds) / len(seeds) for s, v in full.items()}
    l1 = {s: sum(v[x].pres("l1", idx=idx) for x in seeds) / len(seeds) for s, v in full.items()}
    ok = [s for s in full if min(acc[s]) >= KIND_OK - 1e-9]
    pick = max(ok, key=lambda s: ssim[s]) if ok else max(full, key=lambda s: (sum(acc[s]), ssim[s]))
    r0 = next(iter(full[pick].values()))
    return {"start": pick[0], "sigma": r0.sigma, "guidance": pick[1], "acc": acc[pick], "ssim": ssim[pick],
            "l1": l1[pick], "ok": bool(ok), "n": int(idx.sum())}


def best_table(runs, kinds, seeds):
    L = ["| method | N | " + " | ".join(B.KINDS) + " |", "|---|---|" + "---|" * len(B.KINDS)]
    for m in METHODS:
        for n in STEP_COUNTS:
            name = label(m, n)
            if not any(r.method == name for r in runs):
                continue
            cells = []
            for kind in B.KINDS:
                b = best_per_kind(runs, kinds, seeds, name, kind)
                if b is None:
                    cells.append("-")
                    continue
                succ = "/".join(str(round(a * b["n"])) for a in b["acc"])
                txt = (f"σ {b['sigma']:.2f} (k {b['start']}), w {b['guidance'][0]:g}: {succ}, "
                       f"SSIM {b['ssim']:.3f}, L1 {b['l1']:.4f}")
                cells.append(txt if b["ok"] else f"*{txt}*")
            L.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
    return L


def markdown(store) -> str:
    runs = to_runs(store)
    kinds = store.get("kinds", [])
    seeds = sorted({r.seed for r in runs})
    L = ["# Few steps: sync-SDE, localize and FlowEdit on 4-, 8-, 12- and 28-step grids", "",
         f"Generated by `{COMMAND}` (see its docstring; `--report` rewrites this file from the JSON). "
         "72 held-out edits of the scene benchmark (24 colour, 24 shape, 24 background), bench.py's judge and "
         "metrics; the uniform flow grid of N steps, every start k with sigma 1 - k/N in "
         f"[{SIGMA_RANGE[0]:g}, {SIGMA_RANGE[1]:g}] (28 steps: starts {', '.join(map(str, STARTS_28))}), guidance "
         + ", ".join(f"{a:g}/{b:g}" for a, b in GUIDANCE) + "; 2 model calls per grid step. SSIM and L1 over "
         "the region the edit must not touch (images in [0, 1]). Cells are `seed 0 / seed 1`.", "",
         "**The scene model is not distilled.** A few-step run of it measures the discretisation of the coupled "
         "SDE (and of FlowEdit's loop) on a coarse grid, not how a distilled few-step model (Flux.2 klein, "
         "Z-Image-Turbo) behaves.", ""]
    chk = store.get("check") or committed_check(store)
    if chk:
        L += ["**Check against the committed 28-step numbers** (`benchmarks/results/scenes/results.json`, "
              "bench.py; starts 8..24, the settings both have): "
              f"{chk['settings']} settings; accuracy identical in {chk['accuracy_equal']} (max |difference| "
              f"{chk['max_abs_accuracy']:.3f}); mean SSIM outside within the committed file's 3-decimal rounding "
              f"in {chk['ssim_within_rounding']} (max |difference| {chk['max_abs_ssim']:.5f}); mean L1 outside "
              f"within its 4-decimal rounding in {chk['l1_within_rounding']} (max |difference| "
              f"{chk['max_abs_l1']:.6f}).", ""]
    L += ["## Fronts: SSIM outside the edit at matched accuracy", "",
          "Each row's Pareto front over its starts and guidance pairs, interpolated; '-': the level is not "
          "reached. calls / edit: model calls over the row's starts; s / setting: mean seconds for the 72 "
          "edits (1 torch thread, shared machine).", ""]
    L += front_table(runs, seeds, "ssim") + [""]
    L += ["## Fronts: L1 outside the edit (lower is better)", ""] + front_table(runs, seeds, "l1") + [""]
    L += ["## Against 28 steps, and the solvers", "",
          "Accuracy levels 0.50, 0.55, ..., 0.90: levels where the row is at least as good (SSIM higher or equal; "
          "L1 lower or equal) / levels both fronts reach, and the mean difference (row minus the reference).", ""]
    L += versus_table(runs, seeds, lambda m, n: label(m, 28) if n != 28 and m != EULER else None) + [""]
    L += versus_table(runs, seeds, lambda m, n: label(POST, n) if m != POST else None) + [""]
    L += versus_table(runs, seeds, lambda m, n: label(FE, n) if m == LOC else None) + [""]
    if kinds:
        L += ["## Per kind: which start works", "",
              f"Per kind, the setting whose edits succeed in at least {KIND_OK:.0%} of the kind's 24 on both seeds "
              "with the highest SSIM outside (mean of the seeds), successes `seed 0/seed 1` of 24; in italics where "
              "no setting reaches that, the most accurate one.", ""]
        L += best_table(runs, kinds, seeds) + [""]
        for m in (POST, LOC, FE):
            L += [f"### {m}: successes per kind (of 24, seed 0/seed 1) against the start sigma", ""]
            L += kind_sweep_table(runs, kinds, seeds, m) + [""]
    L += ["## All runs", "", "| N | method | seed | k | sigma | w | calls | acc | colour | shape | background "
          "| SSIM out | L1 out | s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec, r in zip(store["runs"], to_runs(store, relabel=False)):
        per = [_f(r.accuracy(kind_idx(kinds, kind)), 2) for kind in B.KINDS] if kinds else ["-"] * 3
        L.append(f"| {rec['steps']} | {r.method} | {r.seed} | {r.start} | {r.sigma:.3f} | "
                 f"{r.guidance[0]:g}/{r.guidance[1]:g} | {r.calls} | {r.accuracy():.3f} | " + " | ".join(per)
                 + f" | {_f(r.pres(), 4)} | {_f(r.pres('l1'), 4)} | {r.seconds:.1f} |")
    L += _store.timing_lines(store)
    return "\n".join(L) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=list(STEP_COUNTS))
    p.add_argument("--seeds", type=int, nargs="+", default=list(B.SEEDS))
    p.add_argument("--guidance", nargs="+", default=[f"{a:g}/{b:g}" for a, b in GUIDANCE],
                   help="source/target guidance pairs")
    p.add_argument("--only", nargs="*", help="run only these methods: " + ", ".join(METHODS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    p.add_argument("--json", type=pathlib.Path, default=OUT_JSON)
    p.add_argument("--md", type=pathlib.Path, default=OUT_MD)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    store = _store.load_store(args.json, LS.empty_store())
    if args.report:
        store["check"] = committed_check(store)
        _store.write_report(store, args.md, markdown)
        return
    if args.only and set(args.only) - set(METHODS):
        p.error(f"--only: unknown {sorted(set(args.only) - set(METHODS))}; choose from {list(METHODS)}")
    t_all = time.time()
    model = B.load(B.WEIGHTS, B.WEIGHTS.with_suffix(".json"))
    es = B.edit_set()
    store["kinds"] = es.kinds
    guidance = [tuple(float(v) for v in g.split("/")) for g in args.guidance]

    def flush():
        store["check"] = committed_check(store)
        _store.save_store_and_report(store, args.json, args.md, markdown)

    measure(model, es, store, args.steps, args.seeds, guidance, only=args.only,
            log=lambda s: print(s, flush=True), on_setting=flush)
    key = f"steps {' '.join(map(str, args.steps))}, seeds {' '.join(map(str, args.seeds))}" + (
        f", only {', '.join(args.only)}" if args.only else "")
    _store.record_timing(store, key + "_s", t_all)
    flush()
    _store.print_written(args.json, args.md, t_all)


if __name__ == "__main__":
    main()
