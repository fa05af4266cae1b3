"""bench.protocols.training: the one early-stopping loop and tie rule; probes trained in float64 keep their choices
under float noise far above what CPU kernels add."""

import math
import os
from pathlib import Path

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


def test_snap_puts_parameters_on_the_grid():
    import torch

    from bench.protocols.training import GRID, snap

    p = torch.tensor([0.1, -0.3333333, 1e-9, 2.5], dtype=torch.float64)
    snap([p])
    assert torch.equal(p / GRID, torch.round(p / GRID)) and p[2] == 0 and p[3] == 2.5


_KERNEL_RUN = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from test_probes import blobs, make_input, run
x, labels = blobs(n=160, d=8, spread=1.0)
result = run(make_input(x, labels, protocol={"kind": "mlp", "max_epochs": 25, "patience": 25}, seeds=(0,)))
print(json.dumps([result.selected["runs"], [row["pred"] for row in result.samples]]))
"""


def test_mlp_probe_is_identical_under_vector_and_scalar_kernels():
    """The same MLP probe run under torch's AVX2 and scalar (default) kernels: the same choices, predictions and
    validation scores, bit for bit (float64 alone drifts: kernels differ in the last bits and Adam amplifies it)."""
    import subprocess
    import sys

    import torch

    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this CPU has no vector kernels to compare with")
    here = str(Path(__file__).parent)
    outputs = [subprocess.run([sys.executable, "-c", _KERNEL_RUN, here], capture_output=True, text=True, check=True,
                              env={**os.environ, "ATEN_CPU_CAPABILITY": capability}).stdout
               for capability in ("default", "avx2")]
    assert outputs[0] == outputs[1] and outputs[0].strip()
