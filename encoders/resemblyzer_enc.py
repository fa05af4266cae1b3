"""Resemblyzer's speaker encoder (GE2E, 3-layer LSTM), from the weights inside the resemblyzer package.

The package itself is not imported (its audio module needs webrtcvad and librosa); the network is rebuilt here and
its 40-band mel power features (25 ms windows, 10 ms hop, Slaney scale, as resemblyzer computes them with librosa)
come from `encoders/melspec.py`. Frames are the embeddings of 1.6 s windows every 0.8 s, frame t centred at
t * 0.8 s (the clip is zero-padded by half a window at both ends); resemblyzer's own utterance embedding is the
L2-normalised mean of such windows. Its VAD silence trimming and volume normalisation are left out.
"""

from __future__ import annotations

from bench.card import EncoderCard
from bench.encoder import Frames

from .melspec import mel_filterbank, power_mel
from .packaged import PackagedEncoder, install_line, package_dir, revision, rows_to_frames

PACKAGE = "resemblyzer==0.1.4"
INSTALL = install_line(PACKAGE)
MEL_HOP = 160  # samples (10 ms)
WINDOW_FRAMES, HOP_FRAMES = 160, 80  # 1.6 s windows every 0.8 s


class Resemblyzer(PackagedEncoder):
    """Resemblyzer GE2E speaker encoder: a 256-d L2-normalised speaker embedding per 1.6 s window, every 0.8 s."""

    CARD = EncoderCard(
        name="resemblyzer", family="speaker", license="Apache-2.0", sample_rate=16000, embed_dim=256,
        hop_ms=HOP_FRAMES * MEL_HOP / 16.0, parameters=1_423_616, revision=revision(PACKAGE), packages=(PACKAGE,),
        training_data=("LibriSpeech train-other-500, VoxCeleb1 and VoxCeleb2 (speaker-labelled), per the "
                       "Resemblyzer / Real-Time-Voice-Cloning authors"))
    wrapper_version = "1"

    def __init__(self) -> None:
        super().__init__()
        self._lstm = self._linear = None
        self._fbank = None

    def _weights(self):
        return package_dir("resemblyzer", INSTALL) / "pretrained.pt"

    def _load(self) -> None:
        import torch

        state = torch.load(self._weights(), map_location="cpu", weights_only=True)["model_state"]
        self._lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
        self._linear = torch.nn.Linear(256, 256)
        for prefix, module in (("lstm.", self._lstm), ("linear.", self._linear)):
            module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
            module.eval().to(self.device)
        self._fbank = torch.from_numpy(mel_filterbank(self.sample_rate, 400, 40)).to(self.device)

    def parameter_count(self) -> int:
        if self._lstm is None:
            self.load(self.device, self.dtype)
        return sum(p.numel() for m in (self._lstm, self._linear) for p in m.parameters())

    def frame_count(self, num_samples: int) -> int:
        return num_samples // (HOP_FRAMES * MEL_HOP) + 1

    def _windows(self, clip):
        """[N] clip -> [frame_count, 160, 40] mel windows centred every 0.8 s."""
        import torch

        count = self.frame_count(clip.shape[0])
        half = WINDOW_FRAMES // 2 * MEL_HOP
        padded = torch.nn.functional.pad(clip, (half, 2 * half))
        mel = power_mel(padded, self._fbank, n_fft=400, hop=MEL_HOP)
        return torch.stack([mel[k * HOP_FRAMES: k * HOP_FRAMES + WINDOW_FRAMES] for k in range(count)])

    def encode(self, waveforms, mask) -> Frames:
        import torch

        if self._lstm is None:
            self.load(self.device, self.dtype)
        lengths = [int(n) for n in mask.sum(dim=1).tolist()]
        with torch.no_grad():
            windows = [self._windows(waveforms[i, :n].float().to(self.device)) for i, n in enumerate(lengths)]
            _, (hidden, _) = self._lstm(torch.cat(windows))
            raw = torch.relu(self._linear(hidden[-1]))
            embeddings = raw / raw.norm(dim=1, keepdim=True).clamp(min=1e-12)
        layers, frame_mask = rows_to_frames([w.shape[0] for w in windows], [*hidden, embeddings])
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)
