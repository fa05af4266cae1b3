"""Preparers of the datasets only MAEB's tasks use: AudioCaps, Common Voice and IEMOCAP (layout facts: see each entry
of bench.prepare.registry and the card it writes)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bench.prepare.layout import Prepared, PrepareError, audio_files, find_root, layout_error, read_csv

AUDIOCAPS_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def _audiocaps_audio(root: Path) -> dict[str, Path]:
    """Audio files below `root` by file stem (AudioCaps ships no audio: users fetch the YouTube clips themselves)."""
    found: dict[str, Path] = {}
    for path in audio_files(root):
        found.setdefault(path.stem, path)
    return found


def prepare_audiocaps(src: Path) -> Prepared:
    """AudioCaps (`train.csv`, `val.csv`, `test.csv` with columns audiocap_id, youtube_id, start_time, caption; one
    caption per row, the rows of a clip share its youtube_id) with the audio, fetched by the user, anywhere below
    `src`, named `<youtube_id>`, `Y<youtube_id>`, `<youtube_id>_<start_time>` or `<audiocap_id>` (any audio
    suffix). Clips without audio are left out and counted on the card."""
    root = find_root("audiocaps", src, "test.csv", "the caption file test.csv")
    audio = _audiocaps_audio(src)
    rows, missing, clips = [], {}, 0
    for part, split in AUDIOCAPS_SPLITS.items():
        table = read_csv("audiocaps", root / f"{part}.csv", ("audiocap_id", "youtube_id", "start_time", "caption"))
        by_clip: dict[str, list[dict[str, str]]] = {}
        for r in table:
            by_clip.setdefault(r["youtube_id"], []).append(r)
        clips += len(by_clip)
        for youtube_id, captions in by_clip.items():
            start = captions[0]["start_time"]
            names = [youtube_id, f"Y{youtube_id}", f"{youtube_id}_{start}", f"Y{youtube_id}_{start}",
                     *(c["audiocap_id"] for c in captions)]
            path = next((audio[n] for n in names if n in audio), None)
            if path is None:
                missing[split] = missing.get(split, 0) + 1
                continue
            rows.append({"id": f"{split}/{youtube_id}", "path": str(path.resolve()), "split": split,
                         "youtube_id": youtube_id, "start_time": start,
                         "caption": [c["caption"] for c in captions]})
    if not rows:
        raise PrepareError(f"audiocaps: none of the {clips} clips of {root}/{{train,val,test}}.csv has audio below "
                           f"'{src}'; AudioCaps ships captions only: fetch the YouTube clips yourself and name each "
                           f"file <youtube_id>.wav (or Y<youtube_id>, <youtube_id>_<start_time>, <audiocap_id>)")
    notes = ["split: train.csv -> train, val.csv -> validation, test.csv -> test; a clip's captions (one in train, "
             "five in val and test) are grouped by youtube_id into the list `caption`"]
    if missing:
        counts = ", ".join(f"{split} {n}" for split, n in missing.items())
        notes.append(f"clips without audio below the folder (left out; YouTube videos disappear): {counts} of {clips}")
    return Prepared(rows, notes=notes)


COMMONVOICE_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def _commonvoice_languages(src: Path) -> list[Path]:
    """The language folders (holding `test.tsv` and `clips/`): `src` itself, or those below it."""
    if (src / "test.tsv").is_file():
        return [src]
    below = sorted(p.parent for p in src.glob("*/test.tsv")) or sorted(p.parent for p in src.glob("*/*/test.tsv"))
    if not below:
        raise layout_error("commonvoice", src / "<language>/test.tsv", "a language folder with test.tsv and clips/")
    return below


def prepare_commonvoice(src: Path) -> Prepared:
    """Common Voice (a language folder `<lang>/` with `train.tsv`, `dev.tsv`, `test.tsv`, tab-separated with
    columns client_id, path, sentence, ...; audio `clips/<path>`), one language or every language folder below."""
    rows = []
    languages = _commonvoice_languages(src)
    for folder in languages:
        language = folder.name
        for part, split in COMMONVOICE_SPLITS.items():
            tsv = folder / f"{part}.tsv"
            if not tsv.is_file():
                raise layout_error("commonvoice", tsv, f"the split file {part}.tsv")
            with tsv.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                missing = [c for c in ("client_id", "path", "sentence") if c not in (reader.fieldnames or [])]
                if missing:
                    raise PrepareError(f"{tsv}: missing column(s) {', '.join(missing)} (has "
                                       f"{', '.join(reader.fieldnames or [])}); is this a Common Voice release?")
                for r in reader:
                    path = folder / "clips" / r["path"]
                    if not path.is_file():
                        raise PrepareError(f"commonvoice: {tsv.name} names '{path}', which does not exist; the "
                                           f"archive looks incomplete (re-extract it)")
                    rows.append({"id": f"{language}/{Path(r['path']).stem}", "path": str(path.resolve()),
                                 "split": split, "language": language, "sentence": r["sentence"],
                                 "speaker": r["client_id"]})
    notes = [f"languages: {', '.join(f.name for f in languages)}; split: train.tsv -> train, dev.tsv -> validation, "
             "test.tsv -> test (speakers disjoint by Common Voice's own split); validated.tsv and the other lists "
             "are not read"]
    return Prepared(rows, notes=notes)


IEMOCAP_EMOTIONS = {"ang": "angry", "sad": "sad", "hap": "happy", "neu": "neutral", "fru": "frustrated",
                    "exc": "excited", "fea": "fear", "sur": "surprise", "dis": "disgust", "oth": "other"}
EMO_LINE = re.compile(r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\t(?P<turn>\S+)\t(?P<emotion>\S+)\t")


def prepare_iemocap(src: Path) -> Prepared:
    """IEMOCAP (`Session<n>/dialog/EmoEvaluation/<dialog>.txt` lines `[start - end]<TAB>turn<TAB>emotion<TAB>[V, A,
    D]`, audio `Session<n>/sentences/wav/<dialog>/<turn>.wav`): one row per turn with a majority emotion."""
    root = find_root("iemocap", src, "Session1/dialog", "the session folder Session1/dialog/")
    rows, no_majority = [], 0
    for session in range(1, 6):
        folder = root / f"Session{session}"
        evaluations = sorted((folder / "dialog" / "EmoEvaluation").glob("*.txt"))
        if not evaluations:
            raise layout_error("iemocap", folder / "dialog" / "EmoEvaluation", f"the evaluations of session {session}")
        for evaluation in evaluations:
            for line in evaluation.read_text(encoding="utf-8", errors="replace").splitlines():
                match = EMO_LINE.match(line)
                if match is None:
                    continue
                turn, emotion = match["turn"], match["emotion"]
                if emotion not in IEMOCAP_EMOTIONS:  # "xxx": the annotators did not agree
                    no_majority += 1
                    continue
                path = folder / "sentences" / "wav" / evaluation.stem / f"{turn}.wav"
                if not path.is_file():
                    raise PrepareError(f"iemocap: {evaluation.name} names turn '{turn}', but '{path}' does not "
                                       f"exist; the archive looks incomplete (re-extract it)")
                rows.append({"id": turn, "path": str(path.resolve()), "fold": str(session),
                             "label": IEMOCAP_EMOTIONS[emotion],
                             "speaker": f"{session}{turn.split('_')[-1][0]}",
                             "improvised": "impro" in evaluation.stem})
    notes = ["fold = session (1-5; two speakers each, so folds are speaker-disjoint): the usual leave-one-session-out",
             f"`label`: the majority emotion of the turn, in MAEB's names; {no_majority} turn(s) without a majority "
             "('xxx') left out"]
    return Prepared(rows, notes=notes)
