"""The conformance suite passes the baselines and fails each deliberately broken encoder on the matching check."""

import re

import pytest
import torch
from bench.encoders.baselines import LogMel

from bench.check import CheckResult, check_encoder, format_report, quick_check
from bench.encoder import Frames
from bench.registry import build_encoder


class WrongDim(LogMel):
    """Declares 10 dimensions, returns 64."""

    def __init__(self) -> None:
        super().__init__()
        self.embed_dim = 10


class PaddingDependent(LogMel):
    """Normalises by the mean of the whole padded batch, so a clip's frames depend on its neighbours."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames - out.frames.mean(), mask=out.mask)


class Nondeterministic(LogMel):
    """Adds fresh noise at every call."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames + 0.1 * torch.randn_like(out.frames), mask=out.mask)


class NaNOnSilence(LogMel):
    """log of the mel power without a floor: -inf on digital silence."""

    def encode(self, waveforms, mask) -> Frames:
        frames = waveforms.float().unfold(1, self.n_fft, self.hop) * self._window
        power = torch.fft.rfft(frames, dim=-1).abs() ** 2
        feats = torch.log(power @ self._fbank)
        return Frames(frames=feats, mask=self._mask(mask, feats.shape[1]))


class WrongMask(LogMel):
    """Marks every frame valid, padding included."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames, mask=torch.ones_like(out.mask))


class WrongRate(LogMel):
    """Declares 8 kHz but frames its input as if it were 16 kHz."""

    def __init__(self) -> None:
        super().__init__()
        self.sample_rate = 8000


class WrongHop(LogMel):
    """Declares a 20 ms hop, produces 10 ms frames."""

    def __init__(self) -> None:
        super().__init__()
        self.hop_ms = 20.0


class SilentResample(LogMel):
    """Declares 16 kHz but works at 8 kHz inside: ideal low-pass at 4 kHz, every other sample, 8 kHz frames."""

    def __init__(self) -> None:
        super().__init__()
        self.n_fft, self.hop = 200, 80

    def encode(self, waveforms, mask) -> Frames:
        spectrum = torch.fft.rfft(waveforms.float(), dim=1)
        spectrum[:, spectrum.shape[1] // 2:] = 0
        low = torch.fft.irfft(spectrum, n=waveforms.shape[1], dim=1)
        return super().encode(low[:, ::2], mask[:, ::2])


class Reversed(LogMel):
    """Returns each clip's frames backwards in time."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        counts = out.mask.sum(dim=1, keepdim=True)
        index = (counts - 1 - torch.arange(out.frames.shape[1])[None, :]).clamp(min=0)
        frames = torch.gather(out.frames, 1, index[..., None].expand_as(out.frames))
        return Frames(frames=frames, mask=out.mask)


class BreaksOnShort(LogMel):
    """Refuses clips shorter than half a second."""

    def encode(self, waveforms, mask) -> Frames:
        if waveforms.shape[1] < 8000:
            raise ValueError("need at least 0.5 s")
        return super().encode(waveforms, mask)


class BadCard(LogMel):
    """A weights hash that is not a sha256."""

    def weights_sha256(self) -> str:
        return "abc"


class FailsToLoad(LogMel):
    def _load(self) -> None:
        raise ImportError("package 'thing' is not installed; run: pip install thing==1.0")


class BatchNormalisedFromThree(LogMel):
    """Normalises each frame over the batch, but only when the batch has 3 rows or more."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        frames = out.frames - out.frames.mean(dim=0, keepdim=True) if out.frames.shape[0] >= 3 else out.frames
        return Frames(frames=frames, mask=out.mask)


class Lagging(LogMel):
    """Frames 300 ms late: frame t describes the audio around t * hop_ms - 300 ms."""

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        lag = 30
        frames = torch.cat([out.frames[:, :1].expand(-1, lag, -1), out.frames[:, :-lag]], dim=1)
        return Frames(frames=frames[:, : out.frames.shape[1]], mask=out.mask)


class HopDrift(LogMel):
    """Declares a 10 ms hop but steps 163 samples (10.19 ms): 1.9 % too few frames."""

    def __init__(self) -> None:
        super().__init__()
        self.hop = 163


class MultipleOfHopOnly(LogMel):
    """Cuts the waveform into hops with reshape, which only works for lengths that are multiples of 160 samples."""

    def encode(self, waveforms, mask) -> Frames:
        hops = waveforms.reshape(waveforms.shape[0], -1, self.hop)
        return super().encode(hops.flatten(1), mask)


class NaiveDecimation(LogMel):
    """Declares 16 kHz but drops every other sample without a low-pass filter, then frames at 8 kHz."""

    def __init__(self) -> None:
        super().__init__()
        self.n_fft, self.hop = 200, 80

    def encode(self, waveforms, mask) -> Frames:
        return super().encode(waveforms[:, ::2], mask[:, ::2])


class FrameNormalised(LogMel):
    """Normalises each 25 ms window by a one-pass float32 variance (E[x^2] - E[x]^2, guarded only against 0): on
    quiet audio with a DC offset the cancellation makes it negative and its square root NaN."""

    def encode(self, waveforms, mask) -> Frames:
        wave = waveforms.float()
        if wave.shape[1] < self.n_fft:
            wave = torch.nn.functional.pad(wave, (0, self.n_fft - wave.shape[1]))
        frames = wave.unfold(1, self.n_fft, self.hop)
        mean = frames.mean(dim=-1, keepdim=True)
        var = (frames**2).mean(dim=-1, keepdim=True) - mean**2
        frames = (frames - mean) / torch.where(var == 0, torch.ones_like(var), var.sqrt()) * self._window
        feats = torch.log((torch.fft.rfft(frames, dim=-1).abs() ** 2) @ self._fbank + 1e-6)
        return Frames(frames=feats, mask=self._mask(mask, feats.shape[1]))


class Float64Frames(LogMel):
    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames.double(), mask=out.mask)


class Int16Frames(LogMel):
    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=(out.frames * 100).to(torch.int16), mask=out.mask)


class Uint8Mask(LogMel):
    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames, mask=out.mask.to(torch.uint8))


class TruncatesAfterFiveSeconds(LogMel):
    """Reads only the first 5 s of each clip."""

    def encode(self, waveforms, mask) -> Frames:
        return super().encode(waveforms[:, : 5 * self.sample_rate], mask[:, : 5 * self.sample_rate])


class PadsAfterFiveSeconds(LogMel):
    """Reads only the first 5 s of each clip and fills the frames after them with zeros (the count looks right)."""

    def encode(self, waveforms, mask) -> Frames:
        full = super().encode(waveforms, mask)
        head = super().encode(waveforms[:, : 5 * self.sample_rate], mask[:, : 5 * self.sample_rate])
        frames = torch.zeros_like(full.frames)
        frames[:, : head.frames.shape[1]] = head.frames
        return Frames(frames=frames, mask=full.mask)


PROJECTED = """
import torch

from bench.encoder import Frames
from bench.encoders.baselines import LogMel


class Projected(LogMel):
    # log-mel times a random 64 x 64 matrix drawn in __init__ ({seeding})

    def __init__(self) -> None:
        super().__init__()
        self.projection = torch.randn(64, 64, generator={generator})

    def encode(self, waveforms, mask) -> Frames:
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames @ self.projection, mask=out.mask)
"""


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


@pytest.mark.parametrize("name", ["logmel", "mfcc"])
def test_baselines_pass_every_check(name):
    results = check_encoder(build_encoder(name), long_input=True)
    assert all(r.passed for r in results), format_report(results)
    assert {"card", "shape", "mask", "frame_rate", "sample_rate", "timing", "batch", "odd_lengths", "determinism",
            "reproducible", "short_input", "silence", "finite", "duration", "long_input"} == {r.name for r in results}


@pytest.mark.parametrize("broken, failing", [
    (WrongDim, "shape"),
    (PaddingDependent, "batch"),
    (Nondeterministic, "determinism"),
    (NaNOnSilence, "silence"),
    (WrongMask, "mask"),
    (WrongRate, "frame_rate"),
    (WrongHop, "frame_rate"),
    (SilentResample, "sample_rate"),
    (Reversed, "timing"),
    (BreaksOnShort, "short_input"),
    (BadCard, "card"),
    (BatchNormalisedFromThree, "batch"),
    (Lagging, "timing"),
    (HopDrift, "frame_rate"),
    (HopDrift, "duration"),
    (MultipleOfHopOnly, "odd_lengths"),
    (NaiveDecimation, "sample_rate"),
    (FrameNormalised, "finite"),
    (Float64Frames, "shape"),
    (Int16Frames, "shape"),
    (Uint8Mask, "shape"),
    (TruncatesAfterFiveSeconds, "duration"),
    (PadsAfterFiveSeconds, "duration"),
])
def test_broken_encoder_fails_the_matching_check(broken, failing):
    results = _by_name(check_encoder(broken()))
    assert not results[failing].passed, format_report(list(results.values()))


def test_silent_resampling_keeps_the_frame_rate_but_loses_the_band():
    results = _by_name(check_encoder(SilentResample()))
    assert results["frame_rate"].passed and not results["sample_rate"].passed
    assert "silent resampling" in results["sample_rate"].detail


def test_load_failure_is_one_result_with_the_cause():
    results = check_encoder(FailsToLoad())
    assert [(r.name, r.passed) for r in results] == [("load", False)]
    assert "pip install thing==1.0" in results[0].detail


def test_format_report_lists_failures():
    report = format_report([CheckResult("shape", True, "ok"), CheckResult("batch", False, "differs")])
    assert "PASS  shape" in report and "FAIL  batch  differs" in report
    assert report.splitlines()[-1] == "1/2 checks passed; failed: batch"


def test_cli_exit_code(capsys):
    from bench.cli import main

    assert main(["check", "logmel"]) == 0
    assert main(["check", f"{__file__}:WrongMask"]) == 1
    assert "FAIL  mask" in capsys.readouterr().out


def test_naive_decimation_is_caught_as_aliasing():
    results = _by_name(check_encoder(NaiveDecimation()))
    assert results["frame_rate"].passed and not results["sample_rate"].passed
    assert "aliasing" in results["sample_rate"].detail


def test_quiet_noise_on_a_dc_offset_is_the_clip_that_gives_nan():
    detail = _by_name(check_encoder(FrameNormalised(), only=["finite"]))["finite"].detail
    assert detail == "NaN or inf for: quiet noise (1e-5) on a DC offset of 0.5"


def test_lagging_frames_are_reported_in_milliseconds():
    detail = _by_name(check_encoder(Lagging(), only=["timing"]))["timing"].detail
    lag_ms = int(re.search(r"; ([+-]\d+) ms from the step", detail).group(1))
    assert abs(lag_ms - 300) <= 10 and "+-100 ms" in detail, detail  # 30 frames late, one hop of slack


def test_hop_drift_is_caught_by_the_duration_count_through_the_harness():
    detail = _by_name(check_encoder(HopDrift(), only=["duration"]))["duration"].detail
    assert "30.0 s in 1 window(s)" in detail


@pytest.mark.parametrize("seeded, passes", [(False, False), (True, True)])
def test_unseeded_random_weights_fail_across_fresh_processes(tmp_path, seeded, passes):
    source = PROJECTED.format(seeding="seeded" if seeded else "unseeded",
                              generator="torch.Generator().manual_seed(0)" if seeded else "None")
    (tmp_path / "projected.py").write_text(source)
    reference = f"{tmp_path / 'projected.py'}:Projected"
    result = check_encoder(build_encoder(reference), reference=reference, only=["reproducible"])[0]
    assert result.name == "reproducible" and result.passed == passes, result.detail
    assert "two fresh processes" in result.detail


def test_without_a_reference_the_fresh_process_check_says_it_did_not_run():
    result = check_encoder(build_encoder("logmel"), only=["reproducible"])[0]
    assert result.passed and result.detail.startswith("not run: no reference")


def test_quick_check_is_the_fast_subset():
    results = quick_check(build_encoder("logmel"))
    assert [r.name for r in results] == ["card", "shape", "mask", "frame_rate", "batch", "odd_lengths",
                                         "determinism", "reproducible", "finite"]
    assert all(r.passed for r in results), format_report(results)
    assert not _by_name(quick_check(BatchNormalisedFromThree()))["batch"].passed


def test_constant_frames_after_a_cut_are_caught_by_the_tail():
    detail = _by_name(check_encoder(PadsAfterFiveSeconds(), only=["duration"]))["duration"].detail
    assert "the end of the clip does not reach the output" in detail
