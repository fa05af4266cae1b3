"""Preparers of speech and paralinguistic datasets: Speech Commands, VoxCeleb1, LibriSpeech, CREMA-D, RAVDESS, Fluent
Speech Commands, VocalSound."""

from __future__ import annotations

from pathlib import Path

from bench.prepare.layout import Prepared, PrepareError, audio_file, find_root, layout_error, read_csv

SPEECHCOMMANDS_CORE = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def _list_file(name: str, path: Path) -> set[str]:
    if not path.is_file():
        raise layout_error(name, path, f"the list file {path.name}")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def prepare_speechcommands(src: Path) -> Prepared:
    """Speech Commands v0.01/v0.02 (`<word>/<speaker>_nohash_<n>.wav`, `validation_list.txt`,
    `testing_list.txt`; every other clip is train)."""
    root = find_root("speechcommands", src, "testing_list.txt", "the list file testing_list.txt")
    validation = _list_file("speechcommands", root / "validation_list.txt")
    testing = _list_file("speechcommands", root / "testing_list.txt")
    rows = []
    for path in sorted(root.glob("*/*.wav")):
        word = path.parent.name
        if word.startswith("_"):  # _background_noise_: long noise recordings, not keyword clips
            continue
        rel = f"{word}/{path.name}"
        split = "test" if rel in testing else "validation" if rel in validation else "train"
        rows.append({"id": rel.removesuffix(".wav"), "path": str(path.resolve()), "split": split, "label": word,
                     "label12": word if word in SPEECHCOMMANDS_CORE else "_unknown_",
                     "speaker": path.name.split("_nohash_")[0]})
    return Prepared(rows, notes=["splits from validation_list.txt and testing_list.txt (speakers disjoint by the "
                                 "authors' hashing); `label` is the word, `label12` the 10 command words plus "
                                 "_unknown_; the _silence_ class of the 12-class protocol (cut from "
                                 "_background_noise_) is not made, since audio is referenced in place"])


def prepare_voxceleb1(src: Path) -> Prepared:
    """VoxCeleb1 (`iden_split.txt` lines `<1|2|3> <id>/<video>/<n>.wav`, audio under `wav/`; optional
    `veri_test2.txt` lines `<0|1> <enroll> <test>`)."""
    root = find_root("voxceleb1", src, "iden_split.txt", "the identification split file iden_split.txt")
    audio_root = root / "wav" if (root / "wav").is_dir() else root
    split_names = {"1": "train", "2": "validation", "3": "test"}
    rows, trial_speakers = [], set()
    trials = []
    veri = root / "veri_test2.txt"
    if veri.is_file():
        for n, line in enumerate(veri.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("0", "1"):
                raise PrepareError(f"{veri}:{n}: expected '<0|1> <enroll path> <test path>', got {line!r}")
            trials.append({"enroll": parts[1].removesuffix(".wav"), "test": parts[2].removesuffix(".wav"),
                           "target": int(parts[0]), "split": "test"})
            trial_speakers.update(p.split("/")[0] for p in parts[1:])
    for n, line in enumerate((root / "iden_split.txt").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in split_names:
            raise PrepareError(f"{root / 'iden_split.txt'}:{n}: expected '<1|2|3> <id>/<video>/<n>.wav', got {line!r}")
        rel = parts[1]
        speaker, video = rel.split("/")[:2]
        path = audio_file("voxceleb1", audio_root / rel, "iden_split.txt")
        rows.append({"id": rel.removesuffix(".wav"), "path": path,
                     "split": split_names[parts[0]], "speaker": speaker, "video": video,
                     "split_verification": "test" if speaker in trial_speakers else "train"})
    notes = ["split (identification, 1251 speakers): iden_split.txt 1 -> train, 2 -> validation, 3 -> test; "
             "videos of a speaker are split, the speakers are shared"]
    if trials:
        notes.append("trials.jsonl: VoxCeleb1-O cleaned (veri_test2.txt), all in split 'test'; split_verification "
                     "marks the speakers of those trials 'test' and every other speaker 'train'")
    return Prepared(rows, trials=trials, notes=notes)


def _speaker_sex(root: Path) -> dict[str, str]:
    """LibriSpeech SPEAKERS.TXT: 'ID | SEX | SUBSET | MINUTES | NAME' lines (';' starts a comment)."""
    for path in (root / "SPEAKERS.TXT", root.parent / "SPEAKERS.TXT"):
        if path.is_file():
            out = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = [p.strip() for p in line.split("|")]
                if not line.startswith(";") and len(parts) >= 2:
                    out[parts[0]] = parts[1]
            return out
    return {}


def prepare_librispeech(src: Path) -> Prepared:
    """LibriSpeech (`<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`, `<spk>-<chapter>.trans.txt`): every
    subset found is prepared, its name in the `subset` column."""
    transcripts = sorted(src.glob("*/*/*/*.trans.txt")) or sorted(src.glob("*/*/*/*/*.trans.txt"))
    if not transcripts:
        raise layout_error("librispeech", src / "<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt",
                           "transcript files")
    sexes = _speaker_sex(transcripts[0].parents[3])
    rows = []
    for trans in transcripts:
        subset = trans.parents[2].name
        for line in trans.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            utt, _, text = line.partition(" ")
            speaker, chapter = utt.split("-")[:2]
            row = {"id": utt, "path": audio_file("librispeech", trans.parent / f"{utt}.flac", trans.name),
                   "subset": subset, "transcript": text.strip(), "speaker": speaker, "chapter": chapter}
            if speaker in sexes:
                row["gender"] = sexes[speaker]
            rows.append(row)
    notes = ["`subset` holds the official subset (train-clean-100, dev-clean, test-clean, ...); speakers are "
             "disjoint across subsets"]
    if not sexes:
        notes.append("SPEAKERS.TXT not found: no `gender` column")
    return Prepared(rows, notes=notes)


CREMAD_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def prepare_cremad(src: Path) -> Prepared:
    """CREMA-D (`AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav`): 7442 clips, 91 actors, 6 emotions."""
    root = find_root("cremad", src, "AudioWAV", "the audio folder AudioWAV/")
    rows = []
    actors = sorted({p.name.split("_")[0] for p in (root / "AudioWAV").glob("*.wav")})
    for path in sorted((root / "AudioWAV").glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) != 4 or parts[2] not in CREMAD_EMOTIONS:
            raise PrepareError(f"{path}: expected <actor>_<sentence>_<emotion>_<level>.wav with emotion one of "
                               f"{', '.join(CREMAD_EMOTIONS)}")
        actor, sentence, emotion, level = parts
        rows.append({"id": path.stem, "path": str(path.resolve()), "label": emotion, "speaker": actor,
                     "sentence": sentence, "level": level, "fold": str(actors.index(actor) % 5 + 1)})
    return Prepared(rows, notes=["CREMA-D has no official split; `fold` (1-5) is bench's: actors sorted by id and "
                                 "dealt round-robin, so folds are speaker-disjoint (HEAR and X-ARES use their own "
                                 "splits: use hear-tfds_crema_d or xares-cremad for their exact numbers)"])


RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                    "07": "disgust", "08": "surprised"}


def prepare_ravdess(src: Path) -> Prepared:
    """RAVDESS speech audio (`Actor_XX/03-01-EE-II-SS-RR-AA.wav`): 1440 clips, 24 actors, 8 emotions."""
    files = sorted(src.glob("Actor_*/*.wav")) or sorted(src.glob("*/Actor_*/*.wav"))
    if not files:
        raise layout_error("ravdess", src / "Actor_01/03-01-01-01-01-01-01.wav", "actor folders Actor_XX/")
    rows = []
    for path in files:
        fields = path.stem.split("-")
        if len(fields) != 7 or fields[2] not in RAVDESS_EMOTIONS:
            raise PrepareError(f"{path}: expected MM-VV-EE-II-SS-RR-AA.wav (7 two-digit fields, emotion 01-08)")
        actor = int(fields[6])
        rows.append({"id": path.stem, "path": str(path.resolve()), "label": RAVDESS_EMOTIONS[fields[2]],
                     "intensity": "strong" if fields[3] == "02" else "normal", "statement": fields[4],
                     "speaker": f"{actor:02d}", "gender": "male" if actor % 2 else "female",
                     "fold": str((actor - 1) // 6 + 1)})
    return Prepared(rows, notes=["RAVDESS has no official split; `fold` (1-4) is bench's: actors 1-6, 7-12, 13-18, "
                                 "19-24 (speaker-disjoint, 3 men and 3 women each); X-ARES uses 4 folds of its own"])


def prepare_fluentspeechcommands(src: Path) -> Prepared:
    """Fluent Speech Commands (`data/{train,valid,test}_data.csv` with columns ,path,speakerId,transcription,action,
    object,location; `path` relative to the dataset root, `wavs/speakers/<speakerId>/<utterance>.wav`)."""
    root = find_root("fluentspeechcommands", src, "data/train_data.csv", "the split file data/train_data.csv")
    rows = []
    for part, split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        csv_path = root / "data" / f"{part}_data.csv"
        for r in read_csv("fluentspeechcommands", csv_path, ("path", "speakerId", "transcription", "action", "object",
                                                              "location")):
            rows.append({"id": Path(r["path"]).stem, "split": split,
                         "path": audio_file("fluentspeechcommands", root / r["path"], f"data/{csv_path.name}"),
                         "label": r["transcription"], "intent": f"{r['action']}_{r['object']}_{r['location']}",
                         "speaker": r["speakerId"]})
    return Prepared(rows, notes=["splits from data/{train,valid,test}_data.csv (speakers disjoint); `label` is the "
                                 "transcription (X-ARES's 248 classes), `intent` the action_object_location triple "
                                 "(the usual 31 intents)"])


VOCALSOUND_META = {"train": "tr_meta.csv", "validation": "val_meta.csv", "test": "te_meta.csv"}


def prepare_vocalsound(src: Path) -> Prepared:
    """VocalSound 16 kHz release (`audio_16k/<speaker>_..._<label>.wav`; `meta/{tr,val,te}_meta.csv` list the
    speakers of each split in their first column, no header)."""
    root = find_root("vocalsound", src, "meta/te_meta.csv", "the speaker split file meta/te_meta.csv")
    split_of = {}
    for split, name in VOCALSOUND_META.items():
        path = root / "meta" / name
        if not path.is_file():
            raise layout_error("vocalsound", path, f"the speaker list {name}")
        for line in path.read_text().splitlines():
            if line.strip():
                split_of[line.split(",")[0].strip()] = split
    rows = []
    for path in sorted((root / "audio_16k").glob("*.wav")):
        speaker, label = path.stem.split("_")[0], path.stem.split("_")[-1]
        if speaker not in split_of:
            raise PrepareError(f"{path}: speaker '{speaker}' is in none of meta/{{tr,val,te}}_meta.csv")
        rows.append({"id": path.stem, "path": str(path.resolve()), "split": split_of[speaker], "label": label,
                     "speaker": speaker})
    return Prepared(rows, notes=["splits: the speakers listed in meta/tr_meta.csv, val_meta.csv, te_meta.csv "
                                 "(speaker-disjoint), as X-ARES's src/tasks/vocalsound/make_audio_tar.py reads them"])
