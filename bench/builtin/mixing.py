"""Signal and file helpers of the built-in speech datasets: degradations (noise, reverberation, level, silence),
multi-voice mixtures, RTTM files, and the writer that lays out a dataset folder in the manifest format.

All randomness comes from the `numpy.random.Generator` passed in, so a clip is a pure function of its seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
NOISE_COLOURS = ("white", "pink", "brown")


def active_region(wave: np.ndarray, threshold_db: float = -40.0, frame: int = 160) -> tuple[int, int]:
    """(start, end) samples of the span whose 10 ms frames are within `threshold_db` of the loudest frame."""
    n = len(wave) // frame
    if n == 0:
        return 0, len(wave)
    power = np.mean(wave[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    loud = np.nonzero(power > power.max() * 10 ** (threshold_db / 10))[0]
    if len(loud) == 0:
        return 0, len(wave)
    return int(loud[0] * frame), int(min(len(wave), (loud[-1] + 1) * frame))


def trim(wave: np.ndarray) -> np.ndarray:
    """`wave` without its leading and trailing silence."""
    start, end = active_region(wave)
    return wave[start:end]


def coloured_noise(n: int, rng: np.random.Generator, colour: str) -> np.ndarray:
    """Unit-RMS noise of `n` samples, white, pink (1/f power) or brown (1/f^2 power)."""
    size = 1 << max(0, n - 1).bit_length()  # shape the spectrum at a power-of-two length (fast FFT), then cut
    noise = rng.standard_normal(size)
    if colour != "white":
        spectrum = np.fft.rfft(noise)
        freqs = np.arange(len(spectrum), dtype=np.float64)
        freqs[0] = 1.0
        spectrum /= freqs ** (0.5 if colour == "pink" else 1.0)
        noise = np.fft.irfft(spectrum, size)
    noise = noise[:n]
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def room_impulse(rng: np.random.Generator, rt60: float, drr_db: float) -> np.ndarray:
    """A synthetic room impulse response: a direct path then exponentially decaying noise (60 dB in `rt60` s)."""
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.908 * t / rt60)
    tail[0] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail ** 2) + 1e-12))
    tail[0] = 1.0
    return tail


def degrade(wave: np.ndarray, rng: np.random.Generator, *, snr_db: tuple[float, float] = (10.0, 40.0),
            reverb_prob: float = 0.3, rt60: tuple[float, float] = (0.2, 0.7), lead_s: tuple[float, float] = (0.0, 0.3),
            tail_s: tuple[float, float] = (0.05, 0.2), level_db: tuple[float, float] = (-32.0, -18.0),
            ) -> tuple[np.ndarray, dict[str, Any]]:
    """Reverberate (sometimes), pad with silence, add coloured noise at a random SNR and set a random level.

    Returns the float32 clip and what was drawn (`snr_db`, `noise`, `rt60` (0 = dry), `lead_s`), for the manifest.
    """
    from scipy.signal import fftconvolve

    speech = wave.astype(np.float64)
    power = np.mean(speech ** 2) + 1e-12
    room = 0.0
    if rng.random() < reverb_prob:
        room = float(rng.uniform(*rt60))
        speech = fftconvolve(speech, room_impulse(rng, room, float(rng.uniform(0.0, 10.0))))[: len(speech)]
        speech *= np.sqrt(power / (np.mean(speech ** 2) + 1e-12))
    lead = int(rng.uniform(*lead_s) * SAMPLE_RATE)
    tail = int(rng.uniform(*tail_s) * SAMPLE_RATE)
    speech = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    snr = float(rng.uniform(*snr_db))
    colour = NOISE_COLOURS[int(rng.integers(len(NOISE_COLOURS)))]
    noisy = speech + coloured_noise(len(speech), rng, colour) * np.sqrt(power / 10 ** (snr / 10))
    noisy *= 10 ** (float(rng.uniform(*level_db)) / 20) / np.sqrt(power)
    peak = np.max(np.abs(noisy))
    if peak > 0.99:
        noisy *= 0.99 / peak
    info = {"snr_db": round(snr, 1), "noise": colour, "rt60": round(room, 2), "lead_s": round(lead / SAMPLE_RATE, 3)}
    return noisy.astype(np.float32), info


def mix(sources: list[tuple[np.ndarray, int]], length: int) -> np.ndarray:
    """Sum of (wave, start sample) placements into a clip of `length` samples (parts past the end are cut)."""
    out = np.zeros(length, dtype=np.float64)
    for wave, start in sources:
        part = wave[: max(0, length - start)]
        out[start:start + len(part)] += part
    return out


def write_rttm(path: Path, recording: str, segments: list[list]) -> None:
    """Write `[start_s, end_s, speaker]` segments as an RTTM file (one SPEAKER line each, sorted by start)."""
    lines = [f"SPEAKER {recording} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} <NA> <NA>\n"
             for start, end, speaker in sorted(segments, key=lambda s: (s[0], s[1], s[2]))]
    path.write_text("".join(lines))


class DatasetWriter:
    """Lays out a dataset folder: `audio/<id>.wav` (16 kHz PCM_16), `manifest.jsonl`, optional `trials.jsonl`."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        (self.out_dir / "audio").mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []

    def add(self, clip_id: str, wave: np.ndarray, **fields: Any) -> None:
        """Write one clip and queue its manifest row (`id`, `path`, `duration` and the given fields)."""
        import io

        import soundfile

        rel = f"audio/{clip_id}.wav"
        buffer = io.BytesIO()  # written in memory: soundfile's flush on a real file syncs to disk, slowly
        soundfile.write(buffer, np.clip(wave, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
        (self.out_dir / rel).write_bytes(buffer.getvalue())
        self.rows.append({"id": clip_id, "path": rel, **fields, "duration": round(len(wave) / SAMPLE_RATE, 3)})

    def finish(self, card: str, trials: list[dict[str, Any]] | None = None) -> None:
        """Write `manifest.jsonl`, `card.md` and, when given, `trials.jsonl`."""
        _write_jsonl(self.out_dir / "manifest.jsonl", self.rows)
        if trials is not None:
            _write_jsonl(self.out_dir / "trials.jsonl", trials)
        (self.out_dir / "card.md").write_text(card, encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
