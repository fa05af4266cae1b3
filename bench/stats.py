"""Confidence intervals over test items, or over the task's held-out groups (cluster bootstrap), shared by all seeds.

Two layers:
- `bootstrap_ci`: the raw bias-corrected (Efron's BC) percentile bootstrap of a metric averaged over seeds. Each
  resample draws units with replacement: items, or, given `groups`, whole groups (every item of a drawn group,
  as often as the group is drawn), so correlated items (one speaker's clips) move together.
- `interval`: what results report. Items independent and a proportion metric (accuracy, recall@k): the Wilson
  score interval at the seed-mean proportion with n = the number of items, which does not collapse at 0 or 1
  (0/9 correct gives [0, 0.30]). Otherwise the BC bootstrap (groups resampled when declared); a degenerate bootstrap
  interval (every resample scores the same, e.g. EER 0 or accuracy 1 on every resample) of a bounded metric is
  widened to the Wilson interval at the estimate with n = the number of resampled units (items or groups), scaled
  to the metric's range; an unbounded metric (MAE, median rank, DER) keeps its degenerate interval.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

# Resamples are scored in chunks of about this many (resample, item) cells, to bound memory.
_CHUNK_CELLS = 2_000_000
Z95 = 1.959963984540054


def group_codes(groups: Sequence[str] | None, n: int) -> np.ndarray:
    """Unit code per item: item i is unit i without groups, else the index of its group among the sorted groups."""
    if groups is None:
        return np.arange(n)
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group labels for {n} items")
    _, codes = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    return codes.reshape(-1)


def resample_weights(codes: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks of [b, N] item counts, one row per resample: units (codes) drawn with replacement, each drawn unit
    contributing all its items. With codes = arange(N) this is the plain item bootstrap."""
    n, n_units = len(codes), int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n_units, size=(b, n_units))
        counts = np.bincount((idx + n_units * np.arange(b)[:, None]).ravel(),
                             minlength=b * n_units).reshape(b, n_units)
        yield counts[:, codes]


def weighted_score(metric_fn: Callable, y_true: np.ndarray, preds: Sequence[np.ndarray],
                   weights: np.ndarray) -> np.ndarray:
    """[B] metric averaged over seeds for B weighted copies of the data (weights [B, N] integer counts).

    A metric with a `weights` parameter (see bench.metrics) scores all copies at once; any other
    `metric_fn(y_true, y_pred)` is called on each copy's items repeated by their counts.
    """
    if "weights" in inspect.signature(metric_fn).parameters:
        return np.mean([metric_fn(y_true, p, weights=weights) for p in preds], axis=0)
    out = []
    for w in weights:
        idx = np.repeat(np.arange(len(w)), w.astype(np.int64))
        out.append(np.mean([metric_fn(y_true[idx], p[idx]) for p in preds]))
    return np.asarray(out, dtype=np.float64)


def bootstrap_ci(metric_fn: Callable, y_true: np.ndarray, preds_per_seed: Sequence[np.ndarray], n_boot: int = 1000,
                 seed: int = 0, alpha: float = 0.05, estimate: float | None = None,
                 groups: Sequence[str] | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of a metric averaged over seeds; bias-corrected (Efron's BC) given `estimate`.

    The correction matters for metrics that resampling biases, e.g. mAP on a small test set, where duplicated
    positives and classes that vanish from a resample push every replicate up; for unbiased metrics such as
    accuracy it changes almost nothing. Each resample draws N test items (or, with `groups`, as many groups as
    there are) with replacement; the same draw is used for every seed's predictions. Resamples where the metric
    is undefined (NaN) are dropped; (nan, nan) when none is left.
    """
    y_true = np.asarray(y_true)
    preds = [np.asarray(p) for p in preds_per_seed]
    n = len(y_true)
    if not preds or n == 0:
        raise ValueError("bootstrap_ci needs at least one seed's predictions and one test item")
    for p in preds:
        if len(p) != n:
            raise ValueError(f"predictions for {len(p)} items but y_true has {n}")
    codes = group_codes(groups, n)
    scores = np.concatenate([weighted_score(metric_fn, y_true, preds, w)
                             for w in resample_weights(codes, n_boot, seed)]).astype(np.float64)
    return percentile_interval(scores, alpha, estimate)


def percentile_interval(scores: np.ndarray, alpha: float = 0.05,
                        estimate: float | None = None) -> tuple[float, float]:
    """(lo, hi) percentile interval of bootstrap replicates, bias-corrected around `estimate` when given."""
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


def wilson_interval(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion p observed on n independent units (nan when n is 0 or p undefined)."""
    if not n > 0 or not math.isfinite(p):
        return float("nan"), float("nan")
    p = min(max(p, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if p == 0 else lo), (1.0 if p == 1 else hi)  # exact ends (the formula leaves 1e-17 residues)


def interval(metric_fn: Callable, y_true: np.ndarray, preds_per_seed: Sequence[np.ndarray], estimate: float, *,
             proportion: bool = False, upper: float | None = None, groups: Sequence[str] | None = None,
             n_boot: int = 1000, seed: int = 0) -> tuple[list[float], str]:
    """The reported 95% interval of a seed-mean metric and the method used (see the module docstring).

    proportion: the metric is a share of the items (Wilson interval when items are independent);
    upper: the metric lies in [0, upper] (a degenerate bootstrap interval is widened); None: unbounded.
    """
    n = len(y_true)
    if proportion and groups is None:
        return list(wilson_interval(estimate, n)), "wilson"
    lo, hi = bootstrap_ci(metric_fn, y_true, preds_per_seed, n_boot=n_boot, seed=seed, estimate=estimate,
                          groups=groups)
    method = "bootstrap-bc" + ("-groups" if groups is not None else "")
    if upper is not None and lo == hi and math.isfinite(estimate):
        units = n if groups is None else len(set(map(str, groups)))
        lo, hi = (upper * v for v in wilson_interval(estimate / upper, units))
        method += "-widened-wilson"
    return [float(lo), float(hi)], method


def seed_sd(per_seed: list[dict[str, float]]) -> dict[str, float | None]:
    """Sample standard deviation over seeds of each metric (None with a single seed)."""
    if len(per_seed) < 2:
        return {name: None for name in per_seed[0]} if per_seed else {}
    return {name: float(np.std([row[name] for row in per_seed], ddof=1)) for name in per_seed[0]}
