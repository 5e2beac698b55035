"""Node speed and memory: Sync-SDE Edit (n steps) vs stock SamplerCustomAdvanced (2n steps).

Same model in every run: the smallest Flux the stock UNETLoader accepts (hidden 3072, 24 heads,
one double block, no single blocks: 404 M parameters), written once as a bf16 safetensors file
and loaded by ``UNETLoader``. Each variant runs in its own process (so its peak memory is its
own), with torch pinned to one thread, and the variants are interleaved over the repeats.

    COMFYUI_PATH=<ComfyUI checkout> python3 benchmarks/node_speed.py [--steps 4] [--repeats 3]

Variants (all 2n model evaluations except the last):
  stock        SamplerCustomAdvanced, BasicGuider, euler, 2n steps
  batched      Sync-SDE Edit, n steps, source+target in one forward per step
  sequential   Sync-SDE Edit, n steps, batch_branches off (two forwards per step)
  extra_target Coupled Sampling alone on reused increments: the cost of one more target prompt (n)

Writes benchmarks/out/node_speed_<latent>px_<tokens>tok.json and prints a markdown table. No timing is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

# the smallest Flux the stock UNETLoader detects (hidden 3072 / 24 heads), 1 double block
FLUX_MIN = dict(hidden_size=3072, num_heads=24, depth=1, depth_single_blocks=0)
VARIANTS = ("stock", "batched", "sequential", "extra_target")


def boot():
    import torch
    from comfy_env import Comfy, find_comfyui

    path, why = find_comfyui()
    if path is None:
        sys.exit(why)
    torch.set_num_threads(1)
    return Comfy(path)


def write_model(models: Path) -> None:
    """The 404 M-param Flux as a bf16 diffusion-model file (seeded random weights)."""
    import torch
    from comfy_env import build_model, tiny_flux
    from safetensors.torch import save_file

    comfy = boot()
    net = build_model(comfy, comfy.supported.Flux, tiny_flux(comfy, **FLUX_MIN), seed=0).model.diffusion_model
    (models / "diffusion_models").mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()},
              str(models / "diffusion_models" / "flux_min.safetensors"))


def run_variant(variant: str, models: Path, steps: int, latent_hw: int, tokens: int) -> dict:
    import torch

    comfy = boot()
    comfy.folder_paths.add_model_folder_path("diffusion_models", str(models / "diffusion_models"), is_default=True)
    (model,) = comfy.stock("UNETLoader", "load_unet", "flux_min.safetensors", "default")
    g = torch.Generator().manual_seed(0)

    def cond(guidance):
        return [[torch.randn(1, tokens, 4096, generator=g),
                 {"pooled_output": torch.randn(1, 768, generator=g), "guidance": guidance}]]

    src, tgt = cond(1.0), cond(1.0)
    lat = {"samples": torch.randn(1, 16, latent_hw, latent_hw, generator=g)}
    (sig_n,) = comfy.stock("BasicScheduler", "get_sigmas", model, "simple", steps, 1.0)
    (sig_2n,) = comfy.stock("BasicScheduler", "get_sigmas", model, "simple", 2 * steps, 1.0)
    # load the weights once outside the timed region, like a warm ComfyUI
    comfy.run("CoupledSDE_SyncSDEEdit", model=model, source_positive=src, target_positive=src, latent=lat,
              sigmas=sig_n[-2:], start_step=0, seed=0)

    if variant == "stock":
        (guider,) = comfy.stock("BasicGuider", "get_guider", model, tgt)
        (noise,) = comfy.stock("RandomNoise", "get_noise", 0)
        (sampler,) = comfy.stock("KSamplerSelect", "get_sampler", "euler")

        def call():
            comfy.stock("SamplerCustomAdvanced", "sample", noise, guider, sampler, sig_2n, lat)
        calls = 2 * steps
    elif variant in ("batched", "sequential"):
        def call():
            comfy.run("CoupledSDE_SyncSDEEdit", model=model, source_positive=src, target_positive=tgt, latent=lat,
                      sigmas=sig_n, start_step=0, seed=0, batch_branches=variant == "batched")
        calls = 2 * steps
    else:
        (path,) = comfy.run("CoupledSDE_ForwardNoising", model=model, latent=lat, sigmas=sig_n, start_step=0, seed=0)
        (inc,) = comfy.run("CoupledSDE_BackwardIncrements", model=model, positive=src, path=path)

        def call():
            comfy.run("CoupledSDE_CoupledSampling", model=model, positive=tgt, increments=inc)
        calls = steps

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        call()
        wall = time.perf_counter() - t0
    return {"variant": variant, "wall_s": wall, "model_evaluations": calls, "peak_extra_mib": mem.peak_mib,
            "memory": mem.kind}


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator stats on a GPU, else RSS sampled every 2 ms."""

    def __enter__(self):
        import torch

        self.cuda = torch.cuda.is_available()
        self.kind = "cuda max_memory_allocated" if self.cuda else "process RSS (sampled)"
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        import psutil

        proc = psutil.Process()
        self.base = self.peak = proc.memory_info().rss
        self.running = True

        def poll():
            while self.running:
                self.peak = max(self.peak, proc.memory_info().rss)
                time.sleep(0.002)

        self.thread = threading.Thread(target=poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import torch

        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.running = False
            self.thread.join()
        self.peak_mib = (self.peak - self.base) / 2**20
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="n: Sync-SDE Edit steps (stock runs 2n)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latent", type=int, default=16, help="latent height = width (16 -> a 128 px image)")
    ap.add_argument("--tokens", type=int, default=64, help="text tokens per prompt")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--models", help=argparse.SUPPRESS)
    ap.add_argument("--write-model", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.write_model:
        return write_model(Path(a.models))
    if a.variant:
        print("RESULT " + json.dumps(run_variant(a.variant, Path(a.models), a.steps, a.latent, a.tokens)))
        return None

    with tempfile.TemporaryDirectory(prefix="coupled_sde_bench_") as tmp:
        me = [sys.executable, __file__, "--models", tmp]
        subprocess.run(me + ["--write-model"], check=True, capture_output=True)
        runs = {v: [] for v in VARIANTS}
        for r in range(a.repeats):
            for v in VARIANTS:
                p = subprocess.run(me + ["--variant", v, "--steps", str(a.steps), "--latent", str(a.latent),
                                         "--tokens", str(a.tokens)], check=True, capture_output=True, text=True)
                line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
                runs[v].append(json.loads(line[len("RESULT "):]))
                print(f"repeat {r + 1}: {v:12s} {runs[v][-1]['wall_s']:.2f} s", flush=True)

    med = {v: statistics.median(x["wall_s"] for x in runs[v]) for v in VARIANTS}
    peak = {v: max(x["peak_extra_mib"] for x in runs[v]) for v in VARIANTS}
    summary = {
        "steps": a.steps, "latent": a.latent, "tokens": a.tokens, "repeats": a.repeats, "threads": 1,
        "median_wall_s": med, "peak_extra_mib": peak, "memory": runs["stock"][0]["memory"], "runs": runs,
        "ratio_batched_vs_stock": med["batched"] / med["stock"],
        "ratio_sequential_vs_stock": med["sequential"] / med["stock"],
        "ratio_batched_vs_sequential": med["batched"] / med["sequential"],
        "extra_target_vs_full_edit": med["extra_target"] / med["sequential"],
    }
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"node_speed_{a.latent}px_{a.tokens}tok.json").write_text(json.dumps(summary, indent=2))
    print(f"\n404 M-param Flux via UNETLoader, {a.latent}x{a.latent} latent, {a.tokens} text tokens, "
          f"n = {a.steps}, 1 thread, median of {a.repeats}\n")
    print("| variant | model evaluations | wall (s) | ratio to stock | "
          f"peak memory above the loaded model (MiB, {summary['memory']}) |")
    print("|---|---|---|---|---|")
    for v in VARIANTS:
        n_eval = runs[v][0]["model_evaluations"]
        print(f"| {v} | {n_eval} | {med[v]:.2f} | {med[v] / med['stock']:.3f} | {peak[v]:.0f} |")
    return summary


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
