"""The shared part of the Hugging Face encoders (`encoders/hf.py`): each family's default checkpoint, the helpers
that cut a padded batch into clips and pad frames back, the state-dict hash, and `HFEncoder`, the base class that
loads a transformers model and its feature extractor and states its card. The families themselves live in hf.py
(their module is part of their cache key).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from bench.card import EncoderCard
from bench.encoder import Encoder

USER_CHECKPOINT_LICENSE = "unknown (user checkpoint: see its model card)"
USER_CHECKPOINT_DATA = "unknown (user checkpoint: see its model card)"


@dataclass(frozen=True)
class Default:
    """The checkpoint a family loads when none is given, with what its authors state about it."""

    hub_id: str
    license: str
    training_data: str


DEFAULTS: dict[str, Default] = {
    "whisper": Default("openai/whisper-base", "Apache-2.0",
                       "680k h of weakly supervised multilingual web audio with transcripts (Radford et al. 2022)"),
    "wav2vec2": Default("facebook/wav2vec2-base", "Apache-2.0", "LibriSpeech 960 h, unlabelled (Baevski et al. 2020)"),
    "hubert": Default("facebook/hubert-base-ls960", "Apache-2.0", "LibriSpeech 960 h, unlabelled (Hsu et al. 2021)"),
    "wavlm": Default("microsoft/wavlm-base-plus", "MIT",
                     "94k h: Libri-Light 60k, GigaSpeech 10k, VoxPopuli 24k (Chen et al. 2022)"),
    "data2vec-audio": Default("facebook/data2vec-audio-base", "Apache-2.0",
                              "LibriSpeech 960 h, unlabelled (Baevski et al. 2022)"),
    "ast": Default("MIT/ast-finetuned-audioset-10-10-0.4593", "BSD-3-Clause",
                   "ImageNet (DeiT initialisation), then AudioSet 2M with labels (Gong et al. 2021)"),
    "clap": Default("laion/clap-htsat-unfused", "Apache-2.0", "LAION-Audio-630K audio-text pairs (Wu et al. 2023)"),
    "auto": Default("", USER_CHECKPOINT_LICENSE, USER_CHECKPOINT_DATA),
}

# wav2vec2-style models whose feature encoder normalises each frame on its own (feat_extract_norm="layer") and that
# zero padded frames before the positional convolution: a padded batch with an attention mask gives the same valid
# frames as each clip alone. Every other model (group-norm feature encoders, data2vec-audio's stacked positional
# convolutions, unknown models) is run one clip at a time, which is padding-invariant by construction.
BATCHABLE_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm")


def _local_json(checkpoint: str, name: str) -> dict | None:
    path = Path(checkpoint) / name
    return json.loads(path.read_text()) if path.is_file() else None


def _clips(waveforms, mask) -> list:
    """The valid part of each row of a padded batch, as 1-D float32 CPU tensors."""
    lengths = mask.sum(dim=1).tolist()
    return [waveforms[i, : int(n)].detach().float().cpu() for i, n in enumerate(lengths)]


def _pad_frames(per_clip: list[list], device: str):
    """[[layer tensors [T_i, D]] per clip] -> list of [B, T_max, D] tensors per layer and the [B, T_max] mask."""
    import torch

    counts = [layers[0].shape[0] for layers in per_clip]
    t_max = max(counts)
    stacked = []
    for layer in range(len(per_clip[0])):
        out = per_clip[0][layer].new_zeros((len(per_clip), t_max, per_clip[0][layer].shape[-1]))
        for i, layers in enumerate(per_clip):
            out[i, : counts[i]] = layers[layer]
        stacked.append(out)
    mask = torch.arange(t_max)[None, :] < torch.tensor(counts)[:, None]
    return stacked, mask.to(device)


def _state_sha256(module) -> str:
    """sha256 of a module's state dict (names, shapes and float32 values), independent of the file layout."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class HFEncoder(Encoder):
    """Shared loading, hashing and metadata of the transformers-based encoders (not registered itself)."""

    family: ClassVar[str] = "hf"
    family_key: ClassVar[str] = "auto"
    wrapper_version: ClassVar[str] = "1"
    padding_policy: ClassVar[str] = "frames beyond each clip's length are masked out"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A family's card names its default checkpoint with its license and training data; the rate, width, hop,
        window and size are the checkpoint's (read when it is given or loaded)."""
        if "CARD" not in cls.__dict__:
            default = DEFAULTS[cls.family_key]
            cls.CARD = EncoderCard(name=cls.name, family=cls.family, license=default.license, sample_rate=None,
                                   embed_dim=None, hop_ms=None, revision=default.hub_id,
                                   training_data=default.training_data, padding_policy=cls.padding_policy,
                                   text_tower=callable(getattr(cls, "encode_text", None)), from_checkpoint=True)
        super().__init_subclass__(**kwargs)

    def __init__(self, checkpoint: str | None = None, license: str | None = None, training_data: str | None = None,
                 **extra: Any) -> None:
        default = DEFAULTS[self.family_key]
        checkpoint = str(checkpoint or default.hub_id)
        if not checkpoint:
            raise ValueError(f"{type(self).__name__} needs a checkpoint: pass --checkpoint path/to/saved_model "
                             f"(a save_pretrained folder) or a hub id")
        if checkpoint.startswith((".", "/", "~")) and not Path(checkpoint).expanduser().is_dir():
            raise FileNotFoundError(f"checkpoint folder '{checkpoint}' does not exist (expected a folder written by "
                                    f"save_pretrained: config.json, weights, preprocessor_config.json)")
        super().__init__(checkpoint=checkpoint, **extra)
        self.checkpoint = checkpoint
        self.revision = checkpoint
        is_default = checkpoint == default.hub_id
        self.license = license or (default.license if is_default else USER_CHECKPOINT_LICENSE)
        self.training_data = training_data or (default.training_data if is_default else USER_CHECKPOINT_DATA)
        self._model = None
        self._feature_extractor = None
        self._sha256: str | None = None
        self._parameters = 0
        config = _local_json(checkpoint, "config.json")
        if config is not None:
            self._configure(config, _local_json(checkpoint, "preprocessor_config.json") or {})

    # -- loading ------------------------------------------------------------------------------------
    def _configure(self, config: dict, preprocessor: dict) -> None:
        """Set sample_rate, embed_dim, hop_ms and max_seconds from the checkpoint's JSON configs."""
        raise NotImplementedError

    def _load_model(self):
        """Read the model (float32, CPU); returns the module that `encode` runs."""
        from transformers import AutoModel

        return AutoModel.from_pretrained(self.checkpoint)

    def _load_feature_extractor(self):
        from transformers import AutoFeatureExtractor

        return AutoFeatureExtractor.from_pretrained(self.checkpoint)

    def _load(self) -> None:
        import torch

        try:
            model = self._load_model()
            self._feature_extractor = self._load_feature_extractor()
        except OSError as err:
            cause = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise OSError(f"{self.name} needs --checkpoint DIR (a local Hugging Face folder written by "
                          f"save_pretrained: config.json, weights, preprocessor_config.json): '{self.checkpoint}' is "
                          f"not one, and as a hub id it is neither in the local Hugging Face cache nor reachable "
                          f"from here, so nothing was downloaded ({cause})") from err
        model.eval()
        self._sha256 = _state_sha256(model)
        self._parameters = sum(p.numel() for p in model.parameters())
        self._model = model.to(device=self.device, dtype=getattr(torch, self.dtype))
        self._configure(model.config.to_dict(), self._feature_extractor.to_dict())

    def _ensure_loaded(self) -> None:
        if self._model is None:
            self.load(self.device, self.dtype)

    def weights_sha256(self) -> str:
        """sha256 of the loaded state dict in float32 (loads the model if needed)."""
        self._ensure_loaded()
        return self._sha256

    def parameter_count(self) -> int:
        """Parameters of the module that encodes (Whisper: the encoder only); loads the model if needed."""
        self._ensure_loaded()
        return self._parameters

    def card(self) -> EncoderCard:
        """The family's card filled in from the loaded checkpoint: its path or hub id, size, rate, width, hop and
        window."""
        self._ensure_loaded()
        return replace(super().card(), revision=self.revision, parameters=self._parameters)

    def _inputs(self, inputs: dict) -> dict:
        """Move a feature extractor's output to the model's device, floats in the model's dtype."""
        import torch

        dtype = getattr(torch, self.dtype)
        return {k: v.to(self.device, dtype=dtype) if v.is_floating_point() else v.to(self.device)
                for k, v in inputs.items()}
