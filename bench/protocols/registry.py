"""The one protocol registry: each protocol's kind, implementation, config schema and metrics with their direction.

Everything else derives from it: `bench.taskspec` (the protocol kinds a task may name, which scores are
lower-is-better), the runner (which function to call, the hash of its code), the leaderboard and `bench compare`
(the direction of every metric), and task validation (unknown config keys, wrong types, values outside choices).

Importing this module is light: implementations, defaults and choices are named as "module:attribute" and imported
only when asked for (protocol modules import numpy, never torch, at import time).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.protocols.base import ProtocolInput, ProtocolResult
    from bench.taskspec import ProtocolSpec, TaskSpec

# Label kinds scored by the pooled-embedding probes (bench.metrics.METRICS).
_POOLED_LABELS = ("multiclass", "multilabel", "regression")
_POOLED_METRICS = {"accuracy": True, "macro_f1": True, "map": True, "mae": False, "r2": True}
_GENERATIVE_METRICS = {"accuracy": True, "unparseable_rate": False, "wer": False, "cer": False, "bleu": True,
                       "semantic_sim": True}
_RETRIEVAL_METRICS = {f"{d}_{m}": m != "medr" for d in ("a2t", "t2a")
                      for m in ("r@1", "r@5", "r@10", "map@10", "medr")}


@dataclass(frozen=True)
class ProtocolInfo:
    """One protocol.

    target: "module:function" implementing it.
    tables: "module:function" scoring its per-item sample rows (bench.scoring.tables_for; it lives with the
        protocol, so that the protocol's code hash covers it).
    defaults: its config defaults: a dict, a "module:CONSTANT" naming one, or a tuple of such names merged in order.
    metrics: metric name -> higher is better; a name ending in "*" stands for every metric with that prefix
        (e.g. "min_dcf_*": one metric per configured prior).
    choices: config key -> allowed values (a tuple, or "module:CONSTANT" naming a tuple or a dict of them).
    types: config key -> expected type where the default does not tell it: "int", "number", "str", "bool",
        "list", "list[number]", "list[str]", each optionally followed by "|None".
    label_kinds: the task label kinds it scores (empty: any).
    ranges: config key -> allowed range of its value(s), which also fixes its type: ">0" (positive), ">=0"
        (non-negative), "[0,1)", or "text" (a non-empty string); every element of a list, which may not be empty.
        A None value passes when the key's type allows None.
    per_layer: under `--layer all` it runs once per layer and the headline layer is chosen on validation
        (bench.layers); the others run on the last layer.
    """

    kind: str
    target: str
    tables: str
    defaults: dict[str, Any] | str | tuple[str, ...]
    metrics: dict[str, bool]
    choices: dict[str, tuple | str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    label_kinds: tuple[str, ...] = ()
    ranges: dict[str, str] = field(default_factory=dict)
    per_layer: bool = False


_DIARIZATION_CHOICES = {"centre": ("train", "none")}
_PROBE_RANGES = {"lrs": ">0", "weight_decay": ">=0", "batch_size": ">0", "max_epochs": ">0", "patience": ">0",
                 "n_boot": ">0"}
_MLP_RANGES = {**_PROBE_RANGES, "hidden": ">0", "dropout": "[0,1)"}
_CONTRASTIVE_RANGES = {**_PROBE_RANGES, "temperature": ">0"}
_GENERATIVE_RANGES = {
    **{key: ">0" for key in ("token_rate_hz", "lr", "batch_size", "eval_batch_size", "lora_r", "lora_alpha",
                             "n_boot", "steps", "eval_every", "patience", "n_seeds", "max_new_tokens")},
    "text_only_shots": ">=0", "llm": "text", "prompt": "text",
}
_ENCODER_TEXT_TYPES = {"class_column": "str|None"}

PROTOCOLS: dict[str, ProtocolInfo] = {info.kind: info for info in (
    ProtocolInfo("linear", "bench.protocols.probe:run_linear",
                 "bench.protocols.pooled:sample_tables", "bench.protocols.probe:LINEAR_DEFAULTS",
                 _POOLED_METRICS, label_kinds=_POOLED_LABELS, ranges=_PROBE_RANGES, per_layer=True),
    ProtocolInfo("mlp", "bench.protocols.probe:run_mlp",
                 "bench.protocols.pooled:sample_tables", "bench.protocols.probe:MLP_DEFAULTS",
                 _POOLED_METRICS, label_kinds=_POOLED_LABELS, ranges=_MLP_RANGES, per_layer=True),
    ProtocolInfo("knn", "bench.protocols.knn:run_knn",
                 "bench.protocols.pooled:sample_tables", "bench.protocols.knn:KNN_DEFAULTS",
                 _POOLED_METRICS, label_kinds=_POOLED_LABELS,
                 ranges={"k": ">0", "temperature": ">0", "n_boot": ">0"}, per_layer=True),
    ProtocolInfo("verification", "bench.protocols.verification:run_verification",
                 "bench.protocols.verification:sample_tables",
                 "bench.protocols.verification:DEFAULTS",
                 {"eer": False, "min_dcf_0.01": False, "min_dcf_0.05": False, "min_dcf_*": False},
                 choices={"score_norm": "bench.protocols.verification:SCORE_NORMS"},
                 types={"cohort_top_k": "int|None"}, per_layer=True),
    ProtocolInfo("diarization", "bench.protocols.diarization:run_diarization",
                 "bench.protocols.diarization:diarization_tables",
                 "bench.protocols.diarization:DIARIZATION_DEFAULTS",
                 {"der": False, "jer": False, "speaker_confusion": False, "der_oracle": False, "jer_oracle": False,
                  "speaker_confusion_oracle": False, "count_accuracy": True, "count_mae": False},
                 choices=_DIARIZATION_CHOICES, label_kinds=("segments",)),
    ProtocolInfo("counting", "bench.protocols.diarization:run_counting",
                 "bench.protocols.diarization:counting_tables",
                 "bench.protocols.diarization:COUNTING_DEFAULTS", {"accuracy": True, "mae": False},
                 choices=_DIARIZATION_CHOICES, label_kinds=("multiclass", "regression")),
    ProtocolInfo("qbe", "bench.protocols.qbe:run_qbe",
                 "bench.protocols.qbe:sample_tables", "bench.protocols.qbe:DEFAULTS",
                 {"accuracy": True, "accuracy_dtw": True},
                 choices={"pooled_match": "bench.protocols.qbe:POOLED_MATCHES"},
                 types={"templates_per_class": "int|None"}, label_kinds=("multiclass",)),
    ProtocolInfo("zeroshot", "bench.protocols.zeroshot:run_zeroshot",
                 "bench.protocols.zeroshot:sample_tables", "bench.protocols.zeroshot:DEFAULTS",
                 {"accuracy": True, "accuracy_heldout": True, "accuracy_all": True},
                 choices={"text_side": "bench.protocols.contrastive:TEXT_SIDES"},
                 types={**_ENCODER_TEXT_TYPES, "text_column": "str|None", "heldout_classes": "list|None"},
                 ranges=_CONTRASTIVE_RANGES),
    ProtocolInfo("retrieval", "bench.protocols.retrieval:run_retrieval",
                 "bench.protocols.retrieval:sample_tables", "bench.protocols.retrieval:DEFAULTS",
                 {**_RETRIEVAL_METRICS, "a2a_map@10": True, "a2a_r@1": True},
                 choices={"text_side": "bench.protocols.contrastive:TEXT_SIDES", "backend": "bench.search:BACKENDS"},
                 types=_ENCODER_TEXT_TYPES, label_kinds=("captions",), ranges=_CONTRASTIVE_RANGES),
    ProtocolInfo("events", "bench.protocols.events:run_events",
                 "bench.protocols.events:sample_tables", "bench.protocols.events:DEFAULTS",
                 {"onset_f1": True, "onset_precision": True, "onset_recall": True, "segment_f1": True},
                 types={"classes": "list|None"}, label_kinds=("events",), ranges=_PROBE_RANGES),
    ProtocolInfo("generative", "bench.protocols.generative:run_generative",
                 "bench.protocols.generative:sample_tables",
                 ("bench.protocols.generative:NUMERIC_DEFAULTS", "bench.protocols.generative:OTHER_DEFAULTS"),
                 {**_GENERATIVE_METRICS, **{f"text_only_{m}": up for m, up in _GENERATIVE_METRICS.items()}},
                 choices={"tier": "bench.protocols.generative:TIERS", "projector": ("mlp", "linear")},
                 types={"prompt": "str|None", "max_new_tokens": "int|None", "text_only": "str|None"},
                 label_kinds=("multiclass", "transcripts", "captions"), ranges=_GENERATIVE_RANGES),
    ProtocolInfo("ctc", "bench.protocols.ctc:run_ctc",
                 "bench.protocols.ctc_text:sample_tables", "bench.protocols.ctc:DEFAULTS",
                 {"cer": False, "wer": False, "per": False},
                 choices={"targets": "bench.protocols.ctc_text:TARGETS", "head": "bench.protocols.ctc:HEADS"},
                 label_kinds=("transcripts",),
                 ranges={**_PROBE_RANGES, "hidden": ">0", "kernel": ">0", "output_hop_ms": ">0"}),
)}


def _resolve(target: str) -> Any:
    """The attribute named by "module:attribute"."""
    import importlib

    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def sample_scorer(kind: str) -> Callable[[list[dict], str, dict], dict]:
    """The function that turns a protocol kind's sample rows into metric tables (see bench.scoring)."""
    return _resolve(PROTOCOLS[kind].tables)


def protocol_function(kind: str) -> Callable[[ProtocolInput, ProtocolSpec], ProtocolResult] | None:
    """The implementation of a protocol kind, or None when the kind is not registered."""
    info = PROTOCOLS.get(kind)
    return None if info is None else _resolve(info.target)


def protocol_defaults(kind: str) -> dict[str, Any]:
    """The config defaults of a protocol kind (its module's constants, imported now)."""
    defaults = PROTOCOLS[kind].defaults
    if isinstance(defaults, dict):
        return dict(defaults)
    names = (defaults,) if isinstance(defaults, str) else defaults
    return {key: value for name in names for key, value in _resolve(name).items()}


def protocol_choices(kind: str) -> dict[str, tuple]:
    """Config key -> allowed values of a protocol kind."""
    return {key: tuple(_resolve(allowed) if isinstance(allowed, str) else allowed)
            for key, allowed in PROTOCOLS[kind].choices.items()}


@functools.cache
def _directions() -> tuple[dict[str, bool], dict[str, bool]]:
    """(exact metric name -> higher is better, prefix -> higher is better) over all protocols."""
    exact: dict[str, bool] = {}
    prefixes: dict[str, bool] = {}
    for info in PROTOCOLS.values():
        for name, up in info.metrics.items():
            table, key = (prefixes, name[:-1]) if name.endswith("*") else (exact, name)
            if table.get(key, up) != up:
                raise AssertionError(f"metric '{name}' is declared both higher- and lower-is-better")
            table[key] = up
    return exact, prefixes


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better; KeyError naming the metric when no protocol emits it."""
    exact, prefixes = _directions()
    if metric in exact:
        return exact[metric]
    for prefix, up in prefixes.items():
        if metric.startswith(prefix):
            return up
    raise KeyError(f"unknown metric '{metric}': no protocol in bench.protocols.registry emits it "
                   f"(known: {', '.join(sorted(exact))})")


def lower_is_better_metrics() -> frozenset[str]:
    """Every declared metric name (and "prefix*" pattern) where lower is better."""
    return frozenset(name for info in PROTOCOLS.values() for name, up in info.metrics.items() if not up)


def emits(kind: str, metric: str) -> bool:
    """Whether protocol `kind` can emit `metric`."""
    names = PROTOCOLS[kind].metrics
    return metric in names or any(n.endswith("*") and metric.startswith(n[:-1]) for n in names)


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, list),
}
_TYPE_NAMES = {"bool": "true or false", "int": "an integer", "number": "a number", "str": "a string",
               "list": "a list", "list[number]": "a list of numbers", "list[str]": "a list of strings"}


def _type_of(default: Any) -> str:
    """The type a config value must have, judged from its default."""
    if isinstance(default, list):
        inner = {_type_of(v) for v in default}
        inner = {"number" if t == "int" else t for t in inner}
        return f"list[{inner.pop()}]" if len(inner) == 1 and inner <= {"number", "str"} else "list"
    for name in ("bool", "int", "str"):
        if _TYPE_CHECKS[name](default):
            return name
    return "number" if isinstance(default, float) else "any"


def _type_ok(value: Any, expected: str) -> bool:
    if expected.endswith("|None"):
        return value is None or _type_ok(value, expected[:-5])
    if expected.startswith("list["):
        return isinstance(value, list) and all(_TYPE_CHECKS[expected[5:-1]](v) for v in value)
    return expected == "any" or _TYPE_CHECKS[expected](value)


def _type_name(expected: str) -> str:
    if expected.endswith("|None"):
        return f"{_TYPE_NAMES[expected[:-5]]} or null"
    return _TYPE_NAMES.get(expected, expected)


_RANGE_CHECKS: dict[str, Callable[[Any], bool]] = {
    ">0": lambda v: v > 0, ">=0": lambda v: v >= 0, "[0,1)": lambda v: 0 <= v < 1,
}
_RANGE_NAMES = {">0": "positive", ">=0": "non-negative", "[0,1)": "in [0, 1)"}


def _range_problem(value: Any, expected: str, rule: str) -> str | None:
    """Why `value` breaks the range `rule` (see ProtocolInfo.ranges) of a key of type `expected`, or None."""
    if value is None and expected.endswith("|None"):
        return None
    if rule == "text":
        return None if isinstance(value, str) and value.strip() else "a non-empty string"
    integer = expected.removesuffix("|None") == "int"
    kind = "integer" if integer else "number"
    name = _RANGE_NAMES[rule]
    want = (f"a non-empty list of {name} numbers" if expected.startswith("list")
            else f"a {kind} {name}" if rule == "[0,1)" else f"a {name} {kind}")
    numbers = value if expected.startswith("list") and isinstance(value, list) else [value]
    ok = (isinstance(value, list) == expected.startswith("list")) and len(numbers) > 0 and all(
        isinstance(v, int if integer else (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        and _RANGE_CHECKS[rule](v) for v in numbers)
    return None if ok else want


def resolve_protocol_config(task: TaskSpec, spec: ProtocolSpec) -> dict[str, Any]:
    """The one config resolver: the task's protocol config over the protocol's defaults, checked against its schema
    (types, choices, ranges). Every protocol calls it (the runner and `bench.validate` too, before any encoder loads).

    Raises ValueError naming the task file, the protocol and the key: an unknown protocol, an unknown key, a value
    of the wrong type, outside the allowed choices or out of range, or a main score the protocol does not emit.
    """
    where = f"{task.file}: protocol '{spec.kind}'"
    if spec.kind not in PROTOCOLS:
        raise ValueError(f"{where}: unknown protocol; expected one of {', '.join(PROTOCOLS)}")
    info = PROTOCOLS[spec.kind]
    defaults = protocol_defaults(spec.kind)
    unknown = sorted(set(spec.config) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(defaults))}")
    config = {**defaults, **spec.config}
    for key in spec.config:
        expected = info.types.get(key) or _type_of(defaults[key])
        if key in info.ranges:
            problem = _range_problem(config[key], expected, info.ranges[key])
            if problem:
                raise ValueError(f"{where}: config '{key}' must be {problem}, got {config[key]!r}")
        elif not _type_ok(config[key], expected):
            raise ValueError(f"{where}: config '{key}' must be {_type_name(expected)}, got "
                             f"{type(config[key]).__name__} ({config[key]!r})")
    for key, allowed in protocol_choices(spec.kind).items():
        if config[key] not in allowed:
            raise ValueError(f"{where}: config '{key}' is {config[key]!r}; expected one of "
                             f"{', '.join(map(str, allowed))}")
    if not emits(spec.kind, spec.main_score):
        raise ValueError(f"{where}: main_score '{spec.main_score}' is not a metric of this protocol; expected one "
                         f"of {', '.join(n for n in info.metrics if not n.endswith('*'))}")
    return config


def validate_protocol_config(task: TaskSpec, spec: ProtocolSpec) -> None:
    """Raise ValueError (naming the task file, protocol and key) when `spec`'s config does not fit its schema."""
    resolve_protocol_config(task, spec)


def _module_source(name: str) -> str | None:
    """Source text of module `name`, or None when it is not a Python module (e.g. `bench.x.function`)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return Path(spec.origin).read_text() if spec and spec.origin and spec.origin.endswith(".py") else None


def _bench_imports(nodes: list) -> list[str]:
    """Modules of `bench` that `nodes` (AST statements) import at run time, as candidates: for `from bench.x import
    name`, `bench.x.name` when that is a module, else `bench.x`. Imports under `if TYPE_CHECKING:` are left out
    (annotations only: they run no code)."""
    import ast

    found: list[str] = []
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "bench":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append(sub if _module_source(sub) is not None else node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.split(".")[0] == "bench")
        todo.extend(ast.iter_child_nodes(node))
    return found


def _registry_part(kind: str, source: str) -> tuple[str, list[str]]:
    """What of this module a protocol's numbers depend on: its functions and classes (config resolution) and the
    protocol's own entry, not the other protocols' entries (so adding or changing one protocol leaves the others'
    hashes alone); with the modules those import."""
    import ast

    tree = ast.parse(source)
    code = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    text = "\n".join(ast.get_source_segment(source, n) or "" for n in code) + "\n" + repr(PROTOCOLS[kind])
    return text, _bench_imports(code)


def protocol_modules(kind: str) -> dict[str, str]:
    """{module name: source} of the code that makes a protocol's numbers: its module, its sample scorer's module,
    `bench.layers` for a per-layer protocol (the layer choice under `--layer all`), and every `bench` module they
    import at run time,
    transitively (`if TYPE_CHECKING:` imports left out). This module counts only by its functions and the
    protocol's own entry (see `_registry_part`)."""
    import ast

    info = PROTOCOLS[kind]
    todo = [info.target.split(":")[0], info.tables.split(":")[0]] + (["bench.layers"] if info.per_layer else [])
    modules: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        source = _module_source(name)
        if source is None:
            continue
        if name == __name__:
            modules[name], imported = _registry_part(kind, source)
        else:
            modules[name], imported = source, _bench_imports(ast.parse(source).body)
        todo.extend(imported)
    return modules


@functools.cache
def protocol_code_sha256(kind: str) -> str:
    """sha256 over `protocol_modules(kind)`: stored in each result, so that a result made by other protocol code
    is recomputed, not reused. Memoised: computed once per process, when `bench.run` imports the protocols."""
    import hashlib

    digest = hashlib.sha256()
    for name, source in sorted(protocol_modules(kind).items()):
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()
