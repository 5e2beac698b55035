"""Run the demo workflows headlessly against a ComfyUI checkout and write their outputs:

    COMFYUI_PATH=<checkout> python3 tests/integration/run_demo_workflows.py [--out DIR] [NAME ...]

Every ``example_workflows/demo_*.json`` (or the NAMEs given, e.g. ``demo_sde_drag``) runs as saved
through ``validate_prompt`` + ``PromptExecutor`` in this process (the machinery of
``test_demo_workflows.py``: the pack's demo scene model, nothing substituted). Its images go to
``DIR/<workflow>/`` (default ``benchmarks/out/demo_workflows``) under SaveImage's own names; the
previous run's images of the same workflow there are replaced. Prints per workflow its wall time
and the scene judge's numbers and checks; the exit status is 1 if a check failed.

The checkout is found as the integration tests find it (``COMFYUI_PATH`` first). When the
checkout has its own environment (``<checkout>/.venv``) and this is another interpreter, the
command runs itself again with that one.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from comfy_env import ROOT, comfyui_version, find_comfyui  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="workflow names (default: every demo_*.json)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "demo_workflows",
                   help="output folder (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help=(
        "torch CPU threads (default: %(default)s; the workflows are tiny, more threads mostly wait on each other)"))
    args = p.parse_args()
    path, why = find_comfyui()
    if path is None:
        sys.exit(why)
    venv = path / ".venv" / "bin" / "python"
    if venv.is_file() and Path(sys.prefix).resolve() != (path / ".venv").resolve():
        env = dict(os.environ, COMFYUI_PATH=str(path))
        os.execve(str(venv), [str(venv), str(Path(__file__).resolve()), *sys.argv[1:]], env)

    import torch
    from demo_workflows import WORKFLOWS, judge, run_workflow

    chosen = [w for w in WORKFLOWS if not args.names or w.stem in args.names]
    unknown = set(args.names) - {w.stem for w in WORKFLOWS}
    if unknown:
        sys.exit(f"no demo workflow named {', '.join(sorted(unknown))}; there are: "
                 + ", ".join(w.stem for w in WORKFLOWS))
    torch.set_num_threads(args.threads)
    t_boot = time.perf_counter()
    from comfy_env import Comfy

    comfy = Comfy(path)
    boot = time.perf_counter() - t_boot
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    comfy.folder_paths.set_output_directory(str(out))
    print(f"ComfyUI {comfyui_version(path)} at {path} (booted in {boot:.1f} s, {args.threads} threads); "
          f"outputs in {out}", flush=True)
    failed, total = [], 0.0
    for w in chosen:
        for old in (out / w.stem).glob("*.png"):
            if re.fullmatch(r".+_\d{5}_\.png", old.name):
                old.unlink()
        run = run_workflow(comfy, w)
        total += run.seconds
        j = judge(run)
        print(f"\n{w.stem}: {run.seconds:.2f} s wall, {len(j.failed)} of {len(j.checks)} checks failed", flush=True)
        print("\n".join(j.lines()[1:]))
        print("  numbers: " + j.lines()[0].split(": ", 1)[1])
        print("  images: " + ", ".join(str(f.relative_to(out)) for f in run.files.values()), flush=True)
        if j.failed:
            failed.append(w.stem)
    print(f"\n{len(chosen)} workflows in {total:.1f} s (executor wall time; ComfyUI boot {boot:.1f} s)"
          + (f"; FAILED: {', '.join(failed)}" if failed else "; every check passed"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
