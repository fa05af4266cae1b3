"""Shared pieces of the preparers: what a preparer returns, the error for a layout that is not the published one,
and readers of the files the publishers ship (CSV, list files, audio trees)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import AUDIO_SUFFIXES, DatasetError


class PrepareError(DatasetError):
    """A dataset folder that is not laid out as its publisher ships it; the message names the file expected and
    where the dataset is published."""


@dataclass
class Prepared:
    """What a preparer found: manifest rows (absolute audio paths), optional trials, and card notes."""

    rows: list[dict[str, Any]]
    trials: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # dataset-specific facts for the card (splits, what is left out)
    # members to extract into the prepared folder (X-ARES shards): (tar file, member name, relative destination)
    extract: list[tuple[Path, str, str]] = field(default_factory=list)


def layout_error(name: str, expected: Path | str, what: str) -> PrepareError:
    """The error for a missing file or folder of dataset `name`: what was expected, where, and where to get it."""
    from bench.prepare.registry import dataset_info

    info = dataset_info(name)
    return PrepareError(f"{name}: expected {what} at '{expected}', not found; pass --from the folder of the extracted "
                        f"archive (the one holding it). The dataset is published at {info.published_at}")


def find_root(name: str, src: Path, marker: str, what: str) -> Path:
    """`src` or the one sub-folder of it (an archive extracted into a folder of its own) that holds `marker`."""
    if (src / marker).exists():
        return src
    below = sorted(p.parent.parent if "/" in marker else p.parent for p in src.glob(f"*/{marker}"))
    if len(below) == 1:
        return below[0]
    raise layout_error(name, src / marker, what)


def read_csv(name: str, path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a publisher's CSV, checked for the columns the preparer reads."""
    if not path.is_file():
        raise layout_error(name, path, f"the CSV file {path.name}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            found = ", ".join(reader.fieldnames or [])
            raise PrepareError(f"{path}: missing column(s) {', '.join(missing)} (has {found}); is this the file "
                               f"{name} ships?")
        return list(reader)


def audio_file(name: str, path: Path, listed_in: str) -> str:
    """The absolute path of an audio file a publisher's metadata names, which must exist."""
    if not path.is_file():
        raise PrepareError(f"{name}: {listed_in} names '{path}', which does not exist; the archive looks incomplete "
                           f"(re-extract it) or --from points at the wrong folder")
    return str(path.resolve())


def audio_files(folder: Path) -> list[Path]:
    """Audio files below `folder`, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
