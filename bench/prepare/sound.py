"""Preparers of environmental-sound datasets: ESC-50, UrbanSound8K, FSD50K, Clotho (layout facts: see each entry
of bench.prepare.registry and the card it writes)."""

from __future__ import annotations

from pathlib import Path

from bench.prepare.layout import Prepared, audio_file, find_root, layout_error, read_csv

KFOLD_NOTE = ("k-fold rule of bench (HEAR's rotation): test = fold i, validation = fold i+1, train = the rest; "
              "X-ARES instead trains on the other folds and validates on the test fold itself (model selection on "
              "test), so bench numbers may be slightly lower than X-ARES's")


def prepare_esc50(src: Path) -> Prepared:
    """ESC-50 (`meta/esc50.csv`, `audio/*.wav`): 2000 clips, 50 classes, 5 official folds."""
    root = find_root("esc50", src, "meta/esc50.csv", "the metadata file meta/esc50.csv")
    table = read_csv("esc50", root / "meta" / "esc50.csv", ("filename", "fold", "target", "category", "esc10",
                                                             "src_file"))
    rows = [{"id": Path(r["filename"]).stem, "path": audio_file("esc50", root / "audio" / r["filename"],
                                                                  "meta/esc50.csv"),
             "fold": str(r["fold"]), "label": r["category"], "target": int(r["target"]),
             "esc10": r["esc10"].strip().lower() == "true", "recording": r["src_file"]} for r in table]
    return Prepared(rows, notes=["folds are the official ones (clips of one source recording share a fold; "
                                 "`recording` is the freesound source id)", KFOLD_NOTE])


def prepare_urbansound8k(src: Path) -> Prepared:
    """UrbanSound8K (`metadata/UrbanSound8K.csv`, `audio/fold1..fold10/`): 8732 slices, 10 classes, 10 folds."""
    root = find_root("urbansound8k", src, "metadata/UrbanSound8K.csv", "the metadata file metadata/UrbanSound8K.csv")
    table = read_csv("urbansound8k", root / "metadata" / "UrbanSound8K.csv",
                     ("slice_file_name", "fsID", "fold", "classID", "class", "salience"))
    rows = [{"id": Path(r["slice_file_name"]).stem,
             "path": audio_file("urbansound8k", root / "audio" / f"fold{r['fold']}" / r["slice_file_name"],
                                "metadata/UrbanSound8K.csv"),
             "fold": str(r["fold"]), "label": r["class"], "recording": r["fsID"],
             "salience": int(r["salience"])} for r in table]
    return Prepared(rows, notes=["folds are the official ones (slices of one recording, `recording` = fsID, share a "
                                 "fold); the authors ask for 10-fold cross-validation over these folds only",
                                 KFOLD_NOTE])


def prepare_fsd50k(src: Path) -> Prepared:
    """FSD50K (`FSD50K.ground_truth/dev.csv` with split train|val, `eval.csv`; audio in FSD50K.dev_audio/ and
    FSD50K.eval_audio/): 51,197 clips, 200 classes, multi-label."""
    root = find_root("fsd50k", src, "FSD50K.ground_truth/dev.csv", "the ground truth FSD50K.ground_truth/dev.csv")
    truth = root / "FSD50K.ground_truth"
    rows = []
    for r in read_csv("fsd50k", truth / "dev.csv", ("fname", "labels", "split")):
        split = {"train": "train", "val": "validation"}.get(r["split"], r["split"])
        rows.append({"id": f"dev_{r['fname']}", "split": split, "label": r["labels"].split(","),
                     "path": audio_file("fsd50k", root / "FSD50K.dev_audio" / f"{r['fname']}.wav",
                                        "FSD50K.ground_truth/dev.csv")})
    for r in read_csv("fsd50k", truth / "eval.csv", ("fname", "labels")):
        rows.append({"id": f"eval_{r['fname']}", "split": "test", "label": r["labels"].split(","),
                     "path": audio_file("fsd50k", root / "FSD50K.eval_audio" / f"{r['fname']}.wav",
                                        "FSD50K.ground_truth/eval.csv")})
    return Prepared(rows, notes=["splits are the official ones: dev.csv split train/val, eval.csv = test",
                                 "labels are the leaf-and-parent label lists of the ground truth (as HEAR and "
                                 "X-ARES score them, mAP over 200 classes)"])


CLOTHO_SPLITS = {"development": "train", "validation": "validation", "evaluation": "test"}
# X-ARES trains on development, selects on evaluation and tests on validation (src/tasks/clotho_task.py).
CLOTHO_XARES = {"development": "train", "evaluation": "validation", "validation": "test"}


def prepare_clotho(src: Path) -> Prepared:
    """Clotho v2.1 (`clotho_captions_<split>.csv`, audio in `<split>/`): 5 captions per clip."""
    root = find_root("clotho", src, "clotho_captions_development.csv",
                     "the captions file clotho_captions_development.csv")
    rows = []
    for part, split in CLOTHO_SPLITS.items():
        csv_path = root / f"clotho_captions_{part}.csv"
        if not csv_path.is_file():
            if part == "development":
                raise layout_error("clotho", csv_path, "the captions file")
            continue
        columns = ("file_name",) + tuple(f"caption_{i}" for i in range(1, 6))
        for r in read_csv("clotho", csv_path, columns):
            audio = root / part / r["file_name"]
            rows.append({"id": f"{part}/{Path(r['file_name']).stem}", "split": split, "split_xares": CLOTHO_XARES[part],
                         "path": audio_file("clotho", audio, csv_path.name),
                         "caption": [r[f"caption_{i}"] for i in range(1, 6)]})
    return Prepared(rows, notes=["split: development -> train, validation -> validation, evaluation -> test (the "
                                 "DCASE convention); split_xares: X-ARES's choice (development -> train, evaluation "
                                 "-> validation, validation -> test)"])
