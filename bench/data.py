"""The data layer: turn a task's dataset source into items (dicts) with audio references and content hashes.

Sources: built-in generated folders, local manifests (JSONL/CSV/parquet: a folder holding `manifest.*`, or the
file itself), class-per-folder audio trees, Hugging Face `datasets` saved to disk, and parquet. Audio columns may
hold paths or `{bytes, path}` records; they are decoded later with soundfile (never through `datasets.Audio`, which
needs torchcodec). Every item gets `_audio` (a Path or bytes) and `_hash` (sha256 of the audio bytes), which
address the embedding cache; the dataset fingerprint hashes ids, audio hashes and labels.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.taskspec import NAMED_SOURCES, TaskSpec

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


class DatasetError(ValueError):
    """A dataset that cannot be read; the message names the file, the row and the field."""


@dataclass
class Dataset:
    """Items of one task's dataset, with its folder and content fingerprint."""

    root: Path
    items: list[dict[str, Any]]
    fingerprint: str


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MANIFEST_SUFFIXES = (".jsonl", ".csv", ".parquet")
CLASS_LABEL_KINDS = ("multiclass", "multilabel", "regression")

Row = tuple[str, dict[str, Any]]  # (where: "file:line" or "file (row n)", the row's fields)


def _manifest_file(path: Path) -> Path:
    """The manifest itself when `path` is a file, else `manifest.jsonl|csv|parquet` inside the folder `path`."""
    if path.is_file():
        if path.suffix.lower() not in MANIFEST_SUFFIXES:
            raise DatasetError(f"{path}: a manifest file must end in {', '.join(MANIFEST_SUFFIXES)} "
                               f"(field dataset.path); or point dataset.path at its folder")
        return path
    for suffix in MANIFEST_SUFFIXES:
        if (path / f"manifest{suffix}").is_file():
            return path / f"manifest{suffix}"
    raise DatasetError(f"{path}: no manifest.jsonl, manifest.csv or manifest.parquet (see tasks/README.md for the "
                       f"format), and dataset.path is not a manifest file")


def _read_manifest(path: Path) -> list[Row]:
    """Rows of a JSONL (file:line), CSV (file:row, a UTF-8 BOM is dropped) or parquet manifest."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        for line_no, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{line_no}: not valid JSON ({err})") from err
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{line_no}: a manifest line must be a JSON object "
                                   f'({{"id": ..., "path": ...}}), got {type(row).__name__}')
            rows.append((f"{path}:{line_no}", row))
        return rows
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            return [(f"{path}:{reader.line_num}", dict(row)) for row in reader]
    return [(f"{path} (row {i})", row) for i, row in enumerate(_read_table(path, "parquet"))]


def _read_folder(root: Path) -> list[Row]:
    """`root/<split>/<label>/*.wav` -> rows with split and label."""
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        rel = path.relative_to(root)
        if len(rel.parts) != 3:
            raise DatasetError(f"{path}: a folder dataset expects <split>/<label>/<file>, got '{rel.as_posix()}'")
        split, label, _ = rel.parts
        rows.append((str(path), {"id": rel.with_suffix("").as_posix(), "path": rel.as_posix(), "split": split,
                                 "label": label}))
    if not rows:
        raise DatasetError(f"{root}: no audio files found under <split>/<label>/")
    return rows


def _read_table(path: Path, source: str) -> list[dict[str, Any]]:
    if source == "hf_disk":
        import datasets

        table = datasets.load_from_disk(str(path))
        if isinstance(table, datasets.DatasetDict):
            rows = []
            for split_name, part in table.items():
                rows.extend({"split": split_name, **row} for row in part)
            return rows
        return list(table)
    import pandas as pd

    return pd.read_parquet(path).to_dict(orient="records")


def _resolve_root(task: TaskSpec, seed: int, progress: bool) -> Path:
    ds = task.dataset
    if ds.source == "builtin":
        from bench.builtin import ensure_builtin

        return ensure_builtin(ds.name, ds.tier, seed=seed, progress=progress)
    if ds.source == "real":
        from bench.real import ensure_real

        return ensure_real(ds.name, progress=progress)
    if ds.source == "prepared":
        from bench.prepare import prepared_root

        return prepared_root(ds.name)
    path = Path(ds.path).expanduser()
    if not path.is_absolute() and task.file:
        path = Path(task.file).parent / path
    if not path.exists():
        raise DatasetError(f"{task.file}: dataset path '{path}' does not exist (field dataset.path)")
    return path


def _builtin_hashes(root: Path) -> dict[str, str]:
    sums = root / "checksums.sha256"
    if not sums.exists():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        digest, _, rel = line.partition("  ")
        out[rel] = digest
    return out


def _is_empty(value: Any) -> bool:
    """None, a blank string or NaN (a missing cell in parquet)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, float) and value != value)


def _item_id(where: str, row: dict[str, Any], task: TaskSpec) -> str:
    id_column = task.dataset.id_column
    if _is_empty(row.get(id_column)):
        raise DatasetError(f"{where}: no '{id_column}' value; every row needs a unique id in the column that "
                           f"dataset.id_column names (default 'id'); add it, or set dataset.id_column in {task.file}")
    return str(row[id_column])


def _check_label(where: str, row: dict[str, Any], task: TaskSpec) -> None:
    """A classification or regression label cell must not be empty (it would become a class named '')."""
    if task.label_kind in CLASS_LABEL_KINDS and task.label_column in row and _is_empty(row[task.label_column]):
        raise DatasetError(f"{where}: empty label in column '{task.label_column}' (task field label.column); "
                           f"fill it in or drop the row")


def _audio_file(where: str, value: Any, root: Path, column: str) -> Path:
    """The regular audio file a row's path cell names (relative paths resolve against `root`)."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise DatasetError(f"{where}: empty or non-text audio path {value!r} in field '{column}' "
                           f"(task field dataset.audio_column); give the audio file's path")
    path = Path(str(value))
    full = path if path.is_absolute() else root / path
    if not full.exists():
        raise DatasetError(f"{where}: audio file '{full}' does not exist (field '{column}')")
    if not full.is_file():  # a folder, FIFO or device: reading it would fail or hang
        raise DatasetError(f"{where}: audio path '{full}' is not a regular file (field '{column}'); "
                           f"point it at an audio file")
    return full


def _attach_audio(rows: list[Row], root: Path, task: TaskSpec, known_hashes: dict[str, str]) -> list[dict[str, Any]]:
    column = task.dataset.audio_column
    seen: dict[str, str] = {}
    items = []
    for where, row in rows:
        item_id = _item_id(where, row, task)
        row["id"] = item_id
        where = f"{where} (item '{item_id}')"
        if item_id in seen:
            raise DatasetError(f"{where}: duplicate id (also at {seen[item_id]}); ids must be unique within a dataset")
        seen[item_id] = where
        _check_label(where, row, task)
        if column not in row or row[column] is None:
            raise DatasetError(f"{where}: missing audio field '{column}' (task field dataset.audio_column)")
        value = row[column]
        if isinstance(value, dict):  # Hugging Face audio record {bytes, path}
            value = value.get("bytes") or value.get("path")
        if isinstance(value, (bytes, bytearray)):
            row["_audio"], row["_hash"] = bytes(value), _sha256_bytes(bytes(value))
            row[column] = f"<{len(value)} bytes>"
        else:
            full = _audio_file(where, value, root, column)
            row["_audio"] = full
            row["_hash"] = known_hashes.get(Path(str(value)).as_posix()) or _sha256_bytes(full.read_bytes())
        items.append(row)
    return items


def fingerprint(items: list[dict[str, Any]]) -> str:
    """Content hash of a dataset: ids, audio hashes and every metadata field (order-independent)."""
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda row: row["id"]):
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        digest.update(json.dumps([item["_hash"], public], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def load_dataset(task: TaskSpec, seed: int = 0, progress: bool = True) -> Dataset:
    """Read the items of a task's dataset (generating a built-in one first if needed).

    `dataset.path` may be a folder holding `manifest.jsonl|csv|parquet` or the manifest file itself; relative audio
    paths resolve against the manifest's folder. Every row needs an id; an empty label cell raises.
    """
    path = _resolve_root(task, seed, progress)
    source = task.dataset.source
    if source in ("builtin", "real", "prepared", "manifest"):
        manifest = _manifest_file(path)
        rows, root = _read_manifest(manifest), manifest.parent
    elif source == "folder":
        rows, root = _read_folder(path), path
    else:
        rows = [(f"{path} (row {i})", row) for i, row in enumerate(_read_table(path, source))]
        root = path if path.is_dir() else path.parent
    if not rows:
        raise DatasetError(f"{path}: the dataset has no rows")
    items = _attach_audio(rows, root, task, _builtin_hashes(root) if source in NAMED_SOURCES else {})
    return Dataset(root=root, items=items, fingerprint=fingerprint(items))
