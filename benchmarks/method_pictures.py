"""One picture per method, made by running the pack's core on the digits models trained here
(benchmarks/digits, weights in benchmarks/weights): held-out real digits, never seen in training.

    python3 benchmarks/method_pictures.py      # writes docs/images/methods.png (seconds on a CPU)

Rows: sync-SDE edits (flow model), Cycle-SDE reconstruction and edit (VP model), SDE-Drag
(VP model, one drag per digit, the arrow drawn on the source).
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "digits"))

from digits_data import load_split, to_unit  # noqa: E402
from digits_model import load  # noqa: E402

from comfyui_coupled_sde.sampling import (  # noqa: E402
    cycle_sde_invert,
    cycle_sde_sample,
    sde_drag,
    sync_sde_edit,
)

OUT = HERE.parent / "docs" / "images" / "methods.png"
EDITS = [(3, 8), (1, 7), (0, 6), (5, 9), (4, 9), (2, 3)]  # source class -> target class
DRAGS = [(7, (10, 3), (13, 6)), (4, (11, 5), (13, 3)), (1, (8, 2), (5, 2)), (9, (9, 5), (11, 8))]


def pick(images, labels, cls, k=0):
    return images[(labels == cls).nonzero()[k, 0]][None]


def main(steps=28, start=0.6, seed=0, out=OUT):
    torch.set_num_threads(1)
    images, labels = load_split("test")
    flow, vp = load("flow"), load("vp")
    rows = []

    src = torch.cat([pick(images, labels, s) for s, _ in EDITS])
    sig = flow.sigmas(steps)
    sig = sig[sig <= start + 1e-9]
    edited = torch.cat([sync_sde_edit(src[i:i + 1], sig, flow.family, flow.bind(s, 2.0), flow.bind(t, 2.0),
                                      seed=seed + i) for i, (s, t) in enumerate(EDITS)])
    rows.append(("sync-SDE: source", src, [str(s) for s, _ in EDITS]))
    rows.append(("sync-SDE: edit", edited, [f"-> {t}" for _, t in EDITS]))

    sig_vp = vp.sigmas(steps)
    sig_vp = sig_vp[round((1 - start) * steps):]
    rec, ed, errs = [], [], []
    for i, (s, t) in enumerate(EDITS):
        inc = cycle_sde_invert(src[i:i + 1], sig_vp, vp.family, vp.bind(s, 2.0), seed=seed + i)
        r = cycle_sde_sample(inc, vp.bind(s, 2.0))
        rec.append(r)
        errs.append((r - src[i:i + 1]).abs().max().item())
        ed.append(cycle_sde_sample(inc, vp.bind(t, 2.0)))
    rows.append(("Cycle-SDE: reconstruction", torch.cat(rec), [f"err {e:.0e}" for e in errs]))
    rows.append(("Cycle-SDE: edit", torch.cat(ed), [f"-> {t}" for _, t in EDITS]))

    dsrc = torch.cat([pick(images, labels, c, 1) for c, _, _ in DRAGS])
    sig_d = vp.sigmas(50)
    sig_d = sig_d[round(0.4 * 50):]
    dragged = torch.cat([sde_drag(dsrc[i:i + 1], sig_d, vp.family, vp.bind(c, 1.0), [a], [b], step=1.0, r=2,
                                  seed=seed + i) for i, (c, a, b) in enumerate(DRAGS)])
    rows.append(("SDE-Drag: source + arrow", dsrc, [f"{a}->{b}" for _, a, b in DRAGS]))
    rows.append(("SDE-Drag: result", dragged, ["" for _ in DRAGS]))

    cols = max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.3 * cols + 1.6, 1.35 * len(rows)))
    for r, (title, imgs, captions) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(imgs):
                continue
            ax.imshow(to_unit(imgs[c, 0]).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(captions[c], fontsize=7)
            if title.startswith("SDE-Drag: source"):
                (_, (x0, y0), (x1, y1)) = DRAGS[c]
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops=dict(arrowstyle="->", color="#ff5050", lw=1.5))
        axes[r, 0].text(-0.15, 0.5, title, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.22, wspace=0.1, hspace=0.45)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(out, "Cycle-SDE reconstruction max |err|:", max(errs))
    return errs


if __name__ == "__main__":
    main()
