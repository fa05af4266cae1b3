"""What the pooled-embedding protocols (linear and MLP probes, kNN) share: input checks, labels and folds before,
and the sample rows and result after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result
from bench.protocols.features import nonfinite_rows

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

KFOLD_N_SAMPLES = "train and validation: mean per fold; test: total over folds (each item is tested once)"


def prepare(inp: ProtocolInput, spec: ProtocolSpec) -> tuple[
        dict[str, Any], np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Checks shared by the pooled-embedding protocols; returns (config, labels, folds)."""
    from bench.metrics import METRICS
    from bench.protocols.labels import encode_labels, item_id
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices

    task = inp.task
    if task.label_kind not in METRICS:
        raise ValueError(f"{task.file}: protocol '{spec.kind}' scores multiclass, multilabel or regression labels, "
                         f"not '{task.label_kind}'")
    if spec.main_score not in METRICS[task.label_kind]:
        raise ValueError(f"{task.file}: main score '{spec.main_score}' is not computed by protocol '{spec.kind}' for "
                         f"{task.label_kind} labels; choose one of {', '.join(METRICS[task.label_kind])}")
    if not inp.seeds:
        raise ValueError(f"{task.file}: protocol '{spec.kind}' needs at least one seed")
    if inp.pooled.ndim not in (2, 3) or len(inp.pooled) != len(inp.items):  # 3: [N, layers, D] (bench.layers)
        raise ValueError(f"{task.file}: pooled embeddings have shape {inp.pooled.shape}, expected "
                         f"[{len(inp.items)} items, D] (or [{len(inp.items)} items, layers, D] under --layer all)")
    bad = nonfinite_rows(inp.pooled)  # chunk by chunk: the pooled matrix may be memory-mapped
    if len(bad):
        raise ValueError(f"{task.file}: the pooled embedding of item '{item_id(task, inp.items[bad[0]], bad[0])}' "
                         f"has NaN or inf values ({len(bad)} items in all)")
    config = resolve_protocol_config(task, spec)
    labels, _ = encode_labels(task, inp.items)
    return config, labels, split_indices(task, inp.items)


def plain_predictions(pred: np.ndarray) -> list:
    """Predictions as JSON-ready lists. Multilabel score vectors are written as the shortest decimals that read back
    as the same float32 values: half the size, and as those decimals keep every order and tie, mAP is unchanged."""
    if pred.ndim == 2:
        return pred.astype(np.float32).astype(str).astype(np.float64).tolist()
    return pred.tolist()


def finish(inp: ProtocolInput, spec: ProtocolSpec, config: dict[str, Any], labels: np.ndarray,
           folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]], preds_per_seed: list[np.ndarray],
           seeds: list[int], selected: dict[str, Any]) -> ProtocolResult:
    """Score each seed's predictions of the tested items (via their sample rows) and assemble the result."""
    from bench.scoring import sample_fields

    tested = np.sort(np.concatenate([test for _, _, test in folds]))
    label_list, pred_lists = labels[tested].tolist(), [plain_predictions(p[tested]) for p in preds_per_seed]
    rows = [{**sample_fields(inp.task, inp.items, int(i)), "label": label_list[k],
             "pred": [pred[k] for pred in pred_lists]} for k, i in enumerate(tested)]
    if len(folds) == 1:
        n_samples = {name: len(part) for name, part in zip(("train", "validation", "test"), folds[0])}
    else:
        n_samples = {"train": round(float(np.mean([len(f[0]) for f in folds]))),
                     "validation": round(float(np.mean([len(f[1]) for f in folds]))), "test": len(tested)}
        config = {**config, "folds": len(folds), "n_samples": KFOLD_N_SAMPLES}
    return scored_result(spec, inp, rows, config, list(seeds), n_samples=n_samples, selected=selected)


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """linear, mlp and knn: the metrics of the label kind (bench.metrics.METRICS)."""
    from bench.metrics import METRICS
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    y = [r["label"] for r in rows]
    preds = per_seed_values(rows)
    bounds = {"accuracy": 1.0, "macro_f1": 1.0, "map": 1.0, "mae": None, "r2": None}
    return {name: metric_table(fn, y, preds, idx, proportion=name == "accuracy", upper=bounds[name])
            for name, fn in METRICS[label_kind].items()}
