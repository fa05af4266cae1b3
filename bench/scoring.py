"""Per-item sample rows -> metrics, per-seed scores and intervals: the one scorer both protocols and rescore use.

Every protocol turns its test predictions into rows (one per test item; one per trial for verification), each
`{"id", "split", "group", "label", "pred": [one entry per seed], ...}`, and scores them with `score_samples`; the
runner saves the same rows beside the result (bench.samples), and `bench.rescore` scores them again, so the
recomputed numbers equal the saved ones exactly. Row formats, per protocol kind:

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


def _table(fn: Callable, y: Any, values: list, rows: np.ndarray, **kw: Any) -> MetricTable:
    return MetricTable(fn, np.asarray(y), [np.asarray(v) for v in values], rows, **kw)


def _per_seed(rows: list[dict], key: Callable[[Any], Any] = lambda p: p) -> list[list]:
    return [[key(r["pred"][s]) for r in rows] for s in range(len(rows[0]["pred"]))]


def probe_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """linear, mlp and knn: the metrics of the label kind (bench.metrics.METRICS)."""
    from bench.metrics import METRICS

    idx = np.arange(len(rows))
    y = [r["label"] for r in rows]
    preds = _per_seed(rows)
    bounds = {"accuracy": 1.0, "macro_f1": 1.0, "map": 1.0, "mae": None, "r2": None}
    return {name: _table(fn, y, preds, idx, proportion=name == "accuracy", upper=bounds[name])
            for name, fn in METRICS[label_kind].items()}


def verification_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.protocols.verification import eer, min_dcf

    idx = np.arange(len(rows))
    y, scores = [r["label"] for r in rows], _per_seed(rows)
    out = {"eer": _table(eer, y, scores, idx)}
    for p in config["p_targets"]:
        out[f"min_dcf_{p:g}"] = _table(lambda t, s, p=p: min_dcf(t, s, p), y, scores, idx)
    return out


def diarization_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.metrics import accuracy, mae
    from bench.protocols.diarization import ratio

    idx = np.arange(len(rows))
    stats = _per_seed(rows, lambda p: p["stats"])
    table = np.asarray(stats[0], dtype=np.float64)
    out = {name: _table(ratio(num, den), table, [np.asarray(s, dtype=np.float64) for s in stats], idx, upper=up)
           for name, (num, den, up) in {"der": (0, 1, None), "jer": (3, 4, 1.0), "speaker_confusion": (2, 1, 1.0),
                                        "der_oracle": (5, 6, None), "jer_oracle": (8, 9, 1.0),
                                        "speaker_confusion_oracle": (7, 6, 1.0)}.items()}
    y = np.asarray([r["label"] for r in rows], dtype=np.float64)
    counts = [np.asarray(c, dtype=np.float64) for c in _per_seed(rows, lambda p: p["count"])]
    out["count_accuracy"] = _table(accuracy, y, counts, idx, proportion=True)
    out["count_mae"] = _table(mae, y, counts, idx, upper=None)
    return out


def counting_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.metrics import accuracy, mae

    idx = np.arange(len(rows))
    y = np.asarray([r["label"] for r in rows], dtype=np.float64)
    counts = [np.asarray(c, dtype=np.float64) for c in _per_seed(rows)]
    return {"accuracy": _table(accuracy, y, counts, idx, proportion=True),
            "mae": _table(mae, y, counts, idx, upper=None)}


def qbe_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.metrics import accuracy

    idx = np.arange(len(rows))
    y = [r["label"] for r in rows]
    return {"accuracy": _table(accuracy, y, [[r["pooled"] for r in rows]], idx, proportion=True),
            "accuracy_dtw": _table(accuracy, y, _per_seed(rows), idx, proportion=True)}


def zeroshot_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.metrics import accuracy

    out = {}
    for name, key, keep in (("accuracy", "seen", lambda r: r["seen"]), ("accuracy_all", "all", lambda r: True),
                            ("accuracy_heldout", "held", lambda r: not r["seen"])):
        idx = np.array([i for i, r in enumerate(rows) if keep(r)], dtype=np.int64)
        if len(idx):
            sub = [rows[i] for i in idx]
            out[name] = _table(accuracy, [r["label"] for r in sub], _per_seed(sub, lambda p, key=key: p[key]), idx,
                               proportion=True)
    return out


def _median(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.median(y_pred))


def retrieval_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """a2t (a query per clip), t2a (a query per caption, owned by its clip) and a2a (clips with a same-class peer)."""
    from bench.metrics import mean_value

    out: dict[str, MetricTable] = {}

    def direction(prefix: str, per_seed: list[np.ndarray], owner: np.ndarray, in_per_seed: bool = True) -> None:
        ranks, aps = [v[:, 0] for v in per_seed], [v[:, 1] for v in per_seed]
        for k in (1, 5, 10):
            if prefix == "a2a" and k > 1:
                continue
            out[f"{prefix}_r@{k}"] = _table(mean_value, ranks[0], [(r <= k).astype(np.float64) for r in ranks], owner,
                                            proportion=True, per_seed=in_per_seed)
        out[f"{prefix}_map@10"] = _table(mean_value, aps[0], aps, owner, per_seed=in_per_seed)
        if prefix != "a2a":
            out[f"{prefix}_medr"] = _table(_median, ranks[0], ranks, owner, upper=None, per_seed=in_per_seed)

    seeds = range(len(rows[0]["pred"]))
    clips = np.arange(len(rows))
    direction("a2t", [np.array([r["pred"][s]["a2t"] for r in rows], dtype=np.float64).reshape(-1, 2)
                      for s in seeds], clips)
    t2a_owner = np.array([i for i, r in enumerate(rows) for _ in r["pred"][0]["t2a"]], dtype=np.int64)
    direction("t2a", [np.array([q for r in rows for q in r["pred"][s]["t2a"]], dtype=np.float64).reshape(-1, 2)
                      for s in seeds], t2a_owner)
    valid = np.array([i for i, r in enumerate(rows) if r.get("a2a") is not None], dtype=np.int64)
    if len(valid):
        a2a = np.array([rows[i]["a2a"] for i in valid], dtype=np.float64).reshape(-1, 2)
        direction("a2a", [a2a], valid)
    order = [f"{p}_{m}" for p in ("a2t", "t2a") for m in ("r@1", "r@5", "r@10", "map@10", "medr")]
    return {name: out[name] for name in order + ["a2a_map@10", "a2a_r@1"] if name in out}


def events_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.protocols.events import METRICS

    idx = np.arange(len(rows))
    counts = [np.asarray(c, dtype=np.float64).reshape(-1, 6) for c in _per_seed(rows, lambda p: p["counts"])]
    return {name: _table(fn, counts[0], counts, idx) for name, fn in METRICS.items()}


def generative_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    from bench.textmetrics import corpus_metric

    idx = np.arange(len(rows))
    bounds = {"accuracy": 1.0, "unparseable_rate": 1.0, "bleu": 100.0, "wer": None, "cer": None,
              "semantic_sim": None}
    out = {}
    for prefix, get in (("", lambda r, s: r["pred"][s]), ("text_only_", lambda r, s: r["text_only"])):
        if prefix and "text_only" not in rows[0]:
            continue
        n_seeds = len(rows[0]["pred"]) if not prefix else 1
        for name in get(rows[0], 0)["stats"]:
            stats = [np.asarray([get(r, s)["stats"][name] for r in rows], dtype=np.float64) for s in range(n_seeds)]
            out[prefix + name] = _table(corpus_metric(name), np.zeros(len(rows)), stats, idx,
                                        proportion=name in ("accuracy", "unparseable_rate"), upper=bounds[name],
                                        per_seed=not prefix)
    return out


def ctc_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """cer and wer (characters) or per (phonemes): corpus rates from per-item [edits, reference length] per seed."""
    from bench.protocols.ctc_text import corpus_rate

    idx = np.arange(len(rows))
    seeds = range(len(rows[0]["pred"]))
    return {name: _table(corpus_rate, np.zeros(len(rows)),
                         [np.asarray([r["pred"][s]["stats"][name] for r in rows], dtype=np.float64).reshape(-1, 2)
                          for s in seeds], idx, upper=None)
            for name in rows[0]["pred"][0]["stats"]}


TABLES: dict[str, Callable[[list[dict], str, dict], dict[str, MetricTable]]] = {
    "linear": probe_tables, "mlp": probe_tables, "knn": probe_tables, "verification": verification_tables,
    "diarization": diarization_tables, "counting": counting_tables, "qbe": qbe_tables, "zeroshot": zeroshot_tables,
    "retrieval": retrieval_tables, "events": events_tables, "generative": generative_tables,
    "ctc": ctc_tables,
}


def canonical(rows: list[dict]) -> list[dict]:
    """Rows as they read back from the samples file (a JSON round trip), so saved and scored values are the same."""
    return json.loads(json.dumps(rows))


def tables_for(kind: str, rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """The metric tables of a protocol kind's sample rows."""
    if kind not in TABLES:
        raise ValueError(f"no sample scorer for protocol kind '{kind}'; known: {', '.join(TABLES)}")
    if not rows:
        raise ValueError(f"protocol '{kind}' has no test samples to score")
    return TABLES[kind](rows, label_kind, config)


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
