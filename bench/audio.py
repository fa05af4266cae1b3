"""Decode, check, mix down and resample audio: soundfile + soxr (no torchaudio, see README).

Every failure raises `BadAudio` naming the clip, so the runner can stop with a clear message or, under
`--on-bad-audio skip`, count and report the clip instead of scoring a silently wrong number.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

MAX_ABS_SAMPLE = 1e4  # decoded float audio is nominally within ±1; far beyond this the file is corrupt


class BadAudio(ValueError):
    """A clip that cannot be used: unreadable, empty, non-finite, absurdly loud or of an unexpected shape."""


def _open(source: str | Path | bytes):
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source)


def audio_info(source: str | Path | bytes, where: str) -> tuple[int, int, int]:
    """(frames, sample_rate, channels) without decoding; raises BadAudio naming `where`."""
    import soundfile as sf

    try:
        info = sf.info(_open(source))
    except Exception as err:  # soundfile raises several types for unreadable input
        raise BadAudio(f"{where}: cannot read audio ({err}); check the file exists and is WAV/FLAC/OGG/MP3") from err
    return info.frames, info.samplerate, info.channels


def resampled_length(num_samples: int, source_rate: int, target_rate: int) -> int:
    """Length of a clip after soxr resampling from `source_rate` to `target_rate`."""
    if source_rate == target_rate:
        return num_samples
    return int(round(num_samples * target_rate / source_rate))


def load_audio(source: str | Path | bytes, target_rate: int, channels: str, where: str,
               max_seconds: float | None = None) -> np.ndarray:
    """Decode a clip to float32 [C, N] at `target_rate`.

    channels: "mix" averages all channels into one, "first" keeps channel 0, "each" keeps all of them.
    max_seconds crops from the start (after resampling). Raises BadAudio naming `where` on unreadable,
    empty or non-finite audio, or samples beyond ±MAX_ABS_SAMPLE.
    """
    import soundfile as sf

    try:
        data, rate = sf.read(_open(source), dtype="float32", always_2d=True)
    except Exception as err:
        raise BadAudio(f"{where}: cannot decode audio ({err}); re-encode it as WAV or FLAC") from err
    if data.shape[0] == 0:
        raise BadAudio(f"{where}: the audio is empty (0 samples); remove it from the manifest or "
                       f"run with --on-bad-audio skip")
    if not np.isfinite(data).all():
        raise BadAudio(f"{where}: the audio contains NaN or infinite samples; fix the file or run with "
                       f"--on-bad-audio skip")
    peak = float(np.abs(data).max())
    if peak > MAX_ABS_SAMPLE:
        raise BadAudio(f"{where}: the audio has samples up to {peak:.3g} (decoded audio should lie within ±1; over "
                       f"±{MAX_ABS_SAMPLE:g} means a corrupt or mislabelled file); fix the file or run with "
                       f"--on-bad-audio skip")
    wave = data.T  # [C, N]
    if channels == "mix":
        wave = wave.mean(axis=0, keepdims=True)
    elif channels == "first":
        wave = wave[:1]
    elif channels != "each":
        raise ValueError(f"unknown channel policy '{channels}'; expected mix, first or each")
    if rate != target_rate:
        import soxr

        wave = np.stack([soxr.resample(ch, rate, target_rate, quality="HQ") for ch in wave]).astype(np.float32)
    if max_seconds is not None:
        wave = wave[:, : int(round(max_seconds * target_rate))]
    return np.ascontiguousarray(wave, dtype=np.float32)


def decode_many(sources: list[tuple[str | Path | bytes, str]], target_rate: int, channels: str,
                max_seconds: float | None) -> list[np.ndarray | BadAudio]:
    """`load_audio` over (source, where) pairs, each outcome a waveform or the BadAudio it raised (a unit of work
    for a decode worker)."""
    out: list[np.ndarray | BadAudio] = []
    for source, where in sources:
        try:
            out.append(load_audio(source, target_rate, channels, where, max_seconds))
        except BadAudio as err:
            out.append(err)
    return out


def default_decode_workers() -> int:
    """Decode threads when none are asked for: all CPU cores but one (for the encoder), at least 1, at most 8."""
    import os

    return max(1, min(8, (os.cpu_count() or 1) - 1))
