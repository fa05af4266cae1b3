"""Query-by-example: DTW against a plain double loop, pooled matching, and a task where only order tells classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.qbe import downsample, dtw_distances
from bench.protocols.registry import protocol_function


def _naive_dtw(a: np.ndarray, b: np.ndarray) -> float:
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = 1.0 - float(a[i - 1] @ b[j - 1])
            acc[i, j] = min(acc[i - 1, j] + d, acc[i, j - 1] + d, acc[i - 1, j - 1] + 2 * d)
    return acc[n, m] / (n + m)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_dtw_matches_a_double_loop():
    rng = np.random.default_rng(0)
    query = _unit(rng.standard_normal((7, 5)))
    templates = [_unit(rng.standard_normal((m, 5))) for m in (1, 4, 7, 12)]
    assert dtw_distances(query, templates) == pytest.approx([_naive_dtw(query, t) for t in templates])
    # a time-stretched copy is at distance 0
    assert dtw_distances(query, [np.repeat(query, 2, axis=0)])[0] == pytest.approx(0.0, abs=1e-12)
    # one-frame template: a diagonal first step (2 d_1), then 6 vertical steps (d_2 .. d_7), over 7 + 1
    d = 1.0 - query @ templates[0][0]
    assert dtw_distances(query, templates[:1])[0] == pytest.approx((d.sum() + d[0]) / 8)


def test_downsample_averages_groups():
    frames = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    out = downsample(frames, 2)
    assert out == pytest.approx(_unit(np.array([[0.5, 0.5], [2.0, 0.5], [2.0, 0.0]])))


def _task(**config):
    return protocol_task("qbe", "accuracy", "multiclass", "label", domain="speech", **config)


def test_qbe_protocol_dtw_tells_order_apart():
    """Keywords 'ab' and 'ba' are the same two sounds in opposite order (same mean); 'cc' differs in content."""
    rng = np.random.default_rng(0)
    sounds = {s: 3 * rng.standard_normal(12) for s in "abc"}
    items, frames = [], []
    for k in range(60):
        word = ("ab", "ba", "cc")[k % 3]
        parts = [np.tile(sounds[s], (int(rng.integers(4, 9)), 1)) for s in word]  # each sound 4-8 frames long
        x = np.concatenate(parts) + rng.standard_normal((sum(len(p) for p in parts), 12))
        items.append({"id": f"w{k}", "split": ("train", "validation", "test", "train")[k % 4], "label": word})
        frames.append(x.astype(np.float32))
    pooled = np.stack([f.mean(0) for f in frames])
    task = _task(dtw_hop_ms=20.0, templates_per_class=3)
    inp = ProtocolInput(task=task, items=items, pooled=pooled, frames=lambda i: frames[i], hop_ms=10.0,
                        dataset_dir=Path("/nonexistent"), seeds=[0, 1])
    result = protocol_function("qbe")(inp, task.protocols[0])
    assert result.metrics["accuracy_dtw"] == 1.0
    assert result.metrics["accuracy"] < 0.9  # pooled means cannot tell 'ab' from 'ba'
    test = [k for k, it in enumerate(items) if it["split"] == "test"]
    train = [k for k, it in enumerate(items) if it["split"] == "train"]
    labels = np.array([it["label"] for it in items])
    centroids = {w: _unit(_unit(pooled[[k for k in train if labels[k] == w]]).mean(0)) for w in ("ab", "ba", "cc")}
    names = sorted(centroids)
    pred = [names[int(np.argmax([_unit(pooled[k]) @ centroids[w] for w in names]))] for k in test]
    assert result.metrics["accuracy"] == pytest.approx(np.mean(np.array(pred) == labels[test]))
    assert result.config["dtw_stride_frames"] == 2 and result.n_samples["dtw_templates"] == 9
    assert result.main_score["name"] == "accuracy" and len(result.per_seed) == 2
    nearest = _task(pooled_match="nearest", templates_per_class=None)
    again = protocol_function("qbe")(ProtocolInput(**{**inp.__dict__, "task": nearest}), nearest.protocols[0])
    assert again.n_samples["dtw_templates"] == len(train) and again.metrics["accuracy_dtw"] == 1.0
