"""Speaker (or any identity) verification: cosine scoring of trial pairs, EER and minimum DCF.

Trials come from `<dataset>/trials.jsonl`, one `{"enroll": id, "test": id, "target": 0|1, "split": ...}` per line;
`split` is the task's validation or test split value. Scores are cosines of pooled embeddings, optionally after
normalisation with the train split as cohort:
- `mean`: subtract the train mean from every embedding before the cosine;
- `snorm`: symmetric score normalisation, 0.5·((s-μe)/σe + (s-μt)/σt), the statistics taken over the cosines of
  each side with the cohort (the `cohort_top_k` highest of them when set: adaptive s-norm).
EER and minDCF are threshold-free, so nothing is chosen on test; the validation EER is reported under `selected`.
Intervals resample test trials, or, when the task declares a `group`, the groups of the trials' enroll items.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result
from bench.protocols.features import unit
from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

DEFAULTS: dict[str, Any] = {
    "score_norm": "none",  # none | mean | snorm
    "cohort_top_k": None,  # s-norm: statistics over the top-k cohort cosines (None: the whole cohort)
    "p_targets": [0.01, 0.05],  # one min_dcf_<p> metric per prior; C_miss = C_fa = 1, normalised
    "n_boot": 1000,  # bootstrap resamples of the test trials
}
SCORE_NORMS = ("none", "mean", "snorm")


def _error_rates(targets: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every distinct threshold, from accept-nothing to accept-everything.

    NaN rates when the trials lack targets or non-targets (a bootstrap resample may).
    """
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], targets[order].astype(np.float64)
    n_target, n_nontarget = t.sum(), len(t) - t.sum()
    if n_target == 0 or n_nontarget == 0:
        return np.full(1, np.nan), np.full(1, np.nan)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    accepted_targets = np.r_[0.0, np.cumsum(t)[last_of_tie]]
    accepted_nontargets = np.r_[0.0, np.cumsum(1.0 - t)[last_of_tie]]
    return 1.0 - accepted_targets / n_target, accepted_nontargets / n_nontarget


def eer(targets: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where the linearly interpolated ROC crosses miss rate = false-alarm rate."""
    p_miss, p_fa = _error_rates(np.asarray(targets), np.asarray(scores, dtype=np.float64))
    if np.isnan(p_miss[0]):
        return float("nan")
    i = int(np.argmax(p_miss <= p_fa))  # first operating point past the crossing (exists: the last has p_fa = 1)
    if i == 0:
        return 0.0
    d_miss, d_fa = p_miss[i] - p_miss[i - 1], p_fa[i] - p_fa[i - 1]
    # Solve p_miss[i-1] + a·d_miss = p_fa[i-1] + a·d_fa for a in [0, 1].
    a = (p_miss[i - 1] - p_fa[i - 1]) / (d_fa - d_miss)
    return float(p_fa[i - 1] + a * d_fa)


def min_dcf(targets: np.ndarray, scores: np.ndarray, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """Minimum over thresholds of the detection cost, normalised by the cost of the best fixed decision."""
    p_miss, p_fa = _error_rates(np.asarray(targets), np.asarray(scores, dtype=np.float64))
    cost = c_miss * p_target * p_miss + c_fa * (1.0 - p_target) * p_fa
    return float(cost.min() / min(c_miss * p_target, c_fa * (1.0 - p_target)))


def read_trials(inp: ProtocolInput) -> list[dict[str, Any]]:
    """The rows of trials.jsonl, checked: ids known, target 0/1, split present."""
    path = inp.dataset_dir / "trials.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the verification protocol needs a trials file "
                                f"(one {{\"enroll\", \"test\", \"target\", \"split\"}} per line)")
    known = {item_id(inp.task, item, i) for i, item in enumerate(inp.items)}
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        for key in ("enroll", "test", "target", "split"):
            if key not in row:
                raise ValueError(f"{path}:{n}: trial has no '{key}' field")
        if row["target"] not in (0, 1, True, False):
            raise ValueError(f"{path}:{n}: 'target' must be 0 or 1, got {row['target']!r}")
        for key in ("enroll", "test"):
            if str(row[key]) not in known:
                raise ValueError(f"{path}:{n}: {key} id '{row[key]}' is not an item of the task's manifest")
        rows.append(row)
    return rows


def _cohort_stats(emb: np.ndarray, cohort: np.ndarray, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    sims = emb @ cohort.T
    if top_k is not None:
        sims = -np.sort(-sims, axis=1)[:, :top_k]
    return sims.mean(1), np.maximum(sims.std(1), 1e-12)


def score_trials(embeddings: np.ndarray, enroll: np.ndarray, test: np.ndarray, cohort: np.ndarray | None,
                 score_norm: str, cohort_top_k: int | None = None) -> np.ndarray:
    """Cosine scores of trial pairs (rows of `embeddings`), normalised as `score_norm` says (cohort: train rows)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    if score_norm != "none" and (cohort is None or len(cohort) == 0):
        raise ValueError(f"score_norm '{score_norm}' needs train-split embeddings as cohort, and there are none")
    if score_norm == "mean":
        emb = emb - np.asarray(cohort, dtype=np.float64).mean(0)
    emb = unit(emb)
    scores = (emb[enroll] * emb[test]).sum(1)
    if score_norm == "snorm":
        mu, sd = _cohort_stats(emb, unit(np.asarray(cohort, dtype=np.float64)), cohort_top_k)
        scores = 0.5 * ((scores - mu[enroll]) / sd[enroll] + (scores - mu[test]) / sd[test])
    return scores


def run_verification(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """EER and minDCF of cosine-scored trials (see the module docstring); a sample row per test trial."""
    from bench.protocols.registry import resolve_protocol_config
    from bench.scoring import sample_fields

    cfg = resolve_protocol_config(inp.task, spec)
    trials = read_trials(inp)
    index = {item_id(inp.task, item, i): i for i, item in enumerate(inp.items)}
    split_col = inp.task.split.column
    cohort = np.array([i for i, item in enumerate(inp.items) if str(item.get(split_col)) == inp.task.split.train],
                      dtype=np.int64)

    def scored(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rows = [r for r in trials if str(r["split"]) == split]
        enroll = np.array([index[str(r["enroll"])] for r in rows], dtype=np.int64)
        test = np.array([index[str(r["test"])] for r in rows], dtype=np.int64)
        targets = np.array([int(r["target"]) for r in rows], dtype=np.int64)
        scores = score_trials(inp.pooled, enroll, test, inp.pooled[cohort], cfg["score_norm"], cfg["cohort_top_k"])
        return targets, scores, enroll, test

    y_test, s_test, enroll, test = scored(inp.task.split.test)
    n_target = int(y_test.sum())
    if n_target == 0 or n_target == len(y_test):
        raise ValueError(f"{inp.dataset_dir / 'trials.jsonl'}: the '{inp.task.split.test}' trials need both target "
                         f"and non-target pairs; found {n_target} target of {len(y_test)}")
    rows = []
    for e, t, target, score in zip(enroll.tolist(), test.tolist(), y_test.tolist(), s_test.tolist()):
        first, second = sample_fields(inp.task, inp.items, e), sample_fields(inp.task, inp.items, t)
        rows.append({"id": f"{first['id']}|{second['id']}", "split": inp.task.split.test, "group": first["group"],
                     "label": target, "pred": [score]})
    y_val, s_val, _, _ = scored(inp.task.split.validation)
    selected = {"validation_eer": eer(y_val, s_val)} if len(y_val) else {}
    return scored_result(spec, inp, rows, cfg, inp.seeds[:1],
                         n_samples={"test_trials": len(y_test), "test_target_trials": n_target,
                                    "validation_trials": len(y_val), "cohort": len(cohort)},
                         selected=selected)


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """eer and min_dcf at each configured prior over the test trials' scores (rows: see bench.scoring)."""
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    y, scores = [r["label"] for r in rows], per_seed_values(rows)
    out = {"eer": metric_table(eer, y, scores, idx)}
    for p in config["p_targets"]:
        out[f"min_dcf_{p:g}"] = metric_table(lambda t, s, p=p: min_dcf(t, s, p), y, scores, idx)
    return out
