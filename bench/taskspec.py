"""Task specs: YAML files under `tasks/`, validated on load; a file holds one task, or one per entry of its
`tiers:` block (the shared fields once, each tier's differences merged over them).

A task says where its data is, what the labels are, how it is split, how audio is fed (channels, crop)
and which protocols score it. Errors name the file (and the tier) and the field. See `tasks/README.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.protocols.registry import PROTOCOLS, emits, higher_is_better, lower_is_better_metrics

DOMAINS = ("speech", "paralinguistic", "sound", "music", "spatial")
LABEL_KINDS = ("multiclass", "multilabel", "regression", "trials", "events", "segments", "captions", "transcripts")
# builtin: generated (bench.builtin); real: converted from installed packages (bench.real); prepared: converted by
# `bench data prepare` from a user's copy of a published dataset (bench.prepare). All three are found by name.
DATASET_SOURCES = ("builtin", "real", "prepared", "manifest", "folder", "hf_disk", "parquet")
NAMED_SOURCES = ("builtin", "real", "prepared")
CHANNEL_POLICIES = ("mix", "first", "each")
PROTOCOL_KINDS = tuple(PROTOCOLS)  # the registry (bench.protocols.registry) is the one list
POOLINGS = ("mean", "meanstd")

# Main score of each label kind when a protocol does not name one, and whether higher is better.
DEFAULT_MAIN_SCORE = {"multiclass": "accuracy", "multilabel": "map", "regression": "r2"}
# Metric names (and "prefix*" patterns) where lower is better, as the protocol registry declares them.
LOWER_IS_BETTER = lower_is_better_metrics()


class TaskSpecError(ValueError):
    """A task file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class DatasetSpec:
    source: str
    name: str = ""
    path: str = ""
    tier: str = "quick"
    audio_column: str = "path"
    id_column: str = "id"


@dataclass(frozen=True)
class SplitSpec:
    """Either fixed splits (train/validation/test values of `column`) or k folds rotated HEAR-style."""

    column: str
    train: str = "train"
    validation: str = "validation"
    test: str = "test"
    folds: tuple[str, ...] = ()

    @property
    def is_kfold(self) -> bool:
        return bool(self.folds)


@dataclass(frozen=True)
class ProtocolSpec:
    kind: str
    main_score: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.main_score)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: int
    domain: str
    description: str
    dataset: DatasetSpec
    label_kind: str
    label_column: str
    split: SplitSpec
    protocols: tuple[ProtocolSpec, ...]
    channels: str = "mix"
    max_seconds: float | None = None
    pooling: str = "mean"
    chance: float | None = None
    file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    group: str | None = None  # manifest column of each item's held-out unit (speaker, room ...); None: independent
    caveats: tuple[str, ...] = ()  # known weaknesses of the data (flagged in the leaderboard); not in spec_sha256


def _require(data: dict, key: str, where: str, kinds: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise TaskSpecError(f"{where}: missing required field '{key}'")
    value = data[key]
    if not isinstance(value, kinds):
        names = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
        raise TaskSpecError(f"{where}: field '{key}' must be {names}, got {type(value).__name__} ({value!r})")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise TaskSpecError(f"{where}: field '{key}' is {value!r}; expected one of {', '.join(allowed)}")
    return value


def _known_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TaskSpecError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def parse_task(data: Any, file: str, where: str | None = None) -> TaskSpec:
    """Validate a parsed YAML mapping into a TaskSpec from `file`; errors name `where` (default: the file)."""
    path, file = file, where or file
    if not isinstance(data, dict):
        raise TaskSpecError(f"{file}: a task file must be a mapping of fields, got {type(data).__name__}")
    _known_keys(data, {"name", "version", "domain", "description", "dataset", "label", "split", "protocols",
                       "audio", "chance", "extra", "group", "caveats"}, file)
    name = _require(data, "name", file, str)
    version = _require(data, "version", file, int)
    domain = _choice(_require(data, "domain", file, str), DOMAINS, file, "domain")

    ds = _require(data, "dataset", file, dict)
    _known_keys(ds, {"source", "name", "path", "tier", "audio_column", "id_column"}, f"{file}: dataset")
    source = _choice(_require(ds, "source", f"{file}: dataset", str), DATASET_SOURCES, f"{file}: dataset", "source")
    if source in NAMED_SOURCES and not ds.get("name"):
        raise TaskSpecError(f"{file}: dataset: a {source} dataset needs 'name' (e.g. 'keywords')")
    if source not in NAMED_SOURCES and not ds.get("path"):
        raise TaskSpecError(f"{file}: dataset: source '{source}' needs 'path' (absolute, or relative to the YAML file)")
    dataset = DatasetSpec(**{k: str(v) for k, v in ds.items()})

    label = _require(data, "label", file, dict)
    _known_keys(label, {"kind", "column"}, f"{file}: label")
    label_kind = _choice(_require(label, "kind", f"{file}: label", str), LABEL_KINDS, f"{file}: label", "kind")

    split_data = _require(data, "split", file, dict)
    _known_keys(split_data, {"column", "train", "validation", "test", "folds"}, f"{file}: split")
    folds = split_data.get("folds", ())
    if folds and (not isinstance(folds, list) or len(folds) < 3):
        raise TaskSpecError(f"{file}: split: 'folds' must list at least 3 fold values (test, validation, train rotate)")
    split = SplitSpec(
        column=str(split_data.get("column", "split")),
        train=str(split_data.get("train", "train")),
        validation=str(split_data.get("validation", "validation")),
        test=str(split_data.get("test", "test")),
        folds=tuple(str(f) for f in folds),
    )

    protocols = []
    for i, proto in enumerate(_require(data, "protocols", file, list)):
        where = f"{file}: protocols[{i}]"
        if isinstance(proto, str):
            proto = {"kind": proto}
        if not isinstance(proto, dict):
            raise TaskSpecError(f"{where}: must be a protocol name or a mapping with 'kind'")
        kind = _choice(_require(proto, "kind", where, str), PROTOCOL_KINDS, where, "kind")
        main = proto.get("main_score") or DEFAULT_MAIN_SCORE.get(label_kind)
        if not main:
            raise TaskSpecError(f"{where}: label kind '{label_kind}' has no default main score; set 'main_score'")
        if not emits(kind, str(main)):
            names = ", ".join(n for n in PROTOCOLS[kind].metrics if not n.endswith("*"))
            raise TaskSpecError(f"{where}: main_score '{main}' is not a metric of protocol '{kind}'; expected one of "
                                f"{names}")
        config = {k: v for k, v in proto.items() if k not in ("kind", "main_score")}
        protocols.append(ProtocolSpec(kind=kind, main_score=str(main), config=config))
    if not protocols:
        raise TaskSpecError(f"{file}: 'protocols' must list at least one protocol")

    audio = data.get("audio", {}) or {}
    if not isinstance(audio, dict):
        raise TaskSpecError(f"{file}: field 'audio' must be a mapping")
    _known_keys(audio, {"channels", "max_seconds", "pooling"}, f"{file}: audio")
    channels = _choice(audio.get("channels", "mix"), CHANNEL_POLICIES, f"{file}: audio", "channels")
    pooling = _choice(audio.get("pooling", "mean"), POOLINGS, f"{file}: audio", "pooling")
    max_seconds = audio.get("max_seconds")
    if max_seconds is not None and (not isinstance(max_seconds, (int, float)) or max_seconds <= 0):
        raise TaskSpecError(f"{file}: audio: 'max_seconds' must be a positive number or absent")
    group = data.get("group")
    if group is not None and (not isinstance(group, str) or not group.strip()):
        raise TaskSpecError(f"{file}: field 'group' must name a manifest column (e.g. speaker), got {group!r}")
    caveats = data.get("caveats") or []
    if not isinstance(caveats, list) or not all(isinstance(c, str) and c.strip() for c in caveats):
        raise TaskSpecError(f"{file}: field 'caveats' must be a list of short sentences, got {caveats!r}")
    chance = data.get("chance")
    if chance is not None and not isinstance(chance, (int, float)):
        raise TaskSpecError(f"{file}: field 'chance' must be a number")

    return TaskSpec(
        name=name, version=version, domain=domain, description=str(data.get("description", "")),
        dataset=dataset, label_kind=label_kind, label_column=str(label.get("column", "label")),
        split=split, protocols=tuple(protocols), channels=channels,
        max_seconds=float(max_seconds) if max_seconds is not None else None, pooling=pooling,
        chance=float(chance) if chance is not None else None, file=path, extra=dict(data.get("extra", {}) or {}),
        group=group, caveats=tuple(caveats),
    )


def merge_fields(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` merged in: mappings merge key by key, at any depth; anything else (a list, a
    number, a string, null) replaces the base value whole."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_fields(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_task_file(data: Any, file: str) -> list[TaskSpec]:
    """The tasks of a parsed task file: the file itself, or, when it has a `tiers:` block, one task per tier (the
    tier's fields merged over the file's other fields, see `merge_fields`); errors name the file and the tier."""
    if not isinstance(data, dict) or "tiers" not in data:
        return [parse_task(data, file)]
    tiers = data["tiers"]
    if not isinstance(tiers, dict) or not tiers:
        raise TaskSpecError(f"{file}: field 'tiers' must map each tier to the fields it sets, e.g. "
                            "{quick: {name: mine-quick/x, dataset: {tier: quick}}, full: {name: mine/x, ...}}")
    shared = {key: value for key, value in data.items() if key != "tiers"}
    tasks: list[TaskSpec] = []
    for tier, overrides in tiers.items():
        where = f"{file} [tier {tier}]"
        if not isinstance(overrides, dict) or "tiers" in overrides:
            raise TaskSpecError(f"{where}: a tier must be a mapping of the fields it sets (no nested 'tiers'), got "
                                f"{overrides!r}")
        task = parse_task(merge_fields(shared, overrides), file, where)
        if any(t.name == task.name for t in tasks):
            raise TaskSpecError(f"{where}: task name '{task.name}' is also the name of an earlier tier; give each "
                                "tier its own 'name'")
        tasks.append(task)
    return tasks


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise TaskSpecError(f"{path}: not valid YAML: {err}") from err


def load_tasks(path: str | Path) -> list[TaskSpec]:
    """Read and validate one task YAML: its task, or one task per entry of its `tiers:` block."""
    return parse_task_file(_read_yaml(Path(path)), str(path))


def load_task_file(path: str | Path, tier: str | None = None) -> TaskSpec:
    """Read and validate one task of a task YAML: the file's only task, or the task of its tier `tier`."""
    data = _read_yaml(Path(path))
    if tier is not None:
        tiers = data.get("tiers") if isinstance(data, dict) else None
        if not isinstance(tiers, dict) or tier not in tiers:
            known = ", ".join(map(str, tiers)) if isinstance(tiers, dict) else "none, no 'tiers' block"
            raise TaskSpecError(f"{path}: no tier '{tier}' (its tiers: {known})")
        data = {**data, "tiers": {tier: tiers[tier]}}
    tasks = parse_task_file(data, str(path))
    if len(tasks) > 1:
        raise TaskSpecError(f"{path}: holds one task per tier ({', '.join(t.name for t in tasks)}); name the tier")
    return tasks[0]


def spec_sha256(task: TaskSpec) -> str:
    """sha256 of the whole resolved task spec (every field, defaults filled in by parsing), except its file path.

    Protocol configs count as written: their defaults live in the protocol code, which `code_sha256` covers.
    `caveats` are documentation about the data and change no number, so they are left out.
    """
    import dataclasses
    import hashlib
    import json

    fields = dataclasses.asdict(task)
    del fields["file"], fields["caveats"]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=repr).encode()).hexdigest()
