"""Reader of X-ARES's webdataset shards (`xares-<task>`): tar files whose members are `<key>.<audio suffix>` and
`<key>.json` (the labels; for the frame-level tasks DESED and MAESTRO a list of events, written as bench's `events`
column). Shards are named `<split>*.tar` (fixed splits) or with a fold number (`wds-audio-fold-3-
000000.tar`, `gtzan_fold_3_0000000.tar`, `libricount_fold03.tar`); the audio is extracted (a tar member cannot be
referenced in place). Split names and label keys per task follow X-ARES src/tasks/<task>_task.py."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import AUDIO_SUFFIXES
from bench.prepare.layout import Prepared, PrepareError, layout_error


@dataclass(frozen=True)
class XaresTask:
    """One X-ARES task's shard names and label key."""

    zenodo_id: str  # the Zenodo record holding the task's shards
    label_key: str  # the JSON key holding the label ("" for frame tasks, whose JSON is the list of events)
    splits: tuple[str, str, str] = ()  # tar name prefixes of train, valid, test; empty: k-fold by the name's number
    separator: str = ""  # multi-label tasks (and DESED's events): the labels are one string joined by this
    event_keys: tuple[str, str, str] = ()  # frame tasks: the JSON lists events with these onset, offset, label keys


XARES_TASKS: dict[str, XaresTask] = {
    "asvspoof2015": XaresTask("14718430", "binary_spoof", ("asvspoof_train", "asvspoof_valid", "asvspoof_eval")),
    "desed": XaresTask("14808180", "", ("wds-audio-train", "wds-audio-eval", "wds-audio-eval"), ",",
                       ("onset", "offset", "label")),
    "cremad": XaresTask("14646870", "label", ("wds-audio-train", "wds-audio-valid", "wds-audio-test")),
    "esc50": XaresTask("14614287", "label"),
    "fluentspeechcommands": XaresTask("14722453", "transcription", (
        "fluentspeechcommands_train", "fluentspeechcommands_valid", "fluentspeechcommands_test")),
    "freemusicarchive": XaresTask("14725056", "genre", ("fma_small_train", "fma_small_valid", "fma_small_test")),
    "fsd50k": XaresTask("14868441", "soundevent", ("fsd50k_train", "fsd50k_validation", "fsd50k_eval"), ";"),
    "fsdkaggle2018": XaresTask("14725117", "sound", ("fsd18_train", "fsd18_test", "fsd18_test")),
    "gtzan_genre": XaresTask("14722472", "genre"),
    "libricount": XaresTask("14722478", "num_speakers"),
    "librispeechmalefemale": XaresTask("14716252", "gender", ("train-clean-100", "dev-clean", "test-clean")),
    "maestro": XaresTask("14858022", "", ("maestro_train", "maestro_valid", "maestro_test"), "",
                         ("start", "end", "note")),
    "nsynthinstument": XaresTask("14725174", "instrument_family_str", ("nsynth_train", "nsynth_valid", "nsynth_test")),
    "ravdess": XaresTask("14722524", "emotion"),
    "speechcommandsv1": XaresTask("14722647", "labels", ("wds-audio-train", "wds-audio-valid", "wds-audio-test")),
    "urbansound8k": XaresTask("14722683", "soundevent"),
    "vocalimitations": XaresTask("14862060", "imitation"),
    "vocalsound": XaresTask("14722710", "label", ("wds-audio-train", "wds-audio-valid", "wds-audio-test")),
    "voxceleb1": XaresTask("14811963", "speakerid", ("voxceleb1_train", "voxceleb1_valid", "voxceleb1_test")),
    "voxlingua33": XaresTask("14812245", "labels", ("train_subset", "dev", "dev")),
}
FOLD_NUMBER = re.compile(r"fold[-_]?0*(\d+)")
HELD_OUT_PERCENT = 10  # tasks validating on their test shards: this share of train becomes bench's validation


def _shard_split(task: XaresTask, tar: Path) -> tuple[str, str] | None:
    """(column, value) of a shard: ("fold", "3") or ("split", "train"); None when the shard is not one of them."""
    if not task.splits:
        match = FOLD_NUMBER.search(tar.name)
        return ("fold", match.group(1)) if match else None
    roles = [("test", task.splits[2]), ("validation", task.splits[1]), ("train", task.splits[0])]
    matches = [(len(prefix), role == "test", role) for role, prefix in roles if tar.name.startswith(prefix)]
    return ("split", max(matches)[2]) if matches else None


def _held_out(key: str) -> bool:
    """Whether a train clip goes to bench's validation split (a stable hash of its key)."""
    import hashlib

    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 100 < HELD_OUT_PERCENT


def _label(where: str, meta: dict[str, Any], key: str, separator: str) -> Any:
    if key not in meta:
        raise PrepareError(f"{where}: no '{key}' in the label JSON (has {', '.join(sorted(meta))}); X-ARES reads "
                           f"this key for the task")
    value = meta[key]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in str(value).split(separator) if v] if separator else str(value)


def _events(where: str, meta: Any, task: XaresTask) -> tuple[list[list[Any]], int]:
    """bench's `[onset_s, offset_s, label]` events from a frame task's label JSON (a list of event objects, as
    X-ARES's label processors in src/tasks/{desed,maestro}_task.py read it), and how many zero-length events were
    dropped. A DESED label joining several classes with ',' gives one event per class."""
    onset_key, offset_key, label_key = task.event_keys
    if not isinstance(meta, list):
        raise PrepareError(f"{where}: expected a list of events {{{onset_key}, {offset_key}, {label_key}}} (X-ARES's "
                           f"label JSON for this task), got {type(meta).__name__}")
    events, dropped = [], 0
    for event in meta:
        if not isinstance(event, dict) or not {onset_key, offset_key, label_key} <= set(event):
            raise PrepareError(f"{where}: an event must have keys {onset_key}, {offset_key}, {label_key}; "
                               f"got {event!r}")
        onset, offset = float(event[onset_key]), float(event[offset_key])
        if not offset > onset >= 0:
            dropped += 1
            continue
        raw = str(event[label_key])
        for label in (raw.split(task.separator) if task.separator else [raw]):
            if label.strip():
                events.append([onset, offset, label.strip()])
    return events, dropped


def prepare_xares(src: Path, name: str) -> Prepared:
    """Rows of one X-ARES task's shards, audio extracted into the prepared folder's `audio/`."""
    task_name = name.removeprefix("xares-")
    if task_name not in XARES_TASKS:
        raise PrepareError(f"{name}: unknown X-ARES task '{task_name}'; known: {', '.join(sorted(XARES_TASKS))}")
    task = XARES_TASKS[task_name]
    tars = sorted(src.glob("*.tar")) or sorted(src.glob("*/*.tar"))
    if not tars:
        raise layout_error(name, src / "*.tar", "X-ARES webdataset shards")
    rows, extract = [], []
    dropped = 0
    shared_split_shard = bool(task.splits) and task.splits[1] == task.splits[2]
    for tar_path in tars:
        split = _shard_split(task, tar_path)
        if split is None:
            continue
        column, value = split
        with tarfile.open(tar_path) as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            for member_name in sorted(members):
                key, _, suffix = member_name.rpartition(".")
                if f".{suffix.lower()}" not in AUDIO_SUFFIXES:
                    continue
                label_file = tar.extractfile(members.get(f"{key}.json")) if f"{key}.json" in members else None
                if label_file is None:
                    raise PrepareError(f"{tar_path}: audio member '{member_name}' has no '{key}.json' label member")
                meta = json.loads(label_file.read())
                rel = f"audio/{value}/{key}.{suffix}"
                extract.append((tar_path, member_name, rel))
                held_out = shared_split_shard and value == "train" and _held_out(key)
                row = {"id": f"{value}/{key}", "path": rel, column: "validation" if held_out else value}
                where = f"{tar_path} ({key}.json)"
                if task.event_keys:
                    row["events"], n = _events(where, meta, task)
                    dropped += n
                else:
                    row["label"] = _label(where, meta, task.label_key, task.separator)
                rows.append(row)
    if not rows:
        raise layout_error(name, src / "*.tar", f"shards named as X-ARES names them for {task_name}")
    if task.event_keys:
        notes = [f"X-ARES task {task_name}: each label JSON is a list of events "
                 f"{{{', '.join(task.event_keys)}}}, written as `events` [onset_s, offset_s, label]; splits as X-ARES "
                 f"names its shards"]
        if dropped:
            notes.append(f"{dropped} event(s) with offset <= onset dropped (they cover no frame)")
    else:
        notes = [f"X-ARES task {task_name}: label key '{task.label_key}'; splits as X-ARES names its shards"]
    if shared_split_shard:
        notes.append(f"X-ARES validates on its test shards for this task; bench never selects on test, so "
                     f"{HELD_OUT_PERCENT}% of the train clips (a stable hash of the key) form bench's validation split")
    if not task.splits:
        notes.append("k-fold: bench validates on fold i+1, X-ARES on the test fold itself")
    return Prepared(rows, extract=extract, notes=notes)
