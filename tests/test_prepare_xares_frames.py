"""The X-ARES catalog's frame-level and ASR tasks (DESED, MAESTRO, LibriSpeech-100h): event lists read from X-ARES's
shard JSON, and the three tasks run end to end on fake copies of their published layouts (mfcc encoder)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from bench.prepare import PrepareError, fakes, prepare


def manifest(folder):
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_desed_events_come_one_per_class_and_empty_events_are_dropped(tmp_path):
    folder = prepare("xares-desed", fakes.fake_xares(tmp_path / "src", "desed"), tmp_path / "out")
    rows = {row["id"]: row for row in manifest(folder)}
    # fake clip i=1 of class 0 holds one event labelled "dog,rain" and one of zero length (fakes._xares_label)
    assert rows["train/s0_0_1"]["events"] == [[0.05, 0.15, "dog"], [0.05, 0.15, "rain"]]
    assert rows["train/s0_0_0"]["events"] == [[0.05, 0.15, "dog"]]
    assert {row["split"] for row in rows.values()} == {"train", "validation", "test"}  # 10% of train held out
    card = (folder / "card.md").read_text()
    assert f"{len(rows)} event(s) with offset <= onset dropped" in card


def test_maestro_notes_become_labels_and_the_splits_are_its_shards(tmp_path):
    folder = prepare("xares-maestro", fakes.fake_xares(tmp_path / "src", "maestro"), tmp_path / "out")
    rows = manifest(folder)
    assert {row["split"] for row in rows} == {"train", "validation", "test"}
    assert {e[2] for row in rows for e in row["events"]} == {"60", "62", "64"}


@pytest.mark.parametrize("label, message", [({"onset": 0.0}, "expected a list of events"),
                                            ([{"onset": 0.0, "label": "Dog"}], "must have keys onset, offset, label")])
def test_an_event_json_of_another_shape_is_an_error_naming_the_member(tmp_path, label, message):
    src = tmp_path / "src"
    src.mkdir()
    fakes.write_tone(tmp_path / "a.wav", 0)
    with tarfile.open(src / "wds-audio-train_0000000.tar", "w") as tar:
        tar.add(tmp_path / "a.wav", arcname="clip1.wav")
        data = json.dumps(label).encode()
        info = tarfile.TarInfo("clip1.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(PrepareError, match=rf"wds-audio-train_0000000\.tar \(clip1\.json\).*{message}"):
        prepare("xares-desed", src, tmp_path / "out")


def test_bench_run_with_mfcc_on_desed_maestro_and_librispeech_asr(tmp_path):
    from bench.cli import main

    prepare("xares-desed", fakes.fake_xares(tmp_path / "desed", "desed"))
    prepare("xares-maestro", fakes.fake_xares(tmp_path / "maestro", "maestro"))
    prepare("librispeech", fakes.fake_librispeech(tmp_path / "librispeech"))
    out = tmp_path / "results"
    assert main(["run", "--encoder", "mfcc", "--tasks", "xares/desed", "xares/maestro", "xares/librispeech_asr",
                 "--out", str(out), "--seeds", "0", "--no-progress"]) == 0
    expected = {"xares__desed.json": "segment_f1", "xares__maestro.json": "segment_f1",
                "xares__librispeech_asr.json": "wer"}
    for file_name, metric in expected.items():
        record = json.loads(next(out.rglob(file_name)).read_text())
        assert record["status"] == "ok", record.get("error")
        (protocol,) = record["protocols"]
        assert protocol["main_score"]["name"] == metric and 0.0 <= protocol["main_score"]["value"] <= 1.5
