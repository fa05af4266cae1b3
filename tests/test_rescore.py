"""bench.rescore: every protocol kind's scores, intervals and main score recomputed from its samples alone equal the
ones the protocol reported; the samples file round-trips; the Scorer scores item subsets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task
from test_generative import tiny_llm  # noqa: F401  (a fixture: the tiny random LLM saved offline)

from bench.protocols.base import ProtocolInput
from bench.protocols.registry import protocol_function
from bench.rescore import rescore, scorer
from bench.samples import read_samples, samples_path, write_samples
from bench.taskspec import parse_task

COMPARED = ("per_seed", "metrics", "ci95", "seed_sd", "interval", "main_score")


def _saved(tmp_path: Path, result, label_kind: str) -> tuple[Path, dict]:
    """Write a result the way the runner does (samples sidecar first, then the JSON); returns its path and record."""
    path = tmp_path / "enc" / "task.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"task": {"label_kind": label_kind}, "protocols": [result.to_dict()]}
    rows = [{"protocol": 0, "kind": result.kind, **row} for row in result.samples]
    record["samples"] = write_samples(samples_path(path), rows)
    path.write_text(json.dumps(record))
    return path, record


def assert_rescore_reproduces(tmp_path: Path, result, label_kind: str) -> dict:
    assert result.samples, f"protocol '{result.kind}' attached no samples"
    path, record = _saved(tmp_path, result, label_kind)
    again = rescore(path)["protocols"][0]
    saved = json.loads(path.read_text())["protocols"][0]
    for key in COMPARED:
        assert json.dumps(again[key], sort_keys=True) == json.dumps(saved[key], sort_keys=True), key
    assert set(saved["metrics"]) == set(saved["ci95"])
    # the Scorer on all items gives the main score itself
    s = scorer(record, 0, read_samples(samples_path(path)))
    assert len(s.item_ids) == len(result.samples) == len(s.groups)
    assert s.main(np.arange(len(s.item_ids))) == pytest.approx(saved["main_score"]["value"], nan_ok=True)
    return saved


def _blobs(n: int, classes: int = 3, d: int = 8, seed: int = 0, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(classes, d))[y] * 2 + rng.normal(size=(n, d)) * spread * 2
    return x.astype(np.float32), y


def _probe_input(kind: str, label_kind: str, protocol: dict, n: int = 90, group: str | None = None):
    x, y = _blobs(n)
    labels = {"multiclass": [f"c{c}" for c in y],
              "regression": [float(v) + 0.1 * float(x[i, 0]) for i, v in enumerate(y)],
              "multilabel": [[f"c{c}", f"c{(c + 1) % 3}"] if i % 2 else [f"c{c}"] for i, c in enumerate(y)]}[label_kind]
    spec = {"name": "t", "version": 1, "domain": "sound", "dataset": {"source": "builtin", "name": "x"},
            "label": {"kind": label_kind, "column": "label"}, "split": {"column": "split"},
            "protocols": [{"kind": kind, **protocol}]}
    if group:
        spec["group"] = group
    task = parse_task(spec, "tasks/t.yaml")
    items = [{"id": f"i{i}", "split": ("train", "train", "validation", "test")[i % 4], "label": labels[i],
              "speaker": f"s{i // 6}"} for i in range(n)]
    return ProtocolInput(task=task, items=items, pooled=x, frames=lambda i: None, hop_ms=20.0,
                         dataset_dir=Path("."), seeds=[0, 1])


@pytest.mark.parametrize("kind,label_kind,main", [
    ("linear", "multiclass", "accuracy"), ("mlp", "regression", "mae"), ("knn", "multilabel", "map"),
    ("knn", "multiclass", "macro_f1")])
def test_probe_kinds(tmp_path, kind, label_kind, main):
    protocol = {"main_score": main, "n_boot": 200, "max_epochs": 8, "lrs": [1e-2]} if kind != "knn" else \
        {"main_score": main, "n_boot": 200}
    inp = _probe_input(kind, label_kind, protocol)
    result = protocol_function(kind)(inp, inp.task.protocols[0])
    saved = assert_rescore_reproduces(tmp_path, result, label_kind)
    if label_kind == "multiclass" and main == "accuracy":
        assert saved["interval"]["methods"]["accuracy"] == "wilson"
        assert saved["interval"]["resampled"] == "items"
    if kind != "knn":
        assert len(saved["per_seed"]) == 2 and saved["seed_sd"][main] is not None


def test_probe_with_groups_resamples_groups(tmp_path):
    inp = _probe_input("linear", "multiclass", {"main_score": "accuracy", "n_boot": 200, "max_epochs": 8},
                       group="speaker")
    result = protocol_function("linear")(inp, inp.task.protocols[0])
    saved = assert_rescore_reproduces(tmp_path, result, "multiclass")
    assert saved["interval"]["resampled"] == "groups" and saved["interval"]["group_column"] == "speaker"
    assert saved["interval"]["units"] == len({r["group"] for r in result.samples})
    assert saved["interval"]["methods"]["accuracy"].startswith("bootstrap-bc-groups")
    assert {r["group"] for r in result.samples} <= {f"s{k}" for k in range(15)}


def test_linear_batch_scales_to_a_small_train_split():
    inp = _probe_input("linear", "multiclass", {"main_score": "accuracy", "n_boot": 50, "max_epochs": 3}, n=64)
    result = protocol_function("linear")(inp, inp.task.protocols[0])
    n_train = result.n_samples["train"]
    assert result.config["batch_size"] == 64 and result.config["batch_size_used"] == max(4, n_train // 8) < 64


def test_verification(tmp_path):
    from test_verification import _speakers
    from test_verification import _task as verification_task

    items, emb = _speakers(tmp_path)
    task = verification_task(tmp_path, n_boot=200)
    inp = ProtocolInput(task=task, items=items, pooled=emb, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=tmp_path, seeds=[0, 1])
    result = protocol_function("verification")(inp, task.protocols[0])
    assert_rescore_reproduces(tmp_path, result, "trials")
    assert all("|" in r["id"] and r["label"] in (0, 1) for r in result.samples)


@pytest.mark.parametrize("kind,main,label_kind,column", [
    ("diarization", "der", "segments", "segments"), ("counting", "accuracy", "multiclass", "count")])
def test_diarization_and_counting(tmp_path, kind, main, label_kind, column):
    from test_diarization import _corpus, _input

    items, frames = _corpus(n_per_split=3)
    task = protocol_task(kind, main, label_kind, column, domain="speech", n_boot=200)
    result = protocol_function(kind)(_input(task, items, frames), task.protocols[0])
    assert_rescore_reproduces(tmp_path, result, label_kind)
    if kind == "diarization":
        assert all(seg[1] > seg[0] for r in result.samples for seg in r["pred"][0]["segments"])


def test_qbe(tmp_path):
    rng = np.random.default_rng(0)
    sounds = {s: 3 * rng.standard_normal(6) for s in "abc"}
    items, frames = [], []
    for k in range(24):
        word = ("ab", "ba", "cc")[k % 3]
        x = np.concatenate([np.tile(sounds[s], (int(rng.integers(3, 6)), 1)) for s in word])
        items.append({"id": f"w{k}", "split": ("train", "validation", "test", "train")[k % 4], "label": word})
        frames.append((x + rng.standard_normal(x.shape)).astype(np.float32))
    task = protocol_task("qbe", "accuracy_dtw", "multiclass", "label", domain="speech", n_boot=200,
                         templates_per_class=2)
    inp = ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in frames]),
                        frames=lambda i: frames[i], hop_ms=10.0, dataset_dir=Path("."), seeds=[0, 1])
    assert_rescore_reproduces(tmp_path, protocol_function("qbe")(inp, task.protocols[0]), "multiclass")


def test_zeroshot(tmp_path):
    names = ["dog", "cat", "rain", "siren", "engine", "bird"]

    def encode_text(texts: list[str]) -> np.ndarray:
        return np.stack([np.eye(8)[names.index(t.split()[-1])] for t in texts])

    rng = np.random.default_rng(0)
    items = [{"id": f"x{k}", "split": ("train", "validation", "test")[(k // 6) % 3], "label": names[k % 6]}
             for k in range(60)]
    pooled = np.eye(8)[[k % 6 for k in range(60)]] + 0.6 * rng.standard_normal((60, 8))
    task = protocol_task("zeroshot", "accuracy", "multiclass", "label", heldout_classes=["rain", "siren"], n_boot=200)
    inp = ProtocolInput(task=task, items=items, pooled=pooled.astype(np.float32), frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=Path("."), seeds=[0], encode_text=encode_text)
    saved = assert_rescore_reproduces(tmp_path, protocol_function("zeroshot")(inp, task.protocols[0]), "multiclass")
    assert set(saved["metrics"]) == {"accuracy", "accuracy_all", "accuracy_heldout"}


def test_retrieval(tmp_path):
    rng = np.random.default_rng(0)
    words = rng.standard_normal((30, 16))

    def encode_text(texts: list[str]) -> np.ndarray:
        return np.stack([words[int(t.split()[0][1:])] + 0.2 * words[int(t.split()[1][1:])] for t in texts])

    items = [{"id": f"c{k}", "split": ("train", "validation", "test")[k % 3], "class": f"g{k % 2}",
              "caption": [f"w{k} w{(k + 1) % 30}", f"w{k} w{(k + 7) % 30}"]} for k in range(30)]
    pooled = (words + 1.5 * rng.standard_normal((30, 16))).astype(np.float32)
    task = protocol_task("retrieval", "t2a_r@1", "captions", "caption", n_boot=200)
    inp = ProtocolInput(task=task, items=items, pooled=pooled, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=Path("."), seeds=[0], encode_text=encode_text)
    saved = assert_rescore_reproduces(tmp_path, protocol_function("retrieval")(inp, task.protocols[0]), "captions")
    assert "a2a_r@1" in saved["metrics"] and "t2a_medr" in saved["metrics"]
    # t2a queries are captions, two per clip: the clip is the resampled unit, so no Wilson interval
    assert saved["interval"]["methods"]["t2a_r@1"].startswith("bootstrap") and \
        saved["interval"]["methods"]["a2t_r@1"] == "wilson"


def test_events(tmp_path):
    from test_events import HOP_MS, _clips

    items, frames = _clips(n=16)
    task = protocol_task("events", "onset_f1", "events", "events", max_epochs=3, n_boot=200, median_s=[0.0],
                         min_duration_s=[0.0])
    inp = ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in frames]),
                        frames=lambda i: frames[i], hop_ms=HOP_MS, dataset_dir=Path("."), seeds=[0, 1])
    result = protocol_function("events")(inp, task.protocols[0])
    assert_rescore_reproduces(tmp_path, result, "events")


def test_generative(tmp_path, tiny_llm):  # noqa: F811 (the imported fixture)
    from test_generative import _classification
    from test_generative import _input as generative_input
    from test_generative import _task as generative_task

    protocol = {"kind": "generative", "llm": str(tiny_llm), "device": "cpu", "steps": 4, "eval_every": 2,
                "projector": "linear", "max_new_tokens": 4, "n_seeds": 2, "text_only": "transcript", "n_boot": 100}
    task = generative_task("multiclass", protocol)
    items, frames = _classification({"train": 6, "validation": 3, "test": 4})
    result = protocol_function("generative")(generative_input(task, items, frames), task.protocols[0])
    saved = assert_rescore_reproduces(tmp_path, result, "multiclass")
    assert "text_only_accuracy" in saved["metrics"] and "text_only_accuracy" not in saved["per_seed"][0]
    assert all(isinstance(p["text"], str) for r in result.samples for p in r["pred"])


def test_samples_file_round_trips_atomically_and_deterministically(tmp_path):
    rows = [{"protocol": 0, "kind": "linear", "id": "a", "split": "test", "group": "a", "label": 1, "pred": [0.5, 1]},
            {"protocol": 0, "kind": "linear", "id": "b", "split": "test", "group": "b", "label": [1, 0],
             "pred": [float("nan")]}]
    path = samples_path(tmp_path / "enc" / "keywords.json")
    assert path.name == "keywords.samples.jsonl.gz"
    meta = write_samples(path, rows)
    first = path.read_bytes()
    assert meta["rows"] == 2 and meta["file"] == path.name and len(meta["sha256"]) == 64
    assert write_samples(path, rows)["sha256"] == meta["sha256"] and path.read_bytes() == first
    back = read_samples(path)
    assert back[0] == rows[0] and np.isnan(back[1]["pred"][0])
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    with pytest.raises(ValueError, match="ends in .json"):
        samples_path(tmp_path / "x.txt")


def test_damaged_or_swapped_samples_are_refused(tmp_path):
    from test_diarization import _corpus, _input

    items, frames = _corpus(n_per_split=2)
    task = protocol_task("counting", "accuracy", "multiclass", "count", domain="speech", n_boot=50)
    result = protocol_function("counting")(_input(task, items, frames), task.protocols[0])
    path, _ = _saved(tmp_path, result, "multiclass")
    with pytest.raises(FileNotFoundError, match="samples file not found"):
        read_samples(tmp_path / "missing.samples.jsonl.gz")
    spath = samples_path(path)
    with gzip.open(spath, "wt") as f:
        f.write('{"protocol": 0}\nnot json\n')
    with pytest.raises(ValueError, match="sha256 differs"):
        rescore(path)
    with pytest.raises(ValueError, match=r":2: not a JSON object"):
        read_samples(spath)
    spath.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        read_samples(spath)


def test_scorer_scores_item_multisets_like_a_direct_computation(tmp_path):
    inp = _probe_input("linear", "multiclass", {"main_score": "accuracy", "n_boot": 50, "max_epochs": 5})
    result = protocol_function("linear")(inp, inp.task.protocols[0])
    path, record = _saved(tmp_path, result, "multiclass")
    s = scorer(record, 0, read_samples(samples_path(path)))
    assert s.item_ids == [r["id"] for r in result.samples] and s.groups == s.item_ids  # no group: each item its own
    idx = np.array([0, 0, 3, 5, 5, 5, 7])
    truth = np.array([result.samples[i]["label"] for i in idx])
    direct = np.mean([np.mean(np.array([result.samples[i]["pred"][k] for i in idx]) == truth) for k in range(2)])
    assert s.main(idx) == pytest.approx(direct)
    with pytest.raises(IndexError, match="no protocol #3"):
        scorer(record, 3, [])


def test_a_declared_group_must_be_filled_in():
    inp = _probe_input("knn", "multiclass", {"main_score": "accuracy", "n_boot": 20}, group="speaker")
    test_item = next(i for i, item in enumerate(inp.items) if item["split"] == "test")
    inp.items[test_item]["speaker"] = ""
    with pytest.raises(ValueError, match=f"item 'i{test_item}' has no value in the group column 'speaker'"):
        protocol_function("knn")(inp, inp.task.protocols[0])


def test_compact_multilabel_scores_keep_map_exactly():
    from bench.metrics import mean_average_precision
    from bench.protocols.pooled import plain_predictions

    rng = np.random.default_rng(0)
    y = (rng.random((300, 12)) < 0.2).astype(int)
    scores = (y * 0.3 + rng.random((300, 12))).astype(np.float32)
    scores[:50, 0] = scores[0, 0]  # ties must stay ties
    compact = np.array(plain_predictions(scores))
    assert (compact.astype(np.float32) == scores).all()
    assert mean_average_precision(y, compact) == mean_average_precision(y, scores)


def test_bench_run_writes_the_sidecar_and_rescore_reproduces_it(tmp_path, tone_dataset):
    """End to end through the runner: linear and kNN on tones, the speaker-like group declared."""
    from conftest import write_task

    import bench

    manifest = tone_dataset / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**r, "take": r["id"].rsplit("_", 1)[1]}) + "\n" for r in rows))
    task = write_task(tmp_path / "tasks", tone_dataset, protocols=("linear", "knn"), group="take")
    record = bench.run("mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0, 1], progress=False)[0]
    path = tmp_path / "res" / "mfcc" / "test__tones.json"
    meta = record["samples"]
    assert meta["file"] == samples_path(path).name and meta["rows"] == 2 * 18
    rows = read_samples(samples_path(path))
    assert [r["protocol"] for r in rows] == [0] * 18 + [1] * 18 and {r["kind"] for r in rows} == {"linear", "knn"}
    assert {r["group"] for r in rows} == {str(k) for k in range(6)}
    again = rescore(path)
    for old, new in zip(json.loads(path.read_text())["protocols"], again["protocols"]):
        assert old["interval"]["resampled"] == "groups" and old["interval"]["units"] == 6
        for key in COMPARED:
            assert json.dumps(new[key], sort_keys=True) == json.dumps(old[key], sort_keys=True)
