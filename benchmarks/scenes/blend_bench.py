"""Edit Blend on the scene benchmark: does compositing the source back in pixels (and colour match)
lower the drift outside the edit without costing edits?

    python3 benchmarks/scenes/blend_bench.py [--seeds 0 1] [--threads 2]

The 72 held-out edits (24 colour, 24 shape, 24 background), each kind at its demo preset's start
(28-step grid: colour 4, shape and background 12; cfg 1), sync-SDE (posterior) with and without
``localize`` 0.5, then the pack's Edit Blend math (``nodes/blend.py``, what the node runs) in pixel
space ([0, 1], as the demo model's pixel VAE decodes):

* the plain edit blended with Edit Difference's MASK (the pixels that changed by more than 0.05),
  which a user gets without any option: small drift is put back, real changes stay;
* the localized edit blended with its own edit_mask (the map ``localize`` used);
* each with ``colour_match`` off and ``mean``, and an inward feather of 0 and 1 px;
* a tinted edit: the localized edit plus a global shift (+0.06 red, -0.04 blue), the drift an
  instruction-edit model or a VAE leaves, blended with the map, colour match off and ``mean``.

Judged as bench.py judges (success of the edited attribute; SSIM and L1 outside the edit's footprint).
Writes ``benchmarks/results/scenes/blend.json`` and prints a markdown table.
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
import bench  # noqa: E402
import scene_judge as sj  # noqa: E402
from scene_model import load  # noqa: E402

from comfyui_coupled_sde.nodes.blend import edit_blend  # noqa: E402
from comfyui_coupled_sde.nodes.diagnostics import image_difference  # noqa: E402
from comfyui_coupled_sde.sampling import sync_sde_edit  # noqa: E402

STARTS = {"colour": 4, "shape": 12, "background": 12}
LOC = 0.5
TINT = torch.tensor([0.06, 0.0, -0.04])
OUT = bench.RESULTS / "blend.json"


def to_image(x):  # (N, 3, H, W) in [-1, 1] -> IMAGE (N, H, W, 3) in [0, 1], as the pixel VAE decodes
    return ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).contiguous()


def to_latent(img):
    return img.permute(0, 3, 1, 2) * 2 - 1


def judge(img, es):
    x = to_latent(img)
    ok = bench.edit_success(sj.parse(x), es)
    out = es.regions["outside"]
    return int(ok.sum()), float(sj.masked_ssim(x, es.x0, out).nanmean()), float(sj.masked_l1(x, es.x0, out).nanmean())


def rows_for(model, es, k, seed):
    src = to_image(es.x0)
    d_src, d_tgt = model.bind(es.src_caps), model.bind(es.tgt_caps)
    sig = model.sigmas(bench.STEPS)[k:]
    plain = to_image(sync_sde_edit(es.x0, sig, model.family, d_src, d_tgt, seed=seed))
    maps = []
    loc = to_image(sync_sde_edit(es.x0, sig, model.family, d_src, d_tgt, seed=seed, localize=LOC,
                                 callback=lambda info: maps.append(info["mask"])))
    edit_map = maps[-1][:, 0].float()
    changed = image_difference(src, plain, threshold=0.05).mask
    tinted = (loc + TINT).clamp(0, 1)
    out = {"sync-SDE": plain, f"sync-SDE + localize {LOC}": loc}
    for f in (0, 1):
        for cm in ("off", "mean"):
            tag = f"feather {f}, colour match {cm}"
            out[f"sync-SDE + blend (Edit Difference's mask), {tag}"] = edit_blend(
                src, plain, changed, feather=f, colour_match=cm, ring=2).image
            out[f"localize {LOC} + blend (its edit_mask), {tag}"] = edit_blend(
                src, loc, edit_map, feather=f, colour_match=cm, ring=2).image
    out["localize + tint (no blend)"] = tinted
    for cm in ("off", "mean"):
        out[f"localize + tint + blend (edit_mask), colour match {cm}"] = edit_blend(
            src, tinted, edit_map, feather=0, colour_match=cm, ring=2).image
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load()
    es_all = bench.edit_set()
    results, t0 = {}, time.time()
    for seed in a.seeds:
        for kind, k in STARTS.items():
            idx = [i for i, kd in enumerate(es_all.kinds) if kd == kind]
            es = es_all.subset(idx)
            for name, img in rows_for(model, es, k, seed).items():
                ok, ssim, l1 = judge(img, es)
                r = results.setdefault(name, {}).setdefault(str(seed), {"ok": 0, "n": 0, "ssim": [], "l1": []})
                r["ok"] += ok
                r["n"] += len(idx)
                r["ssim"].append(ssim)
                r["l1"].append(l1)
        print(f"seed {seed} done, {time.time() - t0:.0f} s", flush=True)
    OUT.write_text(json.dumps(results, indent=1))
    print("\n| pipeline | " + " | ".join(f"seed {s}: right, SSIM out, L1 out" for s in a.seeds) + " |")
    print("|---|" + "---|" * len(a.seeds))
    for name, per in results.items():
        cells = []
        for s in a.seeds:
            r = per[str(s)]
            cells.append(f"{r['ok']}/{r['n']}, {sum(r['ssim']) / 3:.4f}, {sum(r['l1']) / 3:.4f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
