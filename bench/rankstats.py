"""How sure a leaderboard's ranking is: a bootstrap of each encoder's rank, the Friedman test over tasks,
Wilcoxon signed-rank tests between every pair with Holm's correction, and the Nemenyi critical difference
(Demšar 2006, "Statistical comparisons of classifiers over multiple data sets").

Every function takes an encoders x tasks table of scores already oriented so that larger is better
(`bench.aggregates.oriented`), restricted to the tasks every encoder has (a complete block design).

The rank bootstrap draws, in each replicate, the tasks with replacement and, within each drawn task, a score per
encoder from that task's score replicates (`task_replicates`): recomputed from the per-item samples sidecars on
the same resampled test groups for every encoder that has them (a paired bootstrap, as `bench compare` does), and
drawn from a normal law matching the result's own 95% CI for an encoder whose result has no samples. The encoders
are ranked by their mean rank over the drawn tasks; the 2.5% and 97.5% quantiles of that rank are the interval.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairTest:
    """A Wilcoxon signed-rank test of encoder `a` against `b` over tasks, with Holm's adjusted p-value."""

    a: str
    b: str
    p: float
    p_holm: float
    significant: bool
    better: str  # the encoder with the better mean rank ("" when they tie)


@dataclass(frozen=True)
class Friedman:
    """The Friedman test over tasks: chi-square statistic and p-value, k encoders, n tasks, Nemenyi CD."""

    statistic: float
    p: float
    k: int
    n: int
    critical_difference: float


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """The Nemenyi test's critical value q_alpha for k encoders: the studentized range quantile / sqrt(2)."""
    from scipy.stats import studentized_range

    if k < 2:
        raise ValueError(f"the Nemenyi test needs at least 2 encoders, got {k}")
    return float(studentized_range.ppf(1 - alpha, k, math.inf) / math.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks for k encoders over n tasks: q_alpha sqrt(k(k+1) / (6n))."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


def friedman(scores, alpha: float = 0.05) -> Friedman | None:
    """Friedman test of the encoders x tasks table (None with fewer than 3 encoders or 2 tasks)."""
    from scipy.stats import friedmanchisquare

    k, n = scores.shape
    if k < 3 or n < 2:
        return None
    statistic, p = friedmanchisquare(*[scores.loc[e].to_numpy(dtype=float) for e in scores.index])
    return Friedman(float(statistic), float(p), k, n, critical_difference(k, n, alpha))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest p times (m - i + 1), made
    non-decreasing and capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - step) * p_values[index]))
        adjusted[index] = running
    return adjusted


def mean_ranks(scores):
    """Each encoder's mean rank over the tasks (1 best, ties averaged)."""
    return scores.rank(axis=0, ascending=False, method="average").mean(axis=1)


def wilcoxon_holm(scores, alpha: float = 0.05) -> list[PairTest]:
    """A two-sided Wilcoxon signed-rank test over tasks for every pair of encoders, Holm-corrected; a pair whose
    scores are equal on every task gets p = 1."""
    from scipy.stats import wilcoxon

    ranks = mean_ranks(scores)
    pairs = list(combinations(scores.index, 2))
    p_values = []
    for a, b in pairs:
        diff = scores.loc[a].to_numpy(dtype=float) - scores.loc[b].to_numpy(dtype=float)
        p_values.append(1.0 if not (diff != 0).any() else float(wilcoxon(diff, zero_method="wilcox").pvalue))
    tests = []
    for (a, b), p, p_adj in zip(pairs, p_values, holm(p_values)):
        better = a if ranks[a] < ranks[b] else b if ranks[b] < ranks[a] else ""
        tests.append(PairTest(str(a), str(b), p, p_adj, p_adj < alpha, str(better)))
    return tests


def cliques(order: list[str], tests: list[PairTest]) -> list[tuple[str, ...]]:
    """Maximal runs of consecutive encoders (in `order`, best first) with no significant difference between any
    two of them: the bars of a critical-difference diagram. Runs of one encoder are left out."""
    different = {frozenset((t.a, t.b)) for t in tests if t.significant}
    runs: list[tuple[str, ...]] = []
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and all(frozenset((order[i], order[end + 1])) not in different
                                           for i in range(start, end + 1)):
            end += 1
        run = tuple(order[start:end + 1])
        if len(run) > 1 and not any(set(run) <= set(r) for r in runs):
            runs.append(run)
    return runs


def bootstrap_rank_intervals(replicates: dict[str, Any], encoders: list[str], n_boot: int = 1000,
                             seed: int = 0, alpha: float = 0.05):
    """DataFrame (encoder: rank, low, high) of each encoder's rank by mean rank, from `n_boot` replicates that
    draw tasks with replacement and, per drawn task, one of its score replicates (`replicates[task]`: an array
    [R, k] of oriented scores, columns in the order of `encoders`)."""
    import numpy as np
    import pandas as pd
    from scipy.stats import rankdata

    tasks = sorted(replicates)
    if not tasks:
        raise ValueError("no task with a score for every encoder: nothing to rank")
    rng = np.random.default_rng(seed)
    stacked = [np.asarray(replicates[t], dtype=float) for t in tasks]
    drawn = rng.integers(0, len(tasks), size=(n_boot, len(tasks)))
    rows = np.empty((n_boot, len(tasks), len(encoders)))
    for t, table in enumerate(stacked):  # one replicate row of the task for each time it is drawn
        where = drawn == t
        rows[where] = table[rng.integers(0, len(table), size=int(where.sum()))]
    ranks = rankdata(rankdata(-rows, axis=2, method="average").mean(axis=1), axis=1, method="min")
    point = np.stack([table[0] for table in stacked])  # row 0 of each task: the point estimate
    point_rank = rankdata(rankdata(-point, axis=1, method="average").mean(axis=0), method="min")
    low, high = np.quantile(ranks, [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame({"rank": point_rank, "low": np.floor(low), "high": np.ceil(high)}, index=encoders)


def task_replicates(records: list[dict[str, Any]], encoders: list[str], n_boot: int = 200, seed: int = 0):
    """[1 + n_boot, k] oriented main scores of one task's primary protocol (row 0: the reported scores), columns in
    the order of `encoders`: resampled test groups scored from the samples sidecars, shared by every encoder
    whose sidecar holds the same items; a normal draw matching the reported 95% CI for the others."""
    import numpy as np

    from bench.leaderboard import higher_is_better
    from bench.results import record_label

    by_encoder = {record_label(r): r for r in records}
    rng = np.random.default_rng(seed)
    out = np.empty((1 + n_boot, len(encoders)))
    scorers = {e: _scorer(by_encoder[e]) for e in encoders}
    reference = next((s for s in scorers.values() if s is not None), None)
    groups = _group_members(reference) if reference is not None else []
    draws = [np.concatenate([groups[g] for g in rng.integers(0, len(groups), size=len(groups))])
             for _ in range(n_boot)] if groups else []
    for column, encoder in enumerate(encoders):
        main = by_encoder[encoder]["protocols"][0]["main_score"]
        value, sign = float(main["value"]), 1.0 if higher_is_better(main) else -1.0
        scorer = scorers[encoder]
        if scorer is not None and sorted(scorer.item_ids) == sorted(reference.item_ids):
            position = {item: i for i, item in enumerate(scorer.item_ids)}
            mapping = np.array([position[item] for item in reference.item_ids])
            values = np.array([scorer.main(mapping[idx]) for idx in draws])
        else:
            low, high = main.get("ci95") or [value, value]
            values = rng.normal(value, (float(high) - float(low)) / (2 * 1.959964), size=n_boot)
        out[0, column] = sign * value
        out[1:, column] = sign * np.where(np.isfinite(values), values, value)
    return out


def _scorer(record: dict[str, Any]):
    """The primary protocol's Scorer from the result's samples sidecar, or None when it has none."""
    from bench.rescore import scorer
    from bench.samples import read_samples, samples_path

    path = record.get("_file")
    sidecar = samples_path(Path(path)) if path else None
    if sidecar is None or not sidecar.exists():
        return None
    try:
        return scorer(record, 0, read_samples(sidecar))
    except (KeyError, ValueError, IndexError) as err:
        log.warning("%s: samples not usable for the rank bootstrap (%s); using its CI instead", sidecar, err)
        return None


def _group_members(scorer) -> list[Any]:
    import numpy as np

    groups: dict[str, list[int]] = {}
    for index, group in enumerate(scorer.groups):
        groups.setdefault(str(group), []).append(index)
    return [np.array(m) for m in groups.values()]
