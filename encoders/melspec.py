"""librosa-compatible mel spectrograms in torch, for wrappers whose packages compute features with librosa.

librosa itself is not a dependency: `mel_filterbank` reproduces `librosa.filters.mel` (Slaney or HTK scale, Slaney
or L1 normalisation) and `power_mel` reproduces `librosa.feature.melspectrogram` (periodic window padded to n_fft,
centred frames padded with zeros as in librosa >= 0.10).
"""

from __future__ import annotations

import math


def hz_to_mel(hz, htk: bool):
    """Hz -> mel on librosa's scales (numpy arrays or floats)."""
    import numpy as np

    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def mel_to_hz(mel, htk: bool):
    """mel -> Hz, the inverse of `hz_to_mel`."""
    import numpy as np

    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | None = "slaney"):
    """[n_mels, n_fft // 2 + 1] float32 weights, as `librosa.filters.mel` (norm: "slaney", "l1" or None)."""
    import numpy as np

    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    elif norm == "l1":
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-10)
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
