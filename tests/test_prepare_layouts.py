"""The preparers on fake copies of each published layout (bench.prepare.fakes): what lands in the manifest, the
card and checksums, errors for layouts that are not the publisher's, and one tiny `bench run` on prepared data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bench.data import DatasetError
from bench.prepare import PrepareError, fakes, prepare, prepared_root
from bench.prepare.registry import DATASETS


def manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_esc50_keeps_the_official_folds_and_references_audio_in_place(tmp_path):
    src = fakes.fake_esc50(tmp_path / "src")
    folder = prepare("esc50", src)
    rows = manifest(folder)
    assert len(rows) == 30 and {r["fold"] for r in rows} == {"1", "2", "3", "4", "5"}
    first = next(r for r in rows if r["id"] == "2-201-B-1")
    assert first["label"] == "rain" and first["recording"] == "201" and first["target"] == 1
    assert Path(first["path"]).is_absolute() and Path(first["path"]).parent == src.resolve() / "ESC-50-master/audio"
    assert not list(folder.rglob("*.wav"))  # nothing copied
    card = (folder / "card.md").read_text()
    assert "CC BY-NC 3.0" in card and "Piczak" in card and "meta/esc50.csv" in card and "30 clips" in card
    sums = dict(line.split("  ", 1)[::-1] for line in (folder / "checksums.sha256").read_text().splitlines())
    assert {"manifest.jsonl", "card.md", first["path"]} <= set(sums)
    assert prepared_root("esc50") == folder


def test_speechcommands_splits_come_from_the_list_files(tmp_path):
    rows = manifest(prepare("speechcommands", fakes.fake_speechcommands(tmp_path / "sc")))
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 18 and not any("_background_noise_" in r["path"] for r in rows)
    assert by_id["yes/00000004_nohash_0"]["split"] == "validation"
    assert by_id["no/00000005_nohash_0"]["split"] == "test" and by_id["no/00000000_nohash_0"]["split"] == "train"
    assert by_id["bed/00000001_nohash_0"]["label12"] == "_unknown_" and by_id["bed/00000001_nohash_0"]["speaker"] \
        == "00000001"


def test_voxceleb1_identification_split_and_verification_trials(tmp_path):
    folder = prepare("voxceleb1", fakes.fake_voxceleb1(tmp_path / "vox"))
    rows = {r["id"]: r for r in manifest(folder)}
    assert rows["id10001/vid2/00001"]["split"] == "test" and rows["id10001/vid0/00001"]["split"] == "train"
    assert rows["id10002/vid0/00001"]["split_verification"] == "test"
    assert rows["id10000/vid0/00001"]["split_verification"] == "train"
    trials = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 4 and {t["target"] for t in trials} == {0, 1}
    assert all(t["enroll"] in rows and t["test"] in rows and t["split"] == "test" for t in trials)


def test_librispeech_subsets_transcripts_and_speaker_sex(tmp_path):
    rows = manifest(prepare("librispeech", fakes.fake_librispeech(tmp_path / "ls")))
    by_id = {r["id"]: r for r in rows}
    assert {r["subset"] for r in rows} == {"train-clean-100", "dev-clean", "test-clean"}
    assert by_id["101-5000-0001"]["transcript"] == "HELLO WORLD NUMBER 1" and by_id["101-5000-0001"]["gender"] == "F"
    assert by_id["100-5000-0000"]["path"].endswith("train-clean-100/100/5000/100-5000-0000.flac")


@pytest.mark.parametrize("name, column, values", [
    ("urbansound8k", "fold", {str(k) for k in range(1, 11)}),
    ("fsd50k", "split", {"train", "validation", "test"}),
    ("clotho", "split_xares", {"train", "validation", "test"}),
    ("cremad", "fold", {"1", "2", "3", "4", "5"}),
    ("ravdess", "fold", {"1", "2", "3", "4"}),
    ("gtzan", "fold", {str(k) for k in range(1, 11)}),
    ("nsynth", "split", {"train", "validation", "test"}),
    ("fluentspeechcommands", "split", {"train", "validation", "test"}),
    ("vocalsound", "split", {"train", "validation", "test"}),
    ("libricount", "fold", {"1", "2", "3", "4", "5"}),
    ("beijing_opera", "fold", {"1", "2", "3", "4", "5"}),
    ("mridangam", "fold", {"1", "2", "3", "4", "5"}),
    ("vocal_imitation", "fold", {"1", "2", "3"}),
    ("fma_small", "split", {"train", "validation", "test"}),
])
def test_each_preparer_writes_its_split_column(tmp_path, name, column, values):
    rows = manifest(prepare(name, getattr(fakes, f"fake_{name}")(tmp_path / name)))
    assert {r[column] for r in rows} == values
    assert all(Path(r["path"]).is_file() for r in rows)


def test_speaker_splits_are_speaker_disjoint(tmp_path):
    for name, column in (("cremad", "fold"), ("ravdess", "fold"), ("vocalsound", "split"),
                         ("fluentspeechcommands", "split")):
        rows = manifest(prepare(name, getattr(fakes, f"fake_{name}")(tmp_path / name)))
        parts_of = {}
        for row in rows:
            parts_of.setdefault(row["speaker"], set()).add(row[column])
        assert len(parts_of) > 1 and all(len(parts) == 1 for parts in parts_of.values()), name


def test_fluent_speech_commands_label_and_intent(tmp_path):
    rows = manifest(prepare("fluentspeechcommands", fakes.fake_fluentspeechcommands(tmp_path / "fsc")))
    row = next(r for r in rows if r["id"] == "spkD-1")
    assert row["split"] == "validation" and row["label"] == "Volume up" and row["intent"] == "increase_volume_none"


def test_fsd50k_and_clotho_label_lists(tmp_path):
    rows = manifest(prepare("fsd50k", fakes.fake_fsd50k(tmp_path / "fsd")))
    assert ["rain", "siren"] in [r["label"] for r in rows]
    clotho = manifest(prepare("clotho", fakes.fake_clotho(tmp_path / "clotho")))
    evaluation = next(r for r in clotho if r["id"] == "evaluation/evaluation clip 0")
    assert evaluation["split"] == "test" and evaluation["split_xares"] == "validation"
    assert len(evaluation["caption"]) == 5


def test_labels_read_from_file_names_as_hear_reads_them(tmp_path):
    mridangam = manifest(prepare("mridangam", fakes.fake_mridangam(tmp_path / "m")))
    row = next(r for r in mridangam if r["id"] == "C/artist__2-dheem-c-2")
    assert row["label"] == "dheem" and row["tonic"] == "c"
    assert {r["label"] for r in manifest(prepare("beijing_opera", fakes.fake_beijing_opera(tmp_path / "b")))} == \
        {"bangu", "naobo", "xiaoluo"}
    assert {r["label"] for r in manifest(prepare("libricount", fakes.fake_libricount(tmp_path / "l")))} == \
        {"0", "1", "2"}
    imitations = manifest(prepare("vocal_imitation", fakes.fake_vocal_imitation(tmp_path / "v")))
    assert len(imitations) == 30 and {r["label"] for r in imitations} == {"000Dog_bark.wav", "001Siren.wav",
                                                                           "002Rain.wav"}


def test_fma_small_reads_the_two_level_header_and_keeps_the_small_subset(tmp_path):
    rows = manifest(prepare("fma_small", fakes.fake_fma_small(tmp_path / "fma")))
    assert len(rows) == 24 and {r["label"] for r in rows} == {"Hip-Hop", "Rock", "Folk"}
    assert rows[0]["id"] == "000002" and rows[0]["path"].endswith("fma_small/000/000002.mp3")


def test_voxlingua_dev_marks_the_ten_most_frequent_languages(tmp_path):
    rows = manifest(prepare("voxlingua107_dev", fakes.fake_voxlingua107_dev(tmp_path / "vl")))
    out = {r["label"] for r in rows if r["fold_top10"] == "none"}
    assert out == {"l10", "l11"} and all(r["fold_top10"] == r["fold"] for r in rows if r["label"] not in out)


def test_hear_reader_keeps_hear_folds_and_converts_event_times(tmp_path):
    rows = manifest(prepare("hear-esc50", fakes.fake_hear(tmp_path / "h1", "esc50", folds=5)))
    assert {r["fold"] for r in rows} == {f"fold0{k}" for k in range(5)}
    events = manifest(prepare("hear-dcase2016_task2", fakes.fake_hear(tmp_path / "h2", "dcase2016_task2",
                                                                      kind="events")))
    assert {r["split"] for r in events} == {"train", "validation", "test"}
    assert events[0]["events"] == [[0.1, 0.6, events[0]["events"][0][2]]]
    with pytest.raises(PrepareError, match="task_name is 'esc50'.*prepare it as hear-esc50"):
        prepare("hear-fsd50k", tmp_path / "h1")


def test_xares_shards_are_extracted_and_split_by_shard_name(tmp_path):
    folder = prepare("xares-cremad", fakes.fake_xares(tmp_path / "x", "cremad"))
    rows = manifest(folder)
    assert {r["split"] for r in rows} == {"train", "validation", "test"}
    assert all((folder / r["path"]).is_file() and not Path(r["path"]).is_absolute() for r in rows)
    shared = manifest(prepare("xares-voxlingua33", fakes.fake_xares(tmp_path / "v", "voxlingua33")))
    counts = {s: sum(r["split"] == s for r in shared) for s in ("train", "validation", "test")}
    assert counts["validation"] > 0 and counts["train"] > counts["validation"] and counts["test"] == 6
    multi = manifest(prepare("xares-fsd50k", fakes.fake_xares(tmp_path / "f", "fsd50k")))
    assert ["dog", "rain"] in [r["label"] for r in multi]


@pytest.mark.parametrize("name, expected", [
    ("esc50", "meta/esc50.csv"), ("urbansound8k", "metadata/UrbanSound8K.csv"),
    ("fsd50k", "FSD50K.ground_truth/dev.csv"), ("clotho", "clotho_captions_development.csv"),
    ("speechcommands", "testing_list.txt"), ("voxceleb1", "iden_split.txt"), ("librispeech", "trans.txt"),
    ("cremad", "AudioWAV"), ("ravdess", "Actor_01"), ("gtzan", "genres/blues"),
    ("nsynth", "nsynth-test/examples.json"), ("fluentspeechcommands", "data/train_data.csv"),
    ("vocalsound", "meta/te_meta.csv"), ("libricount", "test"),
    ("beijing_opera", "beijing_opera_percussion_instrument_1.0"), ("mridangam", "mridangam_stroke_1.5"),
    ("vocal_imitation", "vocal_imitations.txt"), ("voxlingua107_dev", "<language>/<utterance>.wav"),
    ("fma_small", "fma_metadata/tracks.csv"),
    ("hear-esc50", "task_metadata.json"), ("xares-esc50", "*.tar"),
])
def test_a_wrong_folder_names_the_file_expected_and_where_to_get_it(tmp_path, name, expected):
    from bench.prepare.registry import dataset_info

    with pytest.raises(PrepareError) as caught:
        prepare(name, tmp_path)
    message = str(caught.value)
    assert expected in message and dataset_info(name).published_at in message


def test_a_missing_audio_file_or_column_is_named(tmp_path):
    src = fakes.fake_esc50(tmp_path / "src")
    (src / "ESC-50-master/audio/3-300-A-0.wav").unlink()
    with pytest.raises(PrepareError, match="3-300-A-0.wav', which does not exist"):
        prepare("esc50", src)
    (src / "ESC-50-master/meta/esc50.csv").write_text("filename,fold\nx.wav,1\n")
    with pytest.raises(PrepareError, match="missing column.*category"):
        prepare("esc50", src)


def test_prepared_root_explains_how_to_prepare(tmp_path):
    with pytest.raises(DatasetError, match=r"'gtzan' not found .*bench data prepare gtzan --from DIR.*marsyas"):
        prepared_root("gtzan")
    with pytest.raises(KeyError, match="no preparer for dataset 'esc-50'.*Did you mean: esc50"):
        prepare("esc-50", tmp_path)


def test_prepare_to_a_chosen_folder_is_remembered_and_replaces_atomically(tmp_path):
    src = fakes.fake_gtzan(tmp_path / "src")
    dst = tmp_path / "elsewhere" / "gtzan"
    assert prepare("gtzan", src, dst) == dst.resolve()
    assert prepared_root("gtzan") == dst.resolve()
    (src / "genres/metal/metal.00090.au").unlink()
    prepare("gtzan", src, dst)
    assert len(manifest(dst)) == 29
    assert sorted(p.name for p in dst.parent.iterdir()) == ["gtzan"]  # no temporary folder left


def test_cli_data_prepare_and_list(tmp_path, capsys):
    from bench.cli_data import add_data_parser

    parser = argparse.ArgumentParser()
    add_data_parser(parser.add_subparsers(dest="command", required=True))
    src = fakes.fake_cremad(tmp_path / "crema")
    args = parser.parse_args(["data", "prepare", "cremad", "--from", str(src)])
    assert args.func(args) == 0
    assert "prepared 'cremad' into" in capsys.readouterr().out
    args = parser.parse_args(["data", "list"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "cremad" in listing and "prepared:" in listing and "xares-*" in listing and "hear-*" in listing


def test_bench_run_with_mfcc_on_a_prepared_catalog_task(tmp_path):
    from bench.cli import main

    prepare("esc50", fakes.fake_esc50(tmp_path / "src"))
    out = tmp_path / "results"
    assert main(["run", "--encoder", "mfcc", "--tasks", "xares/esc50", "--out", str(out), "--seeds", "0",
                 "--no-progress"]) == 0
    record = json.loads(next(out.rglob("xares__esc50.json")).read_text())
    assert record["status"] == "ok" and record["task"]["name"] == "xares/esc50"
    scores = {p["kind"]: p["main_score"] for p in record["protocols"]}
    assert set(scores) == {"linear", "knn"}
    assert all(score["name"] == "accuracy" and 0.0 <= score["value"] <= 1.0 for score in scores.values()), scores


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_preparer_has_a_fake_layout_and_writes_a_complete_card(tmp_path, name):
    info = DATASETS[name]
    folder = prepare(name, getattr(fakes, f"fake_{name}")(tmp_path / name))
    rows = manifest(folder)
    assert rows and all(r["id"] and Path(r["path"]).is_file() and ("split" in r or "fold" in r or "subset" in r)
                        for r in rows)
    card = (folder / "card.md").read_text()
    for fact in (info.license, info.redistribution, info.published_at, info.layout_source, f"{len(rows)} clips"):
        assert fact in card
