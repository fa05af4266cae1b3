"""Built-in music, sound, spatial and audio-text datasets: manifests, splits, labels, channels, determinism, YAMLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tinysoundfont")
pytest.importorskip("pyroomacoustics")

from bench.builtin import GENERATORS, ensure_builtin, file_checksums, music, sound, sound_captions, spatial  # noqa: E402
from bench.builtin.audio_utils import (  # noqa: E402
    SAMPLE_RATE,
    SPLITS,
    active_region,
    coloured_noise,
    item_rng,
    mix,
    trim,
)
from bench.builtin.music import NOTE_NAMES  # noqa: E402
from bench.taskspec import load_task_file  # noqa: E402

MINE = ("instrument", "pitch", "chord", "sound_events", "sound_scenes", "captions", "spatial")
TASKS = {"instrument": "instrument", "pitch": "pitch", "pitch_regression": "pitch", "chord": "chord",
         "sound_events": "sound_events", "sound_event_detection": "sound_scenes", "sound_tagging": "sound_scenes",
         "doa": "spatial", "distance": "spatial", "captions": "captions"}
TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "builtin"
# Each task's held-out unit (`group`: intervals resample it) and whether its splits keep it apart; None: a scene
# mixes several events, so no one column holds its unit.
GROUPS = {"instrument": ("sample_set", True), "pitch": ("sample_set", True), "pitch_regression": ("sample_set", True),
          "chord": ("sample_set", True), "sound_events": ("label", False), "sound_event_detection": (None, False),
          "sound_tagging": (None, False), "doa": ("room", True), "distance": ("room", True),
          "captions": ("class", False)}
# Shrinks every split to a sixteenth (at least one item): enough to test determinism quickly.
REDUCE = "lambda tier, quick, full: tuple(max(1, n // 16) for n in quick)"


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict[str, tuple[Path, list[dict]]]:
    """Every quick dataset of this half of the suite, generated once into a private BENCH_HOME."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_HOME", str(tmp_path_factory.mktemp("home")))
        folders = {name: ensure_builtin(name, "quick", seed=0, progress=False) for name in MINE}
    return {name: (folder, _rows(folder)) for name, folder in folders.items()}


def _by_split(rows: list[dict], key: str) -> dict[str, set]:
    return {s: {r[key] for r in rows if r["split"] == s} for s in SPLITS}


def _assert_disjoint(groups: dict[str, set], what: str) -> None:
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            assert not groups[a] & groups[b], f"{what} shared by {a} and {b}: {groups[a] & groups[b]}"


# ---------------------------------------------------------------------------------------------------------------
# Shared signal helpers (bench.builtin.audio_utils)


@pytest.mark.parametrize("power_of_two", [False, True], ids=["exact-length", "power-of-two"])
@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0], ids=["white", "pink", "brown"])
def test_coloured_noise_has_the_asked_spectral_slope(exponent, power_of_two):
    """Both variants (music/sound, and speech's power-of-two one) give unit-RMS noise whose Welch power spectrum
    falls as 1/f**exponent, at a length that is not a power of two."""
    from scipy.signal import welch

    n = 3 * 2**15 + 5
    x = coloured_noise(n, np.random.default_rng(0), exponent, power_of_two=power_of_two)
    assert len(x) == n and np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-6)
    freqs, psd = welch(x, fs=SAMPLE_RATE, nperseg=4096)
    band = (freqs >= 100) & (freqs <= 4000)
    slope = np.polyfit(np.log(freqs[band]), np.log(psd[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.15)


def test_mix_sums_placed_sources_and_cuts_the_end():
    ones, twos = np.ones(4, np.float32), np.full(5, 2.0, np.float32)
    out = mix([(ones, 1), (twos, 3), (ones, 9), (twos, 12)], 10)
    assert out.dtype == np.float64
    assert out.tolist() == [0, 1, 1, 3, 3, 2, 2, 2, 0, 1]


def test_active_region_and_trim_find_the_loud_frames():
    t = np.arange(16000) / SAMPLE_RATE
    x = np.zeros(16000)
    x[3200:8000] = 0.5 * np.sin(2 * np.pi * 440 * t[3200:8000])
    x[1600:3200] = 0.01 * np.random.default_rng(0).standard_normal(1600)  # about 31 dB below the tone
    assert active_region(x) == (1600, 8000)  # within 40 dB: the faint part counts
    assert active_region(x, floor_db=20.0) == (3200, 8000)
    assert np.array_equal(trim(x, 20.0), x[3200:8000])
    assert np.array_equal(trim(x, 35.0, inclusive=True), x[1600:8000])
    assert active_region(x[:100]) == (0, 100)  # shorter than a frame: all of it


def test_item_rng_streams_are_independent_and_reproducible():
    first = item_rng(0, "stream", 3).random(4)
    assert np.array_equal(first, item_rng(0, "stream", 3).random(4))
    for other in (item_rng(1, "stream", 3), item_rng(0, "other", 3), item_rng(0, "stream", 4),
                  item_rng(0, "stream", 3, "degrade")):
        assert not np.array_equal(first, other.random(4))


# ---------------------------------------------------------------------------------------------------------------
# Quick datasets


@pytest.mark.parametrize("name", MINE)
def test_manifest_files_and_card(quick, name):
    import soundfile as sf

    folder, rows = quick[name]
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["split"] for r in rows} == set(SPLITS)
    assert all(isinstance(r["caption"], str) and len(r["caption"]) > 5 for r in rows)
    assert sorted(p.name for p in (folder / "audio").iterdir()) == sorted(Path(r["path"]).name for r in rows)
    channels = 4 if name == "spatial" else 1
    for r in rows[:: max(1, len(rows) // 10)]:
        info = sf.info(str(folder / r["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, channels, "PCM_16")
    card = (folder / "card.md").read_text()
    assert "## Sources and licenses" in card and "## Sizes" in card
    sums = dict(line.split("  ", 1)[::-1] for line in (folder / "checksums.sha256").read_text().splitlines())
    assert sums == file_checksums(folder)


def test_music_labels_and_program_holdout(quick):
    _, rows = quick["instrument"]
    assert {r["label"] for r in rows} == set(music.FAMILIES.values())
    assert all(music.FAMILIES[r["program"] // 8] == r["label"] for r in rows)
    _assert_disjoint(_by_split(rows, "program"), "instrument programs")

    _, rows = quick["pitch"]
    assert all(r["label"] == NOTE_NAMES[r["note"] % 12] and 28 <= r["note"] <= 96 for r in rows)
    assert {r["label"] for r in rows if r["split"] == "test"} == set(NOTE_NAMES)
    _assert_disjoint(_by_split(rows, "program"), "pitch programs")

    _, rows = quick["chord"]
    for r in rows:
        root = NOTE_NAMES.index(r["root"])
        assert {(n - root) % 12 for n in r["notes"]} == set(music.CHORDS[r["label"]]), r
    _assert_disjoint(_by_split(rows, "program"), "chord programs")


def test_sound_events_hold_out_augmentation(quick):
    _, rows = quick["sound_events"]
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        assert {r["label"] for r in part} == set(sound.EVENT_CLASSES)
        low, high = sound.SHIFT_BANDS[split]
        assert all(low - 0.01 <= abs(r["shift_semitones"]) <= high + 0.01 for r in part)
        assert {r["noise"] for r in part} <= set(sound.SPLIT_NOISES[split])
    assert all(0 <= r["onset_s"] < r["offset_s"] <= sound.EVENT_CLIP_S for r in rows)
    assert {r["source"] for r in rows if r["label"] in sound.ANIMALS} == {"recording"}


def test_scenes_events_and_tags(quick):
    import soundfile as sf

    folder, rows = quick["sound_scenes"]
    for r in rows:
        assert 1 <= len(r["events"]) <= 4
        for onset, offset, label in r["events"]:
            assert 0 <= onset < offset <= r["duration_s"] and label in sound.EVENT_CLASSES
        assert r["tags"] == sorted({e[2] for e in r["events"]})
    assert sf.info(str(folder / rows[0]["path"])).duration == pytest.approx(5.0)


def test_captions_classes_and_holdout(quick):
    _, rows = quick["captions"]
    classes = set(music.FAMILIES.values()) | set(sound.EVENT_CLASSES)
    assert {r["class"] for r in rows} == classes
    _assert_disjoint(_by_split([r for r in rows if r["domain"] == "music"], "program"), "caption programs")
    test = [r["caption"] for r in rows if r["split"] == "test"]
    assert len(set(test)) > 0.8 * len(test), "captions should mostly tell clips apart"


def test_spatial_labels_and_rooms(quick):
    _, rows = quick["spatial"]
    for r in rows:
        centre = 45.0 * spatial.SECTORS.index(r["label"])
        assert abs((r["azimuth_deg"] - centre + 180.0) % 360.0 - 180.0) <= 22.5 + 0.1
        assert 0.5 <= r["distance"] <= 4.05
    counts = {s: [sum(r["label"] == c for r in rows if r["split"] == s) for c in spatial.SECTORS] for s in SPLITS}
    assert all(len(set(c)) == 1 for c in counts.values()), f"sectors should be balanced per split: {counts}"
    rooms = {s: {tuple(r["room_dims_m"]) for r in rows if r["split"] == s} for s in SPLITS}
    _assert_disjoint(rooms, "rooms")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_files_load_and_match_data(quick, task):
    for tier, prefix in (("quick", "builtin-quick"), ("full", "builtin")):
        spec = load_task_file(TASK_DIR / f"{task}.yaml", tier)
        assert spec.name == f"{prefix}/{task}"
        assert (spec.dataset.source, spec.dataset.name, spec.dataset.tier) == ("builtin", TASKS[task], tier)
        assert spec.dataset.name in GENERATORS and spec.chance is not None
        assert spec.channels == ("each" if spec.domain == "spatial" else "mix")
    _, rows = quick[TASKS[task]]
    assert all(spec.label_column in r and spec.split.column in r for r in rows)
    group, held_out = GROUPS[task]
    assert spec.group == group
    if group is not None:
        assert all(r.get(group) not in (None, "") for r in rows), f"every item needs its {group}"
        if held_out:
            _assert_disjoint(_by_split(rows, group), f"{task} groups ({group})")


REDUCED_SCRIPT = f"""
import sys
from pathlib import Path
from bench.builtin import GENERATORS, music, sound, sound_captions, spatial
for module in (music, sound, sound_captions, spatial):
    module.tier_sizes = {REDUCE}
for name in {MINE!r}:
    module, attr = GENERATORS[name].split(":")
    out = Path(sys.argv[1]) / name
    out.mkdir(parents=True)
    getattr(sys.modules[module], attr)(out, "quick", int(sys.argv[2]))
"""


def _generate_reduced(tmp: Path, seed: int, monkeypatch) -> dict[str, dict[str, str]]:
    """Checksums of every dataset generated in this process with shrunk sizes into `tmp`."""
    import importlib

    for module in (music, sound, sound_captions, spatial):
        monkeypatch.setattr(module, "tier_sizes", eval(REDUCE))
    for name in MINE:
        module, attr = GENERATORS[name].split(":")
        (tmp / name).mkdir(parents=True)
        getattr(importlib.import_module(module), attr)(tmp / name, "quick", seed)
    return {name: file_checksums(tmp / name) for name in MINE}


def test_same_seed_same_bytes(tmp_path, monkeypatch):
    """Same seed: identical files, here and in a fresh interpreter (other hash seed); another seed differs."""
    first = _generate_reduced(tmp_path / "a", 3, monkeypatch)
    other = _generate_reduced(tmp_path / "c", 4, monkeypatch)
    subprocess.run([sys.executable, "-c", REDUCED_SCRIPT, str(tmp_path / "b"), "3"], check=True,
                   cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONHASHSEED": "12345"})
    for name in MINE:
        assert first[name] == file_checksums(tmp_path / "b" / name), f"{name}: same seed, different files"
        assert first[name]["manifest.jsonl"] != other[name]["manifest.jsonl"], f"{name}: the seed has no effect"
        assert len(first[name]) > 3


def test_generated_music_splits_share_no_recorded_sample(quick):
    """In each generated manifest, the SoundFont samples of train programs and of test programs are disjoint."""
    from bench.builtin.soundfont_samples import program_samples

    samples = program_samples(music.soundfont_path())
    for name in ("instrument", "pitch", "chord", "captions"):
        rows = [r for r in quick[name][1] if "program" in r]
        used = {s: set().union(*(samples[r["program"]] for r in rows if r["split"] == s)) for s in SPLITS}
        _assert_disjoint(used, f"{name} recorded samples")
