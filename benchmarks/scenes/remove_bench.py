""""Remove X" on the scene model: which prompt recipe removes one object and keeps the rest?

    python3 benchmarks/scenes/remove_bench.py --threads 1               # every row, seeds 0 and 1
    python3 benchmarks/scenes/remove_bench.py --report

48 held-out scenes with 2-3 objects (seed ``SOURCE_SEED + 4``; bench.py's other sets use + 0..3 and the
model checks + 10, + 11); one seeded object is removed. 28-step grid, starts ``STARTS``; every row spends
2 model calls per grid step (a guided call, true CFG, counts once, as in bench.py). Rows:

* ``(a) caption without X, cfg W``: sync-SDE, source = the source caption (cfg 1), target = the caption
  without the object, target guidance W (W = 1: plain; W = 2: true CFG against the empty prompt).
* ``(b) negative "X" / "X + bg", cfg W``: the sync-SDE reference's negative-prompt recipe: the source
  caption on both branches, source cfg 1; the target uses true CFG with the source caption as positive and
  a negative naming only the object: ``D = D_neg + W (D_pos - D_neg)``. Negative "X" is the object phrase
  ("a red circle top left"), "X + bg" the object on the source's background ("a red circle top left on a
  striped grey background").
* ``(c)``: each of the above with ``localize`` (core option) at ``--t``.

Success (``scene_judge``): the object count is down by one, no parsed object within 6 px of the removed
object's centre, and every kept object is found near its centre with its colour and shape. Preservation:
SSIM / L1 outside the removed object's footprint dilated by 1 px (``region_masks``). The ground-truth
removal (the scene rendered without the object) is the ceiling. Every row shares one source pass per
(seed, start) (``localize_variants.sync_source``; the source is the same for all rows). Writes
``benchmarks/results/scenes/remove.json`` after every start and ``remove.md``.
"""

from __future__ import annotations

import argparse
import copy
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
import scene_data as sd  # noqa: E402
import scene_judge as sj  # noqa: E402
from bench_common import grid  # noqa: E402

OUT_JSON = B.RESULTS / "remove.json"
OUT_MD = B.RESULTS / "remove.md"
COMMAND = "python3 benchmarks/scenes/remove_bench.py"
STARTS = (4, 8, 12, 16)
N_TASKS = 48
SEED = B.SOURCE_SEED + 4


def tasks(n=N_TASKS, seed=SEED):
    gen = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < n:
        s = sd.sample_scene(gen)
        if len(s["objects"]) < 2:
            continue
        i = int(torch.randint(len(s["objects"]), (), generator=gen))
        t = copy.deepcopy(s)
        del t["objects"][i]
        out.append((s, i, t))
    return out


def object_phrase(o):
    return f"a {o['color']} {o['shape']} {o['pos']}"


def negatives(src, i):
    o = src["objects"][i]
    bg = f"on a {src['bg']['kind']} {src['bg']['color']} background"
    return {"X": object_phrase(o), "X + bg": f"{object_phrase(o)} {bg}"}


def rows(t: float) -> list[dict]:
    base = [{"name": "(a) caption without X, cfg 1", "recipe": "a", "cfg": 1.0},
            {"name": "(a) caption without X, cfg 2", "recipe": "a", "cfg": 2.0}]
    base += [{"name": f"(b) negative \"{neg}\", cfg {w:g}", "recipe": "b", "neg": neg, "cfg": w}
             for neg in ("X", "X + bg") for w in (2.0, 3.0, 5.0)]
    loc = [dict(r, name=f"(c) {r['name'][4:]} + localize {t:g}", localize=t) for r in base]
    return [dict(r, localize=None) for r in base] + loc


def true_cfg(model, pos, neg, w):
    """``D_neg + w (D_pos - D_neg)``, one batched network call of twice the batch."""
    def denoise(x, sigma):
        d = model(torch.cat([x, x]), sigma, list(pos) + list(neg), 1.0)
        d_pos, d_neg = d.chunk(2)
        return d_neg + w * (d_pos - d_neg)
    return denoise


def judge(out, items):
    ok = []
    for p, (s, i, t) in zip(sj.parse(out), items):
        gone = sj.find_object(p, s["objects"][i]["cx"], s["objects"][i]["cy"]) is None
        kept = all((f := sj.find_object(p, o["cx"], o["cy"])) is not None and f["color"] == o["color"]
                   and f["shape"] == o["shape"] for o in t["objects"])
        ok.append(len(p["objects"]) == len(s["objects"]) - 1 and gone and kept)
    return torch.tensor(ok)


def run_all(model, rws, seeds, store, save, log=print):
    items = tasks()
    x0 = sd.render([s for s, _, _ in items])
    keep = torch.stack([sj.region_masks(s, s, [i])["outside"] for s, i, _ in items])[:, None]
    src_caps = [sd.caption(s) for s, _, _ in items]
    tgt_caps = [sd.caption(t) for _, _, t in items]
    negs = {k: [negatives(s, i)[k] for s, i, _ in items] for k in ("X", "X + bg")}
    if "ceiling" not in store:
        gt = sd.render([t for _, _, t in items])
        store["ceiling"] = {"success": float(judge(gt, items).float().mean()),
                            "ssim_out": float(sj.masked_ssim(gt, x0, keep).mean()),
                            "l1_out": float(sj.masked_l1(gt, x0, keep).mean()),
                            "objects": [len(s["objects"]) for s, _, _ in items]}
    done = _store.done_keys(store["runs"], ("row", "seed", "start"))
    for seed in seeds:
        for k in STARTS:
            todo = [r for r in rws if (r["name"], seed, k) not in done]
            if not todo:
                continue
            sig = grid(model, B.STEPS, k)
            t0 = time.time()
            inc = LV.sync_source(x0, sig, model.family, model.bind(src_caps, 1.0), seed)
            src_s = time.time() - t0
            for r in todo:
                if r["recipe"] == "a":
                    d_tgt = model.bind(tgt_caps, r["cfg"])
                else:
                    d_tgt = true_cfg(model, src_caps, negs[r["neg"]], r["cfg"])
                t0 = time.time()
                out = LV.sync_target(inc, d_tgt, r["localize"])
                secs = time.time() - t0 + src_s
                ok = judge(out, items)
                rec = {"row": r["name"], "seed": seed, "start": k, "sigma": float(sig[0]), "calls": 2 * (len(sig) - 1),
                       "success": float(ok.float().mean()), "per_image": ok.int().tolist(),
                       "ssim_out": float(sj.masked_ssim(out, x0, keep).mean()),
                       "l1_out": float(sj.masked_l1(out, x0, keep).mean()), "seconds": round(secs, 2)}
                store["runs"].append(rec)
                log(f"seed {seed} k={k:2d} {r['name']:48s} success {rec['success']:.3f}  SSIM out {rec['ssim_out']:.3f}"
                    f"  L1 {rec['l1_out']:.4f}  {secs:.1f}s")
            save()


def markdown(store) -> str:
    seeds = sorted({r["seed"] for r in store["runs"]})
    names = list(dict.fromkeys(r["row"] for r in store["runs"]))
    starts = sorted({r["start"] for r in store["runs"]})
    by = {(r["row"], r["seed"], r["start"]): r for r in store["runs"]}
    c = store.get("ceiling", {})
    L = ["# Remove X on the scene model", "", f"Generated by `{COMMAND}` (see its docstring). {N_TASKS} held-out "
         "scenes with 2-3 objects, one object removed; 28-step grid; 2 model calls per grid step for every row. "
         "Cells: success / SSIM outside / L1 outside (the removed object's footprint, dilated 1 px).", ""]
    if c:
        L += [f"Ceiling (the scene rendered without the object): success {c['success']:.3f}, SSIM outside "
              f"{c['ssim_out']:.3f}, L1 outside {c['l1_out']:.4f}.", ""]
    for seed in seeds:
        sig = {r["start"]: r["sigma"] for r in store["runs"]}
        L += [f"## Seed {seed}", "", "| row | " + " | ".join(f"start {k} (σ {sig[k]:.2f})" for k in starts) + " |",
              "|---|" + "---|" * len(starts)]
        for n in names:
            cells = []
            for k in starts:
                r = by.get((n, seed, k))
                cells.append("-" if r is None else f"{r['success']:.2f} / {r['ssim_out']:.3f} / {r['l1_out']:.4f}")
            L.append(f"| {n} | " + " | ".join(cells) + " |")
        L.append("")
    L += ["## Best start per row (highest success, then SSIM), both seeds", "",
          "| row | " + " | ".join(f"seed {s}: start, success, SSIM, L1" for s in seeds) + " | mean success |",
          "|---|" + "---|" * len(seeds) + "---|"]
    for n in names:
        cells, succ = [], []
        for s in seeds:
            rs = [by[(n, s, k)] for k in starts if (n, s, k) in by]
            if not rs:
                cells.append("-")
                continue
            b = max(rs, key=lambda r: (r["success"], r["ssim_out"]))
            succ.append(b["success"])
            cells.append(f"{b['start']}, {b['success']:.2f}, {b['ssim_out']:.3f}, {b['l1_out']:.4f}")
        mean = sum(succ) / len(succ) if succ else math.nan
        L.append(f"| {n} | " + " | ".join(cells) + f" | {mean:.2f} |")
    L += _store.timing_lines(store)
    return "\n".join(L) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--t", type=float, default=0.5, help="localize threshold of the (c) rows")
    p.add_argument("--only", nargs="*", help="run only these row names")
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
    model = B.load(B.WEIGHTS, B.WEIGHTS.with_suffix(".json"))
    rws = rows(args.t)
    if args.only:
        rws = [r for r in rws if r["name"] in args.only]
    run_all(model, rws, args.seeds, store, save, log=lambda s: print(s, flush=True))
    _store.record_timing(store, f"seeds {args.seeds} rows {len(rws)}", t0)
    save()
    _store.print_written(OUT_JSON, OUT_MD, t0)


if __name__ == "__main__":
    main()
