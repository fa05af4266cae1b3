"""The data layer: turn a task's dataset source into items (dicts) with audio references and content hashes.

Sources: built-in generated folders, local manifests (JSONL/CSV), class-per-folder audio trees, Hugging Face
`datasets` saved to disk, and parquet. Audio columns may hold paths or `{bytes, path}` records; they are decoded
later with soundfile (never through `datasets.Audio`, which needs torchcodec). Every item gets `_audio` (a Path
or bytes) and `_hash` (sha256 of the audio bytes), which address the embedding cache; the dataset fingerprint
hashes ids, audio hashes and labels.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.taskspec import TaskSpec

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


def _read_manifest(root: Path) -> list[dict[str, Any]]:
    jsonl, csv_path = root / "manifest.jsonl", root / "manifest.csv"
    if jsonl.exists():
        rows = []
        for line_no, line in enumerate(jsonl.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DatasetError(f"{jsonl}:{line_no}: not valid JSON ({err})") from err
        return rows
    if csv_path.exists():
        with csv_path.open(newline="") as handle:
            return [dict(row) for row in csv.DictReader(handle)]
    raise DatasetError(f"{root}: no manifest.jsonl or manifest.csv (see tasks/README.md for the format)")


def _read_folder(root: Path) -> list[dict[str, Any]]:
    """`root/<split>/<label>/*.wav` -> rows with split and label."""
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        rel = path.relative_to(root)
        if len(rel.parts) != 3:
            raise DatasetError(f"{path}: a folder dataset expects <split>/<label>/<file>, got '{rel.as_posix()}'")
        split, label, _ = rel.parts
        rows.append({"id": rel.with_suffix("").as_posix(), "path": rel.as_posix(), "split": split, "label": label})
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


def _attach_audio(rows: list[dict[str, Any]], root: Path, task: TaskSpec, known_hashes: dict[str, str]) -> None:
    column, id_column = task.dataset.audio_column, task.dataset.id_column
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if id_column not in row:
            row[id_column] = str(index)
        item_id = str(row[id_column])
        row["id"] = item_id
        where = f"{root} (item '{item_id}')"
        if item_id in seen:
            raise DatasetError(f"{where}: duplicate id; ids must be unique within a dataset")
        seen.add(item_id)
        if column not in row or row[column] is None:
            raise DatasetError(f"{where}: missing audio field '{column}' (task field dataset.audio_column)")
        value = row[column]
        if isinstance(value, dict):  # Hugging Face audio record {bytes, path}
            value = value.get("bytes") or value.get("path")
        if isinstance(value, (bytes, bytearray)):
            row["_audio"], row["_hash"] = bytes(value), _sha256_bytes(bytes(value))
            row[column] = f"<{len(value)} bytes>"
            continue
        path = Path(str(value))
        full = path if path.is_absolute() else root / path
        if not full.exists():
            raise DatasetError(f"{where}: audio file '{full}' does not exist (field '{column}')")
        rel = path.as_posix()
        row["_audio"] = full
        row["_hash"] = known_hashes.get(rel) or _sha256_bytes(full.read_bytes())


def fingerprint(items: list[dict[str, Any]]) -> str:
    """Content hash of a dataset: ids, audio hashes and every metadata field (order-independent)."""
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda row: row["id"]):
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        digest.update(json.dumps([item["_hash"], public], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def load_dataset(task: TaskSpec, seed: int = 0, progress: bool = True) -> Dataset:
    """Read the items of a task's dataset (generating a built-in one first if needed)."""
    root = _resolve_root(task, seed, progress)
    source = task.dataset.source
    if source in ("builtin", "manifest"):
        rows = _read_manifest(root)
    elif source == "folder":
        rows = _read_folder(root)
    else:
        rows = _read_table(root, source)
        root = root if root.is_dir() else root.parent
    if not rows:
        raise DatasetError(f"{root}: the dataset has no rows")
    _attach_audio(rows, root, task, _builtin_hashes(root) if source == "builtin" else {})
    return Dataset(root=root, items=rows, fingerprint=fingerprint(rows))
