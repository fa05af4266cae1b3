"""Query-by-example keyword spotting: match each test clip against templates enrolled from the train split.

Two matchers, both training-free (nothing is tuned, so the validation split is not used):
- `accuracy`: pooled embeddings, cosine; the class of the nearest class centroid (mean of the unit train embeddings
  of a class; `pooled_match: centroid`) or of the nearest train clip (`pooled_match: nearest`).
- `accuracy_dtw`: frame sequences, averaged in groups of about `dtw_hop_ms` and L2-normalised, compared by dynamic
  time warping with cosine distance; steps (1,0), (0,1) cost d and (1,1) costs 2d, the total is divided by
  n + m (length-normalised, symmetric). The class of the nearest of `templates_per_class` templates per class
  (drawn from train with each seed; all when None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result
from bench.protocols.features import unit
from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

DEFAULTS: dict[str, Any] = {
    "dtw_hop_ms": 40.0,
    "templates_per_class": 10,
    "pooled_match": "centroid",  # centroid | nearest
    "n_boot": 1000,
}
POOLED_MATCHES = ("centroid", "nearest")


def downsample(frames: np.ndarray, stride: int) -> np.ndarray:
    """Unit-norm means of consecutive groups of `stride` frames (the last group may be shorter)."""
    frames = np.asarray(frames, dtype=np.float32)
    starts = np.arange(0, len(frames), stride)
    sums = np.add.reduceat(frames, starts, axis=0)
    return unit(sums / np.diff(np.r_[starts, len(frames)])[:, None])


def dtw_distances(query: np.ndarray, templates: list[np.ndarray]) -> np.ndarray:
    """Length-normalised symmetric DTW distance (cosine local cost) from a unit [n, D] query to each template."""
    n, lengths = len(query), np.array([len(t) for t in templates])
    m = int(lengths.max())
    padded = np.zeros((len(templates), m, query.shape[1]))
    for b, t in enumerate(templates):
        padded[b, :len(t)] = t
    cost = 1.0 - np.einsum("nd,bmd->bnm", query, padded)
    acc = np.full((len(templates), n + 1, m + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for s in range(2, n + m + 1):  # anti-diagonals i + j = s, in 1-based cell coordinates
        i = np.arange(max(1, s - m), min(n, s - 1) + 1)
        j = s - i
        c = cost[:, i - 1, j - 1]
        acc[:, i, j] = np.minimum(np.minimum(acc[:, i - 1, j] + c, acc[:, i, j - 1] + c), acc[:, i - 1, j - 1] + 2 * c)
    return acc[np.arange(len(templates)), n, lengths] / (n + lengths)


def _pooled_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, match: str) -> np.ndarray:
    train_x, test_x = unit(train_x), unit(test_x)
    if match == "nearest":
        return train_y[np.argmax(test_x @ train_x.T, axis=1)]
    classes = np.unique(train_y)
    centroids = unit(np.stack([train_x[train_y == c].mean(0) for c in classes]))
    return classes[np.argmax(test_x @ centroids.T, axis=1)]


def run_qbe(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Nearest-template keyword spotting by pooled cosine (`accuracy`) and by frame DTW (`accuracy_dtw`)."""
    from bench.protocols.labels import encode_labels
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields

    cfg = resolve_protocol_config(inp.task, spec)
    y, classes = encode_labels(inp.task, inp.items)
    stride = max(1, round(cfg["dtw_hop_ms"] / inp.hop_ms))
    sequences: dict[int, np.ndarray] = {}

    def sequence(i: int) -> np.ndarray:
        if i not in sequences:
            frames = inp.frames(i)
            if len(frames) == 0:
                raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}' has no frames")
            sequences[i] = downsample(frames, stride)
        return sequences[i]

    folds = split_indices(inp.task, inp.items)
    y_test = np.concatenate([test for _, _, test in folds])
    pooled_pred = np.concatenate([_pooled_predict(inp.pooled[tr], y[tr], inp.pooled[te], cfg["pooled_match"])
                                  for tr, _, te in folds])
    dtw_preds, n_templates = [], 0
    for seed in inp.seeds:
        rng = np.random.default_rng(seed)
        pred = []
        for train_idx, _, test_idx in folds:
            templates = []
            for c in np.unique(y[train_idx]):
                members = train_idx[y[train_idx] == c]
                k = cfg["templates_per_class"]
                templates.extend(members if k is None or k >= len(members) else
                                 np.sort(rng.choice(members, size=k, replace=False)))
            templates = np.array(templates, dtype=np.int64)
            n_templates = len(templates)
            seqs = [sequence(i) for i in templates]
            pred.extend(y[templates[np.argmin(dtw_distances(sequence(i), seqs))]] for i in test_idx)
        dtw_preds.append(np.array(pred, dtype=np.int64))
    dtw_lists = [p.tolist() for p in dtw_preds]
    rows = [{**sample_fields(inp.task, inp.items, i), "label": int(y[i]), "pooled": int(pooled_pred[k]),
             "pred": [p[k] for p in dtw_lists]} for k, i in enumerate(y_test.tolist())]
    return scored_result(spec, inp, rows, {**cfg, "dtw_stride_frames": stride}, list(inp.seeds),
                         n_samples={"test": len(rows), "classes": len(classes), "dtw_templates": n_templates})


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """Accuracy of the pooled match and of the DTW match per test query."""
    from bench.metrics import accuracy
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    y = [r["label"] for r in rows]
    return {"accuracy": metric_table(accuracy, y, [[r["pooled"] for r in rows]], idx, proportion=True),
            "accuracy_dtw": metric_table(accuracy, y, per_seed_values(rows), idx, proportion=True)}
