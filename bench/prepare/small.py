"""Preparers of the small datasets HEAR introduced (LibriCount, Beijing Opera, Mridangam, Vocal Imitation, the
VoxLingua107 dev set) as their publishers ship them. Labels are read from the file names exactly as hear-preprocess
(`hearpreprocess/secrettasks/hearsecrettasks/<task>.py`) reads them. None has an official split: the folds are
bench's (stated on each card); HEAR's own folds come with its preprocessed folders (`hear-<task>`)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from bench.prepare.layout import Prepared, PrepareError, audio_files, find_root, layout_error


def hashed_fold(key: str, folds: int) -> str:
    """A stable fold number 1..folds for `key` (sha256, so it does not depend on file order or machine)."""
    return str(int(hashlib.sha256(key.encode()).hexdigest(), 16) % folds + 1)


def _hash_note(folds: int, key: str) -> str:
    return (f"no official split: `fold` (1-{folds}) is bench's, a sha256 hash of {key}; HEAR's folds are random "
            f"too but different (prepare hear-<task> from HEAR's folder for HEAR's exact folds)")


def prepare_libricount(src: Path) -> Prepared:
    """LibriCount10-0dB (`test/<count>_<id>.wav`): 5720 mixtures of 0-10 speakers."""
    root = find_root("libricount", src, "test", "the audio folder test/")
    rows = [{"id": path.stem, "path": str(path.resolve()), "label": path.name.split("_")[0],
             "fold": hashed_fold(path.stem, 5)} for path in sorted((root / "test").glob("*.wav"))]
    if not rows:
        raise layout_error("libricount", root / "test" / "<count>_<id>.wav", "the mixtures")
    return Prepared(rows, notes=["`label` is the speaker count (0-10) from the file name",
                                 _hash_note(5, "the file name")])


def prepare_beijing_opera(src: Path) -> Prepared:
    """Beijing Opera Percussion Instrument 1.0 (`beijing_opera_percussion_instrument_1.0/*.wav`; the instrument is
    the second-last '-' field of the file name)."""
    folder = "beijing_opera_percussion_instrument_1.0"
    root = src / folder if (src / folder).is_dir() else src if src.name == folder else None
    if root is None:
        raise layout_error("beijing_opera", src / folder, "the audio folder")
    rows = [{"id": path.stem, "path": str(path.resolve()), "label": path.name.split("__")[-1].split("-")[-2],
             "fold": hashed_fold(path.stem, 5)} for path in sorted(root.glob("*.wav"))]
    return Prepared(rows, notes=["`label`: bangu, naobo, daluo or xiaoluo (the file name's second-last field)",
                                 _hash_note(5, "the file name")])


MRIDANGAM_STROKES = ("bheem", "cha", "dheem", "dhin", "num", "ta", "tha", "tham", "thi", "thom")
MRIDANGAM_TONICS = ("b", "c", "csh", "d", "dsh", "e")


def prepare_mridangam(src: Path) -> Prepared:
    """Mridangam Stroke 1.5 (`mridangam_stroke_1.5/**/<...>-<stroke>-<tonic>-<n>.wav`)."""
    folder = "mridangam_stroke_1.5"
    root = src / folder if (src / folder).is_dir() else src if src.name == folder else None
    if root is None:
        raise layout_error("mridangam", src / folder, "the audio folder")
    rows = []
    for path in audio_files(root):
        fields = path.name.split("__")[-1].split("-")
        if len(fields) < 3 or fields[-3] not in MRIDANGAM_STROKES or fields[-2] not in MRIDANGAM_TONICS:
            raise PrepareError(f"{path}: expected <...>-<stroke>-<tonic>-<n>.wav with stroke one of "
                               f"{', '.join(MRIDANGAM_STROKES)} and tonic one of {', '.join(MRIDANGAM_TONICS)}")
        rows.append({"id": path.relative_to(root).with_suffix("").as_posix(), "path": str(path.resolve()),
                     "label": fields[-3], "tonic": fields[-2], "fold": hashed_fold(path.stem, 5)})
    return Prepared(rows, notes=["`label` is the stroke (10 classes), `tonic` the tonic (6 classes)",
                                 _hash_note(5, "the file name")])


def prepare_vocal_imitation(src: Path) -> Prepared:
    """VocalImitationSet (`vocal_imitations.txt`, tab-separated with columns included, imitation_filename,
    reference_filename; audio in `vocal_imitations/included/`)."""
    root = find_root("vocal_imitation", src, "vocal_imitations.txt", "the metadata file vocal_imitations.txt")
    with (root / "vocal_imitations.txt").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle, delimiter="\t"))
    missing = {"included", "imitation_filename", "reference_filename"} - set(table[0] if table else {})
    if missing:
        raise PrepareError(f"{root / 'vocal_imitations.txt'}: missing column(s) {', '.join(sorted(missing))}")
    reference_of = {r["imitation_filename"]: r["reference_filename"] for r in table
                    if r["included"].strip().lower() in ("1", "true")}
    rows = []
    for path in audio_files(root / "vocal_imitations" / "included"):
        if path.name not in reference_of:
            raise PrepareError(f"{path}: not an included imitation in vocal_imitations.txt")
        reference = reference_of[path.name]
        rows.append({"id": path.stem, "path": str(path.resolve()), "label": reference,
                     "fold": hashed_fold(path.stem, 3)})
    return Prepared(rows, notes=["`label` is the reference sound imitated (reference_filename), as in HEAR",
                                 _hash_note(3, "the imitation's file name")])


VOXLINGUA_TOP = 10


def prepare_voxlingua107_dev(src: Path) -> Prepared:
    """VoxLingua107's dev set (dev.zip: `<language code>/<utterance>.wav`, 1609 utterances, 33 languages)."""
    files = sorted(p for p in src.glob("*/*.wav")) or sorted(p for p in src.glob("*/*/*.wav"))
    if not files:
        raise layout_error("voxlingua107_dev", src / "<language>/<utterance>.wav", "language folders")
    counts: dict[str, int] = {}
    for path in files:
        counts[path.parent.name] = counts.get(path.parent.name, 0) + 1
    top = set(sorted(counts, key=lambda lang: (-counts[lang], lang))[:VOXLINGUA_TOP])
    rows = []
    for path in files:
        fold = hashed_fold(path.stem, 5)
        rows.append({"id": f"{path.parent.name}/{path.stem}", "path": str(path.resolve()), "label": path.parent.name,
                     "fold": fold, "fold_top10": fold if path.parent.name in top else "none"})
    return Prepared(rows, notes=["`label` is the language folder; `fold_top10` is `fold` for the 10 most frequent "
                                 "languages (HEAR's vox_lingua_top10 selection; ties broken by language code) and "
                                 "'none' (in no fold) for the others", _hash_note(5, "the utterance file name")])
