"""The conformance suite passes the baselines and fails each deliberately broken encoder on the matching check."""

import pytest
import torch
from bench.encoders.baselines import LogMel

from bench.check import CheckResult, check_encoder, format_report
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


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


@pytest.mark.parametrize("name", ["logmel", "mfcc"])
def test_baselines_pass_every_check(name):
    results = check_encoder(build_encoder(name), long_input=True)
    assert all(r.passed for r in results), format_report(results)
    assert {"card", "shape", "mask", "frame_rate", "sample_rate", "timing", "batch", "determinism", "short_input",
            "silence", "finite", "long_input"} == {r.name for r in results}


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
