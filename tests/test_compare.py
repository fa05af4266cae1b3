"""bench compare: the paired bootstrap on scorers with known truth, and end to end on two runs of a tiny task."""

from dataclasses import dataclass

import numpy as np
import pytest

from bench.compare import IMPROVEMENT, NO_CHANGE, REGRESSION, NotComparable, paired_bootstrap, verdict


@dataclass
class AccuracyScorer:
    """Accuracy of fixed per-item correctness, like a probe's scorer."""

    item_ids: list
    groups: list
    correct: np.ndarray

    def main(self, indices):
        return float(self.correct[indices].mean())


def _scorer(correct, groups=None, ids=None):
    n = len(correct)
    ids = ids if ids is not None else [f"item{i}" for i in range(n)]
    return AccuracyScorer(ids, groups if groups is not None else ids, np.asarray(correct, dtype=float))


def test_identical_runs_show_no_change_with_a_zero_interval():
    rng = np.random.default_rng(0)
    correct = rng.random(200) < 0.7
    delta, ci, n_items, n_groups = paired_bootstrap(_scorer(correct), _scorer(correct), sign=1.0)
    assert delta == 0.0 and ci == (0.0, 0.0) and (n_items, n_groups) == (200, 200)
    assert verdict(ci, tolerance=0.0) == NO_CHANGE


def test_a_worse_candidate_is_a_regression_and_a_better_one_an_improvement():
    rng = np.random.default_rng(1)
    base = rng.random(300) < 0.8
    worse = base & (rng.random(300) < 0.7)  # loses about 30% of its correct items
    better = base | (rng.random(300) < 0.5)
    _, ci_worse, _, _ = paired_bootstrap(_scorer(base), _scorer(worse), sign=1.0)
    _, ci_better, _, _ = paired_bootstrap(_scorer(base), _scorer(better), sign=1.0)
    assert verdict(ci_worse, 0.0) == REGRESSION and verdict(ci_better, 0.0) == IMPROVEMENT
    # a tolerance wider than the drop turns the regression into no change
    assert verdict(ci_worse, tolerance=0.5) == NO_CHANGE


def test_lower_is_better_metrics_flip_the_sign():
    base, cand = _scorer(np.full(50, 0.2)), _scorer(np.full(50, 0.1))  # e.g. an error rate that went down
    delta, ci, _, _ = paired_bootstrap(base, cand, sign=-1.0)
    assert delta == pytest.approx(0.1) and verdict(ci, 0.0) == IMPROVEMENT


def test_items_are_matched_by_id_not_position():
    correct = np.array([1, 0, 1, 1, 0, 1], dtype=float)
    ids = [f"item{i}" for i in range(6)]
    order = [5, 3, 1, 0, 2, 4]
    shuffled = _scorer(correct[order], ids=[ids[i] for i in order])
    delta, ci, _, _ = paired_bootstrap(_scorer(correct, ids=ids), shuffled, sign=1.0)
    assert delta == 0.0 and ci == (0.0, 0.0)


def test_groups_are_resampled_whole():
    """A difference carried by one of two speakers is not a sure regression when speakers are the unit."""
    n = 100
    groups = ["a"] * n + ["b"] * n
    base = np.ones(2 * n)
    cand = np.r_[np.zeros(n), np.ones(n)]
    _, by_item, _, _ = paired_bootstrap(_scorer(base), _scorer(cand), sign=1.0)
    _, by_group, _, n_groups = paired_bootstrap(_scorer(base, groups), _scorer(cand, groups), sign=1.0)
    assert n_groups == 2
    assert verdict(by_item, 0.0) == REGRESSION
    assert by_group[1] - by_group[0] > 4 * (by_item[1] - by_item[0])


def test_different_test_items_are_refused():
    with pytest.raises(NotComparable, match="tested items differ"):
        paired_bootstrap(_scorer(np.ones(5)), _scorer(np.ones(6)), sign=1.0)


def test_a_last_digits_drift_is_no_change_even_when_its_interval_excludes_zero():
    # a probe retrained by equivalent code moves regression predictions by ~1e-6: every resample sees the same
    # tiny drop, so the interval lies wholly below 0, yet nothing reported to three decimals changed
    ci = (-2e-6, -1e-6)
    assert verdict(ci, tolerance=0.0) == NO_CHANGE
    assert verdict((-2e-3, -1e-3), tolerance=0.0) == REGRESSION  # a drop visible at the third decimal still counts
    assert verdict((1e-3, 2e-3), tolerance=0.0) == IMPROVEMENT
