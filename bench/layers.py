"""`--layer all`: every layer's pooled vectors from one extraction, and the protocols run on them.

- Pooled-vector protocols with a validation score (PER_LAYER_KINDS) run once per layer. The result's headline is the
  layer chosen on VALIDATION (`choose_layer`); `layer_curve` lists every layer's validation score and test score
  (with its CI), whole: the test curve is reported, never used to choose. The protocol is labelled `[best_layer]`.
- `linear`/`mlp` with `weighted_layers: true` (SUPERB's learnable weighted sum, bench.protocols.probe) get every
  layer at once: `[N, L, D]`.
- Every other protocol (frame-level ones: events, diarization, ctc, generative; and retrieval, zeroshot, qbe,
  counting) runs on the last hidden state only, which the cache keeps as frames; its entry says `"layer": "last"`.

Sample rows of a per-layer protocol carry `layer`; bench.rescore scores the headline from the chosen layer's rows
and each point of the curve from its own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.registry import PROTOCOLS

if TYPE_CHECKING:
    from bench.protocols.base import ProtocolInput, ProtocolResult
    from bench.taskspec import ProtocolSpec

PER_LAYER_KINDS = tuple(kind for kind, info in PROTOCOLS.items() if info.per_layer)  # linear, mlp, knn, verification
WEIGHTED_KINDS = ("linear", "mlp")
TIE_RULE = ("highest validation main score (mean over seeds and folds) rounded to 9 decimals "
            "(bench.protocols.training.tie_key); the lower layer on a tie")


def choose_layer(validation: list[float | None], higher_is_better: bool) -> int:
    """Index of the layer with the best validation score under TIE_RULE (None and NaN never win unless all are)."""
    from bench.protocols.training import tie_key

    sign = 1.0 if higher_is_better else -1.0
    keys = [tie_key(None if v is None else sign * v) for v in validation]
    return max(range(len(keys)), key=lambda i: (keys[i], -i))


def _finite_mean(values: list[Any]) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else None


def _knn_validation(inp: ProtocolInput, spec: ProtocolSpec, config: dict[str, Any]) -> float | None:
    """kNN's validation main score (the protocol itself leaves validation unused): train -> validation, per fold."""
    from bench.metrics import METRICS
    from bench.protocols.features import unit
    from bench.protocols.knn import knn_predict
    from bench.protocols.pooled import prepare

    _, labels, folds = prepare(inp, spec)
    kind = inp.task.label_kind
    n_classes = int(labels.max()) + 1 if kind == "multiclass" else 0
    x = unit(inp.pooled.astype(np.float64))
    metric = METRICS[kind][spec.main_score]
    scores = [float(metric(labels[val], knn_predict(x[train], labels[train], x[val], config["k"],
                                                    config["temperature"], kind, n_classes)))
              for train, val, _ in folds if len(val)]
    return _finite_mean(scores)


def validation_score(inp: ProtocolInput, spec: ProtocolSpec, result: ProtocolResult) -> float | None:
    """The validation main score of one layer's run of a PER_LAYER_KINDS protocol (None when undefined)."""
    if spec.kind in ("linear", "mlp"):
        return _finite_mean([run["val_score"] for run in result.selected.get("runs", [])])
    if spec.kind == "verification":
        return _finite_mean([result.selected.get("validation_eer")])
    if spec.kind == "knn":
        return _knn_validation(inp, spec, result.config)
    raise ValueError(f"protocol '{spec.kind}' has no per-layer validation score; expected one of "
                     f"{', '.join(PER_LAYER_KINDS)}")


def _with_variant(config: dict[str, Any], variant: str) -> dict[str, Any]:
    old = config.get("variant")
    return {**config, "variant": f"{old}+{variant}" if old else variant}


def run_protocol(fn: Callable[[ProtocolInput, ProtocolSpec], ProtocolResult], inp: ProtocolInput,
                 spec: ProtocolSpec, layers: np.ndarray | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the result's protocol entry, its sample rows). `layers`: None for a single-layer run (`inp` as is), else
    every layer's pooled vectors [N, L, D] of a `--layer all` run, whose `inp.pooled` is the last layer's."""
    if layers is None:
        outcome = fn(inp, spec)
        return outcome.to_dict(), outcome.samples
    if spec.kind in WEIGHTED_KINDS and spec.config.get("weighted_layers"):
        outcome = fn(dataclasses.replace(inp, pooled=layers), spec)
        return {**outcome.to_dict(), "layer": "weighted"}, outcome.samples
    if spec.kind not in PER_LAYER_KINDS:
        outcome = fn(inp, spec)
        return {**outcome.to_dict(), "layer": "last"}, outcome.samples
    curve, rows, results = [], [], []
    for index in range(layers.shape[1]):
        layer_inp = dataclasses.replace(inp, pooled=np.ascontiguousarray(layers[:, index]))
        outcome = fn(layer_inp, spec)
        results.append(outcome)
        curve.append({"layer": index, "validation": validation_score(layer_inp, spec, outcome),
                      "test": {"value": outcome.main_score["value"], "ci95": outcome.main_score["ci95"]}})
        rows.extend({**row, "layer": index} for row in outcome.samples)
    best = choose_layer([point["validation"] for point in curve], spec.higher_is_better)
    entry = results[best].to_dict()
    entry["config"] = _with_variant(entry["config"], "best_layer")
    entry.update(layer=best, layer_choice={"on": "validation", "metric": spec.main_score, "rule": TIE_RULE},
                 layer_curve=curve)
    return entry, rows


def storage(layers: np.ndarray, pooling: str) -> dict[str, int]:
    """What the cache holds per clip for every layer: `layers` count and pooled bytes per clip and layer (mean and
    std, float32, whatever the task's pooling); frames are the last layer's only, as under `--layer last`."""
    width = layers.shape[-1] // (2 if pooling == "meanstd" else 1)
    return {"layers": int(layers.shape[1]), "pooled_bytes_per_clip_and_layer": 2 * 4 * int(width)}
