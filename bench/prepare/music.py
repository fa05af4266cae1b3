"""Preparers of music datasets: GTZAN, NSynth, FMA small."""

from __future__ import annotations

import json
from pathlib import Path

from bench.prepare.layout import Prepared, PrepareError, audio_file, layout_error

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


def prepare_gtzan(src: Path) -> Prepared:
    """GTZAN (`genres/<genre>/<genre>.000NN.au` in the original archive, `.wav` in converted copies; the Kaggle
    copy names the folder `genres_original`)."""
    candidates = [src / "genres", src / "genres_original", src / "Data" / "genres_original", src]
    root = next((c for c in candidates if (c / "blues").is_dir()), None)
    if root is None:
        raise layout_error("gtzan", src / "genres" / "blues", "the genre folders genres/<genre>/")
    rows = []
    for genre in GTZAN_GENRES:
        for path in sorted(p for p in (root / genre).glob(f"{genre}.*") if p.suffix.lower() in (".wav", ".au")):
            number = int(path.stem.split(".")[1])
            rows.append({"id": path.stem, "path": str(path.resolve()), "label": genre,
                         "fold": str(number // 10 + 1)})
    return Prepared(rows, notes=["GTZAN has no official split; `fold` (1-10) is bench's: clips 00-09 of every genre "
                                 "in fold 1, 10-19 in fold 2, ... (neighbouring numbers often share an artist, so "
                                 "blocks leak less than random folds, but artists still repeat across folds)",
                                 "the Kaggle copy's jazz.00054.wav is known to be unreadable: run with "
                                 "--on-bad-audio skip, or drop it"])


NSYNTH_SPLITS = {"nsynth-train": "train", "nsynth-valid": "validation", "nsynth-test": "test"}


def prepare_nsynth(src: Path) -> Prepared:
    """NSynth (`nsynth-{train,valid,test}/examples.json`, `audio/<note_str>.wav`)."""
    rows = []
    for folder, split in NSYNTH_SPLITS.items():
        meta = src / folder / "examples.json"
        if not meta.is_file():
            continue
        try:
            examples = json.loads(meta.read_text())
        except json.JSONDecodeError as err:
            raise PrepareError(f"{meta}: not valid JSON ({err}); re-extract the archive") from err
        for key, ex in sorted(examples.items()):
            rows.append({"id": key, "split": split,
                         "path": audio_file("nsynth", src / folder / "audio" / f"{key}.wav", f"{folder}/examples.json"),
                         "label": ex["instrument_family_str"], "pitch": int(ex["pitch"]),
                         "velocity": int(ex["velocity"]), "instrument": ex["instrument_str"],
                         "source": ex["instrument_source_str"], "qualities": list(ex.get("qualities_str", []))})
    if not rows:
        raise layout_error("nsynth", src / "nsynth-test" / "examples.json", "at least one of nsynth-{train,valid,test}")
    return Prepared(rows, notes=["splits are the official ones (instruments disjoint between train and valid/test); "
                                 "`label` is instrument_family_str, `pitch` the MIDI pitch"])


FMA_SPLITS = {"training": "train", "validation": "validation", "test": "test"}


def _fma_tracks(path: Path) -> list[dict[str, str]]:
    """Rows of fma_metadata/tracks.csv, whose header is three rows (group, field, then 'track_id'): keys are
    'group.field' (e.g. 'set.split', 'track.genre_top') and 'track_id'."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            groups, fields, third = next(reader), next(reader), next(reader)
        except StopIteration as err:
            raise PrepareError(f"{path}: expected FMA's three header rows (group, field, track_id)") from err
        if not third or third[0] != "track_id":
            raise PrepareError(f"{path}: the third header row should start with 'track_id' (FMA's tracks.csv)")
        names = ["track_id"] + [f"{g}.{f}" for g, f in zip(groups[1:], fields[1:])]
        return [dict(zip(names, row)) for row in reader]


def prepare_fma_small(src: Path) -> Prepared:
    """FMA small (`fma_small/<id[:3]>/<id>.mp3`, `fma_metadata/tracks.csv` with set.split, set.subset,
    track.genre_top): 8000 30 s clips, 8 genres."""
    meta = src / "fma_metadata" / "tracks.csv"
    if not meta.is_file():
        raise layout_error("fma_small", meta, "the metadata file fma_metadata/tracks.csv")
    rows = []
    for track in _fma_tracks(meta):
        if track.get("set.subset") != "small":
            continue
        track_id = f"{int(track['track_id']):06d}"
        rows.append({"id": track_id, "split": FMA_SPLITS.get(track["set.split"], track["set.split"]),
                     "path": audio_file("fma_small", src / "fma_small" / track_id[:3] / f"{track_id}.mp3",
                                        "fma_metadata/tracks.csv"),
                     "label": track["track.genre_top"], "artist": track.get("artist.id", "")})
    return Prepared(rows, notes=["splits: tracks.csv set.split (training/validation/test, artist-filtered by the "
                                 "authors); `label` is track.genre_top; audio is MP3 (decoded by libsndfile >= 1.1)"])
