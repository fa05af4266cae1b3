"""`bench check ENCODER`: the conformance suite every encoder passes before its numbers count.

Each check feeds signals made in code (seeded noise, silence, a noise step, band-limited noise) and tests one promise
of the contract in `bench/encoder.py`. How each check decides:

- card: `card()` validates, `weights_sha256()` is 64 hex digits, `parameter_count()` is an int >= 0.
- shape: frames [B, T, D] float with D == embed_dim; mask [B, T] bool; every hidden state [B, T, D].
- mask: in each row the valid frames form a prefix, at least one per clip; a clip has as many valid frames padded in
  a batch as alone, and a longer clip at least as many as a shorter one.
- frame_rate: a short and a long noise clip have duration / hop_ms valid frames (within 2 frames + 5 %), and the
  difference of the two counts is (difference of durations) / hop_ms within 2 frames + 2 % (window offsets cancel in
  the difference). A wrapper that reads its input at another rate than `sample_rate`, or declares the wrong hop,
  is off by their ratio.
- sample_rate: noise band-limited to 0.26-0.29 x sample_rate must change the output relative to silence (max-abs
  change > 1 % of the output's scale): a wrapper that silently resamples to half the declared rate or less, or
  whose model only sees a lower rate, never sees that band.
- timing: noise whose band jumps from 0.01-0.08 to 0.12-0.24 x sample_rate at 35 % of the clip (same level, so
  encoders that normalise loudness see it too), against the same clip without the jump: the per-frame distance
  between the two outputs is fitted with two constant segments (least squares), and the change must sit at
  step time / hop_ms within 3 frames or 25 % of the step time, whichever is larger (frame t describes the audio
  around t * hop_ms; windowed encoders react up to half a window early or late). Frames in reverse order, or
  placed by a rate 1.3x off, land outside. Skipped when fewer than 4 frames fit in the native window.
- batch: the valid frames (and hidden states) of each clip alone equal those of the same clip in a padded batch
  with a longer clip, within `tolerance`: max |a - b| <= tolerance * max |b|.
- determinism: the same clip twice gives the same frames and mask, within `tolerance`.
- short_input: a 0.1 s clip gives at least one valid frame, all finite.
- long_input (only with long_input=True): 10 min of noise through the harness's own chunking
  (`bench.extract.encode_clip`: windows of max_seconds, frames stitched) gives 600 s / hop_ms valid frames
  (within 2 per window + 2 %), all finite.
- silence: 1 s of zeros gives finite frames.
- finite: loud noise (clipped to +-1), very quiet noise (1e-5) and a DC offset give finite frames (no NaN/inf).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bench.encoder import Encoder

DEFAULT_TOLERANCE = 1e-4
BAND = (0.26, 0.29)  # fractions of the declared sample rate: above the Nyquist frequency of half that rate
BAND_MIN_CHANGE = 0.01
STEP_BANDS = ((0.01, 0.08), (0.12, 0.24))  # the timing clip: low-band noise, then high-band noise (same level)
LONG_SECONDS = 600.0
SHORT_SECONDS = 0.1


@dataclass
class CheckResult:
    """Outcome of one check: its name, whether it passed, and what was measured."""

    name: str
    passed: bool
    detail: str


@dataclass
class _Output:
    """An encode() result on the CPU in float32, with the valid frame count of each clip."""

    frames: torch.Tensor
    mask: torch.Tensor
    hidden_states: list | None
    counts: list[int]


def _encode(encoder: Encoder, clips: list[np.ndarray]) -> _Output:
    """Pad clips into a batch (zeros), encode, and bring the result to the CPU."""
    import torch

    from bench.extract import pad_batch

    waveforms, mask = (torch.from_numpy(a).to(encoder.device) for a in pad_batch(clips))
    with torch.no_grad():
        out = encoder.encode(waveforms, mask)
    if not hasattr(out, "frames") or not torch.is_tensor(out.frames) or not torch.is_tensor(out.mask):
        raise TypeError(f"encode() must return Frames(frames=tensor, mask=tensor, ...), got {type(out).__name__}")
    hidden = None if out.hidden_states is None else [h.detach().float().cpu() for h in out.hidden_states]
    frame_mask = out.mask.detach().cpu()
    counts = frame_mask.sum(dim=1).tolist() if frame_mask.ndim == 2 else []
    return _Output(out.frames.detach().float().cpu(), frame_mask, hidden, [int(c) for c in counts])


class _Signals:
    """The test clips of one encoder, at its declared rate, from one seed."""

    def __init__(self, encoder: Encoder, seed: int) -> None:
        import numpy as np

        self.sr = int(encoder.sample_rate)
        self.hop_s = float(encoder.hop_ms) / 1000.0
        self.rng = np.random.default_rng(seed)
        self.short_s = max(1.0, 2 * self.hop_s)
        self.long_s = max(4.0, self.short_s + 12 * self.hop_s)
        if encoder.max_seconds is not None and self.long_s > encoder.max_seconds:
            self.long_s = float(encoder.max_seconds)
            self.short_s = 0.4 * self.long_s
        self.unit_s = min(1.0, self.long_s)  # silence, band-limited noise and the extremes
        self.step_s = 0.35 * self.long_s  # off-centre, so frames in reverse order land elsewhere
        self.short = self.noise(self.short_s, 0.1)
        before = self.band(self.step_s, STEP_BANDS[0])
        self.step = np.concatenate([before, self.band(self.long_s - self.step_s, STEP_BANDS[1])])
        self.no_step = np.concatenate([before, self.band(self.long_s - self.step_s, STEP_BANDS[0])])

    def samples(self, seconds: float) -> int:
        return max(1, round(seconds * self.sr))

    def noise(self, seconds: float, amplitude: float) -> np.ndarray:
        import numpy as np

        return (self.rng.standard_normal(self.samples(seconds)) * amplitude).astype(np.float32)

    def band(self, seconds: float, band: tuple[float, float] = BAND) -> np.ndarray:
        """Noise whose spectrum lies only within band x sample_rate, standard deviation 0.1."""
        import numpy as np

        n = self.samples(seconds)
        spectrum = np.fft.rfft(self.rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, d=1.0 / self.sr)
        spectrum[(freqs < band[0] * self.sr) | (freqs > band[1] * self.sr)] = 0.0
        signal = np.fft.irfft(spectrum, n)
        return (0.1 * signal / (signal.std() + 1e-12)).astype(np.float32)


class _Runner:
    """Runs each distinct batch once and remembers the result (or the error) for every check that needs it."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._done: dict[str, _Output | Exception] = {}

    def __call__(self, key: str, clips: Callable[[], list]) -> _Output:
        if key not in self._done:
            try:
                self._done[key] = _encode(self.encoder, clips())
            except Exception as err:  # reported by every check that needs this batch
                self._done[key] = err
        out = self._done[key]
        if isinstance(out, Exception):
            raise out
        return out


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to max |b|."""
    if a.numel() == 0:
        return 0.0
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-6)


def _finite(out: _Output) -> bool:
    import torch

    valid = out.frames[out.mask] if out.mask.shape == out.frames.shape[:2] else out.frames
    return bool(torch.isfinite(valid).all())


# -- the checks ----------------------------------------------------------------------------------------
def _check_card(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    card = encoder.card()
    sha = encoder.weights_sha256()
    params = encoder.parameter_count()
    problems = []
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        problems.append(f"weights_sha256() must be 64 lowercase hex digits, got {sha!r}")
    if not isinstance(params, int) or params < 0:
        problems.append(f"parameter_count() must be an int >= 0, got {params!r}")
    detail = (f"{card.name}: {card.sample_rate} Hz, {card.embed_dim}-d, hop {card.hop_ms:g} ms, "
              f"max_seconds {card.max_seconds}, {params:,} parameters, license {card.license}")
    return not problems, "; ".join(problems) or detail


def _pair(run: _Runner, sig: _Signals) -> _Output:
    return run("pair", lambda: [sig.short, sig.step])


def _check_shape(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    import torch

    out = _pair(run, sig)
    frames, mask = out.frames, out.mask
    problems = []
    if frames.ndim != 3 or frames.shape[0] != 2:
        problems.append(f"frames must be [B=2, T, D], got {list(frames.shape)}")
    elif frames.shape[2] != encoder.embed_dim:
        problems.append(f"frames have D={frames.shape[2]} but embed_dim={encoder.embed_dim}")
    if mask.dtype != torch.bool:
        problems.append(f"mask must be bool, got {mask.dtype}")
    if list(mask.shape) != list(frames.shape[:2]):
        problems.append(f"mask must be [B, T] = {list(frames.shape[:2])}, got {list(mask.shape)}")
    for i, hidden in enumerate(out.hidden_states or []):
        if list(hidden.shape) != list(frames.shape):
            problems.append(f"hidden_states[{i}] is {list(hidden.shape)}, frames are {list(frames.shape)}")
            break
    layers = "no hidden states" if out.hidden_states is None else f"{len(out.hidden_states)} hidden states"
    return not problems, "; ".join(problems) or f"frames {list(frames.shape)}, mask {list(mask.shape)}, {layers}"


def _check_mask(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    pair = _pair(run, sig)
    alone = run("short", lambda: [sig.short])
    mask = pair.mask.bool()
    problems = []
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        problems.append("valid frames do not form a prefix of each row (a True after a False)")
    if min(pair.counts) < 1:
        problems.append(f"a clip has no valid frame (counts {pair.counts})")
    if alone.counts[0] != pair.counts[0]:
        problems.append(f"the {sig.short_s:g} s clip has {alone.counts[0]} valid frames alone but "
                        f"{pair.counts[0]} padded in a batch")
    if pair.counts[1] < pair.counts[0]:
        problems.append(f"the {sig.long_s:g} s clip has fewer valid frames ({pair.counts[1]}) than the "
                        f"{sig.short_s:g} s clip ({pair.counts[0]})")
    detail = (f"valid frames: {pair.counts[0]} ({sig.short_s:g} s, padded), {alone.counts[0]} (alone), "
              f"{pair.counts[1]} ({sig.long_s:g} s) of T={mask.shape[1]}")
    return not problems, "; ".join(problems + [detail])


def _check_frame_rate(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    n_short, n_long = _pair(run, sig).counts
    expect_short, expect_long = sig.short_s / sig.hop_s, sig.long_s / sig.hop_s
    delta, expect_delta = n_long - n_short, expect_long - expect_short
    problems = []
    for seconds, n, expect in ((sig.short_s, n_short, expect_short), (sig.long_s, n_long, expect_long)):
        if abs(n - expect) > 2 + 0.05 * expect:
            problems.append(f"{seconds:g} s gave {n} valid frames, hop_ms={encoder.hop_ms:g} implies {expect:.1f}")
    if abs(delta - expect_delta) > 2 + 0.02 * expect_delta:
        rate = delta / (sig.long_s - sig.short_s)
        problems.append(f"{rate:.2f} frames per second of input at {sig.sr} Hz, hop_ms={encoder.hop_ms:g} declares "
                        f"{1000 / encoder.hop_ms:.2f}")
    detail = f"{n_short} and {n_long} valid frames for {sig.short_s:g} s and {sig.long_s:g} s at {sig.sr} Hz"
    return not problems, "; ".join(problems + [detail])


def _check_sample_rate(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    out = run("silence_band", lambda: [sig.noise(sig.unit_s, 0.0), sig.band(sig.unit_s)])
    n = min(out.counts)
    silence, band = out.frames[0, :n], out.frames[1, :n]
    scale = max(float(silence.abs().max()), float(band.abs().max()), 1e-6)
    change = float((band - silence).abs().max()) / scale
    lo, hi = BAND[0] * sig.sr, BAND[1] * sig.sr
    detail = f"noise in {lo:.0f}-{hi:.0f} Hz changes the output by {change:.3g} of its scale relative to silence"
    if change <= BAND_MIN_CHANGE:
        return False, (f"{detail} (needs > {BAND_MIN_CHANGE}): the encoder does not see that band, so it works "
                       f"below the declared {sig.sr} Hz (silent resampling?); declare the rate it really uses")
    return True, detail


def _check_timing(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    import torch

    step = run("step", lambda: [sig.step])
    no_step = run("no_step", lambda: [sig.no_step])
    n = min(step.counts[0], no_step.counts[0])
    if n < 4:
        return True, f"skipped: only {n} frame(s) in {sig.long_s:g} s (clip-level encoder)"
    distance = (step.frames[0, :n] - no_step.frames[0, :n]).norm(dim=-1).double()
    # least-squares fit of two constant segments: SSE(k) = sum d^2 - (sum_left)^2 / k - (sum_right)^2 / (n - k)
    cumsum = torch.cumsum(distance, 0)
    k = torch.arange(1, n, dtype=torch.float64)
    left, right = cumsum[:-1], cumsum[-1] - cumsum[:-1]
    split = int(torch.argmax(left**2 / k + right**2 / (n - k))) + 1
    before, after = float(distance[:split].mean()), float(distance[split:].mean())
    expected = sig.step_s / sig.hop_s
    allowed = max(3.0, 0.25 * expected)
    detail = (f"the output changes at frame {split} ({split * sig.hop_s:.2f} s), the step is at frame "
              f"{expected:.1f} ({sig.step_s:g} s); allowed +-{allowed:.1f} frames")
    if after <= before:
        return False, f"the output after the step does not differ more than before it; {detail}"
    return abs(split - expected) <= allowed, detail


def _check_batch(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    pair = _pair(run, sig)
    alone = [run("short", lambda: [sig.short]), run("step", lambda: [sig.step])]
    worst, problems = 0.0, []
    for row, single in enumerate(alone):
        n = single.counts[0]
        if pair.counts[row] != n:
            problems.append(f"clip {row} has {n} valid frames alone but {pair.counts[row]} in the batch")
            continue
        worst = max(worst, _rel_err(pair.frames[row, :n], single.frames[0, :n]))
        if (pair.hidden_states is None) != (single.hidden_states is None):
            problems.append("hidden_states present in one call and not in the other")
        for batched_layer, single_layer in zip(pair.hidden_states or [], single.hidden_states or []):
            worst = max(worst, _rel_err(batched_layer[row, :n], single_layer[0, :n]))
    if worst > tol:
        problems.append(f"valid frames differ between a clip alone and padded in a batch by {worst:.3g} "
                        f"(relative max-abs; tolerance {tol:g})")
    return not problems, "; ".join(problems) or f"alone vs padded in a batch: {worst:.3g} (tolerance {tol:g})"


def _check_determinism(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    first = run("short", lambda: [sig.short])
    second = run("short_again", lambda: [sig.short])
    if first.counts != second.counts or not bool((first.mask == second.mask).all()):
        return False, f"the mask changed between two identical calls ({first.counts} vs {second.counts})"
    err = _rel_err(second.frames[second.mask], first.frames[first.mask])
    return err <= tol, f"two identical calls differ by {err:.3g} (tolerance {tol:g})"


def _check_short(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    out = run("tiny", lambda: [sig.noise(SHORT_SECONDS, 0.1)])
    if out.counts[0] < 1:
        return False, f"a {SHORT_SECONDS:g} s clip gave no valid frame"
    if not _finite(out):
        return False, f"a {SHORT_SECONDS:g} s clip gave NaN or inf"
    return True, f"a {SHORT_SECONDS:g} s clip gave {out.counts[0]} valid frame(s), finite"


def _check_silence(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    import torch

    out = run("silence_band", lambda: [sig.noise(sig.unit_s, 0.0), sig.band(sig.unit_s)])
    valid = out.frames[0, : out.counts[0]]

    bad = int((~torch.isfinite(valid)).sum())
    return bad == 0, f"{sig.unit_s:g} s of zeros: {bad} non-finite values in {valid.numel()}"


def _check_finite(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    import numpy as np
    import torch

    def clips():
        loud = np.clip(sig.noise(sig.unit_s, 1.0), -1.0, 1.0)
        return [loud, sig.noise(sig.unit_s, 1e-5), np.full(sig.samples(sig.unit_s), 0.5, dtype=np.float32)]

    out = run("extremes", clips)
    names = ("loud noise", "quiet noise (1e-5)", "DC offset 0.5")
    bad = [name for i, name in enumerate(names) if not bool(torch.isfinite(out.frames[i, : out.counts[i]]).all())]
    return not bad, f"NaN or inf for: {', '.join(bad)}" if bad else "loud noise, quiet noise and DC give finite frames"


def _check_long(encoder: Encoder, run: _Runner, sig: _Signals, tol: float) -> tuple[bool, str]:
    import numpy as np

    from bench.extract import encode_clip, window_samples

    frames = encode_clip(encoder, sig.noise(LONG_SECONDS, 0.1)[None, :])
    window = window_samples(encoder)
    windows = 1 if window is None else math.ceil(sig.samples(LONG_SECONDS) / window)
    expected = LONG_SECONDS / sig.hop_s
    finite = bool(np.isfinite(frames).all())
    detail = (f"{LONG_SECONDS:g} s in {windows} window(s) gave {len(frames)} valid frames "
              f"(hop_ms implies {expected:.0f}), {'finite' if finite else 'NaN or inf present'}")
    return finite and abs(len(frames) - expected) <= 2 * windows + 0.02 * expected, detail


CHECKS: dict[str, Callable] = {
    "card": _check_card,
    "shape": _check_shape,
    "mask": _check_mask,
    "frame_rate": _check_frame_rate,
    "sample_rate": _check_sample_rate,
    "timing": _check_timing,
    "batch": _check_batch,
    "determinism": _check_determinism,
    "short_input": _check_short,
    "silence": _check_silence,
    "finite": _check_finite,
}


def check_encoder(encoder: Encoder, long_input: bool = False, tolerance: float = DEFAULT_TOLERANCE,
                  seed: int = 0, only: list[str] | None = None) -> list[CheckResult]:
    """Run the conformance suite on `encoder` (loaded here if it is not yet); one CheckResult per check.

    `long_input` adds the 10-minute check; `only` restricts the run to the named checks.
    """
    try:
        encoder.load(encoder.device, encoder.dtype)
    except Exception as err:
        return [CheckResult("load", False, f"{type(err).__name__}: {err}")]
    sig, run = _Signals(encoder, seed), _Runner(encoder)
    checks = dict(CHECKS, long_input=_check_long) if long_input else dict(CHECKS)
    if only is not None:
        unknown = set(only) - set(checks)
        if unknown:
            raise ValueError(f"unknown check(s) {sorted(unknown)}; available: {', '.join(checks)}")
        checks = {name: check for name, check in checks.items() if name in only}
    results = []
    for name, check in checks.items():
        try:
            passed, detail = check(encoder, run, sig, tolerance)
        except Exception as err:
            passed, detail = False, f"{type(err).__name__}: {err}"
        results.append(CheckResult(name, bool(passed), detail))
    return results


def format_report(results: list[CheckResult]) -> str:
    """A table of the results, one line per check, and a closing count."""
    width = max((len(r.name) for r in results), default=0)
    lines = [f"{'PASS' if r.passed else 'FAIL'}  {r.name:<{width}}  {r.detail}" for r in results]
    passed = sum(r.passed for r in results)
    failed = [r.name for r in results if not r.passed]
    lines.append(f"{passed}/{len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)
