"""Weight-free baselines: log-mel frames and MFCCs (25 ms windows, 10 ms hop, 16 kHz).

Frames are computed without centring, so a valid frame only ever sees the clip's own samples: the output of a
clip is the same alone or padded in a batch.
"""

from __future__ import annotations

import math
from dataclasses import replace

from bench.card import EncoderCard
from bench.encoder import Encoder, Frames

from .melspec import mel_filterbank


def dct_matrix(n_mels: int, n_mfcc: int):
    """Orthonormal DCT-II matrix [n_mels, n_mfcc]."""
    import torch

    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)
    basis = torch.cos(math.pi / n_mels * (n[:, None] + 0.5) * k[None, :]) * math.sqrt(2.0 / n_mels)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


class LogMel(Encoder):
    """Log-mel filterbank energies (64 bands, 25 ms / 10 ms): the weight-free floor every encoder should beat."""

    CARD = EncoderCard(name="logmel", family="baseline", license="none (no weights)", sample_rate=16000, embed_dim=64,
                       hop_ms=10.0, parameters=0, training_data="none (no learned weights)")
    wrapper_version = "1"

    def __init__(self, n_mels: int = 64, win_ms: float = 25.0) -> None:
        super().__init__(n_mels=n_mels, win_ms=win_ms)
        self.n_mels = n_mels
        self.n_fft = int(round(self.sample_rate * win_ms / 1000))
        self.hop = int(round(self.sample_rate * self.hop_ms / 1000))
        self.embed_dim = n_mels
        self._fbank = None
        self._window = None

    def _load(self) -> None:
        import torch

        weights = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, htk=True, norm=None, precision="float32")
        self._fbank = torch.from_numpy(weights).T.contiguous().to(self.device)  # [n_fft // 2 + 1, n_mels]
        self._window = torch.hann_window(self.n_fft, device=self.device)

    def frame_count(self, num_samples: int) -> int:
        return max(1, (num_samples - self.n_fft) // self.hop + 1)

    def log_mel(self, waveforms):
        """[B, N] waveforms -> [B, T, n_mels] log-mel energies (no centring)."""
        import torch

        if self._fbank is None:
            self.load(self.device, self.dtype)
        if waveforms.shape[1] < self.n_fft:
            waveforms = torch.nn.functional.pad(waveforms, (0, self.n_fft - waveforms.shape[1]))
        frames = waveforms.float().unfold(1, self.n_fft, self.hop) * self._window
        power = torch.fft.rfft(frames, dim=-1).abs() ** 2
        return torch.log(power @ self._fbank + 1e-6)

    def _mask(self, mask, num_frames: int):
        import torch

        lengths = mask.sum(dim=1).tolist()
        counts = torch.tensor([self.frame_count(int(n)) for n in lengths], device=mask.device)
        return torch.arange(num_frames, device=mask.device)[None, :] < counts[:, None]

    def encode(self, waveforms, mask) -> Frames:
        feats = self.log_mel(waveforms)
        return Frames(frames=feats, mask=self._mask(mask, feats.shape[1]))


class MFCC(LogMel):
    """MFCCs (20 coefficients of 64 log-mel bands) with deltas: a second weight-free baseline, 40-d."""

    CARD = replace(LogMel.CARD, name="mfcc", embed_dim=40, description="")

    def __init__(self, n_mfcc: int = 20, n_mels: int = 64, win_ms: float = 25.0) -> None:
        super().__init__(n_mels=n_mels, win_ms=win_ms)
        self.init_args = {"n_mfcc": n_mfcc, "n_mels": n_mels, "win_ms": win_ms}
        self.n_mfcc = n_mfcc
        self.embed_dim = 2 * n_mfcc
        self._dct = None

    def _load(self) -> None:
        super()._load()
        self._dct = dct_matrix(self.n_mels, self.n_mfcc).to(self.device)

    def encode(self, waveforms, mask) -> Frames:
        import torch

        log_mel = self.log_mel(waveforms)
        mfcc = log_mel @ self._dct
        frame_mask = self._mask(mask, mfcc.shape[1])
        # deltas from neighbouring valid frames only (edges repeat), so padding never leaks in
        counts = frame_mask.sum(dim=1)
        index = torch.arange(mfcc.shape[1], device=mfcc.device)[None, :]
        last = (counts - 1).clamp(min=0)[:, None]
        nxt = torch.minimum(index + 1, last)
        prev = torch.clamp(index - 1, min=0)
        nxt_frames = torch.gather(mfcc, 1, nxt[..., None].expand_as(mfcc))
        prev_frames = torch.gather(mfcc, 1, prev.expand(mfcc.shape[0], -1)[..., None].expand_as(mfcc))
        delta = (nxt_frames - prev_frames) / 2.0
        return Frames(frames=torch.cat([mfcc, delta], dim=-1), mask=frame_mask)
