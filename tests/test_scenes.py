"""The text-conditioned scene model, its judge and a seconds-long version of the scene benchmark.

The full benchmark is ``python3 benchmarks/scenes/bench.py`` (docs/QUALITY.md); nothing here
retrains: the weights the pack ships (``demo/weights/``) are loaded.
"""

import importlib.util
import pathlib
import sys

import pytest
import torch

from comfyui_coupled_sde.sampling import cycle_sde_invert, cycle_sde_sample, sync_sde_edit

SCENES = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "scenes"
sys.path.insert(0, str(SCENES))
import scene_data as sd  # noqa: E402
import scene_judge as sj  # noqa: E402
import scene_model as sm  # noqa: E402


def _bench():
    if "scene_bench" not in sys.modules:
        spec = importlib.util.spec_from_file_location("scene_bench", SCENES / "bench.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["scene_bench"] = mod  # its dataclasses need to find their module
        spec.loader.exec_module(mod)
    return sys.modules["scene_bench"]


@pytest.fixture(autouse=True)
def _threads():  # these tests share the machine
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return sm.load()


def test_scenes_are_seeded_and_captions_tokenize():
    a, b = sd.sample_scenes(8, 123), sd.sample_scenes(8, 123)
    assert a == b and torch.equal(sd.render(a), sd.render(b))
    ids = sd.tokenize([sd.caption(s) for s in a] + [""])
    assert ids.shape == (9, sd.MAX_TOKENS) and ids[:, 0].eq(sd.VOCAB["<bos>"]).all()
    assert ids[-1, 1:].eq(0).all()  # the empty prompt is <bos> alone
    with pytest.raises(ValueError, match="^caption: the caption has 40 words; the demo scene model reads at most 22"):
        sd.tokenize(["a " * 40])
    with pytest.raises(ValueError, match="^caption: the demo scene model does not know the word 'purple'.*It knows "
                                         "only: a, and, on, background, red, green"):
        sd.tokenize(["a purple circle top left on a noisy grey background"])
    assert torch.equal(sd.tokenize(["A Red circle top left, on a noisy grey background."]),
                       sd.tokenize(["a red circle top left on a noisy grey background"]))


def test_weights_are_small_fp16_and_recorded():
    path = sm.WEIGHTS
    assert path.stat().st_size < 4_000_000
    from safetensors.torch import load_file

    assert {v.dtype for v in load_file(str(path)).values()} == {torch.float16}
    meta = __import__("json").loads(sm.RECORD.read_text())
    assert meta["steps_done"] == meta["steps"] and meta["train_wall_s"] < 3600


def test_judge_reads_held_out_ground_truth():
    scenes = sd.sample_scenes(120, 4242)
    acc = sj.attribute_accuracy(sj.parse(sd.render(scenes)), scenes)
    print("judge on held-out ground truth:", {k: round(v, 3) for k, v in acc.items() if isinstance(v, float)})
    for key in ("count", "color", "pos", "bg_color"):
        assert acc[key] >= 0.97, key
    assert acc["shape"] >= 0.93 and acc["bg_kind"] >= 0.93


def test_samples_match_their_captions(model):
    scenes = sd.sample_scenes(24, 5151)
    x = sm.generate(model, [sd.caption(s) for s in scenes], steps=12, cfg=2.0, seed=3)
    acc = sj.attribute_accuracy(sj.parse(x), scenes)
    print("sample-caption agreement:", {k: round(v, 3) for k, v in acc.items() if isinstance(v, float)})
    assert acc["count"] >= 0.8 and acc["color"] >= 0.8 and acc["pos"] >= 0.8
    assert acc["shape"] >= 0.6 and acc["bg_color"] >= 0.8 and acc["bg_kind"] >= 0.6


def test_identity_edit_is_bit_exact_and_cycle_sde_reconstructs(model):
    scenes = sd.sample_scenes(4, 6161)
    x0 = sd.render(scenes)
    d = model.bind([sd.caption(s) for s in scenes], 2.0)
    sig = model.sigmas(28)[14:]
    assert torch.equal(sync_sde_edit(x0, sig, model.family, d, d, seed=1), x0)
    rec = cycle_sde_sample(cycle_sde_invert(x0, sig, model.family, d, seed=1), d)
    err = (rec - x0).abs().max().item()
    print(f"Cycle-SDE reconstruction max error {err:.2e}")
    assert err < 1e-4


def test_edit_benchmark_smoke_matched_budgets(model):
    bench = _bench()
    es = bench.edit_set(2)
    assert len(es.x0) == 6 and es.kinds == ["colour"] * 2 + ["shape"] * 2 + ["background"] * 2
    k = 22
    calls = {}
    methods = {**bench.METHODS, **bench.VARIANTS}
    for name in ("sync-SDE (posterior)", "FlowEdit", "SDEdit", "ODE inversion", "Cycle-SDE", "sync-SDE + localize 0.5"):
        r = bench.run_edit(model, name, methods[name], es, k, (2.0, 2.0), seed=0, steps=28)
        calls[name] = r.calls
        assert 0.0 <= r.accuracy() <= 1.0 and 0.0 < r.pres() <= 1.0
    assert set(calls.values()) == {2 * (28 - k)}, calls
    ident = bench.run_edit(model, "id", bench.METHODS["sync-SDE (posterior)"],
                           bench.EditSet(es.x0, es.src_caps, es.src_caps, es.kinds, es.src, es.src, es.edited,
                                         es.regions), k, (2.0, 2.0), seed=0, steps=28)
    assert ident.pres() == pytest.approx(1.0) and ident.pres("l1") == 0.0


def test_fronts():
    bench = _bench()
    pts = [(0.5, 0.9), (0.8, 0.7), (0.6, 0.6), (1.0, 0.4)]
    assert bench.front(pts) == [(0.5, 0.9), (0.8, 0.7), (1.0, 0.4)]
    assert bench.front_at(pts, 0.65) == pytest.approx(0.9 + (0.15 / 0.3) * (0.7 - 0.9))
    assert bench.front_at(pts, 0.3) == 0.9 and bench.front_at([(0.5, 0.9)], 0.6) is None


def test_drag_and_inpaint_smoke(model):
    bench = _bench()
    tasks = bench.drag_tasks(1)
    t = tasks[0]
    assert abs(t.tgt_pt[0] - t.src_pt[0]) + abs(t.tgt_pt[1] - t.src_pt[1]) == bench.DRAG_SHIFT
    row = bench.drag_run(model, tasks, "SDE-Drag", steps=6)
    assert row["calls_per_image"] == 2 * 6 * 3  # 3 iterations of 6 steps, 2 calls each
    scenes, idx, masks = bench.inpaint_tasks(2)
    x0 = sd.render(scenes)
    out = bench.inpaint(model, x0, masks, model.sigmas(6), model.bind([sd.caption(s) for s in scenes]), "ode", 0)
    assert torch.equal(out * (1 - masks), x0 * (1 - masks))
