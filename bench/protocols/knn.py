"""Training-free kNN on pooled embeddings (X-ARES): cosine neighbours in the train split, softmax-weighted votes.

Embeddings are L2-normalised; each test item takes its k most similar train items, weighted by
softmax(similarity / temperature) over those k. Multiclass: the class with the largest weighted vote;
multilabel: the weighted mean of the neighbours' 0/1 label vectors as scores; regression: the weighted mean of
their targets. Nothing is fitted or chosen, so the validation split is unused and one run stands for all seeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult
from bench.protocols.features import unit
from bench.protocols.pooled import finish, prepare
from bench.protocols.training import protocol_device

if TYPE_CHECKING:
    from bench.taskspec import ProtocolSpec

KNN_DEFAULTS: dict[str, Any] = {"k": 10, "temperature": 0.07, "n_boot": 1000}
# Queries are scored in chunks of about this many (query, gallery item) similarities.
_CHUNK_CELLS = 4_000_000


def _neighbours_on(device: str, gallery: np.ndarray):
    """`(queries, k) -> (indices [Q, k], similarities [Q, k])` of the k most similar gallery items: numpy on the
    CPU (unchanged numbers), torch on a CUDA device (the gallery copied there once; ties may pick other items)."""
    if device == "cpu":
        def on_cpu(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            sims = queries @ gallery.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            return top, np.take_along_axis(sims, top, axis=1)
        return on_cpu
    import torch

    on_device = torch.from_numpy(np.ascontiguousarray(gallery)).to(device)

    def on_gpu(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = torch.from_numpy(np.ascontiguousarray(queries)).to(device) @ on_device.T
        values, top = sims.topk(k, dim=1)
        return top.cpu().numpy(), values.cpu().numpy()
    return on_gpu


def knn_predict(gallery: np.ndarray, targets: np.ndarray, queries: np.ndarray, k: int, temperature: float,
                label_kind: str, n_classes: int = 0) -> np.ndarray:
    """Predictions for L2-normalised `queries` from the k nearest of the L2-normalised `gallery`.

    targets: class indices [G] (multiclass, with n_classes), 0/1 [G, C] (multilabel) or floats [G] (regression).
    Returns class indices [Q], scores [Q, C] or floats [Q].
    """
    k = min(k, len(gallery))
    step = max(1, _CHUNK_CELLS // len(gallery))
    neighbours = _neighbours_on(protocol_device(), gallery)
    out = []
    for start in range(0, len(queries), step):
        top, top_sims = neighbours(queries[start:start + step], k)
        top_sims = top_sims.astype(np.float64) / temperature
        weights = np.exp(top_sims - top_sims.max(1, keepdims=True))
        weights /= weights.sum(1, keepdims=True)
        if label_kind == "multiclass":
            rows = np.repeat(np.arange(len(top)), k)
            votes = np.bincount(rows * n_classes + targets[top].ravel(), weights=weights.ravel(),
                                minlength=len(top) * n_classes).reshape(len(top), n_classes)
            out.append(votes.argmax(1))
        elif label_kind == "multilabel":
            out.append(np.einsum("qk,qkc->qc", weights, targets[top]))
        else:
            out.append((weights * targets[top]).sum(1))
    return np.concatenate(out)


def run_knn(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """kNN protocol; defaults in KNN_DEFAULTS. Deterministic: reports the first seed only, with a bootstrap CI."""
    config, labels, folds = prepare(inp, spec)
    kind = inp.task.label_kind
    n_classes = int(labels.max()) + 1 if kind == "multiclass" else 0
    x = unit(inp.pooled.astype(np.float64))  # float64: neighbour order free of kernel noise
    preds = np.zeros(labels.shape, dtype=np.int64 if kind == "multiclass" else np.float32)
    for train, _, test in folds:
        preds[test] = knn_predict(x[train], labels[train], x[test], config["k"], config["temperature"], kind,
                                  n_classes)
    config = {**config, "k_used": min(config["k"], *(len(train) for train, _, _ in folds))}
    return finish(inp, spec, config, labels, folds, [preds], inp.seeds[:1], {})
