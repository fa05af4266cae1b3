"""The built-in percussion dataset: classes in every split, recordings disjoint across splits, solo rendering,
deterministic bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tinysoundfont")
pytest.importorskip("pretty_midi")

from bench.builtin import file_checksums  # noqa: E402
from bench.builtin.audio_utils import SPLITS  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The quick tier cut to 2/1/1 clips per class, generated twice with seed 0."""
    from bench.builtin import percussion

    original = percussion.tier_sizes
    percussion.tier_sizes = lambda tier, quick, full: (2, 1, 1)
    try:
        outs = []
        for name in ("a", "b"):
            out = tmp_path_factory.mktemp(name)
            percussion.generate_percussion(out, "quick", 0)
            outs.append(out)
    finally:
        percussion.tier_sizes = original
    return outs[0], outs[1]


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_every_class_in_every_split_and_recordings_disjoint(tiny: tuple[Path, Path]) -> None:
    from bench.builtin.percussion import CLASSES

    rows = _rows(tiny[0])
    for split in SPLITS:
        assert {r["label"] for r in rows if r["split"] == split} == set(CLASSES), split
    heard = {s: {rec for r in rows if r["split"] == s for rec in r["recordings"]} for s in SPLITS}
    sets = {s: {r["sample_set"] for r in rows if r["split"] == s} for s in SPLITS}
    for a, b in (("train", "test"), ("train", "validation"), ("validation", "test")):
        assert not heard[a] & heard[b], (a, b)
        assert not sets[a] & sets[b], (a, b)


def test_deterministic_bytes(tiny: tuple[Path, Path]) -> None:
    first, second = (file_checksums(folder) for folder in tiny)
    assert len(first) == 2 + 6 * 4  # manifest, card and 24 clips
    assert first == second


def test_voice_splits_hold_out_recordings_in_the_raw_preset_map() -> None:
    """Every voice plays only recordings of its kit preset (the raw preset->samples map of bank 128), and the
    recordings of train, validation and test voices are disjoint."""
    from bench.builtin.music import soundfont_path
    from bench.builtin.percussion import DRUM_BANK, drum_voices, voice_splits
    from bench.builtin.soundfont_samples import program_samples

    path = soundfont_path()
    raw = program_samples(path, DRUM_BANK)
    voices = drum_voices(path)
    splits = voice_splits(voices, 0)
    assert sorted(i for s in SPLITS for i in splits[s]) == list(range(len(voices)))
    for v in voices:
        assert v.samples <= raw[v.program], v
    heard = {s: set().union(*(voices[i].samples for i in splits[s])) for s in SPLITS}
    assert not heard["train"] & heard["test"]
    assert not heard["train"] & heard["validation"]
    assert not heard["validation"] & heard["test"]


def test_muted_copy_plays_only_the_voice_recordings(tmp_path: Path) -> None:
    """Re-parsed from the patched bytes, the zones still sounding at a layered voice's key are its own."""
    from bench.builtin.music import soundfont_path
    from bench.builtin.percussion import DRUM_BANK, drum_voices
    from bench.builtin.soundfont_samples import drum_zones, silence_zones

    path = soundfont_path()
    layered = [v for v in drum_voices(path) if v.muted]
    assert layered  # the Power kick (Kick Verb over Bass Drum New and a filter snap) is one
    data = path.read_bytes()
    for v in layered[:5]:
        patched = tmp_path / f"{v.program}-{v.key}.sf2"
        patched.write_bytes(silence_zones(data, list(v.muted)))
        assert {z.sample for z in drum_zones(patched, DRUM_BANK)[(v.program, v.key)]} == v.samples


def test_power_kick_is_rendered_solo_and_audible() -> None:
    import numpy as np

    from bench.builtin.music import soundfont_path
    from bench.builtin.percussion import DrumRenderer, drum_voices
    from bench.builtin.soundfont_samples import sample_names

    path = soundfont_path()
    names = sample_names(path)
    kick = next(v for v in drum_voices(path) if v.program == 16 and v.key == 36)
    assert {names[s] for s in kick.samples} == {"Kick Verb"} and len(kick.muted) == 2
    renderer = DrumRenderer()
    renderer.load(kick)
    x = renderer.render(kick, 100, 0.0, 0.2, 0.5)
    assert len(x) == 8000 and np.abs(x).max() > 0.05


def test_task_file_loads_for_both_tiers(tiny: tuple[Path, Path]) -> None:
    from bench.builtin import GENERATORS
    from bench.taskspec import load_task_file

    task = Path(__file__).resolve().parents[1] / "tasks" / "builtin" / "percussion.yaml"
    rows = _rows(tiny[0])
    for tier, prefix in (("quick", "builtin-quick"), ("full", "builtin")):
        spec = load_task_file(task, tier)
        assert spec.name == f"{prefix}/percussion" and spec.domain == "music"
        assert (spec.dataset.name, spec.dataset.tier) == ("percussion", tier) and spec.dataset.name in GENERATORS
        assert spec.group == "sample_set" and abs(spec.chance - 1 / 6) < 1e-3
        assert all(spec.label_column in r and r[spec.group] is not None for r in rows)
