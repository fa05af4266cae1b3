"""The `duration` and `long_input` checks of `bench check`: long clips through the harness's own chunking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.check_signals import Runner, Signals, window_offset

if TYPE_CHECKING:
    import numpy as np

    from bench.encoder import Encoder

LONG_SECONDS = 600.0
TAIL_MIN_CHANGE = 1e-3  # far above float noise; constant frames after a cut give exactly 0


def _count_through_windows(encoder: Encoder, run: Runner, sig: Signals, clip: np.ndarray,
                           frames: np.ndarray) -> tuple[bool, str]:
    """Valid frames of `clip` encoded through the harness's chunking against its windows' durations / hop_ms."""
    import numpy as np

    from bench.extract import split_rows, window_samples

    pieces = [len(p) for p in split_rows(clip[None, :], window_samples(encoder))]
    offset = window_offset(run, sig)
    expected = sum(n / sig.sr / sig.hop_s - offset for n in pieces)
    allowed = 2 + len(pieces)
    ok = bool(np.isfinite(frames).all()) and abs(len(frames) - expected) <= allowed
    return ok, (f"{len(clip) / sig.sr:.1f} s in {len(pieces)} window(s) gave {len(frames)} valid frames, "
                f"hop_ms={encoder.hop_ms:g} implies {expected:.1f} (offset {offset:.2f} per window) within "
                f"{allowed}; {'finite' if np.isfinite(frames).all() else 'NaN or inf present'}")


def check_duration(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    """The default long clip: its frame count, finite values, and its high-band tail reaching the output."""
    import numpy as np

    from bench.extract import encode_clip

    clip = sig.long_clip()
    frames = encode_clip(encoder, clip[None, :])
    ok, detail = _count_through_windows(encoder, run, sig, clip, frames)
    if not ok or len(frames) < 20:
        return ok, detail
    t = len(frames)

    def mean(lo: float, hi: float) -> np.ndarray:
        return frames[int(lo * t):int(hi * t)].astype(np.float64).mean(axis=0)

    change = float(np.abs(mean(0.9, 1.0) - mean(0.65, 0.75)).max()) / max(float(np.abs(frames).max()), 1e-6)
    detail += (f"; its last 20 % (another band) moves the mean frame by {change:.3g} of the output's scale "
               f"(needs > {TAIL_MIN_CHANGE})")
    if not change > TAIL_MIN_CHANGE:
        return False, f"{detail}: the end of the clip does not reach the output (input cut short?)"
    return True, detail


def check_long(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    """10 minutes of noise: frame count and finite values."""
    from bench.extract import encode_clip

    clip = sig.noise(LONG_SECONDS, 0.1)
    return _count_through_windows(encoder, run, sig, clip, encode_clip(encoder, clip[None, :]))
