"""`bench compare BASELINE CANDIDATE`: paired bootstrap of main-score differences between two results folders.

For every encoder x task that both folders hold (or, when each folder holds one encoder under different names,
every task both hold), each protocol's main score is recomputed from the per-item samples of both results on the
same resampled test items: groups (the task's held-out unit, e.g. speaker) are drawn with replacement and every
item of a drawn group is scored, in baseline and candidate alike. The difference candidate - baseline is signed
so that positive means better (lower-is-better metrics such as EER flip), and its 95% percentile interval decides
the verdict: `regression` when the whole interval lies below -tolerance, `improvement` when it lies above
+tolerance, `no change` otherwise. The tolerance is at least RESOLUTION, half a unit of the third decimal that
scores are reported and reproduced to: a probe retrained on other CPU kernels or by equivalent code moves an R² by
1e-6, and a tight interval around such a drift is not a regression. Tasks whose tested items differ are refused
(named), never compared.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.results import record_label

REGRESSION, IMPROVEMENT, NO_CHANGE = "regression", "improvement", "no change"
RESOLUTION = 5e-4  # the smallest difference a verdict acts on: scores are reported to three decimals


class NotComparable(ValueError):
    """Two results that cannot be compared item by item (different test items, missing samples, failed runs)."""


@dataclass
class Comparison:
    """One protocol's main score in both runs, their signed difference and the verdict."""

    encoder: str
    task: str
    protocol: str
    primary: bool
    metric: str
    higher_is_better: bool
    baseline: float
    candidate: float
    delta: float
    ci95: tuple[float, float]
    verdict: str
    n_items: int
    n_groups: int


def _records(folder: Path) -> dict[tuple[str, str], tuple[dict[str, Any], Path]]:
    from bench.results import load_results

    out: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
    for record in load_results(folder):
        key = (record_label(record), record["task"]["name"])
        if key in out:
            raise NotComparable(f"{folder}: encoder '{key[0]}' has two results for task '{key[1]}' "
                                f"({out[key][1]} and {record['_file']}); keep one")
        out[key] = (record, Path(record["_file"]))
    return out


def pair_results(baseline: Path, candidate: Path) -> list[tuple[tuple[dict, Path], tuple[dict, Path]]]:
    """Pairs (baseline, candidate) of results: same encoder and task, or same task when each folder holds a
    single encoder under different names (comparing a new version of an encoder with its old results)."""
    base, cand = _records(Path(baseline)), _records(Path(candidate))
    if not base or not cand:
        empty = baseline if not base else candidate
        raise NotComparable(f"{empty}: no result records found (run `bench run --out {empty} ...` first)")
    shared = sorted(set(base) & set(cand))
    if not shared:
        base_encoders, cand_encoders = {e for e, _ in base}, {e for e, _ in cand}
        if len(base_encoders) == 1 and len(cand_encoders) == 1:
            by_task = {t: v for (_, t), v in cand.items()}
            return [(v, by_task[t]) for (_, t), v in sorted(base.items()) if t in by_task]
        raise NotComparable(f"no encoder x task is in both {baseline} ({', '.join(sorted(base_encoders))}) and "
                            f"{candidate} ({', '.join(sorted(cand_encoders))})")
    return [(base[k], cand[k]) for k in shared]


def _protocol_label(proto: dict[str, Any]) -> str:
    from bench.leaderboard import protocol_label

    return protocol_label(proto)


def _scorers(record: dict[str, Any], path: Path) -> dict[str, Any]:
    from bench.rescore import scorer
    from bench.samples import read_samples, samples_path

    if record.get("status", "ok") != "ok":
        raise NotComparable(f"{path}: the run failed ({record.get('error', 'no scores')}); re-run it")
    sidecar = samples_path(path)
    if not sidecar.exists():
        raise NotComparable(f"{path}: no per-item samples ({sidecar.name}); re-run the task with this bench "
                            f"version (`bench run ... --force`) to compare it")
    samples = read_samples(sidecar)
    return {_protocol_label(p): (i, p, scorer(record, i, samples)) for i, p in enumerate(record["protocols"])}


def paired_bootstrap(base, cand, sign: float, n_boot: int = 1000, seed: int = 0,
                     alpha: float = 0.05) -> tuple[float, tuple[float, float], int, int]:
    """Signed difference sign * (candidate - baseline) of two scorers over the same items, and its percentile CI
    from resampling the baseline's groups; returns (delta, ci, n_items, n_groups). Raises NotComparable when the
    scorers' items differ."""
    import numpy as np

    if sorted(base.item_ids) != sorted(cand.item_ids):
        only_base = sorted(set(base.item_ids) - set(cand.item_ids))
        only_cand = sorted(set(cand.item_ids) - set(base.item_ids))
        raise NotComparable(f"the tested items differ ({len(only_base)} only in the baseline, e.g. "
                            f"{only_base[:3]}; {len(only_cand)} only in the candidate, e.g. {only_cand[:3]})")
    position = {item: i for i, item in enumerate(cand.item_ids)}
    to_cand = np.array([position[item] for item in base.item_ids])
    all_items = np.arange(len(base.item_ids))
    delta = sign * (cand.main(to_cand[all_items]) - base.main(all_items))
    groups: dict[str, list[int]] = {}
    for index, group in enumerate(base.groups):
        groups.setdefault(str(group), []).append(index)
    members = [np.array(m) for m in groups.values()]
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[g] for g in drawn])
        deltas.append(sign * (cand.main(to_cand[idx]) - base.main(idx)))
    deltas = np.asarray(deltas, dtype=np.float64)
    deltas = deltas[np.isfinite(deltas)]
    if not len(deltas):
        return float(delta), (float("nan"), float("nan")), len(all_items), len(members)
    lo, hi = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return float(delta), (float(lo), float(hi)), len(all_items), len(members)


def verdict(ci: tuple[float, float], tolerance: float) -> str:
    """`regression` when the signed difference's interval lies below -tolerance, `improvement` above +tolerance;
    a tolerance below RESOLUTION counts as RESOLUTION."""
    lo, hi = ci
    tolerance = max(tolerance, RESOLUTION)
    if hi < -tolerance:
        return REGRESSION
    if lo > tolerance:
        return IMPROVEMENT
    return NO_CHANGE


def compare(baseline: str | Path, candidate: str | Path, tolerance: float = 0.0, n_boot: int = 1000,
            seed: int = 0) -> tuple[list[Comparison], list[str]]:
    """Compare every protocol of every encoder x task both folders hold; returns (comparisons, refusals), where a
    refusal is a one-line reason naming the task that could not be compared."""
    comparisons, refused = [], []
    for (base_record, base_path), (cand_record, cand_path) in pair_results(Path(baseline), Path(candidate)):
        task, encoder = base_record["task"]["name"], record_label(cand_record)
        try:
            if base_record["task"].get("version") != cand_record["task"].get("version"):
                raise NotComparable(f"task versions differ (v{base_record['task'].get('version')} vs "
                                    f"v{cand_record['task'].get('version')})")
            base_scorers, cand_scorers = _scorers(base_record, base_path), _scorers(cand_record, cand_path)
            for label, (index, proto, base_scorer) in base_scorers.items():
                if label not in cand_scorers:
                    continue
                main = proto["main_score"]
                sign = 1.0 if main["higher_is_better"] else -1.0
                delta, ci, n_items, n_groups = paired_bootstrap(base_scorer, cand_scorers[label][2], sign,
                                                                n_boot=n_boot, seed=seed)
                comparisons.append(Comparison(
                    encoder=encoder, task=task, protocol=label, primary=index == 0, metric=main["name"],
                    higher_is_better=bool(main["higher_is_better"]), baseline=float(main["value"]),
                    candidate=float(cand_scorers[label][1]["main_score"]["value"]), delta=delta, ci95=ci,
                    verdict=verdict(ci, tolerance), n_items=n_items, n_groups=n_groups))
        except NotComparable as err:
            refused.append(f"{encoder} on {task}: {err}")
    return comparisons, refused


def regressions(comparisons: list[Comparison]) -> list[Comparison]:
    """The primary protocols' regressions: what makes `bench compare` exit 1."""
    return [c for c in comparisons if c.primary and c.verdict == REGRESSION]


def to_markdown(comparisons: list[Comparison], refused: list[str], tolerance: float) -> str:
    """A table for a pull-request comment: one row per encoder x task x protocol."""
    from bench.leaderboard import markdown_escape

    n_bad = len(regressions(comparisons))
    lines = [f"**bench compare**: {n_bad} regression(s) among primary scores (tolerance {tolerance:g}); "
             f"signed delta > 0 means the candidate is better; 95% paired bootstrap CI over shared test items.", "",
             "| encoder | task | protocol: metric | baseline | candidate | signed delta [95% CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        arrow = "↑" if c.higher_is_better else "↓"
        mark = "" if c.primary else " (secondary)"
        lines.append(f"| {markdown_escape(c.encoder)} | {markdown_escape(c.task)} | "
                     f"{markdown_escape(c.protocol)}: {c.metric} {arrow}{mark} | {c.baseline:.4f} | "
                     f"{c.candidate:.4f} | {c.delta:+.4f} [{c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}] | "
                     f"{'**' + c.verdict + '**' if c.verdict == REGRESSION else c.verdict} |")
    if refused:
        lines += ["", "Not compared:"] + [f"- {markdown_escape(r)}" for r in refused]
    return "\n".join(lines) + "\n"


def to_json(comparisons: list[Comparison], refused: list[str], tolerance: float) -> str:
    """Machine-readable form of the comparison."""
    return json.dumps({"tolerance": tolerance, "regressions": len(regressions(comparisons)),
                       "comparisons": [asdict(c) for c in comparisons], "refused": refused}, indent=1)
