"""librosa-compatible mel spectrograms in torch, for wrappers whose packages compute features with librosa.

librosa itself is not a dependency: `mel_filterbank` reproduces `librosa.filters.mel` (Slaney or HTK scale, Slaney
or L1 normalisation; it is also the baselines' filterbank) and `power_mel` reproduces `librosa.feature.melspectrogram`
(periodic window padded to n_fft, centred frames padded with zeros as in librosa >= 0.10).
"""

from __future__ import annotations

import math


def hz_to_mel(hz, htk: bool):
    """Hz -> mel on librosa's scales (torch tensors)."""
    import torch

    if htk:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return torch.where(hz >= min_log_hz, min_log_mel + torch.log(torch.clamp(hz, min=1e-10) / min_log_hz) / logstep,
                       hz / f_sp)


def mel_to_hz(mel, htk: bool):
    """mel -> Hz, the inverse of `hz_to_mel` (torch tensors)."""
    import torch

    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | None = "slaney", precision: str = "float64"):
    """[n_mels, n_fft // 2 + 1] float32 triangular mel weights, the one mel filterbank of the encoders.

    With the defaults it is `librosa.filters.mel` (norm: "slaney", "l1" or None; `htk` picks the scale), computed
    in float64 on numpy's frequency grids. `precision="float32"` computes in float32 on torch's grids instead: the
    arithmetic the weight-free baselines (logmel, mfcc; HTK scale, no norm) always used, kept so that their frames,
    and so their cached embeddings and committed results, stay bit-identical.
    """
    import numpy as np
    import torch

    if precision not in ("float64", "float32"):
        raise ValueError(f"mel_filterbank: precision must be 'float64' or 'float32', not {precision!r}")
    dtype = getattr(torch, precision)
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = torch.tensor([fmin, fmax], dtype=dtype)
    low, high = hz_to_mel(edges[0], htk), hz_to_mel(edges[1], htk)
    if precision == "float64":
        mels = torch.from_numpy(np.linspace(low.item(), high.item(), n_mels + 2))
        fft_freqs = torch.from_numpy(np.linspace(0, sample_rate / 2, n_fft // 2 + 1))
    else:
        mels = torch.linspace(low, high, n_mels + 2, dtype=dtype)
        fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=dtype)
    mel_freqs = mel_to_hz(mels, htk)
    lower, center, upper = mel_freqs[:-2, None], mel_freqs[1:-1, None], mel_freqs[2:, None]
    rising = (fft_freqs[None, :] - lower) / (center - lower)
    falling = (upper - fft_freqs[None, :]) / (upper - center)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0).numpy()
    if norm == "slaney":
        weights = weights * (2.0 / (upper - lower).numpy())
    elif norm == "l1":
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-10)
    return weights.astype(np.float32)


def power_mel(waveform, filterbank, n_fft: int, hop: int, win_length: int | None = None, window: str = "hann",
              center: bool = True):
    """[N] waveform -> [frames, n_mels] mel power spectrogram (power 2), as `librosa.feature.melspectrogram`."""
    import torch

    win_length = win_length or n_fft
    make = {"hann": torch.hann_window, "hamming": torch.hamming_window}[window]
    spectrum = torch.stft(waveform.float(), n_fft=n_fft, hop_length=hop, win_length=win_length,
                          window=make(win_length, periodic=True, device=waveform.device), center=center,
                          pad_mode="constant", return_complex=True)
    power = spectrum.abs() ** 2  # [freq, frames]
    return (torch.as_tensor(filterbank, device=waveform.device) @ power).T
