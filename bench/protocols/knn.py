"""Training-free kNN on pooled embeddings (X-ARES): cosine neighbours in the train split, softmax-weighted votes.

Embeddings are L2-normalised; each test item takes its k most similar train items, weighted by
softmax(similarity / temperature) over those k. Multiclass: the class with the largest weighted vote;
multilabel: the weighted mean of the neighbours' 0/1 label vectors as scores; regression: the weighted mean of
their targets. Nothing is fitted or chosen, so the validation split is unused and one run stands for all seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.memmap import release_pages
from bench.protocols.base import ProtocolInput, ProtocolResult
from bench.protocols.features import unit
from bench.protocols.pooled import finish, prepare
from bench.protocols.training import protocol_device

if TYPE_CHECKING:
    from bench.taskspec import ProtocolSpec

KNN_DEFAULTS: dict[str, Any] = {"k": 10, "temperature": 0.07, "n_boot": 1000}
# Gallery items are read in chunks of about _CHUNK_CELLS values (float64: 32 MB), and queries scored against a chunk
# in blocks of about _CHUNK_CELLS (query, gallery item) similarities: memory is bounded by these, not by the dataset.
_CHUNK_CELLS = 4_000_000


def _neighbours_on(device: str, gallery: np.ndarray):
    """`(queries, k) -> (indices [Q, k], similarities [Q, k])` of the k most similar items of a gallery chunk: numpy
    on the CPU (unchanged numbers), torch on a CUDA device (the chunk copied there once; ties may pick other
    items)."""
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


def _rows(x: np.ndarray, index: np.ndarray | None, normalise: bool) -> Callable[[int, int], np.ndarray]:
    """`(start, stop) -> rows` of `x` (all rows, or those of `index`), L2-normalised in float64 when `normalise`;
    the pages of a memory-mapped `x` are released after each read (bench.memmap.release_pages)."""
    def read(start: int, stop: int) -> np.ndarray:
        rows = np.asarray(x[start:stop] if index is None else x[index[start:stop]])
        release_pages(x)
        return unit(rows.astype(np.float64)) if normalise else rows
    return read


def nearest(gallery: Callable[[int, int], np.ndarray], n_gallery: int, queries: Callable[[int, int], np.ndarray],
            n_queries: int, k: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices [Q, k] and similarities [Q, k] of each query's k most similar gallery items (k <= n_gallery), read
    through `gallery(start, stop)` and `queries(start, stop)` (unit rows of width `dim`) chunk by chunk: gallery
    chunks of about _CHUNK_CELLS values, each scored against blocks of queries and merged into the running k best.
    A gallery of one chunk gives exactly the one-shot selection; with several, only which of exactly tied items
    is kept may differ."""
    step = max(k, _CHUNK_CELLS // max(dim, 1))
    top = np.zeros((n_queries, 0), dtype=np.int64)
    top_sims = np.zeros((n_queries, 0))
    for g_start in range(0, n_gallery, step):
        chunk = gallery(g_start, min(g_start + step, n_gallery))
        neighbours = _neighbours_on(protocol_device(), chunk)
        block = max(1, _CHUNK_CELLS // len(chunk))
        kk = min(k, len(chunk))
        found, found_sims = [], []
        for q_start in range(0, n_queries, block):
            idx, sims = neighbours(queries(q_start, min(q_start + block, n_queries)), kk)
            found.append(idx + g_start)
            found_sims.append(sims)
        candidates = np.concatenate([top, np.concatenate(found)], axis=1)
        candidate_sims = np.concatenate([top_sims, np.concatenate(found_sims)], axis=1)
        if candidates.shape[1] > k:
            keep = np.argpartition(-candidate_sims, k - 1, axis=1)[:, :k]
            candidates, candidate_sims = (np.take_along_axis(a, keep, axis=1) for a in (candidates, candidate_sims))
        top, top_sims = candidates, candidate_sims
        del chunk, neighbours  # before the next chunk is read: one chunk at a time
    return top, top_sims


def vote(top: np.ndarray, top_sims: np.ndarray, targets: np.ndarray, temperature: float, label_kind: str,
         n_classes: int = 0) -> np.ndarray:
    """Predictions from each query's neighbours `top` [Q, k] and their similarities, weighted by
    softmax(similarity / temperature) over the k: class indices [Q] (multiclass, with n_classes), scores [Q, C]
    (multilabel, targets 0/1 [G, C]) or floats [Q] (regression)."""
    top_sims = top_sims.astype(np.float64) / temperature
    weights = np.exp(top_sims - top_sims.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    k = top.shape[1]
    if label_kind == "multiclass":
        rows = np.repeat(np.arange(len(top)), k)
        votes = np.bincount(rows * n_classes + targets[top].ravel(), weights=weights.ravel(),
                            minlength=len(top) * n_classes).reshape(len(top), n_classes)
        return votes.argmax(1)
    if label_kind == "multilabel":
        return np.einsum("qk,qkc->qc", weights, targets[top])
    return (weights * targets[top]).sum(1)


def knn_predict(gallery: np.ndarray, targets: np.ndarray, queries: np.ndarray, k: int, temperature: float,
                label_kind: str, n_classes: int = 0) -> np.ndarray:
    """Predictions for L2-normalised `queries` from the k nearest of the L2-normalised `gallery` (either may be
    memory-mapped: it is read chunk by chunk).

    targets: class indices [G] (multiclass, with n_classes), 0/1 [G, C] (multilabel) or floats [G] (regression).
    Returns class indices [Q], scores [Q, C] or floats [Q].
    """
    k = min(k, len(gallery))
    top, sims = nearest(_rows(gallery, None, False), len(gallery), _rows(queries, None, False), len(queries), k,
                        gallery.shape[1])
    return vote(top, sims, targets, temperature, label_kind, n_classes)


def run_knn(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """kNN protocol; defaults in KNN_DEFAULTS. Deterministic: reports the first seed only, with a bootstrap CI.
    The pooled matrix (memory-mapped from the cache) is read chunk by chunk and L2-normalised in float64 (neighbour
    order free of kernel noise), so memory follows the chunk, not the dataset."""
    config, labels, folds = prepare(inp, spec)
    kind = inp.task.label_kind
    n_classes = int(labels.max()) + 1 if kind == "multiclass" else 0
    x = inp.pooled
    preds = np.zeros(labels.shape, dtype=np.int64 if kind == "multiclass" else np.float32)
    for train, _, test in folds:
        k = min(config["k"], len(train))
        top, sims = nearest(_rows(x, train, True), len(train), _rows(x, test, True), len(test), k, x.shape[1])
        preds[test] = vote(top, sims, labels[train], config["temperature"], kind, n_classes)
    config = {**config, "k_used": min(config["k"], *(len(train) for train, _, _ in folds))}
    return finish(inp, spec, config, labels, folds, [preds], inp.seeds[:1], {})
