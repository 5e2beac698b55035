"""The demo and the benchmark script run (no timing is asserted)."""

import importlib.util
import pathlib

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_writes_png_and_edits_land(tmp_path):
    demo = _load("gaussian_demo")
    res = demo.run(n=200)
    for name in ("sync-SDE", "FlowEdit", "SDEdit"):
        in_b = torch.isin(demo.GM.classify(res[name]), torch.tensor(demo.CLASS_B)).float().mean().item()
        assert in_b >= 0.99, (name, in_b)
    # sync-SDE keeps each sample's blob (component 0 -> 2 on top, 1 -> 3 below); SDEdit much less
    src = demo.GM.classify(res["source"])

    def kept(name):
        return (demo.GM.classify(res[name]) - 2 == src).float().mean().item()

    print(f"blob kept: sync-SDE {kept('sync-SDE'):.3f} FlowEdit {kept('FlowEdit'):.3f} SDEdit {kept('SDEdit'):.3f}")
    assert kept("sync-SDE") >= 0.95
    assert kept("SDEdit") < kept("sync-SDE") - 0.2
    out = tmp_path / "demo.png"
    demo.plot(res, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_core_overhead_benchmark_runs():
    bench = _load("core_overhead")
    per_step = bench.core_seconds_per_step(torch.randn(1, 16, 16, 16), steps=4, repeats=1)
    assert set(per_step) == {"forward_path", "backward_increments", "coupled_sample"}


def test_method_pictures(tmp_path):
    """The README's method picture: runs on the shipped digit models; Cycle-SDE reconstructs exactly."""
    errs = _load("method_pictures").main(steps=10, out=tmp_path / "methods.png")
    assert max(errs) <= 1e-5
    assert (tmp_path / "methods.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
