"""Recompute a result's scores from its samples sidecar alone (`bench rescore`), and score item subsets for
`bench compare`: both through bench.scoring, the same code the protocols used to write the result."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def _protocol_rows(record: dict[str, Any], samples: list[dict[str, Any]], index: int,
                   layer: int | None = None) -> list[dict[str, Any]]:
    """The sample rows of protocol #index; for a protocol run per layer (`--layer all`, bench.layers), those of
    `layer`, by default the layer its headline was chosen on."""
    protocols = record.get("protocols") or []
    if not 0 <= index < len(protocols):
        raise IndexError(f"result has {len(protocols)} protocol(s); no protocol #{index}")
    rows = [r for r in samples if r.get("protocol") == index]
    kind = protocols[index]["kind"]
    if "layer_curve" in protocols[index]:
        layer = protocols[index]["layer"] if layer is None else layer
        rows = [r for r in rows if r.get("layer") == layer]
    if not rows:
        where = f" of layer {layer}" if layer is not None else ""
        raise ValueError(f"the samples hold no rows{where} of protocol #{index} ('{kind}')")
    if any(r.get("kind") != kind for r in rows):
        raise ValueError(f"samples of protocol #{index} are not of kind '{kind}': the samples file belongs to "
                         f"another result")
    return rows


def _summary(record: dict[str, Any], index: int, rows: list[dict[str, Any]]) -> Any:
    from bench.scoring import score_samples

    proto = record["protocols"][index]
    info = proto.get("interval") or {}
    if "n_boot" not in info:
        raise ValueError(f"protocol #{index} ('{proto['kind']}') has no 'interval' record: made before samples "
                         f"existed; re-run the task with --force")
    return score_samples(proto["kind"], rows, record["task"]["label_kind"], proto["config"],
                         group_column=info.get("group_column"), n_boot=info["n_boot"], seed=info["seed"])


def rescore(result_json_path: str | Path) -> dict[str, Any]:
    """The result record with every protocol's per_seed, metrics, ci95, seed_sd and main_score recomputed from the
    samples sidecar (checked against the record's sha256 first); under `--layer all`, each point of a protocol's
    `layer_curve` (test value and ci95) too. Validation scores are selection records, not recomputed."""
    from bench.samples import file_sha256, read_samples, samples_path

    path = Path(result_json_path)
    record = json.loads(path.read_text())
    meta = record.get("samples")
    if not meta:
        raise ValueError(f"{path}: the result has no 'samples' entry (made before samples existed, or an error "
                         f"record); re-run the task with --force")
    spath = samples_path(path)
    if file_sha256(spath) != meta["sha256"]:
        raise ValueError(f"{spath}: sha256 differs from the one recorded in {path.name}: the samples were changed or "
                         f"belong to another run")
    samples = read_samples(spath)
    out = copy.deepcopy(record)
    for index, proto in enumerate(out.get("protocols", [])):
        summary = _summary(record, index, _protocol_rows(record, samples, index))
        main = proto["main_score"]["name"]
        proto.update(per_seed=summary.per_seed, metrics=summary.metrics, ci95=summary.ci95, seed_sd=summary.seed_sd,
                     interval=summary.interval)
        proto["main_score"] = {**proto["main_score"], "value": summary.metrics[main], "ci95": summary.ci95.get(main)}
        for point in proto.get("layer_curve", []):
            layer = _summary(record, index, _protocol_rows(record, samples, index, point["layer"]))
            point["test"] = {"value": layer.metrics[main], "ci95": layer.ci95.get(main)}
    return out


@dataclass
class Scorer:
    """A protocol's main score on any multiset of its tested items (for paired bootstraps)."""

    item_ids: list[str]
    groups: list[str]
    metric: str
    _table: Any

    def main(self, indices: np.ndarray) -> float:
        """The main score, mean over seeds, on the items at `indices` (positions in item_ids; repeats allowed)."""
        from bench.scoring import weighted_main

        counts = np.bincount(np.asarray(indices, dtype=np.int64), minlength=len(self.item_ids))[None, :]
        return float(weighted_main(self._table, counts)[0])


def scorer(record: dict[str, Any], protocol_index: int, samples: list[dict[str, Any]]) -> Scorer:
    """The Scorer of protocol `protocol_index` of a result record, from its samples (all rows of the sidecar)."""
    from bench.scoring import canonical, tables_for

    rows = canonical(_protocol_rows(record, samples, protocol_index))
    proto = record["protocols"][protocol_index]
    metric = proto["main_score"]["name"]
    tables = tables_for(proto["kind"], rows, record["task"]["label_kind"], proto["config"])
    if metric not in tables:
        raise KeyError(f"protocol #{protocol_index} ('{proto['kind']}'): main score '{metric}' is not computed from "
                       f"its samples (computed: {', '.join(tables)})")
    return Scorer([str(r["id"]) for r in rows], [str(r["group"]) for r in rows], metric, tables[metric])
