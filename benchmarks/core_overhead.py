"""How much does the coupled-SDE core's own arithmetic cost next to the model calls?

Prints, for an n-step sync-SDE edit of a 1x16x64x64 latent (a 512x512 Flux image):
  * one forward of a 1.6 M-parameter Flux-architecture model (ComfyUI's own ``comfy.ldm.flux``
    class, hidden 128, 1 double + 1 single block), the smallest real model call there is;
  * the core's own time per step (forward path + increments + coupled sampling, including
    the finiteness checks of every denoiser output) measured with a free denoiser;
  * their ratio (the issue's budget: under 5 %).

Threads are pinned (``--threads``, default 1) so the numbers are stable on a busy 2-core box.
ComfyUI is found through ``COMFYUI_PATH`` (a ComfyUI checkout); without it only the core's
times are printed.  Run:  COMFYUI_PATH=/path/to/ComfyUI python3 benchmarks/core_overhead.py
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

import torch

from comfyui_coupled_sde.sampling import backward_increments, coupled_sample, forward_path

TINY_FLUX = dict(
    in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096, hidden_size=128, mlp_ratio=4.0,
    num_heads=1, depth=1, depth_single_blocks=1, axes_dim=[16, 56, 56], theta=10000, patch_size=2,
    qkv_bias=True, guidance_embed=True,
)


def flux_call_seconds(latent: torch.Tensor, repeats: int) -> tuple[float, int] | None:
    root = os.environ.get("COMFYUI_PATH", "").split(os.pathsep)[0]
    if not root:
        return None
    sys.path.insert(0, root)
    from comfy.cli_args import args

    args.cpu = True
    import comfy.ldm.flux.model
    import comfy.ops

    cfg = dict(TINY_FLUX)
    if "txt_ids_dims" in {f.name for f in dataclasses.fields(comfy.ldm.flux.model.FluxParams)}:
        cfg["txt_ids_dims"] = []  # ComfyUI 0.33+: as its own Flux.1 detection sets it
    net = comfy.ldm.flux.model.Flux(dtype=torch.float32, device="cpu", operations=comfy.ops.disable_weight_init,
                                    **cfg)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():  # ComfyUI's ops skip initialisation
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    net.eval()
    ctx, pooled = torch.randn(1, 8, 4096, generator=gen), torch.randn(1, 768, generator=gen)
    t, g = torch.tensor([0.5]), torch.tensor([3.5])
    times = []
    with torch.inference_mode():
        net(latent, t, ctx, y=pooled, guidance=g)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            net(latent, t, ctx, y=pooled, guidance=g)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), sum(p.numel() for p in net.parameters())


def core_seconds_per_step(latent: torch.Tensor, steps: int, repeats: int) -> dict[str, float]:
    sigmas = torch.linspace(1.0, 0.0, steps + 1)
    free = torch.zeros_like(latent)

    def denoise(x, sigma):  # costs nothing: isolates the core's own work
        return free

    out = {"forward_path": [], "backward_increments": [], "coupled_sample": []}
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            path = forward_path(latent, sigmas, "flow", seed=0)
            t1 = time.perf_counter()
            inc = backward_increments(path, denoise)
            t2 = time.perf_counter()
            coupled_sample(inc, denoise)
            t3 = time.perf_counter()
            out["forward_path"].append(t1 - t0)
            out["backward_increments"].append(t2 - t1)
            out["coupled_sample"].append(t3 - t2)
    return {k: statistics.median(v) / steps for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--size", type=int, default=64, help="latent height = width")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    latent = torch.randn(1, 16, a.size, a.size, generator=torch.Generator().manual_seed(1))

    core = core_seconds_per_step(latent, a.steps, a.repeats)
    total = sum(core.values())
    print(f"latent 1x16x{a.size}x{a.size}, {a.steps} steps, {a.threads} thread(s)")
    for k, v in core.items():
        print(f"  core {k:20s} {v * 1e3:8.3f} ms/step")
    print(f"  core total              {total * 1e3:8.3f} ms/step  (2 model calls per step)")
    flux = flux_call_seconds(latent, a.repeats)
    if flux is None:
        print("COMFYUI_PATH is not set: no Flux-architecture reference call timed")
        return
    call, params = flux
    print(f"  Flux-architecture call  {call * 1e3:8.3f} ms  ({params / 1e6:.2f} M params, comfy.ldm.flux)")
    print(f"  core per step / one model call          = {total / call:6.2%}  (budget 5%)")
    print(f"  core per step / the step's two calls    = {total / (2 * call):6.2%}")


if __name__ == "__main__":
    main()
