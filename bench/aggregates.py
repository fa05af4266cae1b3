"""Leaderboard aggregates over a table of primary main scores (encoders x tasks): pure functions, chosen per suite
(the `aggregates:` block of a suite file names which ones a leaderboard shows).

- `normalised_domain_mean`: each score chance-normalised so that chance is 0 and a perfect score 1 --
  (score - chance) / (1 - chance) for higher-is-better metrics, (chance - score) / chance for lower-is-better ones
  (EER, DER, WER, MAE ...: 0 is perfect); averaged within each domain, then over domains (no domain weighs more
  because it has more tasks). Blank when the task has no chance level (or chance makes the map undefined).
- `raw_domain_mean`: the same mean of domain means over the raw scores of higher-is-better tasks only (BLEU, 0-100,
  divided by 100): the historical "overall", kept only under this name.
- `mean_rank`: each encoder's rank within each task (1 best, ties averaged), averaged over the tasks every encoder
  of the table has (a complete block, as the Friedman test needs).
- `borda`: over the same tasks, the number of encoders each one beats (a tie counts one half), summed.

A domain mean is blank for an encoder that lacks any of the domain's tasks in the table: a mean over fewer tasks
is not comparable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PERCENT_METRICS = frozenset({"bleu"})


@dataclass(frozen=True)
class TaskInfo:
    """What an aggregate needs to know about a task's primary main score."""

    name: str
    domain: str
    metric: str
    higher_is_better: bool
    chance: float | None


@dataclass(frozen=True)
class Aggregate:
    """An aggregate: its column label, one-line meaning, whether higher is better, and its function."""

    name: str
    label: str
    short: str
    meaning: str
    higher_is_better: bool
    compute: Callable[[Any, dict[str, TaskInfo]], Any]


def unit_scale(value: float, metric: str) -> float:
    """A score on the 0-1 scale: metrics reported in percent (BLEU) divided by 100."""
    return value / 100 if metric in PERCENT_METRICS else value


def chance_normalised(value: float | None, chance: float | None, higher_is_better: bool,
                      metric: str = "") -> float:
    """0 at chance, 1 at a perfect score: (v - c) / (1 - c) when higher is better, (c - v) / c when lower is
    better (a perfect score is 0); NaN when the score or chance is missing or the map is undefined (c = 1 for a
    higher-is-better metric, c = 0 for a lower-is-better one)."""
    if value is None or chance is None or value != value or chance != chance:
        return math.nan
    value, chance = unit_scale(float(value), metric), unit_scale(float(chance), metric)
    if higher_is_better:
        return (value - chance) / (1 - chance) if chance != 1 else math.nan
    return (chance - value) / chance if chance != 0 else math.nan


def normalised_scores(scores, tasks: dict[str, TaskInfo]):
    """The encoders x tasks DataFrame `scores` with every cell chance-normalised (see `chance_normalised`)."""
    out = scores.copy().astype(float)
    for task in out.columns:
        info = tasks[task]
        out[task] = [chance_normalised(v, info.chance, info.higher_is_better, info.metric) for v in scores[task]]
    return out


def domain_means(values, tasks: dict[str, TaskInfo]):
    """Encoders x domains: the mean of each domain's columns of `values`; NaN where an encoder lacks any of them."""
    import pandas as pd

    by_domain: dict[str, list[str]] = {}
    for task in values.columns:
        by_domain.setdefault(tasks[task].domain, []).append(task)
    means = {domain: values[columns].mean(axis=1, skipna=False) for domain, columns in sorted(by_domain.items())}
    return pd.DataFrame(means, index=values.index)


def normalised_domain_mean(scores, tasks: dict[str, TaskInfo]):
    """Mean over domains of the domain means of chance-normalised scores; NaN for an incomplete encoder."""
    return domain_means(normalised_scores(scores, tasks), tasks).mean(axis=1, skipna=False)


def raw_domain_mean(scores, tasks: dict[str, TaskInfo]):
    """Mean over domains of the domain means of raw higher-is-better scores (BLEU / 100); other tasks left out."""
    kept = [t for t in scores.columns if tasks[t].higher_is_better]
    raw = scores[kept].astype(float).copy()
    for task in kept:
        raw[task] = raw[task].map(lambda v, m=tasks[task].metric: unit_scale(v, m))
    return domain_means(raw, tasks).mean(axis=1, skipna=False)


def oriented(scores, tasks: dict[str, TaskInfo]):
    """Scores with lower-is-better columns negated, so that larger is better everywhere (for ranking)."""
    out = scores.astype(float).copy()
    for task in out.columns:
        if not tasks[task].higher_is_better:
            out[task] = -out[task]
    return out


def complete_tasks(scores) -> list[str]:
    """The tasks every encoder of the table has a score on."""
    return [t for t in scores.columns if scores[t].notna().all()]


def task_ranks(scores, tasks: dict[str, TaskInfo]):
    """Encoders x complete tasks: the rank of each encoder within the task (1 best; ties get the mean rank)."""
    return oriented(scores[complete_tasks(scores)], tasks).rank(axis=0, ascending=False, method="average")


def mean_rank(scores, tasks: dict[str, TaskInfo]):
    """Each encoder's rank averaged over the tasks every encoder has (NaN for all when there is none)."""
    return task_ranks(scores, tasks).mean(axis=1)


def borda(scores, tasks: dict[str, TaskInfo]):
    """Borda count: per complete task, the number of encoders beaten (a tie counts 1/2), summed over tasks."""
    ranks = task_ranks(scores, tasks)
    return (len(scores.index) - ranks).sum(axis=1, min_count=1)


AGGREGATES: dict[str, Aggregate] = {a.name: a for a in (
    Aggregate("normalised_domain_mean", "mean of domain means, chance-normalised", "overall (norm.)",
              "0 = chance, 1 = perfect: (score - chance)/(1 - chance), or (chance - score)/chance for "
              "lower-is-better metrics; averaged within each domain, then over domains", True, normalised_domain_mean),
    Aggregate("raw_domain_mean", "raw mean of domain means (higher-is-better tasks only)", "raw mean (↑ only)",
              "raw main scores of higher-is-better tasks (BLEU/100), averaged within each domain, then over domains; "
              "lower-is-better tasks are left out", True, raw_domain_mean),
    Aggregate("mean_rank", "mean rank", "mean rank", "rank within each task (1 = best, ties averaged), averaged "
              "over the tasks every encoder has", False, mean_rank),
    Aggregate("borda", "Borda count", "Borda", "per task, the number of encoders beaten (a tie counts 1/2), summed "
              "over the tasks every encoder has", True, borda),
)}
DEFAULT_AGGREGATES = ("normalised_domain_mean", "mean_rank")


def compute_aggregates(names: tuple[str, ...] | list[str], scores, tasks: dict[str, TaskInfo]):
    """Encoders x aggregates (columns in the order of `names`); KeyError naming an unknown aggregate."""
    import pandas as pd

    unknown = [n for n in names if n not in AGGREGATES]
    if unknown:
        raise KeyError(f"unknown aggregate(s) {', '.join(unknown)}; known: {', '.join(AGGREGATES)}")
    return pd.DataFrame({n: AGGREGATES[n].compute(scores, tasks) for n in names}, index=scores.index)
