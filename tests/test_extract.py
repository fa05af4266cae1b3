import numpy as np
import pytest

from bench.audio import BadAudio
from bench.cache import EmbeddingCache
from bench.data import load_dataset
from bench.extract import ExtractionConfig, _batches, _Unit, encode_clip, encoder_key, extract
from bench.registry import build_encoder
from bench.taskspec import parse_task


def _task(path):
    return parse_task({"name": "t", "version": 1, "domain": "sound", "dataset": {"source": "manifest", "path": str(path)},
                       "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["knn"]}, "t.yaml")


def _setup(tone_dataset, tmp_path, name="mfcc"):
    enc = build_encoder(name).load()
    key, desc = encoder_key(enc, "last")
    return enc, EmbeddingCache(tmp_path / "cache", key, desc), load_dataset(_task(tone_dataset)).items


def test_extract_matches_single_clip_encoding_and_caches(tone_dataset, tmp_path):
    enc, cache, items = _setup(tone_dataset, tmp_path)
    keys, stats = extract(enc, items, cache, ExtractionConfig(progress=False, max_batch=8))
    assert stats.n_encoded == len(items) and stats.n_cached == 0
    from bench.audio import load_audio

    for item, key in list(zip(items, keys))[:5]:
        alone = encode_clip(enc, load_audio(item["_audio"], 16000, "mix", item["id"]))
        np.testing.assert_allclose(cache.frames(key), alone, atol=2e-2 * np.abs(alone).max())  # float16 storage
        np.testing.assert_allclose(cache.pooled([key])[0], alone.mean(axis=0), rtol=1e-4, atol=1e-4)
    again = EmbeddingCache(tmp_path / "cache", cache.encoder_key)
    _, second = extract(enc, items, again, ExtractionConfig(progress=False))
    assert second.n_encoded == 0 and second.n_cached == len(items)


def test_key_changes_with_weights_and_layer():
    a, b = build_encoder("mfcc"), build_encoder("mfcc", n_mfcc=13)
    assert encoder_key(a, "last")[0] != encoder_key(b, "last")[0]
    assert encoder_key(a, "last")[0] != encoder_key(a, "mean")[0]
    assert encoder_key(a, "last")[0] == encoder_key(build_encoder("mfcc"), "last")[0]


def test_batches_respect_budget_and_sort_by_length():
    units = [_Unit(str(i), {}, 1, length) for i, length in enumerate([100, 900, 500, 120, 880])]
    batches = _batches(units, budget=1800, max_batch=8)
    assert [[u.longest for u in b] for b in batches] == [[900, 880], [500, 120, 100]]
    assert all(len(b) * b[0].longest <= 1800 for b in batches)


def test_long_clips_are_chunked_and_stitched():
    enc = build_encoder("logmel").load()
    wave = np.random.default_rng(0).standard_normal((1, 16000 * 3)).astype(np.float32)
    whole = encode_clip(enc, wave)
    enc.max_seconds = 1.0
    chunked = encode_clip(enc, wave)
    # each 1 s window yields its own frames; together they cover the clip at the same hop
    assert abs(len(chunked) - len(whole)) <= 3 * (enc.n_fft // enc.hop)
    np.testing.assert_allclose(chunked[:90], whole[:90], rtol=1e-4, atol=1e-4)


def test_each_channel_concatenates_features():
    enc = build_encoder("mfcc").load()
    wave = np.random.default_rng(0).standard_normal((3, 8000)).astype(np.float32)
    out = encode_clip(enc, wave)
    assert out.shape[1] == 3 * enc.embed_dim
    np.testing.assert_allclose(out[:, enc.embed_dim:2 * enc.embed_dim], encode_clip(enc, wave[1:2]), atol=1e-5)


def test_bad_clip_raises_or_is_skipped(tone_dataset, tmp_path):
    (tone_dataset / "audio" / "test_mid_1.wav").write_bytes(b"garbage")
    enc, cache, items = _setup(tone_dataset, tmp_path)
    with pytest.raises(BadAudio, match="test_mid_1.*--on-bad-audio skip"):
        extract(enc, items, cache, ExtractionConfig(progress=False))
    keys, stats = extract(enc, items, cache, ExtractionConfig(progress=False, on_bad_audio="skip"))
    assert [s["id"] for s in stats.skipped] == ["test_mid_1"]
    assert sum(k in cache for k in keys) == len(items) - 1


def test_stale_temporary_shards_are_ignored(tone_dataset, tmp_path):
    enc, cache, items = _setup(tone_dataset, tmp_path)
    (cache.dir / "shard-dead.npz.tmp123").write_bytes(b"half a shard")
    reopened = EmbeddingCache(tmp_path / "cache", cache.encoder_key)
    assert not list(reopened.dir.glob("*.tmp*"))
    _, stats = extract(enc, items, reopened, ExtractionConfig(progress=False))
    assert stats.n_encoded == len(items)


def test_each_channel_policy_rejects_mixed_channel_counts(tmp_path):
    import json

    import soundfile as sf

    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "two.wav", np.zeros((1600, 2), dtype=np.float32) + 0.1, 16000)
    sf.write(tmp_path / "a" / "four.wav", np.zeros((1600, 4), dtype=np.float32) + 0.1, 16000)
    rows = [{"id": "two", "path": "two.wav", "split": "train", "label": "x"},
            {"id": "four", "path": "four.wav", "split": "train", "label": "x"}]
    (tmp_path / "a" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = load_dataset(_task(tmp_path / "a")).items
    enc = build_encoder("mfcc").load()
    cache = EmbeddingCache(tmp_path / "cache", "k")
    with pytest.raises(BadAudio, match="'four'.*4 channel"):
        extract(enc, items, cache, ExtractionConfig(channels="each", progress=False))
