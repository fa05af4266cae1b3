"""bench.metrics against scikit-learn, and the weighted (bootstrap) form against explicit resamples."""

import numpy as np
import pytest
from sklearn import metrics as skm

from bench import metrics


@pytest.mark.parametrize("trial", range(10))
def test_multiclass_metrics_match_sklearn(trial):
    rng = np.random.default_rng(trial)
    n, c = int(rng.integers(5, 400)), int(rng.integers(2, 12))
    y_true, y_pred = rng.integers(0, c, n), rng.integers(0, c, n)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))


def test_macro_f1_with_string_labels_and_classes_only_predicted():
    y_true = np.array(["a", "a", "b", "b"])
    y_pred = np.array(["a", "c", "b", "a"])
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))


@pytest.mark.parametrize("trial", range(10))
def test_average_precision_and_map_match_sklearn(trial):
    rng = np.random.default_rng(trial)
    n, c = int(rng.integers(5, 300)), int(rng.integers(2, 10))
    y = (rng.random((n, c)) < 0.3).astype(int)
    y[:, 0] = 0  # a class with no positive is skipped by mAP
    scores = np.round(rng.random((n, c)), 1)  # rounding makes ties, which sklearn groups into one threshold
    expected = [skm.average_precision_score(y[:, k], scores[:, k]) for k in range(c) if y[:, k].any()]
    for k in range(1, c):
        if y[:, k].any():
            assert metrics.average_precision(y[:, k], scores[:, k]) == pytest.approx(
                skm.average_precision_score(y[:, k], scores[:, k]))
    assert np.isnan(metrics.average_precision(y[:, 0], scores[:, 0]))
    assert metrics.mean_average_precision(y, scores) == pytest.approx(np.mean(expected))


@pytest.mark.parametrize("trial", range(10))
def test_regression_metrics_match_sklearn(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(3, 300))
    y = rng.normal(size=n) * 3 + 1
    p = y + rng.normal(size=n)
    assert metrics.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert metrics.r2(y, p) == pytest.approx(skm.r2_score(y, p))


def test_r2_of_constant_target_follows_sklearn():
    y = np.full(5, 2.0)
    assert metrics.r2(y, y) == skm.r2_score(y, y) == 1.0
    assert metrics.r2(y, y + 1) == skm.r2_score(y, y + 1) == 0.0


def _resample_cases(rng, n):
    y_cls, p_cls = rng.integers(0, 4, n), rng.integers(0, 4, n)
    y_ml = (rng.random((n, 5)) < 0.3).astype(int)
    s_ml = np.round(rng.random((n, 5)), 1)
    y_reg = rng.normal(size=n)
    p_reg = y_reg + rng.normal(size=n)
    return [(metrics.accuracy, y_cls, p_cls), (metrics.macro_f1, y_cls, p_cls),
            (metrics.mean_average_precision, y_ml, s_ml), (metrics.mae, y_reg, p_reg), (metrics.r2, y_reg, p_reg)]


def test_weighted_form_equals_explicit_resamples():
    rng = np.random.default_rng(0)
    n = 60
    idx = rng.integers(0, n, size=(7, n))
    counts = np.stack([np.bincount(i, minlength=n) for i in idx])
    for fn, y, p in _resample_cases(rng, n):
        batched = fn(y, p, weights=counts)
        assert batched.shape == (7,)
        np.testing.assert_allclose(batched, [fn(y[i], p[i]) for i in idx], err_msg=fn.__name__)


def test_compute_metrics_names_per_kind():
    rng = np.random.default_rng(0)
    assert set(metrics.compute_metrics("multiclass", rng.integers(0, 3, 20), rng.integers(0, 3, 20))) == {
        "accuracy", "macro_f1"}
    y = (rng.random((20, 3)) < 0.5).astype(int)
    assert set(metrics.compute_metrics("multilabel", y, rng.random((20, 3)))) == {"map"}
    assert set(metrics.compute_metrics("regression", rng.normal(size=20), rng.normal(size=20))) == {"mae", "r2"}
    with pytest.raises(ValueError, match="events"):
        metrics.compute_metrics("events", [], [])


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="3 items"):
        metrics.accuracy(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        metrics.mean_average_precision(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="weights"):
        metrics.mae(np.zeros(3), np.zeros(3), weights=np.ones(3))


def test_summed_metric_and_mean_value_match_explicit_resamples():
    """The building blocks of the diarization, events, retrieval and text metrics: a weighted copy equals the plain
    metric of the rows repeated by their counts, computed here by hand (sums over repeated rows, numpy mean)."""
    rng = np.random.default_rng(3)
    stats = rng.integers(0, 9, size=(40, 2)).astype(float)
    ratio = metrics.summed_metric(lambda s: s[:, 0] / s[:, 1])
    values = rng.random(40)
    counts = rng.multinomial(40, np.full(40, 1 / 40), size=6)
    idx = [np.repeat(np.arange(40), c) for c in counts]
    assert ratio(None, stats) == pytest.approx(stats[:, 0].sum() / stats[:, 1].sum())
    assert ratio(None, stats, weights=counts) == pytest.approx([stats[i, 0].sum() / stats[i, 1].sum() for i in idx])
    assert metrics.mean_value(None, values) == pytest.approx(np.mean(values))
    assert metrics.mean_value(None, values, weights=counts) == pytest.approx([np.mean(values[i]) for i in idx])
