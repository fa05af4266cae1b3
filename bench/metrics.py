"""Metrics of the probe and kNN protocols, in numpy, and the bootstrap-ready building blocks of every other metric.

Every metric takes an optional `weights`: None for the plain score (a float), or a [B, N] array of non-negative
item counts, which scores B weighted copies of the data at once and returns B scores. A bootstrap resample is
such a copy (item i drawn w[b, i] times), so `bench.stats.bootstrap_ci` scores a thousand resamples in one go.
`summed_metric` and `mean_value` give the same form to metrics of per-unit statistics (diarization, events,
retrieval, generated text).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones((1, n))
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"weights must be [B, {n}] (one count per item), got shape {w.shape}")
    return w


def _out(values: np.ndarray, weights: np.ndarray | None) -> float | np.ndarray:
    return float(values[0]) if weights is None else values


def _check_len(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")


def summed_metric(reduce: Callable[[np.ndarray], np.ndarray]) -> Callable[..., float | np.ndarray]:
    """A bootstrap-ready metric of per-unit statistics [N, k] that depends only on their (weighted) column sums:
    metric(y_true (unused), stats, weights=None) = reduce(sums [B, k]) -> [B] scores (a float without weights)."""

    def metric(y_true: np.ndarray, stats: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
        stats = np.asarray(stats, dtype=np.float64)
        w = _weights(len(stats), weights)
        return _out(np.asarray(reduce(w @ stats.reshape(len(stats), -1)), dtype=np.float64).reshape(len(w)), weights)

    return metric


def mean_value(y_true: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Mean of per-unit values (y_true unused), e.g. recall@k indicators or AP@10 of retrieval queries."""
    values = np.asarray(values, dtype=np.float64)
    w = _weights(len(values), weights)
    return _out(w @ values / w.sum(1), weights)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Fraction of items whose predicted class equals the true class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _check_len(y_true, y_pred)
    w = _weights(len(y_true), weights)
    return _out(w @ (y_true == y_pred).astype(np.float64) / w.sum(1), weights)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Unweighted mean of per-class F1 over the classes present in y_true or y_pred (as scikit-learn)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _check_len(y_true, y_pred)
    n = len(y_true)
    w = _weights(n, weights)
    _, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = codes[:n], codes[n:]
    n_classes = int(codes.max()) + 1 if n else 0
    rows = np.arange(n)
    true_hot = np.zeros((n, n_classes))
    true_hot[rows, t] = 1.0
    pred_hot = np.zeros((n, n_classes))
    pred_hot[rows, p] = 1.0
    tp = w @ (true_hot * (t == p)[:, None])
    denom = w @ true_hot + w @ pred_hot  # 2tp + fp + fn
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=present)
    return _out(f1.sum(1) / present.sum(1), weights)


def average_precision(y_true: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Average precision of one class (as scikit-learn: tied scores form one threshold); NaN without positives."""
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    _check_len(y, s)
    n = len(y)
    w = _weights(n, weights)
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[:, order]
    # Index of the last item of each item's tie group: precision is read there.
    last = np.where(np.r_[s[1:] != s[:-1], True], np.arange(n), n)
    group_end = np.minimum.accumulate(last[::-1])[::-1]
    wy = w * y
    tp, seen = np.cumsum(wy, axis=1), np.cumsum(w, axis=1)
    if (group_end != np.arange(n)).any():
        tp, seen = tp[:, group_end], seen[:, group_end]
    precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
    positives = wy.sum(1)
    ap = np.divide((wy * precision).sum(1), positives, out=np.full(len(w), np.nan), where=positives > 0)
    return _out(ap, weights)


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray,
                           weights: np.ndarray | None = None) -> float | np.ndarray:
    """Multilabel mAP: mean over classes of average precision; classes without a positive are skipped."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    if y_true.ndim != 2 or y_true.shape != scores.shape:
        raise ValueError(f"mAP needs y_true and scores of the same shape [N, C], got {y_true.shape} and {scores.shape}")
    w = _weights(len(y_true), weights)
    per_class = np.stack([average_precision(y_true[:, c], scores[:, c], w) for c in range(y_true.shape[1])], axis=1)
    has_positive = ~np.isnan(per_class)
    total = np.where(has_positive, per_class, 0.0).sum(1)
    count = has_positive.sum(1)
    return _out(np.divide(total, count, out=np.full(len(w), np.nan), where=count > 0), weights)


def mae(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Mean absolute error."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    _check_len(y_true, y_pred)
    w = _weights(len(y_true), weights)
    return _out(w @ np.abs(y_true - y_pred) / w.sum(1), weights)


def r2(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Coefficient of determination; a constant y_true scores 1 if predicted exactly, else 0 (as scikit-learn)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    _check_len(y_true, y_pred)
    w = _weights(len(y_true), weights)
    ss_res = w @ (y_true - y_pred) ** 2
    mean = (w @ y_true) / w.sum(1)
    ss_tot = (w * (y_true[None, :] - mean[:, None]) ** 2).sum(1)
    constant = ss_tot == 0
    r = 1.0 - np.divide(ss_res, ss_tot, out=np.zeros_like(ss_res), where=~constant)
    r = np.where(constant, (ss_res == 0).astype(np.float64), r)
    return _out(r, weights)


# label kind -> metric name -> function(y_true, y_pred, weights=None).
# multiclass: y_pred are class indices [N]; multilabel: y_true 0/1 [N, C], y_pred scores [N, C];
# regression: floats [N].
METRICS: dict[str, dict[str, Callable]] = {
    "multiclass": {"accuracy": accuracy, "macro_f1": macro_f1},
    "multilabel": {"map": mean_average_precision},
    "regression": {"mae": mae, "r2": r2},
}


def compute_metrics(label_kind: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All metrics of a label kind (see METRICS for the shapes of y_true and y_pred)."""
    if label_kind not in METRICS:
        raise ValueError(f"no metrics for label kind '{label_kind}'; known: {', '.join(METRICS)}")
    return {name: fn(y_true, y_pred) for name, fn in METRICS[label_kind].items()}
