"""Train the text-conditioned scene model and write the pack's demo weights (``demo/weights/``).

    python3 benchmarks/scenes/train.py          # about 45 minutes on 2 CPU threads

Seeded: the training scenes, minibatches, noise levels and caption dropout come from local
``torch.Generator``s; the parameter initialisation uses the global RNG inside ``fork_rng`` under
the seed, so the global state is left as it was. A rerun with the same torch build, thread count
and kind of CPU gives the same weights. Writes ``scene_flow.safetensors`` (EMA weights, float16) every
``--save-every`` steps and at the end, and records the settings, the loss curve and the wall time
in ``scene_flow.json``. The network itself is ``demo/scene_net.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import pathlib
import resource
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from scene_data import caption, render, sample_scenes, tokenize  # noqa: E402
from scene_model import RECORD, WEIGHTS, SceneUNet, training_loss  # noqa: E402

SETTINGS = {
    "architecture": {"ch": 48, "emb": 128, "text_dim": 64},
    "train_scenes": 50000,
    "data_seed": 1,  # held-out scenes use other seeds (the benchmark's start at 1000)
    "steps": 5000,
    "batch": 64,
    "lr": 2e-3,
    "warmup": 200,
    "ema": 0.999,
    "caption_dropout": 0.1,  # fraction of captions replaced by "" (classifier-free guidance)
    "seed": 7,
    "threads": 2,
}


def dataset(settings: dict):
    scenes = sample_scenes(settings["train_scenes"], settings["data_seed"])
    return render(scenes).to(torch.float16), tokenize([caption(s) for s in scenes])


def save(ema: SceneUNet, out: pathlib.Path, meta: dict):
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(torch.float16).contiguous() for k, v in ema.state_dict().items()}
    save_file(state, str(out / WEIGHTS.name))
    (out / RECORD.name).write_text(json.dumps(meta, indent=1) + "\n")


def train(settings: dict = SETTINGS, out: pathlib.Path = WEIGHTS.parent, log_every: int = 100, save_every: int = 1000):
    t_start = time.time()
    x_all, ids_all = dataset(settings)
    t_data = time.time() - t_start
    print(f"rendered {len(x_all)} training scenes in {t_data:.0f}s", flush=True)
    gen = torch.Generator().manual_seed(settings["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(settings["seed"])
        net = SceneUNet(**settings["architecture"])
    ema = copy.deepcopy(net)
    opt = torch.optim.AdamW(net.parameters(), lr=settings["lr"], weight_decay=0.0)
    steps, warm = settings["steps"], settings["warmup"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
    meta = {**settings, "torch": torch.__version__, "params": sum(p.numel() for p in net.parameters()),
            "data_wall_s": round(t_data, 1), "loss_curve": []}
    running, t0 = [], time.time()
    for step in range(steps):
        idx = torch.randint(len(x_all), (settings["batch"],), generator=gen)
        ids = ids_all[idx].clone()
        ids[torch.rand(len(idx), generator=gen) < settings["caption_dropout"]] = tokenize([""])[0]
        loss = training_loss(net, x_all[idx].to(torch.float32), ids, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(settings["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1 - decay)
        running.append(loss.item())
        if (step + 1) % log_every == 0:
            mean = sum(running[-log_every:]) / log_every
            meta["loss_curve"].append([step + 1, round(mean, 5)])
            print(f"step {step + 1}/{steps}  loss {mean:.4f}  {time.time() - t0:.0f}s", flush=True)
        if (step + 1) % save_every == 0 or step + 1 == steps:
            meta.update({"steps_done": step + 1, "final_loss": sum(running[-200:]) / len(running[-200:]),
                         "train_wall_s": round(time.time() - t0, 1),
                         "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
            save(ema, out, meta)
    return ema, meta


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=WEIGHTS.parent, help="folder for scene_flow.*")
    p.add_argument("--steps", type=int, default=SETTINGS["steps"], help="shorter runs for checks")
    args = p.parse_args()
    settings = {**SETTINGS, "steps": args.steps}
    torch.set_num_threads(settings["threads"])
    _, meta = train(settings, args.out)
    print(f"wrote {args.out / WEIGHTS.name}: loss {meta['final_loss']:.4f}, {meta['train_wall_s']}s", flush=True)


if __name__ == "__main__":
    main()
