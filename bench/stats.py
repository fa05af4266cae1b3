"""Confidence intervals: a bias-corrected percentile bootstrap over test items, shared by all seeds."""

from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np

# Resamples are scored in chunks of about this many (resample, item) cells, to bound memory.
_CHUNK_CELLS = 2_000_000


def bootstrap_ci(metric_fn: Callable, y_true: np.ndarray, preds_per_seed: Sequence[np.ndarray], n_boot: int = 1000,
                 seed: int = 0, alpha: float = 0.05, estimate: float | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of a metric averaged over seeds; bias-corrected (Efron's BC) given `estimate`.

    The correction matters for metrics that resampling biases, e.g. mAP on a small test set, where duplicated
    positives and classes that vanish from a resample push every replicate up; for unbiased metrics such as
    accuracy it changes almost nothing.

    Each resample draws N test items with replacement; the same items are used for every seed's predictions and
    the metric is averaged over seeds. A metric with a `weights` parameter (see bench.metrics) scores many
    resamples at once; any other `metric_fn(y_true, y_pred)` is called once per resample and seed.
    Resamples where the metric is undefined (NaN) are dropped; (nan, nan) when none is left.
    """
    y_true = np.asarray(y_true)
    preds = [np.asarray(p) for p in preds_per_seed]
    n = len(y_true)
    if not preds or n == 0:
        raise ValueError("bootstrap_ci needs at least one seed's predictions and one test item")
    for p in preds:
        if len(p) != n:
            raise ValueError(f"predictions for {len(p)} items but y_true has {n}")
    batched = "weights" in inspect.signature(metric_fn).parameters
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // n))
    values = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        if batched:
            counts = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
            values.append(np.mean([metric_fn(y_true, p, weights=counts) for p in preds], axis=0))
        else:
            values.append([np.mean([metric_fn(y_true[i], p[i]) for p in preds]) for i in idx])
    scores = np.concatenate(values).astype(np.float64)
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return float("nan"), float("nan")
    quantiles = [alpha / 2, 1 - alpha / 2]
    if estimate is not None and np.isfinite(estimate):
        from statistics import NormalDist

        normal = NormalDist()
        below = (np.sum(scores < estimate) + 0.5 * np.sum(scores == estimate)) / len(scores)
        z0 = normal.inv_cdf(float(np.clip(below, 0.5 / len(scores), 1 - 0.5 / len(scores))))
        quantiles = [normal.cdf(2 * z0 + normal.inv_cdf(q)) for q in quantiles]
    lo, hi = np.quantile(scores, quantiles)
    return float(lo), float(hi)


def score_with_ci(label_kind: str, y_true: np.ndarray, preds_per_seed: Sequence[np.ndarray], n_boot: int = 1000,
                  seed: int = 0) -> tuple[list[dict[str, float]], dict[str, float], dict[str, list[float]]]:
    """Every metric of a label kind: per seed, the mean over seeds, and a 95% bootstrap CI of that mean."""
    from bench.metrics import METRICS, compute_metrics

    per_seed = [compute_metrics(label_kind, y_true, p) for p in preds_per_seed]
    mean = {name: float(np.mean([s[name] for s in per_seed])) for name in METRICS[label_kind]}
    ci95 = {name: list(bootstrap_ci(fn, y_true, preds_per_seed, n_boot=n_boot, seed=seed, estimate=mean[name]))
            for name, fn in METRICS[label_kind].items()}
    return per_seed, mean, ci95
