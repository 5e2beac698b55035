"""The pack's registry icon (docs/images/icon.png, 400x400): coupled source and target
trajectories of the demo's analytic mixture, made by running the core.

    python3 benchmarks/icon.py
"""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from gaussian_demo import CLASS_A, CLASS_B, FAMILY, GM  # noqa: E402

from comfyui_coupled_sde.sampling import backward_increments, coupled_sample, forward_path  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "images" / "icon.png"


def main(n=6, steps=28, start=0.85, seed=3):
    sig = torch.linspace(1.0, 0.0, steps + 1)
    sig = sig[sig <= start + 1e-6]
    x0, _ = GM.sample(n, component=CLASS_A, seed=seed)
    path = forward_path(x0, sig, FAMILY, seed=seed + 1)
    ys = []
    coupled_sample(backward_increments(path, GM.denoiser(FAMILY, CLASS_A)), GM.denoiser(FAMILY, CLASS_B),
                   callback=lambda info: ys.append(info["x"].clone()))
    y = torch.stack(ys + [coupled_sample(backward_increments(path, GM.denoiser(FAMILY, CLASS_A)),
                                         GM.denoiser(FAMILY, CLASS_B))])
    x = path.points
    fig = plt.figure(figsize=(4, 4), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_facecolor("#14161c")
    fig.patch.set_facecolor("#14161c")
    for j in range(n):
        ax.plot(x[:, j, 0], x[:, j, 1], color="#4fa3ff", lw=1.6, alpha=0.9)
        ax.plot(y[:, j, 0], y[:, j, 1], color="#ff7a45", lw=1.6, alpha=0.9)
        ax.plot(*x[-1, j], "o", color="#4fa3ff", ms=6)
        ax.plot(*y[-1, j], "o", color="#ff7a45", ms=6)
    ax.set_xlim(-4.2, 4.2)
    ax.set_ylim(-4.2, 4.2)
    ax.axis("off")
    fig.savefig(OUT, facecolor=fig.get_facecolor())
    print(OUT)


if __name__ == "__main__":
    main()
