"""The test signals of `bench check` and the plumbing that encodes them: every clip is made in code from a seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bench.encoder import Encoder

BAND = (0.26, 0.29)  # fractions of the declared sample rate: above the Nyquist frequency of half that rate
STEP_BANDS = ((0.01, 0.08), (0.12, 0.24))  # the timing clip: low-band noise, then high-band noise (same level)
SHORT_SECONDS = 0.1
DURATION_MIN_S, DURATION_MAX_S, DURATION_MIN_HOPS = 30.0, 120.0, 200  # the default long clip


def prime_at_most(n: int) -> int:
    """The largest prime <= n (2 at least): clip lengths that are no multiple of any hop or window."""
    candidate = max(2, n)
    while candidate > 2 and any(candidate % d == 0 for d in range(2, int(candidate**0.5) + 1)):
        candidate -= 1
    return candidate


@dataclass
class Output:
    """An encode() result on the CPU in float32, with the valid frame count of each clip and the dtypes returned."""

    frames: torch.Tensor
    mask: torch.Tensor
    hidden_states: list | None
    counts: list[int]
    frames_dtype: torch.dtype
    hidden_dtypes: list


def encode_batch(encoder: Encoder, clips: list[np.ndarray]) -> Output:
    """Pad clips into a batch (zeros), encode, and bring the result to the CPU."""
    import torch

    from bench.extract import pad_batch

    waveforms, mask = (torch.from_numpy(a).to(encoder.device) for a in pad_batch(clips))
    with torch.no_grad():
        out = encoder.encode(waveforms, mask)
    if not hasattr(out, "frames") or not torch.is_tensor(out.frames) or not torch.is_tensor(out.mask):
        raise TypeError(f"encode() must return Frames(frames=tensor, mask=tensor, ...), got {type(out).__name__}")
    hidden = None if out.hidden_states is None else [h.detach().float().cpu() for h in out.hidden_states]
    hidden_dtypes = [h.dtype for h in out.hidden_states or []]
    frame_mask = out.mask.detach().cpu()
    counts = frame_mask.sum(dim=1).tolist() if frame_mask.ndim == 2 else []
    return Output(out.frames.detach().float().cpu(), frame_mask, hidden, [int(c) for c in counts], out.frames.dtype,
                  hidden_dtypes)


class Signals:
    """The test clips of one encoder, at its declared rate, from one seed; every length is a prime number of samples."""

    def __init__(self, encoder: Encoder, seed: int) -> None:
        import numpy as np

        self.sr = int(encoder.sample_rate)
        self.hop_s = float(encoder.hop_ms) / 1000.0
        self.max_s = encoder.max_seconds
        self.rng = np.random.default_rng(seed)
        self.short_s = max(1.0, 2 * self.hop_s)
        self.long_s = max(4.0, self.short_s + 12 * self.hop_s)
        if self.max_s is not None and self.long_s > self.max_s:
            self.long_s = float(self.max_s)
            self.short_s = 0.4 * self.long_s
        self.unit_s = min(1.0, self.long_s)  # silence, band-limited noise and the extremes
        self.step_s = 0.35 * self.long_s  # off-centre, so frames in reverse order land elsewhere
        self.short = self.noise(self.short_s, 0.1)
        before = self.band(self.step_s, STEP_BANDS[0])
        after = self.samples(self.long_s) - len(before)  # the whole clip a prime length, within a window
        self.step = np.concatenate([before, self.band(0, STEP_BANDS[1], n=after)])
        self.no_step = np.concatenate([before, self.band(0, STEP_BANDS[0], n=after)])
        # the default long clip: long enough that a hop 2 % off drifts by many frames, and over two native windows
        self.duration_s = min(max(DURATION_MIN_S, DURATION_MIN_HOPS * self.hop_s, 1.5 * (self.max_s or 0.0)),
                              max(DURATION_MAX_S, 1.5 * (self.max_s or 0.0)))

    def samples(self, seconds: float) -> int:
        """The largest prime number of samples within `seconds` at the declared rate (never past a window)."""
        return prime_at_most(int(seconds * self.sr))

    def seconds(self, clip: np.ndarray) -> float:
        return len(clip) / self.sr

    def noise(self, seconds: float, amplitude: float) -> np.ndarray:
        import numpy as np

        return (self.rng.standard_normal(self.samples(seconds)) * amplitude).astype(np.float32)

    def band(self, seconds: float, band: tuple[float, float] = BAND, n: int | None = None) -> np.ndarray:
        """Noise whose spectrum lies only within band x sample_rate, standard deviation 0.1; `samples(seconds)` long
        (a prime), or `n` samples when given (the second part of a clip whose whole length is a prime)."""
        import numpy as np

        n = self.samples(seconds) if n is None else n
        spectrum = np.fft.rfft(self.rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, d=1.0 / self.sr)
        spectrum[(freqs < band[0] * self.sr) | (freqs > band[1] * self.sr)] = 0.0
        signal = np.fft.irfft(spectrum, n)
        return (0.1 * signal / (signal.std() + 1e-12)).astype(np.float32)

    def neighbours(self, count: int) -> list[np.ndarray]:
        """`count` noise clips shorter and longer than `short` (0.5x to 2x, within the native window)."""
        factors = (0.5, 1.5, 0.8, 2.0, 0.65, 1.25)
        longest = self.long_s if self.max_s is not None else 2 * self.short_s
        return [self.noise(min(max(SHORT_SECONDS, factors[i % len(factors)] * self.short_s), longest), 0.1)
                for i in range(count)]

    def odd_lengths(self) -> list[np.ndarray]:
        """Clips of prime lengths from a tenth of `short` to `short` (no multiple of any hop or FFT size)."""
        return [self.noise(max(SHORT_SECONDS, fraction * self.short_s), 0.1) for fraction in (0.13, 0.41, 0.77, 1.0)]

    def long_clip(self) -> np.ndarray:
        """`duration_s` of low-band noise whose last 20 % is high-band noise (the tail must reach the output)."""
        import numpy as np

        head = self.band(0.8 * self.duration_s, STEP_BANDS[0])
        return np.concatenate([head, self.band(0, STEP_BANDS[1], n=self.samples(self.duration_s) - len(head))])


class Runner:
    """Runs each distinct batch once and remembers the result (or the error) for every check that needs it; holds
    the reference string (and checkpoint) the encoder was built from, for the fresh-process check (None: unknown)."""

    def __init__(self, encoder: Encoder, reference: str | None = None, checkpoint: str | None = None) -> None:
        self.encoder, self.reference, self.checkpoint = encoder, reference, checkpoint
        self._done: dict[str, Output | Exception] = {}

    def __call__(self, key: str, clips: Callable[[], list]) -> Output:
        if key not in self._done:
            try:
                self._done[key] = encode_batch(self.encoder, clips())
            except Exception as err:  # reported by every check that needs this batch
                self._done[key] = err
        out = self._done[key]
        if isinstance(out, Exception):
            raise out
        return out


def short_output(run: Runner, sig: Signals) -> Output:
    """The short clip encoded alone."""
    return run("short", lambda: [sig.short])


def window_offset(run: Runner, sig: Signals) -> float:
    """duration / hop - valid frames of the short clip: the frames a window edge costs (negative when centred)."""
    return sig.seconds(sig.short) / sig.hop_s - short_output(run, sig).counts[0]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to max |b|."""
    if a.numel() == 0:
        return 0.0
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-6)


def finite(out: Output) -> bool:
    """True when every valid frame is finite."""
    import torch

    valid = out.frames[out.mask.bool()] if out.mask.shape == out.frames.shape[:2] else out.frames
    return bool(torch.isfinite(valid).all())
