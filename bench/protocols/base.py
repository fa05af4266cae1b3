"""What every protocol receives and returns.

A protocol is a pure function `run(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult`: it reads cached
embeddings (never the encoder), the task's items and labels, and a list of seeds. Nothing may be selected on the
test split: hyper-parameters, thresholds, layers and post-processing are chosen on validation (or, for k-fold
tasks, on the fold after the test fold).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

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

    task: "TaskSpec"
    items: list[dict[str, Any]]
    pooled: "np.ndarray"
    frames: Callable[[int], "np.ndarray"]
    hop_ms: float
    dataset_dir: Path
    seeds: list[int]
    encode_text: Callable[[list[str]], "np.ndarray"] | None = None


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind, "config": self.config, "seeds": self.seeds, "per_seed": self.per_seed,
            "metrics": self.metrics, "ci95": self.ci95, "main_score": self.main_score,
            "n_samples": self.n_samples, "selected": self.selected,
        }


def main_score_entry(spec: "ProtocolSpec", metrics: dict[str, float], ci95: dict[str, list[float]]) -> dict[str, Any]:
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


def effective_config(task: "TaskSpec", spec: "ProtocolSpec", defaults: dict[str, Any],
                     choices: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The task's protocol config over `defaults`; unknown keys, or values outside `choices`, raise naming the file."""
    where = f"{task.file}: protocol '{spec.kind}'"
    unknown = sorted(set(spec.config) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(defaults))}")
    config = {**defaults, **spec.config}
    for key, allowed in (choices or {}).items():
        if config[key] not in allowed:
            raise ValueError(f"{where}: config '{key}' is {config[key]!r}; expected one of {', '.join(allowed)}")
    return config


# kind -> "module:function"; kinds listed in bench.taskspec.PROTOCOL_KINDS but absent here are pending.
PROTOCOLS: dict[str, str] = {
    "linear": "bench.protocols.probe:run_linear",
    "mlp": "bench.protocols.probe:run_mlp",
    "knn": "bench.protocols.knn:run_knn",
    "verification": "bench.protocols.verification:run_verification",
    "diarization": "bench.protocols.diarization:run_diarization",
    "counting": "bench.protocols.diarization:run_counting",
    "qbe": "bench.protocols.qbe:run_qbe",
    "zeroshot": "bench.protocols.zeroshot:run_zeroshot",
    "retrieval": "bench.protocols.retrieval:run_retrieval",
    "events": "bench.protocols.events:run_events",
    "generative": "bench.protocols.generative:run_generative",
}


def protocol_function(kind: str) -> Callable[[ProtocolInput, "ProtocolSpec"], ProtocolResult] | None:
    """The implementation of a protocol kind, or None when that protocol has not landed yet."""
    import importlib

    target = PROTOCOLS.get(kind)
    if target is None:
        return None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _module_source(name: str) -> str | None:
    """Source text of module `name`, or None when it is not a Python module (e.g. `bench.x.function`)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return Path(spec.origin).read_text() if spec and spec.origin and spec.origin.endswith(".py") else None


def protocol_modules(kind: str) -> dict[str, str]:
    """{module name: source} of a protocol's module and every `bench` module it imports, transitively.

    `from bench.x import name` counts module `bench.x`, or `bench.x.name` when that is a module itself.
    """
    import re

    pattern = re.compile(r"^\s*(?:from\s+(bench(?:\.\w+)*)\s+import\s+([\w, ]+)|import\s+(bench(?:\.\w+)+))", re.M)
    todo, modules = [PROTOCOLS[kind].split(":")[0]], {}
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        source = _module_source(name)
        if source is None:
            continue
        modules[name] = source
        for package, names, module in pattern.findall(source):
            if module:
                todo.append(module)
                continue
            for imported in (n.split(" as ")[0].strip() for n in names.split(",")):
                submodule = f"{package}.{imported}"
                todo.append(submodule if _module_source(submodule) is not None else package)
    return modules


@functools.lru_cache(maxsize=None)
def protocol_code_sha256(kind: str) -> str:
    """sha256 over `protocol_modules(kind)`: stored in each result, so that a result made by other protocol code
    is recomputed, not reused. Memoised: computed once per process, when `bench.run` imports the protocols."""
    import hashlib

    digest = hashlib.sha256()
    for name, source in sorted(protocol_modules(kind).items()):
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()
