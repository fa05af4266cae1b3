"""Per-item sample rows -> metrics, per-seed scores and intervals: the one scorer both protocols and rescore use.

Every protocol turns its test predictions into rows (one per test item; one per trial for verification), each
`{"id", "split", "group", "label", "pred": [one entry per seed], ...}`, and scores them with `score_samples`; the
runner saves the same rows beside the result (bench.samples), and `bench.rescore` scores them again, so the
recomputed numbers equal the saved ones exactly. Each kind's rows are turned into metric tables by its own scorer,
which lives with the protocol (the registry entry's `tables`, e.g. bench.protocols.pooled.sample_tables), so that a
protocol's code hash covers its scorer and no other protocol's. Row formats, per protocol kind:

- linear / mlp / knn: label = class index | 0/1 vector | value; pred[s] = class index | score vector | value.
- verification (one row per test trial, id "enroll|test", group = the enroll item's group): label = target 0/1;
  pred[s] = cosine score.
- diarization: label = reference speaker count; pred[s] = {"stats": [DER error, DER total, confusion, JER error,
  JER speakers] at the chosen threshold then the same five at the oracle count, "count": clusters, "segments":
  [[start_s, end_s, cluster], ...]}.   counting: label = speaker count; pred[s] = predicted count.
- qbe: label = class index; "pooled" = pooled-match class; pred[s] = DTW-match class.
- zeroshot: label = class index; "seen" = whether its class is seen; pred[s] = {"seen": class among the seen
  classes (seen items), "held": among the held-out classes (held-out items), "all": among all classes}.
- retrieval: label = class code for a2a (or None); "a2a" = [rank, AP@10] or None; pred[s] = {"a2t": [rank, AP@10],
  "t2a": [[rank, AP@10] per caption of the clip]}.
- events: label = reference events [[onset_s, offset_s, class], ...]; pred[s] = {"events": [...], "counts": [onset
  TP, FP, FN, segment TP, FP, FN]}.
- ctc: label = reference (normalised text or phonemes); pred[s] = {"text": greedy transcript, "stats": {metric:
  [edits, reference length]}} (bench.protocols.ctc_text).
- generative: label = reference text(s); pred[s] = {"text": answer, "stats": {metric: per-item statistics}};
  "text_only" = the same for the text-only upper bound, when run.

Under `--layer all` (bench.layers) the rows of a protocol run once per layer carry `layer` (the hidden state's
index): bench.rescore scores the headline from the rows of the layer chosen on validation, and each point of the
protocol's `layer_curve` from its own rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class MetricTable:
    """One metric over its units: fn(y_true, values, weights=None), per-seed values, and each unit's row."""

    fn: Callable
    y_true: np.ndarray
    values: list[np.ndarray]  # per seed (a single entry stands for every seed)
    rows: np.ndarray  # unit -> index of its sample row
    proportion: bool = False  # a share of units: Wilson interval when units are independent
    upper: float | None = 1.0  # the metric lies in [0, upper]; None: unbounded
    per_seed: bool = True  # listed in the result's per_seed rows


@dataclass
class Summary:
    per_seed: list[dict[str, float]]
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    seed_sd: dict[str, float | None]
    interval: dict[str, Any] = field(default_factory=dict)


def metric_table(fn: Callable, y: Any, values: list, rows: np.ndarray, **kw: Any) -> MetricTable:
    """A MetricTable with `y` and each seed's `values` as arrays (the protocols' sample scorers build theirs so)."""
    return MetricTable(fn, np.asarray(y), [np.asarray(v) for v in values], rows, **kw)


def per_seed_values(rows: list[dict], key: Callable[[Any], Any] = lambda p: p) -> list[list]:
    """Per seed, `key` of every row's prediction for that seed."""
    return [[key(r["pred"][s]) for r in rows] for s in range(len(rows[0]["pred"]))]


def canonical(rows: list[dict]) -> list[dict]:
    """Rows as they read back from the samples file (a JSON round trip), so saved and scored values are the same."""
    return json.loads(json.dumps(rows))


def tables_for(kind: str, rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """The metric tables of a protocol kind's sample rows, from the kind's own scorer (its registry entry's `tables`,
    which lives with the protocol, so that its code hash covers it and no other protocol's)."""
    from bench.protocols.registry import PROTOCOLS, sample_scorer

    if kind not in PROTOCOLS:
        raise ValueError(f"no sample scorer for protocol kind '{kind}'; known: {', '.join(PROTOCOLS)}")
    if not rows:
        raise ValueError(f"protocol '{kind}' has no test samples to score")
    return sample_scorer(kind)(rows, label_kind, config)


def _groups_of(table: MetricTable, rows: list[dict], grouped: bool) -> list[str] | None:
    """Resampling units of a table's units: the rows' groups, or the owning rows when units share a row."""
    if grouped:
        return [str(rows[i]["group"]) for i in table.rows]
    if len(np.unique(table.rows)) < len(table.rows):
        return [str(i) for i in table.rows]
    return None


def weighted_main(table: MetricTable, row_weights: np.ndarray) -> np.ndarray:
    """[B] seed-mean metric for B weightings of the sample rows ([B, N rows] counts)."""
    from bench.stats import weighted_score

    return weighted_score(table.fn, table.y_true, table.values, np.asarray(row_weights)[:, table.rows])


def score_samples(kind: str, rows: list[dict], label_kind: str, config: dict, *, group_column: str | None,
                  n_boot: int, seed: int) -> Summary:
    """Per seed scores, seed means, 95% intervals (bench.stats.interval) and seed spread of a protocol's rows.

    rows: as read back from the samples file (see `canonical`). group_column: the task's held-out unit
    (`task.group`): groups are resampled instead of items when set.
    """
    from bench.stats import interval, seed_sd

    tables = tables_for(kind, rows, label_kind, config)
    n_seeds = max(len(t.values) for t in tables.values())
    per_seed: list[dict[str, float]] = [{} for _ in range(n_seeds)]
    metrics, ci95, methods = {}, {}, {}
    for name, t in tables.items():
        values = [float(t.fn(t.y_true, v)) for v in t.values]
        metrics[name] = float(np.mean([values[min(s, len(values) - 1)] for s in range(n_seeds)]))
        if t.per_seed:
            for s in range(n_seeds):
                per_seed[s][name] = values[min(s, len(values) - 1)]
        ci95[name], methods[name] = interval(t.fn, t.y_true, t.values, metrics[name], proportion=t.proportion,
                                             upper=t.upper, groups=_groups_of(t, rows, group_column is not None),
                                             n_boot=n_boot, seed=seed)
    n_units = len({r["group"] for r in rows}) if group_column else len(rows)
    info = {"resampled": "groups" if group_column else "items", "group_column": group_column, "units": n_units,
            "n_boot": n_boot, "seed": seed, "confidence": 0.95, "methods": methods}
    return Summary(per_seed, metrics, ci95, seed_sd(per_seed), info)


def sample_fields(task: Any, items: Sequence[dict], index: int) -> dict[str, Any]:
    """`id`, `split` and `group` of a sample row for item `index` (group: the `task.group` column, else the id)."""
    from bench.protocols.labels import item_id

    item = items[index]
    name = item_id(task, item, index)
    column = getattr(task, "group", None)
    if column:
        value = item.get(column)
        if value is None or str(value).strip() == "":
            raise ValueError(f"{task.file}: item '{name}' has no value in the group column '{column}' (the task's "
                             f"held-out unit); fill it in, or remove 'group' from the task")
        group = str(value)
    else:
        group = name
    return {"id": name, "split": str(item.get(task.split.column)), "group": group}


def to_plain(x: Any) -> Any:
    """numpy scalars and arrays -> Python numbers and lists (JSON-ready)."""
    return x.tolist() if isinstance(x, (np.ndarray, np.generic)) else x
