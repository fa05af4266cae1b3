"""Linear / MLP probes and kNN on synthetic pooled embeddings: quality, determinism, split hygiene, errors."""

from pathlib import Path

import numpy as np
import pytest

from bench.protocols.base import ProtocolInput
from bench.protocols.knn import knn_predict, run_knn
from bench.protocols.labels import encode_labels
from bench.protocols.probe import run_linear, run_mlp
from bench.taskspec import parse_task

RUN = {"linear": run_linear, "mlp": run_mlp, "knn": run_knn}


def make_input(x, labels, kind="multiclass", protocol=None, folds=None, seeds=(0, 1, 2), split_seed=0):
    """A ProtocolInput over pooled features `x` with one item per row (60/20/20 split, or 5 folds)."""
    protocol = protocol or {"kind": "linear"}
    split = {"column": "fold", "folds": folds} if folds else {"column": "split"}
    task = parse_task({"name": "t", "version": 1, "domain": "sound", "dataset": {"source": "builtin", "name": "x"},
                       "label": {"kind": kind, "column": "label"}, "split": split, "protocols": [protocol]},
                      "tasks/t.yaml")
    rng = np.random.default_rng(split_seed)
    parts = np.array(["train", "validation", "test"])[rng.choice(3, len(x), p=[0.6, 0.2, 0.2])]
    items = [{"id": f"i{i}", "split": str(parts[i]), "fold": (folds[i % len(folds)] if folds else None),
              "label": labels[i]} for i in range(len(x))]
    return ProtocolInput(task=task, items=items, pooled=np.asarray(x, dtype=np.float32), frames=lambda i: None,
                         hop_ms=20.0, dataset_dir=Path("."), seeds=list(seeds))


def run(inp):
    spec = inp.task.protocols[0]
    return RUN[spec.kind](inp, spec)


def blobs(n=400, d=16, classes=4, spread=0.6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(classes, d))[y] * 3 + rng.normal(size=(n, d)) * spread * 3
    return x, [f"class{c}" for c in y]


@pytest.mark.parametrize("kind", ["linear", "mlp", "knn"])
def test_separable_blobs_are_learned(kind):
    x, labels = blobs()
    result = run(make_input(x, labels, protocol={"kind": kind, "max_epochs": 30} if kind != "knn" else {"kind": kind}))
    assert result.metrics["accuracy"] > 0.9
    assert set(result.metrics) == set(result.ci95) == {"accuracy", "macro_f1"}
    lo, hi = result.ci95["accuracy"]
    assert lo <= result.metrics["accuracy"] <= hi
    assert result.main_score["name"] == "accuracy" and result.main_score["value"] == result.metrics["accuracy"]
    assert sum(result.n_samples.values()) == len(x)
    assert len(result.per_seed) == (1 if kind == "knn" else 3)


def test_linear_result_records_config_and_selection():
    x, labels = blobs()
    result = run(make_input(x, labels, protocol={"kind": "linear", "lrs": [0.003, 0.03], "max_epochs": 20}))
    assert result.config["lrs"] == [0.003, 0.03] and result.config["batch_size"] == 64
    assert result.seeds == [0, 1, 2] and len(result.selected["runs"]) == 3
    for chosen in result.selected["runs"]:
        assert chosen["lr"] in (0.003, 0.03) and 1 <= chosen["epoch"] <= 20
        assert chosen["val_score"] == max(g["val_score"] for g in chosen["grid"])
    assert result.to_dict()["selected"]["metric"] == "accuracy"


def test_random_labels_stay_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 16))
    labels = [f"c{c}" for c in rng.integers(0, 4, 600)]
    result = run(make_input(x, labels, protocol={"kind": "linear", "max_epochs": 30}))
    assert abs(result.metrics["accuracy"] - 0.25) < 0.12


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_regression_recovers_a_linear_target(kind):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 8))
    y = x @ rng.normal(size=8) * 5 + 40 + rng.normal(size=500) * 0.3
    result = run(make_input(x, y.tolist(), kind="regression", protocol={"kind": kind, "max_epochs": 60}))
    assert result.metrics["r2"] > 0.9
    assert result.metrics["mae"] < 2.0  # predictions are mapped back from standardised targets
    assert result.main_score == {"name": "r2", "value": result.metrics["r2"], "ci95": result.ci95["r2"],
                                 "higher_is_better": True}


def test_a_feature_nearly_constant_in_train_cannot_blow_up_predictions():
    from bench.protocols.features import standardiser

    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 8))
    y = x[:, 0] * 2 + 10 + rng.normal(size=500) * 0.3
    train = make_input(x, y.tolist()).items
    in_train = np.array([it["split"] == "train" for it in train])
    rare = np.where(in_train, 1e-7 * rng.normal(size=500), 0.1 * rng.normal(size=500))  # wakes up off train
    features = np.c_[x, rare]
    _, std = standardiser(features[in_train])
    assert std[-1] == pytest.approx(0.01 * np.median(std[:-1]), rel=0.2)  # floored, not ~1e-7
    result = run(make_input(features, y.tolist(), kind="regression", protocol={"kind": "linear", "max_epochs": 40}))
    assert result.metrics["r2"] > 0.9  # unfloored (z-scores ~1e6), R2 is -6.5 even with predictions clipped


def test_regression_main_score_mae_is_minimised():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 4))
    y = x.sum(1)
    result = run(make_input(x, y.tolist(), kind="regression",
                            protocol={"kind": "linear", "main_score": "mae", "max_epochs": 30}))
    assert result.main_score["higher_is_better"] is False
    for chosen in result.selected["runs"]:
        assert chosen["val_score"] == min(g["val_score"] for g in chosen["grid"])


@pytest.mark.parametrize("kind", ["linear", "knn"])
def test_multilabel(kind):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 12))
    hot = x[:, :3] > 0.3
    labels = [[name for name, on in zip(["dog", "car", "rain"], row) if on] for row in hot]
    result = run(make_input(x, labels, kind="multilabel", protocol={"kind": kind}))
    assert set(result.metrics) == {"map"} and result.metrics["map"] > (0.9 if kind == "linear" else 0.6)


def test_same_seeds_give_identical_results_and_leave_global_rng_alone():
    import torch

    x, labels = blobs(n=200)
    inp = make_input(x, labels, protocol={"kind": "mlp", "max_epochs": 10, "hidden": 32})
    state = torch.get_rng_state()
    first = run(inp).to_dict()
    assert torch.equal(state, torch.get_rng_state())
    assert first == run(inp).to_dict()


def _perturb(inp, rows):
    """A copy of `inp` with the labels and features of `rows` scrambled."""
    rng = np.random.default_rng(99)
    pooled = inp.pooled.copy()
    pooled[rows] = rng.normal(size=(len(rows), pooled.shape[1])) * 10
    items = [dict(it) for it in inp.items]
    shuffled = [items[i]["label"] for i in rng.permutation(rows)]
    for i, label in zip(rows, shuffled):
        items[i]["label"] = label
    return ProtocolInput(task=inp.task, items=items, pooled=pooled, frames=inp.frames, hop_ms=inp.hop_ms,
                         dataset_dir=inp.dataset_dir, seeds=inp.seeds)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_test_split_is_never_used_for_selection(kind):
    x, labels = blobs(n=300, spread=1.0)
    inp = make_input(x, labels, protocol={"kind": kind, "max_epochs": 20, "hidden": 32} if kind == "mlp"
                     else {"kind": kind, "max_epochs": 20})
    test_rows = [i for i, it in enumerate(inp.items) if it["split"] == "test"]
    clean, scrambled = run(inp), run(_perturb(inp, test_rows))
    assert clean.selected == scrambled.selected  # lr, epoch and validation scores untouched
    assert clean.metrics["accuracy"] > scrambled.metrics["accuracy"] + 0.2  # but the test data did change


def test_kfold_predicts_every_item_once_and_hides_each_test_fold():
    x, labels = blobs(n=250, spread=1.0)
    folds = ["a", "b", "c", "d", "e"]
    inp = make_input(x, labels, protocol={"kind": "linear", "max_epochs": 15}, folds=folds, seeds=(0, 1))
    clean = run(inp)
    assert clean.n_samples == {"train": 150, "validation": 50, "test": 250}
    assert clean.config["folds"] == 5 and "mean per fold" in clean.config["n_samples"]
    assert [(r["seed"], r["fold"]) for r in clean.selected["runs"]] == [(s, f) for f in folds for s in (0, 1)]
    rows_c = [i for i, it in enumerate(inp.items) if it["fold"] == "c"]
    scrambled = run(_perturb(inp, rows_c))
    # Fold c is test only for its own runs: their choices must not move (fold b validates on c, so it may).
    assert [r for r in clean.selected["runs"] if r["fold"] == "c"] == \
        [r for r in scrambled.selected["runs"] if r["fold"] == "c"]


def test_knn_votes_are_softmax_weighted():
    gallery = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    query = np.array([[0.6, 0.8]], dtype=np.float32)
    sims = gallery @ query[0]
    w = np.exp(sims / 0.07) / np.exp(sims / 0.07).sum()
    targets = np.array([0, 1, 1])
    assert knn_predict(gallery, targets, query, 3, 0.07, "multiclass", 2).tolist() == [int(w[1] + w[2] > w[0])]
    values = np.array([1.0, 2.0, 4.0])
    assert knn_predict(gallery, values, query, 3, 0.07, "regression") == pytest.approx([w @ values])
    # k=1 keeps only the most similar item.
    assert knn_predict(gallery, values, query, 1, 0.07, "regression") == pytest.approx([2.0])


def test_knn_clamps_k_to_the_gallery():
    x, labels = blobs(n=40)
    result = run(make_input(x, labels, protocol={"kind": "knn", "k": 500}))
    assert result.config["k"] == 500 and result.config["k_used"] == result.n_samples["train"]


def test_config_errors_name_the_task_and_key():
    x, labels = blobs(n=40)
    with pytest.raises(ValueError, match=r"tasks/t.yaml: protocol 'linear': unknown config key\(s\) lr;"):
        run(make_input(x, labels, protocol={"kind": "linear", "lr": 0.1}))
    with pytest.raises(ValueError, match="config 'lrs' must be a non-empty list of positive numbers"):
        run(make_input(x, labels, protocol={"kind": "linear", "lrs": []}))
    with pytest.raises(ValueError, match="config 'patience' must be a positive integer"):
        run(make_input(x, labels, protocol={"kind": "mlp", "patience": 2.5}))
    with pytest.raises(ValueError, match="main score 'mae' is not computed"):
        run(make_input(x, labels, protocol={"kind": "linear", "main_score": "mae"}))


def test_bad_inputs_name_the_item():
    x, labels = blobs(n=40)
    labels[7] = None
    with pytest.raises(ValueError, match="item 'i7', label column 'label': the label is missing"):
        run(make_input(x, labels))
    with pytest.raises(ValueError, match="item 'i0'.*finite number, got str"):
        run(make_input(x, ["high"] * 40, kind="regression"))
    with pytest.raises(ValueError, match="item 'i0'.*list of class names, got str"):
        run(make_input(x, ["dog"] * 40, kind="multilabel"))
    x[3, 0] = np.nan
    with pytest.raises(ValueError, match="pooled embedding of item 'i3' has NaN"):
        run(make_input(x, ["a"] * 40))


def test_label_encoding():
    inp = make_input(np.zeros((3, 2)), [["b", "a"], [], ["c"]], kind="multilabel")
    y, classes = encode_labels(inp.task, inp.items)
    assert classes == ["a", "b", "c"] and y.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
    inp = make_input(np.zeros((3, 2)), ["z", "a", "z"])
    y, classes = encode_labels(inp.task, inp.items)
    assert classes == ["a", "z"] and y.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="mixes strings and integers"):
        encode_labels(inp.task, [{"id": "a", "label": "x"}, {"id": "b", "label": 1}])
