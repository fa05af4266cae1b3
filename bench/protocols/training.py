"""The one early-stopping loop and the one tie rule of the trained protocols (linear and MLP probes, the event head,
the contrastive map, the generative projector).

Tie rule. Validation scores are compared after rounding to `SCORE_DECIMALS` (9) decimals, so that float noise from
CPU kernels (vector width, BLAS, thread count), far below 1e-9 once the models are trained in float64, cannot flip
a choice:
- within a run, an evaluation replaces the best checkpoint only when its rounded score is strictly higher: on a
  tie the earlier checkpoint stays; `patience` evaluations without such an improvement stop the run; a NaN score
  never counts as one;
- across the learning-rate grid, the run with the highest rounded best score wins; on a tie the smaller lr wins.
Scores are "higher is better": callers negate losses and lower-is-better metrics.

Probes, the event head and the contrastive map train in float64 on one thread (bench.protocols.base.single_threaded),
and their parameters are put back on a fixed grid (multiples of `GRID` = 2^-20) after initialisation and after every
optimiser step (`snap`). Float64 alone is not enough: CPU kernels (vectorised or scalar exp, fused multiply-adds,
BLAS code paths) differ in the last bits, and over hundreds of Adam steps such differences can grow until a
validation or test prediction flips. On the grid, two machines' runs hold identical parameters unless an update
lands within ~1e-16 of a grid midpoint, which is rare (updates are ~1e-3, the grid ~1e-6). The generative projector
trains in its LLM's dtype.

Device. Probes and kNN run on `protocol_device()`: "cpu" unless the runner set the encoder's CUDA device
(`on_device`). On CUDA they still train in float64 on the grid, but GPU kernels differ from CPU ones, so GPU and CPU
numbers may differ in the last bits; CPU numbers are unchanged.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SCORE_DECIMALS = 9
GRID = 2.0 ** -20  # parameters are multiples of this after every step (see the module docstring)
_DEVICE: contextvars.ContextVar[str] = contextvars.ContextVar("bench_protocol_device", default="cpu")


def protocol_device() -> str:
    """Where the trained and kNN protocols run now: "cpu", or a CUDA device set by `on_device`."""
    return _DEVICE.get()


@contextmanager
def on_device(device: str) -> Iterator[None]:
    """Run the protocols inside on `device` when it is CUDA (any other device means CPU)."""
    token = _DEVICE.set(str(device) if str(device).startswith("cuda") else "cpu")
    try:
        yield
    finally:
        _DEVICE.reset(token)


def snap(params: Any) -> None:
    """Round the parameters (torch tensors, in place) to the nearest multiple of GRID (exact: GRID is a power of 2)."""
    import torch

    with torch.no_grad():
        for p in params:
            p.div_(GRID).round_().mul_(GRID)  # in place; the same values as round(p / GRID) * GRID


def tie_key(score: float | None) -> float:
    """A validation score as the tie rule compares it: rounded to SCORE_DECIMALS; None and NaN give -inf."""
    if score is None or not math.isfinite(score):
        return -math.inf if score is None or math.isnan(score) else score
    return round(float(score), SCORE_DECIMALS)


@dataclass
class Fit:
    """Outcome of one early-stopped run: the best (rounded) validation score, the evaluation round that reached it
    (1-based; 0 and state None when no score was finite), its snapshot, and how many rounds ran."""

    score: float = -math.inf
    round: int = 0
    state: Any = None
    rounds: int = 0

    @property
    def finite(self) -> bool:
        return self.state is not None


def fit_with_early_stopping(train_round: Callable[[int], None], evaluate: Callable[[], float],
                            snapshot: Callable[[], Any], max_rounds: int, patience: int) -> Fit:
    """Alternate `train_round(r)` (an epoch, or a block of steps) and `evaluate()` (the validation score, higher is
    better) for r = 1 .. max_rounds; keep `snapshot()` of the best round under the tie rule (module docstring) and
    stop after `patience` rounds without a strict improvement."""
    return fit_members_with_early_stopping(lambda r, _: train_round(r), lambda _: [evaluate()],
                                           lambda _: snapshot(), 1, max_rounds, patience)[0]


def fit_members_with_early_stopping(train_round: Callable[[int, list[int]], None],
                                    evaluate: Callable[[list[int]], Sequence[float]],
                                    snapshot: Callable[[int], Any], n_members: int, max_rounds: int,
                                    patience: int) -> list[Fit]:
    """`fit_with_early_stopping` for `n_members` runs trained together (a batched model): `train_round(r, active)`
    trains the members still running (ascending indices), `evaluate(active)` returns their validation scores in that
    order, `snapshot(m)` copies member m. Each member stops on its own after `patience` rounds without a strict
    improvement and keeps its best snapshot while the others go on: every member's Fit is the one it would get
    trained alone."""
    fits, waited = [Fit() for _ in range(n_members)], [0] * n_members
    active = list(range(n_members))
    for r in range(1, max_rounds + 1):
        if not active:
            break
        train_round(r, active)
        still = []
        for m, raw in zip(active, evaluate(active), strict=True):
            score, fits[m].rounds = tie_key(raw), r
            if score > fits[m].score:  # strictly better after rounding; NaN (-inf) never is
                fits[m].score, fits[m].round, fits[m].state, waited[m] = score, r, snapshot(m), 0
            else:
                waited[m] += 1
            if waited[m] < patience:
                still.append(m)
        active = still
    return fits


def best_lr(runs: Sequence[tuple[float, Fit]]) -> int | None:
    """Index of the winning (lr, fit) of a learning-rate grid: highest rounded score, the smaller lr on a tie; None
    when no run reached a finite score."""
    finite = [k for k, (_, fit) in enumerate(runs) if fit.finite]
    if not finite:
        return None
    return max(finite, key=lambda k: (runs[k][1].score, -runs[k][0]))
