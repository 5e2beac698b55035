"""Train the two digit diffusion models and write ``benchmarks/weights/``.

    python3 benchmarks/digits/train.py            # both models (about 19 minutes on one CPU thread)
    python3 benchmarks/digits/train.py --model vp # one of them

Seeded and single-threaded: minibatches, noise and label dropout come from a local
``torch.Generator``; the parameter initialisation uses the global RNG inside ``fork_rng`` under
the model's seed, so the global state is left as it was. A rerun with the same torch build on
the same kind of CPU gives the same weights (checked bit for bit on short runs). Writes
``<model>.safetensors`` (EMA weights, float16) and records the settings, the final loss and the
wall time in ``training.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from digits_data import NULL_LABEL, load_split  # noqa: E402
from digits_model import MODELS, WEIGHTS, UNet, training_loss  # noqa: E402

SETTINGS = {
    "architecture": {"ch": 32, "emb": 128},
    "steps": 5000,
    "batch": 128,
    "lr": 2e-3,
    "warmup": 100,
    "weight_decay": 0.0,
    "ema": 0.999,
    "label_dropout": 0.15,  # fraction of labels replaced by NULL_LABEL (classifier-free guidance)
    "seed": {"flow": 1, "vp": 2},
}


def train(name: str, settings: dict = SETTINGS, log_every: int = 200) -> tuple[UNet, dict]:
    """Train model ``name``; returns the EMA network and a summary."""
    gen = torch.Generator().manual_seed(settings["seed"][name])
    with torch.random.fork_rng(devices=[]):  # parameter initialisation: seeded, global RNG restored
        torch.random.manual_seed(settings["seed"][name])
        net = UNet(**settings["architecture"])
    ema = copy.deepcopy(net)
    x_all, y_all = load_split("train")
    opt = torch.optim.AdamW(net.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    steps, warm = settings["steps"], settings["warmup"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
    t0, running = time.time(), []
    for step in range(steps):
        idx = torch.randint(len(x_all), (settings["batch"],), generator=gen)
        label = y_all[idx].clone()
        label[torch.rand(len(idx), generator=gen) < settings["label_dropout"]] = NULL_LABEL
        loss = training_loss(name, net, x_all[idx], label, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(settings["ema"], (1 + step) / (10 + step))  # EMA with warm-up
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1 - decay)
        running.append(loss.item())
        if (step + 1) % log_every == 0:
            print(f"[{name}] step {step + 1}/{steps}  loss {sum(running[-log_every:]) / log_every:.4f}  "
                  f"{time.time() - t0:.0f}s", flush=True)
    summary = {"final_loss": sum(running[-200:]) / len(running[-200:]), "wall_s": round(time.time() - t0, 1),
               "params": sum(p.numel() for p in net.parameters())}
    return ema, summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=MODELS + ("both",), default="both")
    p.add_argument("--out", type=pathlib.Path, default=WEIGHTS)
    args = p.parse_args()
    torch.set_num_threads(1)
    from safetensors.torch import save_file

    args.out.mkdir(parents=True, exist_ok=True)
    meta_path = args.out / "training.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.update({k: v for k, v in SETTINGS.items()})
    meta["torch"] = torch.__version__
    meta["threads"] = 1
    meta.setdefault("results", {})
    for name in MODELS if args.model == "both" else (args.model,):
        ema, summary = train(name)
        state = {k: v.to(torch.float16).contiguous() for k, v in ema.state_dict().items()}
        save_file(state, str(args.out / f"{name}.safetensors"))
        meta["results"][name] = summary
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"[{name}] wrote {args.out / (name + '.safetensors')}: {summary}", flush=True)


if __name__ == "__main__":
    main()
