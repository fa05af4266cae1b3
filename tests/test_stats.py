"""bench.stats: bootstrap (items and groups), Wilson and widened intervals; bench.scoring.score_samples."""

import time

import numpy as np
import pytest

from bench import metrics
from bench.stats import bootstrap_ci


def _noisy_predictions(rng, y, accuracy, n_classes):
    return np.where(rng.random(len(y)) < accuracy, y, rng.integers(0, n_classes, len(y)))


def test_all_correct_predictions_give_a_point_interval():
    y = np.arange(50) % 3
    assert bootstrap_ci(metrics.accuracy, y, [y, y]) == (1.0, 1.0)


def test_interval_contains_the_estimate_and_shrinks_with_more_items():
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 2000):
        y = rng.integers(0, 5, n)
        preds = [_noisy_predictions(rng, y, 0.7, 5) for _ in range(3)]
        estimate = np.mean([metrics.accuracy(y, p) for p in preds])
        lo, hi = bootstrap_ci(metrics.accuracy, y, preds)
        assert lo < estimate < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_seeds_share_resamples_and_are_averaged():
    y = np.array([0, 1] * 20)
    right, wrong = y.copy(), 1 - y
    # Seed averages are exactly 0.5 on every resample because both seeds see the same items.
    assert bootstrap_ci(metrics.accuracy, y, [right, wrong]) == (0.5, 0.5)


@pytest.mark.parametrize("fn", [metrics.accuracy, metrics.macro_f1, metrics.mae, metrics.r2])
def test_batched_path_equals_the_loop(fn):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    preds = [_noisy_predictions(rng, y, 0.6, 4) for _ in range(2)]
    def unbatched(a, b):  # no `weights` parameter: scored one resample at a time
        return fn(a, b)
    batched = bootstrap_ci(fn, y, preds, n_boot=200, seed=3)
    assert batched == pytest.approx(bootstrap_ci(unbatched, y, preds, n_boot=200, seed=3))


def test_map_batched_equals_loop_and_skips_undefined_resamples():
    rng = np.random.default_rng(2)
    y = np.zeros((40, 3), dtype=int)
    y[0, 0] = 1  # a rare class: many resamples have no positive for it
    y[rng.random(40) < 0.5, 1] = 1
    scores = y + rng.normal(size=y.shape)
    batched = bootstrap_ci(metrics.mean_average_precision, y, [scores], n_boot=100)
    loop = bootstrap_ci(lambda a, b: metrics.mean_average_precision(a, b), y, [scores], n_boot=100)
    assert batched == pytest.approx(loop)
    assert np.isnan(bootstrap_ci(metrics.mean_average_precision, np.zeros((5, 2)), [np.ones((5, 2))])).all()


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = [_noisy_predictions(rng, y, 0.5, 3)]
    assert bootstrap_ci(metrics.accuracy, y, p, seed=5) == bootstrap_ci(metrics.accuracy, y, p, seed=5)
    assert bootstrap_ci(metrics.accuracy, y, p, seed=5) != bootstrap_ci(metrics.accuracy, y, p, seed=6)


def test_fast_enough():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 3000)
    preds = [_noisy_predictions(rng, y, 0.7, 10) for _ in range(3)]
    start = time.perf_counter()
    bootstrap_ci(metrics.accuracy, y, preds, n_boot=1000)
    assert time.perf_counter() - start < 1.0


def test_score_samples_reports_every_metric_per_seed_with_intervals():
    from bench.scoring import score_samples

    rng = np.random.default_rng(0)
    y = rng.normal(size=100)
    preds = [y + rng.normal(size=100) * 0.1 for _ in range(2)]
    rows = [{"id": f"i{i}", "split": "test", "group": f"i{i}", "label": float(y[i]),
             "pred": [float(p[i]) for p in preds]} for i in range(100)]
    s = score_samples("linear", rows, "regression", {}, group_column=None, n_boot=200, seed=0)
    assert len(s.per_seed) == 2 and set(s.metrics) == set(s.ci95) == set(s.seed_sd) == {"mae", "r2"}
    assert s.metrics["r2"] == pytest.approx(np.mean([row["r2"] for row in s.per_seed]))
    assert s.per_seed[0]["mae"] == pytest.approx(np.mean(np.abs(y - preds[0])))
    assert s.ci95["r2"][0] <= s.metrics["r2"] <= s.ci95["r2"][1]
    assert s.interval["methods"] == {"mae": "bootstrap-bc", "r2": "bootstrap-bc"} and s.interval["units"] == 100


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="predictions for 3 items"):
        bootstrap_ci(metrics.accuracy, np.zeros(4), [np.zeros(3)])


def test_bias_corrected_interval_recentres_a_biased_metric():
    """Small-sample mAP: every resample scores higher than the data (duplicated positives, vanishing classes);
    the plain percentile interval sits above the estimate, the bias-corrected one brackets it."""
    from bench.metrics import accuracy, mean_average_precision

    rng = np.random.default_rng(0)
    y = (rng.random((25, 18)) < 0.13).astype(int)
    scores = y * 0.5 + rng.random((25, 18))
    estimate = mean_average_precision(y, scores)
    plain = bootstrap_ci(mean_average_precision, y, [scores])
    corrected = bootstrap_ci(mean_average_precision, y, [scores], estimate=estimate)
    assert (plain[0] + plain[1]) / 2 - estimate > 0.03  # the bias the correction is for
    assert corrected[0] <= estimate <= corrected[1]
    labels = rng.integers(0, 3, 400)
    preds = np.where(rng.random(400) < 0.7, labels, rng.integers(0, 3, 400))
    plain_acc = bootstrap_ci(accuracy, labels, [preds])
    bc_acc = bootstrap_ci(accuracy, labels, [preds], estimate=accuracy(labels, preds))
    assert np.allclose(plain_acc, bc_acc, atol=0.02)  # unbiased metric: almost no change


def test_wilson_interval_does_not_collapse_and_matches_scipy():
    from scipy.stats import binomtest

    from bench.stats import wilson_interval

    lo, hi = wilson_interval(0 / 9, 9)
    assert lo == 0.0 and 0.29 < hi < 0.31
    for k, n in ((0, 9), (9, 9), (3, 10), (47, 120)):
        ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k / n, n) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert np.isnan(wilson_interval(0.5, 0)).all()


def test_interval_uses_wilson_for_independent_proportions_and_widens_degenerate_bootstraps():
    from bench.protocols.verification import eer
    from bench.stats import interval, wilson_interval

    y = np.array([0, 1, 2] * 3)
    wrong = (y + 1) % 3
    ci, method = interval(metrics.accuracy, y, [wrong], 0.0, proportion=True)
    assert method == "wilson" and ci == pytest.approx(list(wilson_interval(0.0, 9)))
    targets = np.array([1] * 10 + [0] * 30)
    scores = targets + np.linspace(0, 0.5, 40)  # perfectly separated: every resample has EER 0
    assert bootstrap_ci(eer, targets, [scores], n_boot=100) == (0.0, 0.0)
    ci, method = interval(eer, targets, [scores], 0.0, upper=1.0, n_boot=100)
    assert method == "bootstrap-bc-widened-wilson" and ci[0] == 0.0 and 0.05 < ci[1] < 0.1  # Wilson n = 40 trials
    ci, method = interval(metrics.mae, y.astype(float), [y.astype(float)], 0.0, upper=None, n_boot=100)
    assert ci == [0.0, 0.0] and method == "bootstrap-bc"  # unbounded metrics are not widened


def test_cluster_interval_is_wider_when_predictions_are_correlated_within_groups():
    """Known truth: 30 speakers x 10 clips; a speaker's clips are all right or all wrong (70% of speakers right).
    The effective sample is 30 speakers, not 300 clips: the cluster interval must be about sqrt(10) times wider."""
    rng = np.random.default_rng(0)
    speaker_right = rng.random(30) < 0.7
    groups = [f"s{s}" for s in range(30) for _ in range(10)]
    y = np.zeros(300, dtype=int)
    pred = np.where(np.repeat(speaker_right, 10), 0, 1)
    est = metrics.accuracy(y, pred)
    item = bootstrap_ci(metrics.accuracy, y, [pred], estimate=est)
    cluster = bootstrap_ci(metrics.accuracy, y, [pred], estimate=est, groups=groups)
    assert cluster[0] <= est <= cluster[1]
    assert (cluster[1] - cluster[0]) > 2.5 * (item[1] - item[0])
    # with groups of one item each, the cluster bootstrap is the item bootstrap (same draws)
    singletons = [f"{i:03d}" for i in range(300)]  # sorted like the items: unit k is item k
    assert bootstrap_ci(metrics.accuracy, y, [pred], groups=singletons) == bootstrap_ci(metrics.accuracy, y, [pred])


def test_resampled_groups_are_taken_whole():
    from bench.stats import group_codes, resample_weights

    codes = group_codes(["b", "a", "b", "c", "a"], 5)
    assert codes.tolist() == [1, 0, 1, 2, 0]
    for w in resample_weights(codes, 50, seed=0):
        assert (w[:, 0] == w[:, 2]).all() and (w[:, 1] == w[:, 4]).all()  # both clips of a group move together
        assert (w.sum(1) >= 0).all()
    with pytest.raises(ValueError, match="3 group labels for 5 items"):
        group_codes(["a", "b", "c"], 5)


def test_seed_sd():
    from bench.stats import seed_sd

    assert seed_sd([{"accuracy": 0.5}]) == {"accuracy": None}
    assert seed_sd([{"a": 1.0}, {"a": 3.0}]) == {"a": pytest.approx(np.sqrt(2.0))}
