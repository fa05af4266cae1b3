"""`--layer all` (bench.layers): one extraction of every layer, a layer curve per pooled protocol with the headline
chosen on validation, SUPERB's weighted sum of layers, cache reuse, rescore, compare and the leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_task

import bench
from bench.encoder import Encoder, Frames

INFORMATIVE = 1  # the hidden state that carries the tone's pitch; the input embedding and the last one do not


class ToyLayers(Encoder):
    """Three hidden states of four features per 20 ms frame: pseudo-random ones (0 and 2, the last) and the
    frame's loudest frequency, which tells the tones apart (1)."""

    name, family, license, embed_dim, hop_ms, sample_rate = "toy-layers", "custom", "MIT", 4, 20.0, 16000

    def encode(self, waveforms, mask):
        import torch

        hop = 320
        n = waveforms.shape[1] // hop
        frames = waveforms[:, :n * hop].reshape(len(waveforms), n, hop).double()
        frame_mask = mask[:, :n * hop].reshape(len(waveforms), n, hop).all(-1)
        peak = torch.fft.rfft(frames).abs().argmax(-1, keepdim=True).double().log1p()  # the loudest frequency
        energy = frames.abs().sum(-1, keepdim=True)
        k = torch.arange(1, 5, dtype=torch.float64)
        noise = [torch.sin(energy * k * 997.0), torch.cos(energy * k * 7919.0)]
        angle = 1.5 * peak  # the pitch as a direction, which cosine kNN sees too
        pitch = torch.cat([angle.cos(), angle.sin(), -angle.cos(), -angle.sin()], -1)
        layers = [noise[0], pitch + 0.1 * noise[1], noise[1]]
        layers = [(h * frame_mask[..., None]).float() for h in layers]
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)


@pytest.fixture
def layered_task(tmp_path, tone_dataset):
    path = write_task(tmp_path / "tasks", tone_dataset, protocols=("linear", "knn", "linear"))
    import yaml

    spec = yaml.safe_load(path.read_text())
    spec["protocols"][2] = {"kind": "linear", "weighted_layers": True}
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(task, out, **kw):
    return bench.run(ToyLayers(), tasks=[str(task)], out=out, seeds=[0, 1], layer="all", progress=False,
                     check=False, **kw)[0]


def test_choose_layer_takes_the_best_validation_score_and_the_lower_layer_on_a_tie():
    from bench.layers import choose_layer

    assert choose_layer([0.5, 0.7, 0.7 + 1e-12], higher_is_better=True) == 1  # equal after rounding to 9 decimals
    assert choose_layer([0.3, 0.1, 0.2], higher_is_better=False) == 1
    assert choose_layer([None, float("nan"), 0.1], higher_is_better=True) == 2
    assert choose_layer([None, None], higher_is_better=True) == 0


def test_all_layers_are_cached_once_and_agree_with_single_layer_runs(tone_dataset, tmp_path):
    from bench.cache import EmbeddingCache
    from bench.data import load_dataset
    from bench.extract import ExtractionConfig, encoder_key, extract
    from bench.taskspec import load_task_file

    enc = ToyLayers().load()
    items = load_dataset(load_task_file(write_task(tmp_path / "t", tone_dataset))).items
    caches = {}
    for layer in ("all", str(INFORMATIVE), "last"):
        key, description = encoder_key(enc, layer)
        caches[layer] = EmbeddingCache(tmp_path / "cache", key, description)
        keys, _ = extract(enc, items, caches[layer], ExtractionConfig(layer=layer, progress=False))
    assert len({c.encoder_key for c in caches.values()}) == 3  # a --layer 1 run does not reuse the 'all' cache
    every = caches["all"].pooled(keys, "meanstd")
    assert every.shape == (len(items), 3, 2 * enc.embed_dim)
    np.testing.assert_array_equal(every[:, INFORMATIVE], caches[str(INFORMATIVE)].pooled(keys, "meanstd"))
    np.testing.assert_array_equal(every[:, -1], caches["last"].pooled(keys, "meanstd"))
    np.testing.assert_array_equal(caches["all"].frames(keys[0]), caches["last"].frames(keys[0]))  # last layer's


def test_layer_all_curve_headline_weighted_sum_rescore_and_reuse(tmp_path, layered_task):
    from bench.rescore import rescore

    record = _run(layered_task, tmp_path / "res")
    assert record["layer"] == "all" and record["cache"]["layers"] == 3
    assert record["cache"]["pooled_bytes_per_clip_and_layer"] == 2 * 4 * ToyLayers.embed_dim
    linear, knn, weighted = record["protocols"]
    for proto in (linear, knn):
        curve = proto["layer_curve"]
        assert [p["layer"] for p in curve] == [0, 1, 2]
        tests = [p["test"]["value"] for p in curve]
        assert int(np.argmax(tests)) == INFORMATIVE and tests[INFORMATIVE] > 0.9 and tests[-1] < 0.7
        assert int(np.argmax([p["validation"] for p in curve])) == INFORMATIVE
        assert proto["layer"] == INFORMATIVE and proto["layer_choice"]["on"] == "validation"
        assert proto["main_score"]["value"] == curve[INFORMATIVE]["test"]["value"]
        assert proto["config"]["variant"] == "best_layer"
    weights = weighted["selected"]["layer_weights"]
    assert weighted["layer"] == "weighted" and weighted["config"]["variant"] == "weighted_layers"
    assert int(np.argmax(weights)) == INFORMATIVE and sum(weights) == pytest.approx(1.0)
    assert all(len(run["layer_weights"]) == 3 for run in weighted["selected"]["runs"])
    assert weighted["main_score"]["value"] > 0.9

    path = tmp_path / "res" / "toy-layers@layer-all" / "test__tones.json"
    again = rescore(path)["protocols"]
    saved = json.loads(path.read_text())["protocols"]
    for key in ("per_seed", "metrics", "ci95", "main_score", "layer_curve"):
        assert json.dumps([p.get(key) for p in again], sort_keys=True) == \
            json.dumps([p.get(key) for p in saved], sort_keys=True), key

    forced = _run(layered_task, tmp_path / "res", force=True)
    assert forced["cache"]["n_encoded"] == 0 and forced["cache"]["n_cached"] == record["cache"]["n_encoded"]
    assert [p["layer_curve"] for p in forced["protocols"][:2]] == [p["layer_curve"] for p in saved[:2]]


def test_compare_and_the_leaderboard_take_a_layer_all_result(tmp_path, layered_task):
    from bench.compare import compare
    from bench.leaderboard import build

    record = _run(layered_task, tmp_path / "a")
    _run(layered_task, tmp_path / "b")
    comparisons, refused = compare(tmp_path / "a", tmp_path / "b", n_boot=50)
    assert not refused and {c.protocol for c in comparisons} == {
        "linear[best_layer]", "knn[best_layer]", "linear[weighted_layers]"}
    assert all(c.delta == 0 for c in comparisons)
    long, _ = build([record])
    assert set(long["protocol"]) == {"linear[best_layer]", "knn[best_layer]", "linear[weighted_layers]"}
    assert set(long["encoder"]) == {"toy-layers@layer-all"}


def test_a_layer_all_run_and_the_default_run_keep_their_own_results(tmp_path, tone_dataset):
    """`--layer all` writes under `<encoder>@layer-all`, so it neither overwrites the default run's result nor shares
    its row (the leaderboard shows both, the guard sees two systems, not one encoder twice)."""
    from bench.leaderboard import build
    from bench.results import load_results

    task = write_task(tmp_path / "tasks", tone_dataset, protocols=("linear",))
    default = bench.run(ToyLayers(), tasks=[str(task)], out=tmp_path / "res", seeds=[0], progress=False,
                        check=False)[0]
    every = bench.run(ToyLayers(), tasks=[str(task)], out=tmp_path / "res", seeds=[0], layer="all", progress=False,
                      check=False)[0]
    assert default["status"] == every["status"] == "ok"
    files = sorted(p.relative_to(tmp_path / "res").as_posix() for p in (tmp_path / "res").rglob("*.json"))
    assert files == ["toy-layers/test__tones.json", "toy-layers@layer-all/test__tones.json"]
    long, _ = build(load_results(tmp_path / "res"))
    assert sorted(long["encoder"]) == ["toy-layers", "toy-layers@layer-all"]


def test_weighted_layers_without_every_layer_names_the_fix(tmp_path, layered_task):
    record = bench.run(ToyLayers(), tasks=[str(layered_task)], out=tmp_path / "res", seeds=[0], layer="last",
                       progress=False, check=False)[0]
    assert record["status"] == "error" and "weighted_layers: true needs every layer" in record["error"]
    assert "--layer all" in record["error"]


def test_verification_curve_chooses_the_lowest_validation_eer_and_rescores(tmp_path):
    from test_verification import _speakers, _task

    from bench.layers import run_protocol
    from bench.protocols.base import ProtocolInput
    from bench.protocols.registry import protocol_function
    from bench.rescore import rescore
    from bench.samples import write_samples

    items, emb = _speakers(tmp_path, noise=0.5)
    rng = np.random.default_rng(1)
    layers = np.stack([rng.standard_normal(emb.shape), emb, rng.standard_normal(emb.shape)], 1).astype(np.float32)
    task = _task(tmp_path)
    inp = ProtocolInput(task=task, items=items, pooled=layers[:, -1], frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=tmp_path, seeds=[0])
    entry, rows = run_protocol(protocol_function("verification"), inp, task.protocols[0], layers)
    curve = entry["layer_curve"]
    assert entry["layer"] == INFORMATIVE == int(np.argmin([p["validation"] for p in curve]))
    assert int(np.argmin([p["test"]["value"] for p in curve])) == INFORMATIVE and curve[1]["test"]["value"] < 0.2
    assert {r["layer"] for r in rows} == {0, 1, 2} and entry["config"]["variant"] == "best_layer"
    path = tmp_path / "enc" / "task.json"
    path.parent.mkdir()
    record = {"task": {"label_kind": "trials"}, "protocols": [entry]}
    record["samples"] = write_samples(tmp_path / "enc" / "task.samples.jsonl.gz",
                                      [{"protocol": 0, "kind": "verification", **r} for r in rows])
    path.write_text(json.dumps(record))
    again = rescore(path)["protocols"][0]
    saved = json.loads(path.read_text())["protocols"][0]
    assert json.dumps([again["main_score"], again["layer_curve"]], sort_keys=True) == \
        json.dumps([saved["main_score"], saved["layer_curve"]], sort_keys=True)


def test_other_protocols_run_on_the_last_layer_and_say_so():
    from types import SimpleNamespace

    from bench.layers import run_protocol
    from bench.protocols.base import ProtocolInput, ProtocolResult

    layers = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    inp = ProtocolInput(task=None, items=[{}, {}], pooled=layers[:, -1], frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=None, seeds=[0])
    seen = []

    def events(inp, spec):
        seen.append(inp.pooled)
        return ProtocolResult(kind="events", config={}, seeds=[0], per_seed=[], metrics={}, ci95={}, main_score={},
                              samples=[{"id": "a"}])

    entry, rows = run_protocol(events, inp, SimpleNamespace(kind="events", config={}), layers)
    assert entry["layer"] == "last" and "layer_curve" not in entry and rows == [{"id": "a"}]
    np.testing.assert_array_equal(seen[0], layers[:, -1])
