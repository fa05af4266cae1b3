"""Preparers of the MAEB-only datasets (AudioCaps, Common Voice, IEMOCAP) on fake copies of their published layouts
(bench.prepare.fakes): what each reads, what it leaves out, and the errors for a wrong folder."""

from __future__ import annotations

import json

import pytest

from bench.prepare import PrepareError, fakes, prepare


def manifest(folder):
    return {row["id"]: row for row in map(json.loads, (folder / "manifest.jsonl").read_text().splitlines())}


def test_audiocaps_groups_captions_per_clip_and_counts_clips_without_audio(tmp_path):
    folder = prepare("audiocaps", fakes.fake_audiocaps(tmp_path / "src"), tmp_path / "out")
    rows = manifest(folder)
    assert len(rows["test/testVid00x"]["caption"]) == 5 and len(rows["train/trainVid00x"]["caption"]) == 1
    assert rows["train/trainVid01x"]["path"].endswith("/YtrainVid01x.wav")  # the Y-prefixed name is found too
    assert "test/testVid03x" not in rows  # its video is gone (no audio file)
    assert {row["split"] for row in rows.values()} == {"train", "validation", "test"}
    assert "test 1 of 13" in (folder / "card.md").read_text()


def test_audiocaps_without_any_audio_says_how_to_name_the_files(tmp_path):
    src = fakes.fake_audiocaps(tmp_path / "src")
    for wav in (src / "audio").rglob("*.wav"):
        wav.unlink()
    with pytest.raises(PrepareError, match=r"none of the 13 clips.*name each file <youtube_id>\.wav"):
        prepare("audiocaps", src, tmp_path / "out")


def test_commonvoice_reads_the_split_files_of_every_language_folder(tmp_path):
    src = fakes.fake_commonvoice(tmp_path / "src")
    corpus = src / "cv-corpus-17.0-2024-03-15"
    (corpus / "en").rename(corpus / "fr")
    fakes.fake_commonvoice(tmp_path / "src")  # a second language folder: en again
    rows = manifest(prepare("commonvoice", corpus, tmp_path / "out"))
    assert {row["language"] for row in rows.values()} == {"en", "fr"}
    assert len(rows) == 2 * 15
    row = rows["en/common_voice_en_test00"]
    assert row["split"] == "test" and row["sentence"] == "The dog barks at night." and row["speaker"] == "testclient0"


def test_commonvoice_without_its_columns_is_an_error_naming_the_file(tmp_path):
    src = fakes.fake_commonvoice(tmp_path / "src")
    tsv = src / "cv-corpus-17.0-2024-03-15" / "en" / "dev.tsv"
    tsv.write_text(tsv.read_text().replace("sentence\t", "text\t", 1))
    with pytest.raises(PrepareError, match=r"dev\.tsv: missing column\(s\) sentence"):
        prepare("commonvoice", src, tmp_path / "out")


def test_iemocap_keeps_turns_with_a_majority_emotion_and_folds_by_session(tmp_path):
    folder = prepare("iemocap", fakes.fake_iemocap(tmp_path / "src"), tmp_path / "out")
    rows = manifest(folder)
    assert len(rows) == 5 * 4  # the 'xxx' turn of each session is left out
    turn = rows["Ses03F_impro01_M001"]
    assert (turn["label"], turn["fold"], turn["speaker"]) == ("angry", "3", "3M")
    assert {row["label"] for row in rows.values()} == {"neutral", "angry", "sad", "excited"}
    assert "5 turn(s) without a majority" in (folder / "card.md").read_text()


def test_iemocap_turn_without_audio_is_an_error_naming_the_evaluation_file(tmp_path):
    src = fakes.fake_iemocap(tmp_path / "src")
    next((src / "IEMOCAP_full_release" / "Session2").rglob("*_M001.wav")).unlink()
    with pytest.raises(PrepareError, match=r"Ses02F_impro01\.txt names turn 'Ses02F_impro01_M001'"):
        prepare("iemocap", src, tmp_path / "out")
