"""Google's speech_embedding model as packaged (ONNX) by openWakeWord 0.5.1, run with onnxruntime.

As openWakeWord's offline path does (`AudioFeatures._get_embeddings`): audio as 16-bit PCM values, its ONNX
melspectrogram (32 bands, 10 ms hop, top-80 dB clamp over the clip) scaled by x / 10 + 2, then the embedding model on
76-frame windows (0.775 s) every 8 frames (80 ms). Frame t is centred at t * 80 ms (the clip is zero-padded by half
a window at both ends). openWakeWord states its bundled models are CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

from bench.card import EncoderCard
from bench.encoder import Frames

from .packaged import PackagedEncoder, install_line, onnx_parameter_count, package_dir, revision, rows_to_frames

PACKAGE = "openwakeword==0.5.1"
INSTALL = install_line(PACKAGE)
MEL_WINDOW, MEL_HOP = 512, 160  # samples, as the melspectrogram ONNX model computes them
WINDOW, STEP = 76, 8  # mel frames per embedding window, and between windows


class OpenWakeWord(PackagedEncoder):
    """openWakeWord's speech embedding (Google speech_embedding): 96-d per 0.775 s window, every 80 ms."""

    CARD = EncoderCard(
        name="openwakeword", family="speech", license="CC-BY-NC-SA-4.0", sample_rate=16000, embed_dim=96,
        hop_ms=STEP * MEL_HOP / 16.0, parameters=599_532, revision=revision(PACKAGE), packages=(PACKAGE,),
        training_data=("Google's speech_embedding (Lin et al. 2020, arXiv:2002.01322): keyword-spotting pretraining "
                       "on Google's large internal speech data, not public"))
    wrapper_version = "1"

    def __init__(self) -> None:
        super().__init__()
        self._mel = self._embed = None

    def _weights(self):
        return tuple(self._files())

    def _files(self):
        folder = package_dir("openwakeword", INSTALL) / "resources" / "models"
        return folder / "melspectrogram.onnx", folder / "embedding_model.onnx"

    def _load(self) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ImportError("openwakeword's models run on onnxruntime; run: pip install onnxruntime==1.32.0") from err
        options = onnxruntime.SessionOptions()
        self._mel, self._embed = (onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                                  for path in self._files())

    def parameter_count(self) -> int:
        return sum(onnx_parameter_count(path) for path in self._files())

    def frame_count(self, num_samples: int) -> int:
        return num_samples // (STEP * MEL_HOP) + 1

    def _windows(self, clip):
        """[N] float clip -> [frame_count, 76, 32, 1] mel windows centred every 80 ms."""
        import numpy as np

        count = self.frame_count(clip.shape[0])
        pcm = np.clip(np.round(clip * 32767.0), -32768, 32767)  # the package takes 16-bit PCM values
        left = WINDOW // 2 * MEL_HOP
        total = MEL_WINDOW + MEL_HOP * ((count - 1) * STEP + WINDOW - 1)  # samples that the last window needs
        padded = np.zeros(max(total, left + len(pcm)), dtype=np.float32)
        padded[left: left + len(pcm)] = pcm
        mel = self._mel.run(None, {"input": padded[None, :]})[0].squeeze() / 10.0 + 2.0  # [frames, 32]
        return np.stack([mel[k * STEP: k * STEP + WINDOW] for k in range(count)])[..., None]

    def encode(self, waveforms, mask) -> Frames:
        import numpy as np
        import torch

        if self._mel is None:
            self.load(self.device, self.dtype)
        lengths = [int(n) for n in mask.sum(dim=1).tolist()]
        audio = waveforms.detach().float().cpu().numpy()
        windows = [self._windows(audio[i, :n]) for i, n in enumerate(lengths)]
        embeddings = self._embed.run(None, {"input_1": np.concatenate(windows).astype(np.float32)})[0]
        rows = torch.from_numpy(embeddings.reshape(-1, self.embed_dim)).to(self.device)
        (frames,), frame_mask = rows_to_frames([w.shape[0] for w in windows], [rows])
        return Frames(frames=frames, mask=frame_mask)
