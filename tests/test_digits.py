"""The digit models, the judge and a seconds-long smoke run of the quality benchmark.

The full benchmark is ``python3 benchmarks/digits/bench.py`` (docs/QUALITY.md); nothing here
retrains: the shipped weights in ``benchmarks/weights/`` are loaded.
"""

import importlib.util
import pathlib
import sys

import pytest
import torch

from comfyui_coupled_sde.sampling import sync_sde_edit

DIGITS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "digits"
sys.path.insert(0, str(DIGITS))
import digits_data  # noqa: E402
import digits_judge  # noqa: E402
import digits_model  # noqa: E402


def _load_bench():
    if "digits_bench" not in sys.modules:
        spec = importlib.util.spec_from_file_location("digits_bench", DIGITS / "bench.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["digits_bench"] = mod  # its dataclass needs to find its module
        spec.loader.exec_module(mod)
    return sys.modules["digits_bench"]


@pytest.fixture(autouse=True)
def _threads():  # overrides conftest's 2 threads: these tests share the machine
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def judge():
    return digits_judge.Judge()


@pytest.fixture(scope="module", params=digits_model.MODELS)
def model(request):
    return digits_model.load(request.param)


def test_split_is_held_out_and_judge_is_accurate(judge):
    x_train, _ = digits_data.load_split("train")
    x_test, y_test = digits_data.load_split("test")
    assert (len(x_train), len(x_test)) == (1397, 400)
    assert torch.bincount(y_test).min() >= 39
    acc = judge.accuracy(x_test, y_test)
    print(f"judge held-out accuracy {acc:.4f}")
    assert acc >= 0.97


def test_weights_are_small():
    for name in digits_model.MODELS:
        assert (digits_model.WEIGHTS / f"{name}.safetensors").stat().st_size < 2_000_000


def test_samples_of_every_class_are_recognised(model, judge):
    labels = torch.arange(10).repeat_interleave(20)
    x = digits_model.generate(model, labels, steps=16, cfg=1.0, seed=123)
    pred = judge.predict(x)
    per_class = [float((pred[labels == c] == c).float().mean()) for c in range(10)]
    print(model.name, "per-class recognition", per_class)
    assert min(per_class) >= 0.9, per_class


def test_identity_edit_is_exact_and_source_reconstructs(model):
    bench = _load_bench()
    x0, src, _ = bench.sources(10)
    sig = model.sigmas(8)[2:]
    for solver in ("posterior", "euler"):
        d = model.bind(src, 2.0)
        out = sync_sde_edit(x0, sig, model.family, d, model.bind(src, 2.0), seed=3, solver=solver)
        assert torch.equal(out, x0)
    rec = bench.run_cycle(model, x0, model.bind(src), model.bind(src), 2, 8, 0)
    assert (rec - x0).abs().max() < 1e-4


def test_smoke_benchmark_writes_table_and_plots(tmp_path):
    bench = _load_bench()
    methods = ("sync-SDE (posterior)", "FlowEdit", "SDEdit", "ODE inversion", "Cycle-SDE")
    runs, data = bench.benchmark(methods=methods, n_sources=10, starts=(2, 5), guidance=((1.0, 2.0),), steps=8,
                                 log=lambda *_: None)
    # 3 methods on both models, FlowEdit (flow; also at its paper guidance), Cycle-SDE (vp); 2 starts each
    assert len(runs) == 2 * (2 * 3) + 2 * 2 + 2
    for r in runs:
        assert r.calls == 2 * (8 - r.start), r  # matched budgets: 2 calls per step of the grid
        assert 0 <= r.accuracy <= 1 and 0 <= r.l1 < 0.5 and -1 <= r.ssim <= 1
    # more noise, more edit: SDEdit from step 2 reaches the target more often and preserves less
    for name in digits_model.MODELS:
        early, late = (next(r for r in runs if (r.model, r.method, r.start) == (name, "SDEdit", k)) for k in (2, 5))
        assert early.ssim < late.ssim
    # randomness only from seeds: a rerun gives the same bits
    first = runs[0]
    again = bench.run_one(digits_model.load(first.model), first.method, *data, digits_judge.Judge(), first.start,
                          first.guidance, steps=8)
    assert torch.equal(again.edited, first.edited)
    bench.write_outputs(runs, data, tmp_path, 10, command="smoke")
    table = (tmp_path / "quality.md").read_text()
    assert "| flow | sync-SDE (posterior) | 2 |" in table and "| vp | Cycle-SDE | 5 |" in table
    for png in ("pareto.png", "examples.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
