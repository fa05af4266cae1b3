"""`bench check ENCODER`: the conformance suite every encoder passes before its numbers count.

Each check feeds signals made in code (`bench/check_signals.py`: seeded noise, silence, a noise step, band-limited
noise; every clip a prime number of samples, so no length is a multiple of a hop or FFT size) and tests one promise
of the contract in `bench/encoder.py`. "Offset" below is the window offset measured on the short clip
(duration / hop_ms minus its valid frames), so centred and uncentred windows are both judged exactly. How each
check decides:

- card: `card()` validates, `weights_sha256()` is 64 hex digits, `parameter_count()` is an int >= 0.
- shape: frames [B, T, D] with D == embed_dim and dtype float32, float16 or bfloat16; mask [B, T] of dtype
  torch.bool; every hidden state [B, T, D] of such a float dtype.
- mask: in each row the valid frames form a prefix, at least one per clip; a clip has as many valid frames padded in
  a batch as alone, and a longer clip at least as many as a shorter one.
- frame_rate: a short and a long noise clip have duration / hop_ms valid frames (within 2 frames + 5 %), and the
  difference of the two counts is (difference of durations) / hop_ms within 2 frames (window offsets cancel in
  the difference). A wrapper that reads its input at another rate than `sample_rate`, or declares the wrong hop,
  is off by their ratio.
- sample_rate: noise band-limited to 0.26-0.29 x sample_rate must change the output relative to silence, and
  relative to its mirror image about sample_rate / 4 (the same noise times (-1)^n, at 0.21-0.24 x sample_rate):
  max-abs change > 1 % of the output's scale each. A wrapper that resamples to half the declared rate with a
  low-pass never sees the band; one that drops every other sample without a low-pass folds the band onto its
  mirror and cannot tell the two apart.
- timing: noise whose band jumps from 0.01-0.08 to 0.12-0.24 x sample_rate at 35 % of the clip (same level, so
  encoders that normalise loudness see it too), against the same clip without the jump: the per-frame distance
  between the two outputs is fitted with two constant segments (least squares); the transition runs from the
  last frame before the fitted change still at the level before it (10 % of the way) to the first frame after it
  at the level after it (90 %), as wide as the encoder's analysis window (measured, since cards do not declare
  it). Frame t describes the audio around t * hop_ms, so the step time must lie within that transition widened
  by max(2 hops, 100 ms). Frames that lag (or lead) by more than that, frames in reverse order or placed by a
  rate 1.3x off, land outside. Fails when the output after the fitted change differs less than before it; not
  judged (passes, saying so) when the change is under one standard deviation of the distance's frame-to-frame
  variation (an output that does not localise the step, as a tiny random model normalising over the clip), or
  when fewer than 4 frames fit in the native window.
- batch: the valid frames (and hidden states) of a clip alone equal those of the same clip in padded batches of
  2, 3, 8 and 17 rows (shorter and longer neighbours, the clip first, in the middle and last), within `tolerance`:
  max |a - b| <= tolerance * max |b|.
- odd_lengths: clips of prime lengths (0.13 to 1 x the short clip) in one batch each give duration / hop_ms - offset
  valid frames within 2, at least one, all finite.
- determinism: the same clip twice gives the same frames and mask, within `tolerance`.
- reproducible (only with `reference`): the encoder built from its reference in two fresh Python processes, on the
  CPU, gives the same frames for the same seeded clips within `tolerance` (an unseeded random layer does not).
- short_input: a 0.1 s clip gives at least one valid frame, all finite.
- silence: 1 s of zeros gives finite frames.
- finite: loud noise (clipped to +-1), very quiet noise (1e-5), a DC offset of 0.5, and quiet noise on that DC
  offset give finite frames (no NaN/inf).
- duration: one clip of max(30 s, 200 hops, 1.5 native windows), at most max(120 s, 1.5 windows), through the
  harness's own chunking (`bench.extract.encode_clip`: windows of max_seconds, frames stitched) gives
  sum over windows of (window / hop_ms - offset) valid frames within 2 + 1 per window (a hop 2 % off drifts by
  many frames; a wrapper that stops reading after some seconds falls short), all finite; its last 20 % is
  high-band noise, and the mean of the last 10 % of frames must differ from that of 65-75 % (low band) by more
  than 0.1 % of the output's scale (max-abs), so the end of the clip reaches the output (a wrapper that stops
  reading and pads constant frames fails).
- long_input (only with long_input=True): 10 min of noise the same way, counted the same way, all finite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.check_duration import check_duration, check_long
from bench.check_result import CheckResult, format_report
from bench.check_signals import (
    BAND,
    SHORT_SECONDS,
    Output,
    Runner,
    Signals,
    finite,
    rel_err,
    short_output,
    window_offset,
)

if TYPE_CHECKING:
    from bench.encoder import Encoder

__all__ = ["CheckResult", "check_encoder", "format_report", "quick_check"]

DEFAULT_TOLERANCE = 1e-4
BAND_MIN_CHANGE = 0.01
TIMING_MIN_S = 0.1  # half of a 200 ms analysis window
TIMING_MIN_CONTRAST = 1.0  # the fitted change in standard deviations of the distance around each segment's mean
BATCH_SIZES = (3, 8, 17)
FLOAT_DTYPES = ("float32", "float16", "bfloat16")


def _check_card(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
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


def _pair(run: Runner, sig: Signals) -> Output:
    return run("pair", lambda: [sig.short, sig.step])


def _check_shape(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    import torch

    out = _pair(run, sig)
    frames, mask = out.frames, out.mask
    problems = []
    if frames.ndim != 3 or frames.shape[0] != 2:
        problems.append(f"frames must be [B=2, T, D], got {list(frames.shape)}")
    elif frames.shape[2] != encoder.embed_dim:
        problems.append(f"frames have D={frames.shape[2]} but embed_dim={encoder.embed_dim}")
    for what, dtype in [("frames", out.frames_dtype)] + [(f"hidden_states[{i}]", d)
                                                          for i, d in enumerate(out.hidden_dtypes)]:
        if str(dtype).removeprefix("torch.") not in FLOAT_DTYPES:
            problems.append(f"{what} must be float32, float16 or bfloat16, got {dtype}")
            break
    if mask.dtype != torch.bool:
        problems.append(f"mask must be torch.bool, got {mask.dtype}")
    if list(mask.shape) != list(frames.shape[:2]):
        problems.append(f"mask must be [B, T] = {list(frames.shape[:2])}, got {list(mask.shape)}")
    for i, hidden in enumerate(out.hidden_states or []):
        if list(hidden.shape) != list(frames.shape):
            problems.append(f"hidden_states[{i}] is {list(hidden.shape)}, frames are {list(frames.shape)}")
            break
    layers = "no hidden states" if out.hidden_states is None else f"{len(out.hidden_states)} hidden states"
    return not problems, "; ".join(problems) or (f"frames {list(frames.shape)} {out.frames_dtype}, mask "
                                                 f"{list(mask.shape)} {mask.dtype}, {layers}")


def _check_mask(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    pair = _pair(run, sig)
    alone = short_output(run, sig)
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


def _check_frame_rate(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    n_short, n_long = _pair(run, sig).counts
    short_s, long_s = sig.seconds(sig.short), sig.seconds(sig.step)
    expect_short, expect_long = short_s / sig.hop_s, long_s / sig.hop_s
    delta, expect_delta = n_long - n_short, expect_long - expect_short
    problems = []
    for seconds, n, expect in ((short_s, n_short, expect_short), (long_s, n_long, expect_long)):
        if abs(n - expect) > 2 + 0.05 * expect:
            problems.append(f"{seconds:.3f} s gave {n} valid frames, hop_ms={encoder.hop_ms:g} implies {expect:.1f}")
    if abs(delta - expect_delta) > 2:
        rate = delta / (long_s - short_s)
        problems.append(f"{rate:.2f} frames per second of input at {sig.sr} Hz, hop_ms={encoder.hop_ms:g} declares "
                        f"{1000 / encoder.hop_ms:.2f} ({delta} frames between the two clips, expected "
                        f"{expect_delta:.1f} within 2)")
    detail = f"{n_short} and {n_long} valid frames for {short_s:.3f} s and {long_s:.3f} s at {sig.sr} Hz"
    return not problems, "; ".join(problems + [detail])


def _silence_band(run: Runner, sig: Signals) -> Output:
    """Three rows: zeros, band-limited noise at 0.26-0.29 x rate, and that noise mirrored about rate / 4."""
    import numpy as np

    def clips():
        band = sig.band(sig.unit_s)
        mirror = band * np.where(np.arange(len(band)) % 2 == 0, 1.0, -1.0).astype(np.float32)
        return [np.zeros_like(band), band, mirror]

    return run("silence_band", clips)


def _check_sample_rate(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    out = _silence_band(run, sig)
    n = min(out.counts)
    silence, band, mirror = out.frames[0, :n], out.frames[1, :n], out.frames[2, :n]
    scale = max(float(silence.abs().max()), float(band.abs().max()), float(mirror.abs().max()), 1e-6)
    change = float((band - silence).abs().max()) / scale
    aliased = float((band - mirror).abs().max()) / scale
    lo, hi = BAND[0] * sig.sr, BAND[1] * sig.sr
    detail = (f"noise in {lo:.0f}-{hi:.0f} Hz changes the output by {change:.3g} of its scale relative to silence "
              f"and by {aliased:.3g} relative to its mirror image at {sig.sr / 2 - hi:.0f}-{sig.sr / 2 - lo:.0f} Hz")
    if change <= BAND_MIN_CHANGE:
        return False, (f"{detail} (needs > {BAND_MIN_CHANGE}): the encoder does not see that band, so it works "
                       f"below the declared {sig.sr} Hz (silent resampling?); declare the rate it really uses")
    if aliased <= BAND_MIN_CHANGE:
        return False, (f"{detail} (needs > {BAND_MIN_CHANGE}): the band folds onto its mirror, as when every other "
                       f"sample is dropped without a low-pass filter (aliasing); low-pass before decimating")
    return True, detail


def _check_timing(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
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
    # the transition: from the last frame before the fitted change still at the level before it (10 % of the way)
    # to the first frame after it at the level after it (90 %); as wide as the analysis window
    below = (distance[:split] <= before + 0.1 * (after - before)).nonzero()
    above = (distance[split:] >= before + 0.9 * (after - before)).nonzero()
    start = int(below[-1]) + 1 if len(below) else 0
    end = split + int(above[0]) if len(above) else n - 1
    step_s, slack_s = sig.samples(sig.step_s) / sig.sr, max(2 * sig.hop_s, TIMING_MIN_S)
    lo_s, hi_s = min(start, split) * sig.hop_s - slack_s, max(end, split) * sig.hop_s + slack_s
    lag_ms = (split * sig.hop_s - step_s) * 1000
    detail = (f"the output changes at frame {split} ({split * sig.hop_s:.3f} s; {lag_ms:+.0f} ms from the step at "
              f"{step_s:.3f} s), over frames {start}-{end}; the step must lie within that "
              f"transition +-{slack_s * 1000:.0f} ms (max of 2 hops and {TIMING_MIN_S * 1000:.0f} ms): "
              f"{lo_s:.3f}-{hi_s:.3f} s")
    if after <= before:
        return False, f"the output after the step does not differ more than before it; {detail}"
    spread = float(torch.cat([distance[:split] - before, distance[split:] - after]).std())
    if after - before < TIMING_MIN_CONTRAST * spread:
        return True, (f"not judged: the step moves the output by {(after - before) / max(spread, 1e-12):.2f} standard "
                      f"deviations of its frame-to-frame variation (needs {TIMING_MIN_CONTRAST:g}; clip-wide "
                      f"normalisation or attention?); {detail}")
    return lo_s <= step_s <= hi_s, detail


def _compare_rows(batch: Output, row: int, single: Output, label: str, problems: list[str]) -> float:
    """Relative max-abs difference of row `row` of `batch` and the only row of `single` (frames, hidden states)."""
    n = single.counts[0]
    if batch.counts[row] != n:
        problems.append(f"{label}: {n} valid frames alone but {batch.counts[row]} in the batch")
        return 0.0
    worst = rel_err(batch.frames[row, :n], single.frames[0, :n])
    if (batch.hidden_states is None) != (single.hidden_states is None):
        problems.append(f"{label}: hidden_states present in one call and not in the other")
    for batched_layer, single_layer in zip(batch.hidden_states or [], single.hidden_states or []):
        worst = max(worst, rel_err(batched_layer[row, :n], single_layer[0, :n]))
    return worst


def _check_batch(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    pair = _pair(run, sig)
    alone = short_output(run, sig)
    problems: list[str] = []
    worst = max(_compare_rows(pair, 0, alone, "the short clip in a batch of 2", problems),
                _compare_rows(pair, 1, run("step", lambda: [sig.step]), "the long clip in a batch of 2", problems))
    pool = sig.neighbours(sum(BATCH_SIZES) - len(BATCH_SIZES))
    batches = {3: [sig.short] + pool[:2],  # first, then a shorter and a longer neighbour
               8: pool[2:5] + [sig.short] + pool[5:9],  # in the middle
               17: pool[:16][::-1] + [sig.short]}  # last, neighbours in another order
    for size, rows in batches.items():
        batch = run(f"batch{size}", lambda rows=rows: rows)
        row = next(i for i, clip in enumerate(rows) if clip is sig.short)
        worst = max(worst, _compare_rows(batch, row, alone, f"the short clip in a batch of {size}", problems))
    if worst > tol:
        problems.append(f"valid frames differ between a clip alone and in padded batches by {worst:.3g} "
                        f"(relative max-abs; tolerance {tol:g})")
    sizes = ", ".join(str(s) for s in (2,) + BATCH_SIZES)
    return not problems, "; ".join(problems) or f"alone vs in batches of {sizes}: {worst:.3g} (tolerance {tol:g})"


def _check_odd_lengths(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    clips = sig.odd_lengths()
    out = run("odd", lambda: clips)
    offset = window_offset(run, sig)
    problems = []
    for i, clip in enumerate(clips):
        expected = len(clip) / sig.sr / sig.hop_s - offset
        if out.counts[i] < 1 or abs(out.counts[i] - expected) > 2:
            problems.append(f"{len(clip)} samples gave {out.counts[i]} valid frames, expected {expected:.1f} within 2")
    if not finite(out):
        problems.append("NaN or inf in the valid frames")
    lengths = ", ".join(str(len(c)) for c in clips)
    return not problems, "; ".join(problems) or f"{lengths} samples gave {out.counts} valid frames, finite"


def _check_determinism(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    first = short_output(run, sig)
    second = run("short_again", lambda: [sig.short])
    if first.counts != second.counts or not bool((first.mask == second.mask).all()):
        return False, f"the mask changed between two identical calls ({first.counts} vs {second.counts})"
    err = rel_err(second.frames[second.mask.bool()], first.frames[first.mask.bool()])
    return err <= tol, f"two identical calls differ by {err:.3g} (tolerance {tol:g})"


def _check_reproducible(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    from bench.check_process import check_fresh_processes

    return check_fresh_processes(run.reference, run.checkpoint, tol)


def _check_short(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    out = run("tiny", lambda: [sig.noise(SHORT_SECONDS, 0.1)])
    if out.counts[0] < 1:
        return False, f"a {SHORT_SECONDS:g} s clip gave no valid frame"
    if not finite(out):
        return False, f"a {SHORT_SECONDS:g} s clip gave NaN or inf"
    return True, f"a {SHORT_SECONDS:g} s clip gave {out.counts[0]} valid frame(s), finite"


def _check_silence(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    import torch

    out = _silence_band(run, sig)
    valid = out.frames[0, : out.counts[0]]
    bad = int((~torch.isfinite(valid)).sum())
    return bad == 0, f"{sig.unit_s:g} s of zeros: {bad} non-finite values in {valid.numel()}"


def _check_finite(encoder: Encoder, run: Runner, sig: Signals, tol: float) -> tuple[bool, str]:
    import numpy as np
    import torch

    def clips():
        loud = np.clip(sig.noise(sig.unit_s, 1.0), -1.0, 1.0)
        dc = np.full(sig.samples(sig.unit_s), 0.5, dtype=np.float32)
        return [loud, sig.noise(sig.unit_s, 1e-5), dc, dc + sig.noise(sig.unit_s, 1e-5)]

    out = run("extremes", clips)
    names = ("loud noise", "quiet noise (1e-5)", "DC offset 0.5", "quiet noise (1e-5) on a DC offset of 0.5")
    bad = [name for i, name in enumerate(names) if not bool(torch.isfinite(out.frames[i, : out.counts[i]]).all())]
    return not bad, f"NaN or inf for: {', '.join(bad)}" if bad else f"{', '.join(names)}: finite frames"


CHECKS: dict[str, Callable] = {
    "card": _check_card,
    "shape": _check_shape,
    "mask": _check_mask,
    "frame_rate": _check_frame_rate,
    "sample_rate": _check_sample_rate,
    "timing": _check_timing,
    "batch": _check_batch,
    "odd_lengths": _check_odd_lengths,
    "determinism": _check_determinism,
    "reproducible": _check_reproducible,
    "short_input": _check_short,
    "silence": _check_silence,
    "finite": _check_finite,
    "duration": check_duration,
}
QUICK = ["card", "shape", "mask", "frame_rate", "batch", "odd_lengths", "determinism", "reproducible", "finite"]


def check_encoder(encoder: Encoder, long_input: bool = False, tolerance: float = DEFAULT_TOLERANCE,
                  reference: str | None = None, checkpoint: str | None = None, seed: int = 0,
                  only: list[str] | None = None) -> list[CheckResult]:
    """Run the conformance suite on `encoder` (loaded here if it is not yet); one CheckResult per check.

    `long_input` adds the 10-minute check; `reference` (the string the encoder was built from, with its
    `checkpoint`) adds building it in two fresh processes; `only` restricts the run to the named checks.
    """
    try:
        encoder.load(encoder.device, encoder.dtype)
    except Exception as err:
        return [CheckResult("load", False, f"{type(err).__name__}: {err}")]
    sig, run = Signals(encoder, seed), Runner(encoder, reference, checkpoint)
    checks = dict(CHECKS, long_input=check_long) if long_input else dict(CHECKS)
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


def quick_check(encoder: Encoder, reference: str | None = None, checkpoint: str | None = None) -> list[CheckResult]:
    """The fast subset `bench run` applies once to an unregistered encoder (QUICK: no long input, timing or band)."""
    return check_encoder(encoder, reference=reference, checkpoint=checkpoint, only=QUICK)
