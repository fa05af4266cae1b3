"""Hugging Face audio encoders through transformers: Whisper's encoder, wav2vec2, HuBERT, WavLM, data2vec-audio,
AST, CLAP (audio and text towers), and a generic path (`hf-auto`) for other audio models.

Each loads from a local checkpoint directory (what `save_pretrained` writes; `--checkpoint path/`) or a hub id (only
where the machine has a network). Frames are the model's last hidden state; `hidden_states` holds every layer as
transformers returns it (input embedding first), so the harness can choose the last layer, an index or the mean.
Native windows are handled honestly: Whisper and AST pad each clip to their fixed window, as they were trained, and
mask every frame beyond the clip, so a 1 s clip never pools 29 s of padding.
"""

from __future__ import annotations

import math
from typing import Any

from bench.encoder import Frames

from .hf_base import (
    BATCHABLE_MODEL_TYPES,
    DEFAULTS,
    USER_CHECKPOINT_DATA,
    USER_CHECKPOINT_LICENSE,
    Default,
    HFEncoder,
    _clips,
    _local_json,
    _pad_frames,
)

__all__ = ["DEFAULTS", "USER_CHECKPOINT_DATA", "USER_CHECKPOINT_LICENSE", "Default", "HFEncoder", "HFSpeech",
           "HFWav2Vec2", "HFHubert", "HFWavLM", "HFData2VecAudio", "HFWhisper", "HFAST", "HFClap", "auto"]


class HFSpeech(HFEncoder):
    """A waveform-input transformers model (wav2vec2, HuBERT, WavLM, data2vec-audio or any audio AutoModel)."""

    name = "hf-auto"
    family = "hf-speech"
    family_key = "auto"
    _conv: tuple = ()
    _batched = False
    padding_policy = ("each clip is encoded at its own length (alone, or in a padded batch with an attention mask "
                      "for layer-norm wav2vec2/HuBERT/WavLM); frames beyond each clip are masked out")

    def __init__(self, checkpoint: str | None = None, max_seconds: float = 30.0, **kwargs: Any) -> None:
        super().__init__(checkpoint=checkpoint, max_seconds=max_seconds, **kwargs)
        # not a native window: attention is quadratic in length, so long clips are cut into windows this long
        self.max_seconds = max_seconds

    def _configure(self, config: dict, preprocessor: dict) -> None:
        self.sample_rate = int(preprocessor.get("sampling_rate", 16000))
        self.embed_dim = int(config.get("hidden_size", self.embed_dim))
        self._conv = tuple(zip(config.get("conv_kernel", ()), config.get("conv_stride", ())))
        if self._conv:
            self.hop_ms = math.prod(s for _, s in self._conv) / self.sample_rate * 1000.0
        self._batched = (config.get("model_type") in BATCHABLE_MODEL_TYPES
                         and config.get("feat_extract_norm") == "layer")

    def _load(self) -> None:
        import torch

        super()._load()
        if not self._conv:  # an unknown model: measure its frame rate and width on 1 s and 2 s of silence
            with torch.no_grad():
                short, long_ = (self._run_clip(torch.zeros(seconds * self.sample_rate)) for seconds in (1, 2))
            self.embed_dim = int(long_[-1].shape[-1])
            self.hop_ms = 1000.0 / max(1, long_[-1].shape[0] - short[-1].shape[0])

    @property
    def receptive_samples(self) -> int:
        """Samples one frame of the convolutional feature encoder sees (shorter clips are zero-padded to it)."""
        field = 1
        for kernel, stride in reversed(self._conv):
            field = (field - 1) * stride + kernel
        return field

    def frame_count(self, num_samples: int) -> int:
        if not self._conv:
            return super().frame_count(num_samples)
        length = max(num_samples, self.receptive_samples)
        for kernel, stride in self._conv:
            length = (length - kernel) // stride + 1
        return length

    def _run_clip(self, clip) -> list:
        """One clip alone -> its layers, each [T, D] (last hidden state last)."""
        import torch

        if clip.shape[0] < self.receptive_samples:
            clip = torch.nn.functional.pad(clip, (0, self.receptive_samples - clip.shape[0]))
        inputs = self._feature_extractor(clip.numpy(), sampling_rate=self.sample_rate, return_tensors="pt")
        out = self._model(**self._inputs(dict(inputs)), output_hidden_states=True)
        return [h[0].float() for h in out.hidden_states[:-1]] + [out.last_hidden_state[0].float()]

    def encode(self, waveforms, mask) -> Frames:
        import torch

        self._ensure_loaded()
        clips = _clips(waveforms, mask)
        with torch.no_grad():
            if self._batched:
                layers, frame_mask = self._run_batch(clips)
            else:
                layers, frame_mask = _pad_frames([self._run_clip(c) for c in clips], self.device)
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)

    def _run_batch(self, clips):
        import torch

        receptive = self.receptive_samples
        clips = [torch.nn.functional.pad(c, (0, max(0, receptive - c.shape[0]))) for c in clips]
        inputs = self._feature_extractor([c.numpy() for c in clips], sampling_rate=self.sample_rate, padding=True,
                                         return_attention_mask=True, return_tensors="pt")
        out = self._model(**self._inputs(dict(inputs)), output_hidden_states=True)
        layers = [h.float() for h in out.hidden_states[:-1]] + [out.last_hidden_state.float()]
        counts = torch.tensor([self.frame_count(c.shape[0]) for c in clips])
        frame_mask = torch.arange(layers[-1].shape[1])[None, :] < counts[:, None]
        return layers, frame_mask.to(layers[-1].device)


class HFWav2Vec2(HFSpeech):
    """wav2vec 2.0 (default facebook/wav2vec2-base): self-supervised speech transformer, 20 ms frames."""

    name = "hf-wav2vec2"
    family = "wav2vec2"
    family_key = "wav2vec2"


class HFHubert(HFSpeech):
    """HuBERT (default facebook/hubert-base-ls960): self-supervised speech transformer, 20 ms frames."""

    name = "hf-hubert"
    family = "hubert"
    family_key = "hubert"


class HFWavLM(HFSpeech):
    """WavLM (default microsoft/wavlm-base-plus): self-supervised speech transformer, 20 ms frames."""

    name = "hf-wavlm"
    family = "wavlm"
    family_key = "wavlm"


class HFData2VecAudio(HFSpeech):
    """data2vec-audio (default facebook/data2vec-audio-base): self-distilled speech transformer, 20 ms frames."""

    name = "hf-data2vec-audio"
    family = "data2vec-audio"
    family_key = "data2vec-audio"


class HFWhisper(HFEncoder):
    """Whisper's encoder (default openai/whisper-base): 30 s log-mel window, 20 ms frames."""

    name = "hf-whisper"
    family = "whisper"
    family_key = "whisper"
    _mel_hop = 160
    _positions = 1500
    padding_policy = ("each clip is padded with silence to Whisper's 30 s window, as in training; frames beyond the "
                      "clip are masked out and dropped past the longest clip of the batch")

    def _configure(self, config: dict, preprocessor: dict) -> None:
        self.sample_rate = int(preprocessor.get("sampling_rate", 16000))
        self._mel_hop = int(preprocessor.get("hop_length", 160))
        self.hop_ms = 2 * self._mel_hop / self.sample_rate * 1000.0  # conv2 has stride 2
        self.max_seconds = float(preprocessor.get("chunk_length", 30))
        self.embed_dim = int(config.get("d_model", self.embed_dim))
        self._positions = int(config.get("max_source_positions", 1500))

    def _load_model(self):
        from transformers import AutoModel

        return AutoModel.from_pretrained(self.checkpoint).get_encoder()

    def _load_feature_extractor(self):
        from transformers import WhisperFeatureExtractor

        return WhisperFeatureExtractor.from_pretrained(self.checkpoint)

    def _load(self) -> None:
        super()._load()
        if self._feature_extractor.nb_max_frames != 2 * self._positions:
            fe = self._feature_extractor
            raise ValueError(f"'{self.checkpoint}': the feature extractor's window ({fe.n_samples} samples, "
                             f"{fe.nb_max_frames} mel frames) does not match the encoder's {self._positions} "
                             f"positions (it expects {2 * self._positions} mel frames)")

    def frame_count(self, num_samples: int) -> int:
        return min(self._positions, num_samples // (2 * self._mel_hop) + 1)

    def encode(self, waveforms, mask) -> Frames:
        import torch

        self._ensure_loaded()
        clips = _clips(waveforms, mask)
        window = self._feature_extractor.n_samples
        if max(c.shape[0] for c in clips) > window:
            raise ValueError(f"a clip is longer than Whisper's {self.max_seconds:g} s window; the harness cuts long "
                             f"clips into windows of max_seconds")
        inputs = self._feature_extractor([c.numpy() for c in clips], sampling_rate=self.sample_rate,
                                         return_tensors="pt")
        counts = torch.tensor([self.frame_count(c.shape[0]) for c in clips])
        keep = int(counts.max())
        with torch.no_grad():
            out = self._model(**self._inputs({"input_features": inputs["input_features"]}), output_hidden_states=True)
        layers = [h[:, :keep].float() for h in out.hidden_states[:-1]] + [out.last_hidden_state[:, :keep].float()]
        frame_mask = (torch.arange(keep)[None, :] < counts[:, None]).to(layers[-1].device)
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)


class HFAST(HFEncoder):
    """Audio Spectrogram Transformer (default MIT/ast-finetuned-audioset-10-10-0.4593): 10.24 s fbank window;
    frames are patch tokens averaged over frequency, one per time-patch step (100 ms)."""

    name = "hf-ast"
    family = "ast"
    family_key = "ast"
    _max_frames = 1024
    _time_stride = 10
    _freq_patches = 12
    _time_patches = 101
    padding_policy = ("each clip is padded to AST's fbank window (1024 frames, 10.24 s), as in training; time "
                      "patches that start beyond the clip are masked out; the two summary tokens are dropped")

    def _configure(self, config: dict, preprocessor: dict) -> None:
        self.sample_rate = int(preprocessor.get("sampling_rate", 16000))
        self.embed_dim = int(config.get("hidden_size", self.embed_dim))
        self._max_frames = int(config.get("max_length", 1024))
        self._time_stride = int(config.get("time_stride", 10))
        patch = int(config.get("patch_size", 16))
        freq_stride = int(config.get("frequency_stride", 10))
        self._freq_patches = (int(config.get("num_mel_bins", 128)) - patch) // freq_stride + 1
        self._time_patches = (self._max_frames - patch) // self._time_stride + 1
        self.hop_ms = self._time_stride * 10.0  # fbank frames are 10 ms apart
        self.max_seconds = self._max_frames * 0.01

    def _load_feature_extractor(self):
        from transformers import ASTFeatureExtractor

        return ASTFeatureExtractor.from_pretrained(self.checkpoint)

    def frame_count(self, num_samples: int) -> int:
        fbank_frames = 1 + max(0, num_samples - 400) // 160  # kaldi fbank: 25 ms windows, 10 ms shift
        return max(1, min(self._time_patches, math.ceil(fbank_frames / self._time_stride)))

    def _time_frames(self, tokens):
        """[B, 2 + F*T, D] tokens -> [B, T, D]: drop the cls/distillation tokens, average over frequency."""
        patches = tokens[:, 2:].reshape(tokens.shape[0], self._freq_patches, self._time_patches, tokens.shape[-1])
        return patches.mean(dim=1).float()

    def encode(self, waveforms, mask) -> Frames:
        import torch

        self._ensure_loaded()
        clips = [torch.nn.functional.pad(c, (0, max(0, 400 - c.shape[0]))) for c in _clips(waveforms, mask)]
        if max(c.shape[0] for c in clips) > self.max_seconds * self.sample_rate:
            raise ValueError(f"a clip is longer than AST's {self.max_seconds:g} s window; the harness cuts long clips "
                             f"into windows of max_seconds")
        inputs = self._feature_extractor([c.numpy() for c in clips], sampling_rate=self.sample_rate,
                                         return_tensors="pt")
        counts = torch.tensor([self.frame_count(c.shape[0]) for c in clips])
        keep = int(counts.max())
        with torch.no_grad():
            out = self._model(**self._inputs({"input_values": inputs["input_values"]}), output_hidden_states=True)
        layers = [self._time_frames(h)[:, :keep] for h in out.hidden_states[:-1]]
        layers.append(self._time_frames(out.last_hidden_state)[:, :keep])
        frame_mask = (torch.arange(keep)[None, :] < counts[:, None]).to(layers[-1].device)
        return Frames(frames=layers[-1], mask=frame_mask, hidden_states=layers)


class HFClap(HFEncoder):
    """CLAP (default laion/clap-htsat-unfused): one joint audio-text embedding per 10 s window, plus a text tower."""

    name = "hf-clap"
    family = "clap"
    family_key = "clap"
    _fusion = False
    padding_policy = ("one frame per window of max_seconds: a shorter clip is repeat-padded to the window by "
                      "CLAP's feature extractor, as in training; hidden layers are not exposed (HTSAT's stages "
                      "differ in width)")

    def _configure(self, config: dict, preprocessor: dict) -> None:
        self.sample_rate = int(preprocessor.get("sampling_rate", 48000))
        self.max_seconds = float(preprocessor.get("max_length_s", 10))
        self.hop_ms = self.max_seconds * 1000.0
        self.embed_dim = int(config.get("projection_dim", self.embed_dim))
        self._fusion = bool(config.get("audio_config", {}).get("enable_fusion", False))

    def _load_feature_extractor(self):
        from transformers import ClapFeatureExtractor

        return ClapFeatureExtractor.from_pretrained(self.checkpoint)

    def _load(self) -> None:
        from transformers import AutoTokenizer

        super()._load()
        self._tokenizer = AutoTokenizer.from_pretrained(self.checkpoint)

    def frame_count(self, num_samples: int) -> int:
        return 1

    def encode(self, waveforms, mask) -> Frames:
        import torch

        self._ensure_loaded()
        clips = _clips(waveforms, mask)
        if max(c.shape[0] for c in clips) > self.max_seconds * self.sample_rate:
            raise ValueError(f"a clip is longer than CLAP's {self.max_seconds:g} s window; the harness cuts long "
                             f"clips into windows of max_seconds")
        # clips never exceed the window, so "rand_trunc" never crops at random; "fusion" matches fused checkpoints
        inputs = self._feature_extractor([c.numpy() for c in clips], sampling_rate=self.sample_rate,
                                         truncation="fusion" if self._fusion else "rand_trunc", return_tensors="pt")
        with torch.no_grad():
            out = self._model.get_audio_features(**self._inputs(dict(inputs)))
        frames = out.pooler_output.float()[:, None, :]
        return Frames(frames=frames, mask=torch.ones(frames.shape[:2], dtype=torch.bool, device=frames.device))

    def encode_text(self, texts: list[str]):
        """Texts -> [N, embed_dim] embeddings in the joint audio-text space (not normalised)."""
        import torch

        self._ensure_loaded()
        tokens = self._tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            out = self._model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
        return out.pooler_output.float()


AUTO_CLASSES: dict[str, type[HFEncoder]] = {
    "whisper": HFWhisper,
    "audio-spectrogram-transformer": HFAST,
    "clap": HFClap,
}


def auto(checkpoint: str | None = None, **kwargs: Any) -> HFEncoder:
    """`hf-auto`: pick the wrapper from the checkpoint's model_type (Whisper, AST, CLAP, else the waveform path)."""
    if not checkpoint:
        raise ValueError("hf-auto needs a checkpoint: pass --checkpoint path/to/saved_model (a save_pretrained "
                         "folder) or a hub id")
    config = _local_json(checkpoint, "config.json")
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(checkpoint).to_dict()
    cls = AUTO_CLASSES.get(config.get("model_type", ""), HFSpeech)
    return cls(checkpoint=checkpoint, **kwargs)


auto.class_card = HFSpeech.class_card  # type: ignore[attr-defined]  # hf-auto's card, read by `bench list encoders`
