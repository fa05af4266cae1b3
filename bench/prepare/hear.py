"""Reader of HEAR 2021 preprocessed task folders (`hear-<task>`): `task_metadata.json`, one `<split>.json` label
file per split (file name -> list of labels, or of events `{label, start, end}` in milliseconds) and the audio in
`<sample rate>/<split>/`. HEAR's own splits and folds are kept (`split`: train/validation/test, or `fold`:
fold00, fold01, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.prepare.layout import Prepared, PrepareError, audio_file, layout_error

PREFERRED_RATE = "16000"


def _metadata(name: str, src: Path) -> tuple[Path, dict[str, Any]]:
    root = src if (src / "task_metadata.json").is_file() else None
    if root is None:
        below = sorted(src.glob("*/task_metadata.json"))
        wanted = name.removeprefix("hear-")
        matching = [p.parent for p in below if p.parent.name.startswith(wanted.split("-")[0])]
        root = matching[0] if len(matching) == 1 else below[0].parent if len(below) == 1 else None
    if root is None:
        raise layout_error(name, src / "task_metadata.json", "HEAR's task_metadata.json (pass the task's folder, e.g. "
                                                              "tasks/esc50-v2.0.0-full)")
    try:
        return root, json.loads((root / "task_metadata.json").read_text())
    except json.JSONDecodeError as err:
        raise PrepareError(f"{root / 'task_metadata.json'}: not valid JSON ({err})") from err


def _mode(root: Path, meta: dict[str, Any]) -> str:
    return str(meta.get("mode") or root.name.rsplit("-", 1)[-1])


def _audio_folder(name: str, root: Path) -> Path:
    rates = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not rates:
        raise layout_error(name, root / PREFERRED_RATE, "an audio folder named by its sample rate")
    return next((p for p in rates if p.name == PREFERRED_RATE), rates[0])


def _events(where: str, labels: list[Any]) -> list[list[Any]]:
    events = []
    for event in labels:
        if not isinstance(event, dict) or not {"label", "start", "end"} <= set(event):
            raise PrepareError(f"{where}: an event must be {{label, start, end}} (milliseconds), got {event!r}")
        events.append([float(event["start"]) / 1000.0, float(event["end"]) / 1000.0, str(event["label"])])
    return events


def prepare_hear(src: Path, name: str) -> Prepared:
    """Rows of one HEAR preprocessed task; `name` is hear-<task_name> or hear-<task_name>-<mode>."""
    root, meta = _metadata(name, src)
    task_name = str(meta.get("task_name", ""))
    wanted = name.removeprefix("hear-")
    if wanted not in (task_name, f"{task_name}-{_mode(root, meta)}"):
        raise PrepareError(f"{root / 'task_metadata.json'}: task_name is '{task_name}' (mode "
                           f"'{_mode(root, meta)}'), not '{wanted}'; prepare it as hear-{task_name} or "
                           f"hear-{task_name}-{_mode(root, meta)}")
    kfold = meta.get("split_mode") in ("new_split_kfold", "presplit_kfold")
    splits = [str(s) for s in meta.get("splits", [])] or ["train", "valid", "test"]
    audio_root = _audio_folder(name, root)
    event_task = meta.get("embedding_type") == "event"
    rows = []
    for split in splits:
        labels_path = root / f"{split}.json"
        if not labels_path.is_file():
            raise layout_error(name, labels_path, f"HEAR's label file for split '{split}'")
        for file_name, labels in sorted(json.loads(labels_path.read_text()).items()):
            where = f"{labels_path} ({file_name})"
            row: dict[str, Any] = {"id": f"{split}/{Path(file_name).stem}",
                                   "path": audio_file(name, audio_root / split / file_name, labels_path.name)}
            if kfold:
                row["fold"] = split
            else:
                row["split"] = {"valid": "validation"}.get(split, split)
            if event_task:
                row["events"] = _events(where, labels)
            elif meta.get("prediction_type") == "multilabel":
                row["label"] = [str(label) for label in labels]
            else:
                if len(labels) != 1:
                    raise PrepareError(f"{where}: a multiclass task needs one label per clip, got {labels!r}")
                row["label"] = str(labels[0])
            rows.append(row)
    notes = [f"HEAR task {task_name} ({_mode(root, meta)}), split_mode {meta.get('split_mode')}, audio from "
             f"{audio_root.name} Hz; HEAR's evaluation: {', '.join(map(str, meta.get('evaluation', [])))}",
             "k-fold: HEAR and bench rotate the same way (test = fold i, validation = fold i+1, train = the rest)"]
    return Prepared(rows, notes=notes)
