"""What every protocol receives and returns.

A protocol is a pure function `run(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult`: it reads cached
embeddings (never the encoder), the task's items and labels, and a list of seeds. Nothing may be selected on the
test split: hyper-parameters, thresholds, layers and post-processing are chosen on validation (or, for k-fold
tasks, on the fold after the test fold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from bench.taskspec import ProtocolSpec, TaskSpec


@dataclass
class ProtocolInput:
    """Everything a protocol may look at.

    items: manifest rows (dicts with at least `id`, the split column and the label column), in cache order.
    pooled: [N, D] float32 pooled embeddings aligned with `items` (pooling as the task says).
    frames: item index -> [T, D] float32 frames of that clip (read lazily from the cache).
    hop_ms: the encoder's frame period, for frame-level protocols.
    dataset_dir: the dataset folder (trials.jsonl, RTTM files ...).
    seeds: the seeds to run; results report their mean and a bootstrap CI.
    encode_text: the encoder's text tower when it has one (list[str] -> [N, D]), else None.
    """

    task: TaskSpec
    items: list[dict[str, Any]]
    pooled: np.ndarray
    frames: Callable[[int], np.ndarray]
    hop_ms: float
    dataset_dir: Path
    seeds: list[int]
    encode_text: Callable[[list[str]], np.ndarray] | None = None


@dataclass
class ProtocolResult:
    """Scores of one protocol on one task (see the result schema in README.md)."""

    kind: str
    config: dict[str, Any]
    seeds: list[int]
    per_seed: list[dict[str, float]]
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    main_score: dict[str, Any]
    n_samples: dict[str, int] = field(default_factory=dict)
    selected: dict[str, Any] = field(default_factory=dict)
    seed_sd: dict[str, float | None] = field(default_factory=dict)  # spread over seeds, beside the item interval
    interval: dict[str, Any] = field(default_factory=dict)  # how ci95 was made (bench.scoring.score_samples)
    samples: list[dict[str, Any]] = field(default_factory=list)  # per test item rows (bench.scoring); not in JSON

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without `samples`: the runner writes them to the samples sidecar)."""
        return {
            "kind": self.kind, "config": self.config, "seeds": self.seeds, "per_seed": self.per_seed,
            "metrics": self.metrics, "ci95": self.ci95, "seed_sd": self.seed_sd, "interval": self.interval,
            "main_score": self.main_score, "n_samples": self.n_samples, "selected": self.selected,
        }


def scored_result(spec: ProtocolSpec, inp: ProtocolInput, rows: list[dict[str, Any]], config: dict[str, Any],
                  seeds: list[int], **extra: Any) -> ProtocolResult:
    """A ProtocolResult whose scores, intervals and seed spread come from its sample rows (bench.scoring), exactly
    as `bench.rescore` recomputes them; `extra`: n_samples, selected. Bootstrap seed: the first of `seeds`."""
    from bench.scoring import canonical, score_samples

    rows = canonical(rows)
    summary = score_samples(spec.kind, rows, inp.task.label_kind, config, group_column=getattr(inp.task, "group", None),
                            n_boot=config["n_boot"], seed=seeds[0])
    return ProtocolResult(kind=spec.kind, config=config, seeds=list(seeds), per_seed=summary.per_seed,
                          metrics=summary.metrics, ci95=summary.ci95,
                          main_score=main_score_entry(spec, summary.metrics, summary.ci95), seed_sd=summary.seed_sd,
                          interval=summary.interval, samples=rows, **extra)


def main_score_entry(spec: ProtocolSpec, metrics: dict[str, float], ci95: dict[str, list[float]]) -> dict[str, Any]:
    """The `main_score` block of a result: name, value, CI and direction."""
    if spec.main_score not in metrics:
        raise KeyError(f"protocol '{spec.kind}' computed {sorted(metrics)} but the task's main score is "
                       f"'{spec.main_score}'")
    return {"name": spec.main_score, "value": metrics[spec.main_score], "ci95": ci95.get(spec.main_score),
            "higher_is_better": spec.higher_is_better}


def single_threaded(fn: Callable) -> Callable:
    """Run `fn` with one torch/BLAS thread: protocols train small models, and interleaved torch and numpy thread
    pools slow such loops down by orders of magnitude on a busy CPU."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper
