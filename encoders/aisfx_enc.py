"""aiSFX sound-effects encoder (Ma & Lerch, ISMIR 2022), from the weights inside the aisfx package.

The CNN is aisfx's own `EmbeddingNet`; its input is computed as aisfx's librosa path does (peak-normalised audio at
44.1 kHz, 96-band HTK mel power with 2048/1024 STFT, log10(1e4 x + 1), divided by the cross-dataset maximum), in
torch through `encoders/melspec.py`. The published model was trained on Essentia spectrograms, which the authors say
differ slightly. Frames are the embeddings of 100-frame blocks (2.32 s) every 50 frames (1.16 s, aisfx's default
hop), frame t centred at t * 1.16 s (the clip is zero-padded by half a block at both ends).
"""

from __future__ import annotations

from bench.card import EncoderCard
from bench.encoder import Frames

from .melspec import mel_filterbank, power_mel
from .packaged import PackagedEncoder, install_line, package_dir, revision, rows_to_frames

PACKAGE = "aisfx==0.1.2"
INSTALL = install_line(PACKAGE)
SAMPLE_RATE, N_FFT, STFT_HOP, MELS = 44100, 2048, 1024, 96
BLOCK, BLOCK_HOP = 100, 50  # spectrogram frames
SPEC_MAX = 9.457798957824707  # aisfx's 'original' normalisation: max over its training spectrograms (min 0)


class AiSFX(PackagedEncoder):
    """aiSFX sound-effects CNN: a 512-d embedding per 2.32 s block of log-mel, every 1.16 s, at 44.1 kHz."""

    CARD = EncoderCard(
        name="aisfx", family="sound-effects", license="CC-BY-4.0", sample_rate=SAMPLE_RATE, embed_dim=512,
        hop_ms=BLOCK_HOP * STFT_HOP / SAMPLE_RATE * 1000.0, parameters=4_686_144, revision=revision(PACKAGE),
        packages=(PACKAGE,),
        training_data=("sound-effects libraries labelled with UCS and other taxonomies: Pro Sound Effects, Soundly, "
                       "UCS Mixed, Soundstorm, Production Elements, Cartoon Express, HPX Digital, Sound Ideas Series "
                       "6000/9000 (Ma & Lerch 2022)"))
    wrapper_version = "1"

    def __init__(self) -> None:
        super().__init__()
        self._net = None
        self._fbank = None

    def _weights(self):
        return package_dir("aisfx", INSTALL) / "models" / "checkpoint.pth"

    def _load(self) -> None:
        import numpy as np
        import torch

        weights = self._weights()
        from aisfx.models.cnn2d import EmbeddingNet

        # the checkpoint pickles numpy integers beside the weights: allow those, and nothing else
        allowed = [(np._core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
        with torch.serialization.safe_globals(allowed):
            state, _datasets = torch.load(weights, map_location="cpu", weights_only=True)
        net = EmbeddingNet("max", 3, 1, 64)
        prefix = "embedding_net."
        net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        self._net = net.eval().to(self.device)
        fbank = mel_filterbank(SAMPLE_RATE, N_FFT, MELS, 0.0, SAMPLE_RATE / 2, htk=True, norm="l1")
        self._fbank = torch.from_numpy(fbank).to(self.device)

    def parameter_count(self) -> int:
        """Parameters of the embedding network (the per-dataset classifier heads are not used)."""
        if self._net is None:
            self.load(self.device, self.dtype)
        return sum(p.numel() for p in self._net.parameters())

    def frame_count(self, num_samples: int) -> int:
        return num_samples // (BLOCK_HOP * STFT_HOP) + 1

    def _blocks(self, clip):
        """[N] clip -> [frame_count, 100, 96] normalised log-mel blocks centred every 1.16 s."""
        import torch

        peak = float(clip.abs().max()) if clip.numel() else 0.0
        clip = clip / (peak if peak > 0 else 1.0)
        half = BLOCK // 2 * STFT_HOP
        padded = torch.nn.functional.pad(clip, (half, 2 * half))
        spec = torch.log10(power_mel(padded, self._fbank, n_fft=N_FFT, hop=STFT_HOP) * 1e4 + 1.0) / SPEC_MAX
        count = self.frame_count(clip.shape[0])
        return torch.stack([spec[k * BLOCK_HOP: k * BLOCK_HOP + BLOCK] for k in range(count)])

    def encode(self, waveforms, mask) -> Frames:
        import torch

        if self._net is None:
            self.load(self.device, self.dtype)
        lengths = [int(n) for n in mask.sum(dim=1).tolist()]
        with torch.no_grad():
            blocks = [self._blocks(waveforms[i, :n].float().to(self.device)) for i, n in enumerate(lengths)]
            embeddings = self._net(torch.cat(blocks))
        (frames,), frame_mask = rows_to_frames([b.shape[0] for b in blocks], [embeddings])
        return Frames(frames=frames, mask=frame_mask)
