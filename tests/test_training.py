"""bench.protocols.training: the one early-stopping loop and tie rule; probes trained in float64 keep their choices
under float noise far above what CPU kernels add."""

import math

import numpy as np
import pytest

from bench.protocols.training import Fit, best_lr, fit_with_early_stopping, tie_key


def _fit(scores, patience):
    """Run the loop over a fixed list of validation scores; returns (Fit, rounds trained)."""
    trained = []
    fit = fit_with_early_stopping(trained.append, lambda: scores[len(trained) - 1], lambda: f"state{len(trained)}",
                                  len(scores), patience)
    return fit, trained


def test_tie_key_rounds_away_float_noise():
    assert tie_key(0.1 + 0.2) == tie_key(0.3)
    assert tie_key(0.5 + 3e-10) == tie_key(0.5) and tie_key(0.5 + 2e-9) > tie_key(0.5)
    assert tie_key(float("nan")) == tie_key(None) == -math.inf


def test_strictly_better_replaces_ties_keep_the_earlier_round_and_patience_counts_rounds():
    fit, trained = _fit([0.5, 0.7, 0.7 + 1e-12, 0.6, 0.7, 0.9], patience=3)
    assert (fit.round, fit.state, fit.score) == (2, "state2", 0.7)  # the later 0.7s are ties: the earlier stays
    assert trained == [1, 2, 3, 4, 5] and fit.rounds == 5  # three rounds without improvement stop before round 6
    fit, _ = _fit([0.5, 0.7, 0.6, 0.9], patience=3)
    assert (fit.round, fit.score) == (4, 0.9)


def test_nan_never_improves():
    fit, _ = _fit([float("nan"), 0.2, float("nan")], patience=5)
    assert (fit.round, fit.score) == (2, 0.2)
    fit, _ = _fit([float("nan")] * 3, patience=2)
    assert not fit.finite and fit.round == 0 and fit.rounds == 2


def test_best_lr_ties_keep_the_smaller_lr_in_any_grid_order():
    runs = [(1e-2, Fit(0.8, 3, "a")), (1e-3, Fit(0.8 + 1e-13, 9, "b")), (1e-1, Fit(0.7, 1, "c"))]
    assert best_lr(runs) == 1
    assert best_lr(runs[::-1]) == 1
    assert best_lr([(1e-3, Fit()), (1e-2, Fit(0.1, 1, "x"))]) == 1
    assert best_lr([(1e-3, Fit())]) is None


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_choices_survive_input_noise_far_above_kernel_noise(kind):
    """Pooled inputs moved by ~1e-7 relative (float32 ulps, a million times the float64 noise of CPU kernels) give
    the same lr and epoch choices and the same predictions."""
    from test_probes import blobs, make_input, run

    x, labels = blobs(n=200, d=8, spread=0.9)
    noisy = x * (1 + 1e-7 * np.random.default_rng(1).standard_normal(x.shape))
    protocol = {"kind": kind, "max_epochs": 15, "patience": 5, "lrs": [1e-3, 1e-2]}
    results = [run(make_input(data, labels, protocol=protocol, seeds=(0,))) for data in (x, noisy)]
    choices = [[(r["lr"], r["epoch"]) for r in result.selected["runs"]] for result in results]
    assert choices[0] == choices[1]
    assert [row["pred"] for row in results[0].samples] == [row["pred"] for row in results[1].samples]
    assert results[0].selected["runs"][0]["val_score"] == pytest.approx(results[1].selected["runs"][0]["val_score"])
