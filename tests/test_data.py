import io
import json
import os

import numpy as np
import pytest
import soundfile as sf
from conftest import write_tone_dataset

from bench.audio import BadAudio, load_audio
from bench.data import DatasetError, load_dataset
from bench.taskspec import parse_task


def _task(source, path, **dataset):
    return parse_task({"name": "t", "version": 1, "domain": "sound",
                       "dataset": {"source": source, "path": str(path), **dataset},
                       "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["knn"]}, "t.yaml")


def test_manifest_jsonl_and_csv_agree(tone_dataset):
    ds = load_dataset(_task("manifest", tone_dataset))
    assert len(ds.items) == 54 and all(len(item["_hash"]) == 64 for item in ds.items)
    rows = [json.loads(line) for line in (tone_dataset / "manifest.jsonl").read_text().splitlines()]
    (tone_dataset / "manifest.jsonl").unlink()
    import csv

    with (tone_dataset / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "path", "split", "label"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("id", "path", "split", "label")} for r in rows)
    ds_csv = load_dataset(_task("manifest", tone_dataset))
    assert sorted(i["_hash"] for i in ds_csv.items) == sorted(i["_hash"] for i in ds.items)


def test_fingerprint_tracks_content(tmp_path):
    a = load_dataset(_task("manifest", write_tone_dataset(tmp_path / "a")))
    b = load_dataset(_task("manifest", write_tone_dataset(tmp_path / "b")))
    c = load_dataset(_task("manifest", write_tone_dataset(tmp_path / "c", seed=1)))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_folder_source(tmp_path):
    for split in ("train", "validation", "test"):
        for label in ("a", "b"):
            (tmp_path / split / label).mkdir(parents=True)
            sf.write(tmp_path / split / label / "x.wav", np.zeros(800, dtype=np.float32) + 0.1, 16000)
    ds = load_dataset(_task("folder", tmp_path))
    assert {(i["split"], i["label"]) for i in ds.items} == {(s, lab) for s in ("train", "validation", "test")
                                                              for lab in ("a", "b")}


def test_parquet_and_hf_disk_with_bytes(tmp_path):
    import datasets
    import pandas as pd

    buffer = io.BytesIO()
    sf.write(buffer, np.linspace(-0.5, 0.5, 1600, dtype=np.float32), 16000, format="WAV")
    rows = [{"id": f"c{i}", "audio": {"bytes": buffer.getvalue(), "path": None}, "label": "x", "split": "train"}
            for i in range(3)]
    pd.DataFrame(rows).to_parquet(tmp_path / "data.parquet")
    ds = load_dataset(_task("parquet", tmp_path / "data.parquet", audio_column="audio"))
    assert len(ds.items) == 3 and isinstance(ds.items[0]["_audio"], bytes)
    assert load_audio(ds.items[0]["_audio"], 16000, "mix", "c0").shape == (1, 1600)
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    hf = load_dataset(_task("hf_disk", tmp_path / "hf", audio_column="audio"))
    assert [i["_hash"] for i in hf.items] == [i["_hash"] for i in ds.items]


def test_missing_audio_file_is_named(tone_dataset):
    (tone_dataset / "audio" / "train_low_0.wav").unlink()
    with pytest.raises(DatasetError, match="train_low_0"):
        load_dataset(_task("manifest", tone_dataset))


def test_bad_audio_errors_name_the_clip(tmp_path):
    empty, nan, junk = tmp_path / "empty.wav", tmp_path / "nan.wav", tmp_path / "junk.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    sf.write(nan, np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    junk.write_bytes(b"not audio at all")
    for path, reason in ((empty, "empty"), (nan, "NaN"), (junk, "cannot decode")):
        with pytest.raises(BadAudio, match=reason) as err:
            load_audio(path, 16000, "mix", f"item '{path.stem}'")
        assert path.stem in str(err.value)


def test_resampling_and_channels(tmp_path):
    rate = 22050
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1).astype(np.float32) * 0.5
    sf.write(tmp_path / "s.wav", stereo, rate, subtype="FLOAT")
    mixed = load_audio(tmp_path / "s.wav", 16000, "mix", "s")
    each = load_audio(tmp_path / "s.wav", 16000, "each", "s")
    first = load_audio(tmp_path / "s.wav", 16000, "first", "s")
    assert mixed.shape == (1, 16000) and each.shape == (2, 16000) and first.shape == (1, 16000)
    np.testing.assert_allclose(mixed[0], each.mean(axis=0), atol=1e-6)
    spectrum = np.abs(np.fft.rfft(first[0]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s at 16 kHz: bin = Hz; the tone survives resampling
    assert load_audio(tmp_path / "s.wav", 16000, "mix", "s", max_seconds=0.25).shape == (1, 4000)


def _manifest_rows(folder):
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def _write_csv(path, rows, columns=("id", "path", "split", "label"), bom=False):
    import csv

    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_csv_with_a_utf8_bom_keeps_its_ids(tone_dataset):
    rows = _manifest_rows(tone_dataset)
    (tone_dataset / "manifest.jsonl").unlink()
    _write_csv(tone_dataset / "manifest.csv", rows, bom=True)
    ds = load_dataset(_task("manifest", tone_dataset))
    assert sorted(i["id"] for i in ds.items) == sorted(r["id"] for r in rows)  # not row numbers
    assert not any(key.startswith("\ufeff") for key in ds.items[0])


def test_a_manifest_without_ids_is_refused_naming_the_line(tone_dataset):
    rows = _manifest_rows(tone_dataset)
    (tone_dataset / "manifest.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "id"}) + "\n"
                                                         for r in rows))
    with pytest.raises(DatasetError, match=r"manifest\.jsonl:1: no 'id' value.*dataset\.id_column"):
        load_dataset(_task("manifest", tone_dataset))
    (tone_dataset / "manifest.jsonl").unlink()
    _write_csv(tone_dataset / "manifest.csv", rows, columns=("path", "split", "label"))
    with pytest.raises(DatasetError, match=r"manifest\.csv:2: no 'id' value"):
        load_dataset(_task("manifest", tone_dataset))


@pytest.mark.parametrize("line, expected", [("[1, 2]", "got list"), ("7", "got int"), ('"x"', "got str")])
def test_a_manifest_line_that_is_not_an_object_is_named(tone_dataset, line, expected):
    manifest = tone_dataset / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + line + "\n")
    with pytest.raises(DatasetError, match=rf"manifest\.jsonl:55: a manifest line must be a JSON object.*{expected}"):
        load_dataset(_task("manifest", tone_dataset))


def _replace_path(folder, new_path):
    rows = _manifest_rows(folder)
    rows[3]["path"] = new_path
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("bad", ["", "   ", None, 12])
def test_an_empty_or_non_text_audio_path_is_named(tone_dataset, bad):
    _replace_path(tone_dataset, bad)
    with pytest.raises(DatasetError, match=r"manifest\.jsonl:4 \(item 'train_low_3'\).*field 'path'"):
        load_dataset(_task("manifest", tone_dataset))


def test_a_folder_or_fifo_is_not_read_as_audio(tone_dataset):
    (tone_dataset / "audio" / "sub").mkdir()
    _replace_path(tone_dataset, "audio/sub")
    with pytest.raises(DatasetError, match=r"manifest\.jsonl:4 .*not a regular file \(field 'path'\)"):
        load_dataset(_task("manifest", tone_dataset))
    os.mkfifo(tone_dataset / "audio" / "pipe.wav")  # reading it would block forever
    _replace_path(tone_dataset, "audio/pipe.wav")
    with pytest.raises(DatasetError, match=r"pipe\.wav' is not a regular file"):
        load_dataset(_task("manifest", tone_dataset))


def test_dataset_path_may_be_the_manifest_file_itself(tmp_path):
    folder = write_tone_dataset(tmp_path / "tones")
    expected = load_dataset(_task("manifest", folder))
    moved = tmp_path / "elsewhere" / "my_list.jsonl"  # not named manifest.*, audio paths relative to its folder
    moved.parent.mkdir()
    (folder / "audio").rename(moved.parent / "audio")
    (folder / "manifest.jsonl").rename(moved)
    ds = load_dataset(_task("manifest", moved))
    assert ds.fingerprint == expected.fingerprint and ds.root == moved.parent
    rows = [json.loads(line) for line in moved.read_text().splitlines()]
    _write_csv(moved.with_suffix(".csv"), rows)
    assert len(load_dataset(_task("manifest", moved.with_suffix(".csv"))).items) == len(rows)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"notes\.txt: a manifest file must end in \.jsonl, \.csv, \.parquet"):
        load_dataset(_task("manifest", tmp_path / "notes.txt"))


def test_an_empty_label_cell_is_refused_not_made_a_class(tone_dataset):
    rows = _manifest_rows(tone_dataset)
    for empty in ("", None):
        rows[5]["label"] = empty
        (tone_dataset / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        with pytest.raises(DatasetError, match=r"manifest\.jsonl:6 \(item 'train_low_5'\): empty label in column"):
            load_dataset(_task("manifest", tone_dataset))
    (tone_dataset / "manifest.jsonl").unlink()
    rows[5]["label"] = ""
    _write_csv(tone_dataset / "manifest.csv", rows)
    with pytest.raises(DatasetError, match=r"manifest\.csv:7 \(item 'train_low_5'\): empty label"):
        load_dataset(_task("manifest", tone_dataset))
