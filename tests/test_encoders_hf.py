"""Hugging Face families on tiny random checkpoints built offline and saved to a temporary folder."""

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.check import check_encoder, format_report
from bench.registry import build_encoder, encoder_card

SPEECH = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(8, 8, 8),
              conv_stride=(5, 8, 8), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=8,
              num_conv_pos_embedding_groups=2)  # 320-sample stride: 20 ms frames, as the real models


def _tokenizer(path: Path) -> None:
    """A word-level tokenizer for CLAP's text tower, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<s>", "<pad>", "</s>", "<unk>", "a", "dog", "barking", "car", "horn", "rain"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(path)


def build_tiny(kind: str, root: Path) -> Path:
    """Save a tiny random checkpoint of `kind` (model + feature extractor) under root/kind."""
    import transformers as T

    torch.manual_seed(0)
    path = root / kind
    speech_fe = T.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    if kind == "wav2vec2":
        model, fe = T.Wav2Vec2Model(T.Wav2Vec2Config(**SPEECH)), T.Wav2Vec2FeatureExtractor()
    elif kind == "wav2vec2-stable":  # layer-norm feature encoder: the batched path
        config = T.Wav2Vec2Config(**SPEECH, feat_extract_norm="layer", do_stable_layer_norm=True)
        model, fe = T.Wav2Vec2Model(config), speech_fe
    elif kind == "hubert":
        model, fe = T.HubertModel(T.HubertConfig(**SPEECH)), T.Wav2Vec2FeatureExtractor()
    elif kind == "wavlm":
        config = T.WavLMConfig(**SPEECH, feat_extract_norm="layer", num_buckets=16, max_bucket_distance=50)
        model, fe = T.WavLMModel(config), speech_fe
    elif kind == "data2vec-audio":
        model, fe = T.Data2VecAudioModel(T.Data2VecAudioConfig(**{**SPEECH, "num_conv_pos_embeddings": 3})), speech_fe
    elif kind == "whisper":  # a 2 s window instead of 30 s keeps the test fast; the policy is the same
        config = T.WhisperConfig(vocab_size=64, num_mel_bins=80, d_model=16, encoder_layers=2, decoder_layers=1,
                                 encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                 decoder_ffn_dim=32, max_source_positions=100, max_target_positions=16,
                                 pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3)
        model, fe = T.WhisperForConditionalGeneration(config), T.WhisperFeatureExtractor(chunk_length=2)
    elif kind == "ast":
        config = T.ASTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                             max_length=300, num_mel_bins=32)
        model, fe = T.ASTModel(config), T.ASTFeatureExtractor(num_mel_bins=32, max_length=300)
    elif kind == "clap":
        config = T.ClapConfig(
            text_config=dict(vocab_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=40, projection_dim=8),
            audio_config=dict(hidden_size=16, patch_embeds_hidden_size=8, depths=(1, 1), num_attention_heads=(1, 2),
                              window_size=8, projection_dim=8, num_hidden_layers=2),
            projection_dim=8)
        model = T.ClapModel(config)
        fe = T.ClapFeatureExtractor(sampling_rate=16000, hop_length=160, fft_window_size=400, frequency_max=8000,
                                    max_length_s=2, truncation="rand_trunc")
        _tokenizer(path)
    elif kind == "w2v-bert":  # no conv_stride in its config: the generic path measures the hop
        config = T.Wav2Vec2BertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=32, output_hidden_size=16, conv_depthwise_kernel_size=3)
        model, fe = T.Wav2Vec2BertModel(config), T.SeamlessM4TFeatureExtractor()
    else:
        raise ValueError(kind)
    model.eval().save_pretrained(path)
    fe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return lambda kind: build_tiny(kind, root) if not (root / kind).exists() else root / kind


@pytest.mark.parametrize("name, kind", [
    ("hf-wav2vec2", "wav2vec2"),
    ("hf-wav2vec2", "wav2vec2-stable"),
    ("hf-hubert", "hubert"),
    ("hf-wavlm", "wavlm"),
    ("hf-data2vec-audio", "data2vec-audio"),
    ("hf-whisper", "whisper"),
    ("hf-ast", "ast"),
    ("hf-clap", "clap"),
    ("hf-auto", "w2v-bert"),
])
def test_family_passes_check(tiny, name, kind):
    encoder = build_encoder(name, checkpoint=str(tiny(kind)))
    results = check_encoder(encoder)
    assert all(r.passed for r in results), format_report(results)
    card = encoder.card()
    assert card.name == name and card.revision == str(tiny(kind))
    assert card.license.startswith("unknown (user checkpoint")
    assert card.parameters == sum(p.numel() for p in encoder._model.parameters()) > 0
    assert card.from_checkpoint and (card.sample_rate, card.embed_dim) == (encoder.sample_rate, encoder.embed_dim)


@pytest.mark.parametrize("kind, layers", [("wav2vec2", 2), ("whisper", 2), ("ast", 2)])
def test_every_layer_is_exposed_and_the_last_is_the_frames(tiny, kind, layers):
    encoder = build_encoder("hf-auto", checkpoint=str(tiny(kind))).load()
    wave = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32) * 0.1)
    out = encoder.encode(wave, torch.ones_like(wave, dtype=torch.bool))
    assert len(out.hidden_states) == layers + 1  # input embedding, then each layer
    assert torch.equal(out.hidden_states[-1], out.frames)
    assert all(h.shape == out.frames.shape for h in out.hidden_states)


def test_whisper_masks_the_padding_of_its_window(tiny):
    """A 0.5 s clip in a 2 s window: 26 frames are valid (20 ms hop), the window's padding never reaches pooling."""
    encoder = build_encoder("hf-whisper", checkpoint=str(tiny("whisper"))).load()
    assert encoder.max_seconds == 2.0 and encoder.hop_ms == 20.0
    waves = torch.zeros(2, 32000)
    waves[0, :8000] = torch.randn(8000) * 0.1
    waves[1] = torch.randn(32000) * 0.1
    mask = waves != 0
    out = encoder.encode(waves, mask)
    assert out.mask.sum(dim=1).tolist() == [26, 100]
    assert "masked" in encoder.card().padding_policy


def test_speech_models_batch_only_when_padding_cannot_leak(tiny):
    group = build_encoder("hf-wav2vec2", checkpoint=str(tiny("wav2vec2"))).load()
    stable = build_encoder("hf-wav2vec2", checkpoint=str(tiny("wav2vec2-stable"))).load()
    data2vec = build_encoder("hf-data2vec-audio", checkpoint=str(tiny("data2vec-audio"))).load()
    assert (group._batched, stable._batched, data2vec._batched) == (False, True, False)
    assert stable.frame_count(16000) == 50 and stable.hop_ms == 20.0


def test_clap_text_tower(tiny):
    encoder = build_encoder("hf-clap", checkpoint=str(tiny("clap")))
    text = encoder.encode_text(["a dog barking", "car horn"])
    assert text.shape == (2, encoder.embed_dim) and torch.isfinite(text).all()
    assert encoder.card().text_tower


def test_auto_picks_the_wrapper_from_model_type(tiny):
    from bench.encoders.hf import HFAST, HFClap, HFSpeech, HFWhisper

    for kind, cls in [("whisper", HFWhisper), ("ast", HFAST), ("clap", HFClap), ("hubert", HFSpeech)]:
        assert type(build_encoder("hf-auto", checkpoint=str(tiny(kind)))) is cls


def test_weights_hash_follows_the_weights(tiny, tmp_path):
    import transformers as T

    path = tiny("hubert")
    a = build_encoder("hf-hubert", checkpoint=str(path)).weights_sha256()
    assert a == build_encoder("hf-hubert", checkpoint=str(path)).weights_sha256()
    model = T.HubertModel.from_pretrained(path)
    with torch.no_grad():
        model.encoder.layer_norm.weight.add_(1.0)
    model.save_pretrained(tmp_path / "changed")
    T.Wav2Vec2FeatureExtractor().save_pretrained(tmp_path / "changed")
    assert build_encoder("hf-hubert", checkpoint=str(tmp_path / "changed")).weights_sha256() != a


def test_clear_errors_without_a_checkpoint():
    with pytest.raises(ValueError, match="--checkpoint"):
        build_encoder("hf-auto")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_encoder("hf-wav2vec2", checkpoint="/nonexistent/wav2vec2")


def test_default_checkpoints_carry_their_card_facts():
    """Constructing with the default hub id loads nothing; its license and training data are known."""
    encoder = build_encoder("hf-wavlm")
    assert encoder.checkpoint == "microsoft/wavlm-base-plus" and encoder.license == "MIT"
    assert "Libri-Light" in encoder.training_data
    card = encoder_card("hf-wavlm")  # the family's card: the default checkpoint, the rest left to the checkpoint
    assert (card.revision, card.license, card.training_data) == (encoder.checkpoint, "MIT", encoder.training_data)
    assert card.from_checkpoint and card.embed_dim is None and card.parameters is None
