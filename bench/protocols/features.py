"""Feature transforms of the protocols: standardising with train statistics only (robust to features that are almost
constant in train), and L2 normalising."""

from __future__ import annotations

import numpy as np

STD_FLOOR = 0.01  # of the median non-zero train std


def standardiser(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the train features [N, D], each std floored at 1% of the median non-zero std (1 if all are 0).

    Without the floor a feature almost constant in train (a rarely active unit) turns a small change on unseen data
    into a z-score in the thousands, and a linear head's prediction with it.
    """
    mean, std = x_train.mean(0), x_train.std(0)
    nonzero = std[std > 0]
    floor = STD_FLOOR * float(np.median(nonzero)) if len(nonzero) else 1.0
    return mean, np.maximum(std, floor)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows (the last axis) scaled to unit L2 norm, in the input's float dtype (float64 for integers); zero rows
    stay zero. The one L2 normaliser of the protocols."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def nonfinite_rows(x: np.ndarray, chunk_values: int = 1_000_000) -> np.ndarray:
    """Indices of the rows of `x` [N, ...] holding a NaN or inf, checked about `chunk_values` values at a time (a
    memory-mapped `x` is released after each chunk: bench.memmap.release_pages), so the check holds one chunk."""
    from bench.memmap import release_pages

    step = max(1, chunk_values // max(1, int(np.prod(x.shape[1:]))))
    bad = []
    for start in range(0, len(x), step):
        part = np.asarray(x[start:start + step])
        bad.append(start + np.flatnonzero(~np.isfinite(part).reshape(len(part), -1).all(1)))
        release_pages(x)
    return np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)
