"""Rank statistics against Demšar (2006) and hand-computed cases; the rank bootstrap on committed results."""

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.rankstats import (
    bootstrap_rank_intervals,
    cliques,
    critical_difference,
    friedman,
    holm,
    nemenyi_q,
    task_replicates,
    wilcoxon_holm,
)

RESULTS = Path(__file__).resolve().parents[1] / "results"
DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


@pytest.mark.parametrize("k", sorted(DEMSAR_Q05))
def test_nemenyi_critical_values_match_demsar_table(k):
    assert nemenyi_q(k, 0.05) == pytest.approx(DEMSAR_Q05[k], abs=1e-3)


def test_critical_difference_of_demsars_worked_example():
    # Demšar 2006, section 3.2.2: four classifiers on 14 data sets, CD = 2.569 * sqrt(4*5 / (6*14)) = 1.25
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)


def test_holm_adjustment_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> made monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def _exact_wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided exact p of the signed-rank statistic by enumerating all 2^n sign flips (no ties, no zeros)."""
    ranks = np.argsort(np.argsort(np.abs(diff))) + 1
    observed = ranks[diff > 0].sum()
    total = ranks.sum()
    sums = [sum(r for r, s in zip(ranks, signs) if s) for signs in product([0, 1], repeat=len(diff))]
    extreme = min(observed, total - observed)
    return min(1.0, 2 * np.mean([s <= extreme for s in sums]))


def test_wilcoxon_holm_decisions_on_a_hand_made_case():
    steps = np.arange(1, 9) * 0.01
    b = np.array([0.5, 0.2, 0.9, 0.4, 0.7, 0.3, 0.6, 0.8])
    c = b + np.array([1, -2, 3, -4, 5, -6, 7, -8]) * 0.001
    scores = pd.DataFrame([b + steps, b, c], index=["A", "B", "C"])
    tests = {(t.a, t.b): t for t in wilcoxon_holm(scores)}
    # A beats B and C on all 8 tasks: exact p = 2 / 2^8; Holm: x3 and x2, both < 0.05
    assert tests["A", "B"].p == pytest.approx(2 / 256) and tests["A", "B"].p_holm == pytest.approx(6 / 256)
    assert tests["A", "B"].significant and tests["A", "C"].significant and tests["A", "B"].better == "A"
    assert tests["B", "C"].p == pytest.approx(_exact_wilcoxon_p(b - c)) and not tests["B", "C"].significant
    assert cliques(["A", "B", "C"], list(tests.values())) == [("B", "C")]


def test_friedman_statistic_matches_the_textbook_formula():
    scores = pd.DataFrame([[0.9, 0.8, 0.7, 0.9], [0.5, 0.6, 0.8, 0.4], [0.1, 0.2, 0.3, 0.2]], index=["a", "b", "c"])
    k, n = scores.shape
    mean_ranks = np.array([1.25, 1.75, 3.0])  # a: 1,1,2,1; b: 2,2,1,2; c: 3 everywhere
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks ** 2) - k * (k + 1) ** 2 / 4)
    result = friedman(scores)
    assert result.statistic == pytest.approx(chi2) and result.k == 3 and result.n == 4
    assert result.critical_difference == pytest.approx(2.343 * np.sqrt(3 * 4 / 24), abs=1e-3)
    assert friedman(scores.iloc[:2]) is None


def test_rank_interval_is_tight_for_a_clear_winner_and_wide_for_a_coin_flip():
    rng = np.random.default_rng(1)
    replicates = {f"t{i}": np.column_stack([np.full(50, 0.9), rng.normal(0.5, 0.1, 50), rng.normal(0.5, 0.1, 50)])
                  for i in range(6)}
    table = bootstrap_rank_intervals(replicates, ["best", "x", "y"], n_boot=300)
    assert (table.loc["best", ["low", "high"]] == [1, 1]).all()
    assert table.loc["x", "low"] == 2 and table.loc["x", "high"] == 3 and table.loc["y", "high"] == 3


def test_task_replicates_from_samples_reproduce_the_reported_interval():
    from bench.results import load_results

    records = [r for r in load_results(RESULTS) if r["task"]["name"] == "builtin-quick/verification"
               and r["encoder"]["name"] in ("mfcc", "logmel", "whisper-base")]
    encoders = [r["encoder"]["name"] for r in records]
    out = task_replicates(records, encoders, n_boot=400)
    for column, record in enumerate(records):
        main = record["protocols"][0]["main_score"]
        assert out[0, column] == pytest.approx(-main["value"])  # EER: lower is better, so negated
        low, high = np.quantile(-out[1:, column], [0.025, 0.975])
        assert low == pytest.approx(main["ci95"][0], abs=0.03) and high == pytest.approx(main["ci95"][1], abs=0.03)
