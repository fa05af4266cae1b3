"""Split hygiene of the music generators: no recorded SoundFont sample is played in two splits.

The sf2 reader is checked on a SoundFont built here by hand; the splits are checked against the program -> samples
map directly (not through the component code that made them).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bench.builtin.soundfont_samples import program_samples, sample_components

pytest.importorskip("pretty_midi")


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _tiny_sf2(path: Path) -> Path:
    """Presets (bank, program) -> instrument: (0,0)->i0, (0,1)->i1, (0,2)->i2, (0,3)->i3, (128,0)->i1.
    Samples: i0 plays s0 (data 0-10), i1 s1 (10-20, left of a stereo pair with s2), i2 s3 (data 0-10 again, the same
    audio as s0), i3 s2 (20-30, the right half of s1)."""
    def name(text: str) -> bytes:
        return text.encode().ljust(20, b"\0")

    presets = [(0, 0, 0), (1, 0, 1), (2, 0, 2), (3, 0, 3), (0, 128, 1)]  # program, bank, instrument
    # each preset: a global zone (pan only, no instrument) and one zone with the instrument generator (41)
    phdr = b"".join(name(f"p{p}") + struct.pack("<HHHIII", p, b, 2 * k, 0, 0, 0) for k, (p, b, _) in enumerate(presets))
    phdr += name("EOP") + struct.pack("<HHHIII", 0, 0, 2 * len(presets), 0, 0, 0)
    pbag = b"".join(struct.pack("<HH", g, 0) for g in range(2 * len(presets) + 1))
    pgen = b"".join(struct.pack("<HH", 17, 0) + struct.pack("<HH", 41, inst) for _, _, inst in presets)
    pgen += struct.pack("<HH", 0, 0)
    inst_samples = [0, 1, 3, 2]
    inst = b"".join(name(f"i{k}") + struct.pack("<H", k) for k in range(4)) + name("EOI") + struct.pack("<H", 4)
    ibag = b"".join(struct.pack("<HH", k, 0) for k in range(5))
    igen = b"".join(struct.pack("<HH", 53, s) for s in inst_samples) + struct.pack("<HH", 0, 0)
    samples = [(0, 10, 0, 1), (10, 20, 2, 4), (20, 30, 1, 2), (0, 10, 0, 1)]  # start, end, link, type
    shdr = b"".join(name(f"s{k}") + struct.pack("<IIIIIBbHH", a, b, a, b, 32000, 60, 0, link, kind)
                    for k, (a, b, link, kind) in enumerate(samples))
    shdr += name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    pdta = b"pdta" + b"".join(_chunk(c, d) for c, d in (
        (b"phdr", phdr), (b"pbag", pbag), (b"pmod", b""), (b"pgen", pgen), (b"inst", inst), (b"ibag", ibag),
        (b"imod", b""), (b"igen", igen), (b"shdr", shdr)))
    body = b"sfbk" + _chunk(b"LIST", b"INFO") + _chunk(b"LIST", b"sdta") + _chunk(b"LIST", pdta)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_reader_on_a_hand_built_soundfont(tmp_path):
    path = _tiny_sf2(tmp_path / "tiny.sf2")
    # s3 is s0's audio, s2 is s1's stereo partner: four programs, two recordings; bank 128 is ignored
    assert program_samples(path) == {0: {0}, 1: {1}, 2: {0}, 3: {1}}
    assert sample_components([0, 1, 2, 3], path) == [[0, 2], [1, 3]]
    with pytest.raises(KeyError, match="no preset"):
        sample_components([0, 9], path)
    (tmp_path / "bad.sf2").write_bytes(b"RIFF\0\0\0\0WAVE")
    with pytest.raises(ValueError, match="not a SoundFont"):
        program_samples(tmp_path / "bad.sf2")


def test_timgm6mb_shares_samples_as_reported():
    from bench.builtin.music import soundfont_path

    samples = program_samples(soundfont_path())
    assert len(samples) == 128
    assert samples[15] & samples[25]  # Dulcimer and Steel Guitar (issue 17)
    assert samples[62] & samples[81]  # Synth Brass 1 and Saw Wave


def _used(samples: dict[int, frozenset[int]], programs: list[int]) -> set[int]:
    return set().union(*(samples[p] for p in programs))


@pytest.mark.parametrize("seed", [0, 1])
def test_music_splits_share_no_recorded_sample(seed):
    from bench.builtin.music import (
        CHORD_PROGRAMS,
        FAMILIES,
        PITCH_PROGRAMS,
        family_splits,
        soundfont_path,
        split_programs,
    )

    samples = program_samples(soundfont_path())
    by_family = family_splits(seed)
    for fam, splits in by_family.items():
        assert all(splits[s] for s in ("train", "validation", "test")), f"family {FAMILIES[fam]} lacks a split"
    instrument = {s: [p for fam in by_family for p in by_family[fam][s]] for s in ("train", "validation", "test")}
    for programs, splits in ((sorted(p for f in FAMILIES for p in range(8 * f, 8 * f + 8)), instrument),
                             (PITCH_PROGRAMS, split_programs(PITCH_PROGRAMS, seed, "pitch-programs")),
                             (CHORD_PROGRAMS, split_programs(CHORD_PROGRAMS, seed, "chord-programs"))):
        assert sorted(p for s in splits.values() for p in s) == sorted(programs)  # a partition
        train, val, test = (_used(samples, splits[s]) for s in ("train", "validation", "test"))
        assert not train & test and not train & val and not val & test
        assert len(splits["test"]) >= 0.15 * len(programs) and len(splits["train"]) >= 0.45 * len(programs)
