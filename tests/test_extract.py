import numpy as np
import pytest
from bench.encoders.baselines import MFCC

from bench.audio import BadAudio
from bench.cache import EmbeddingCache, clip_key
from bench.data import load_dataset
from bench.encoder import Frames
from bench.extract import EncoderOutputError, ExtractionConfig, _batches, _Unit, encode_clip, encoder_key, extract
from bench.registry import build_encoder
from bench.taskspec import parse_task


def _task(path):
    dataset = {"source": "manifest", "path": str(path)}
    return parse_task({"name": "t", "version": 1, "domain": "sound", "dataset": dataset,
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
    import subprocess
    import sys

    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    writer.wait()  # a writer that died mid-shard
    (cache.dir / f"shard-dead.npz.tmp{writer.pid}").write_bytes(b"half a shard")
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


class Faulty(MFCC):
    """MFCC that breaks one rule of the encoder contract (chosen by `fault`)."""

    name = "faulty"

    def __init__(self, fault: str = "") -> None:
        super().__init__()
        self.fault = fault

    def encode(self, waveforms, mask):
        import torch

        out = super().encode(waveforms, mask)
        frames, frame_mask = out.frames, out.mask
        if self.fault == "uint8 mask":
            frame_mask = frame_mask.to(torch.uint8)
        elif self.fault == "wrong dim":
            frames = torch.cat([frames, frames[..., :1]], dim=-1)
        elif self.fault == "empty mask":
            frame_mask = torch.zeros_like(frame_mask)
        elif self.fault == "gap in mask":
            frame_mask = frame_mask.clone()
            frame_mask[:, 1] = False
        elif self.fault == "nan in first row":  # rows are sorted longest first: the longest clip's frames
            frames = frames.clone()
            frames[0, 0, 0] = float("nan")
        return Frames(frames=frames, mask=frame_mask)


@pytest.mark.parametrize("fault, problem", [
    ("uint8 mask", "mask must be a torch.bool tensor"),
    ("wrong dim", r"expected \[\d+, T, 40\]"),
    ("empty mask", "marks no valid frame"),
    ("gap in mask", "must come first"),
])
def test_broken_encoder_output_is_refused_before_caching(tone_dataset, tmp_path, fault, problem):
    enc = Faulty(fault=fault).load()
    key, desc = encoder_key(enc, "last")
    cache = EmbeddingCache(tmp_path / "cache", key, desc)
    items = load_dataset(_task(tone_dataset)).items
    with pytest.raises(EncoderOutputError, match=rf"encoder 'faulty' .*item '\w+' \(.*\.wav\).*{problem}.*"
                                                  r"run `bench check faulty`"):
        extract(enc, items, cache, ExtractionConfig(progress=False, max_batch=8))
    assert not list(cache.dir.glob("shard-*")), "nothing of a broken batch may reach the cache"


def test_nan_frames_name_the_clip_they_belong_to(tone_dataset, tmp_path):
    import soundfile as sf

    enc = Faulty(fault="nan in first row").load()
    items = load_dataset(_task(tone_dataset)).items
    longest = max(items, key=lambda item: sf.info(item["_audio"]).frames)
    with pytest.raises(EncoderOutputError, match=rf"item '{longest['id']}' .*NaN or infinite"):
        extract(enc, items, EmbeddingCache(tmp_path / "cache", "k"), ExtractionConfig(progress=False))


def test_reference_in_the_error_is_how_the_encoder_was_asked_for(tone_dataset, tmp_path):
    path = tmp_path / "uint8.py"
    path.write_text("from test_extract import Faulty\n\nclass U8(Faulty):\n"
                    "    def __init__(self):\n        super().__init__(fault='uint8 mask')\n")
    enc = build_encoder(f"{path}:U8").load()
    items = load_dataset(_task(tone_dataset)).items
    with pytest.raises(EncoderOutputError, match=rf"run `bench check {path}:U8`"):
        extract(enc, items, EmbeddingCache(tmp_path / "cache", "k"), ExtractionConfig(progress=False))


def test_absurdly_loud_audio_is_bad_audio_not_an_encoder_fault(tone_dataset, tmp_path):
    import soundfile as sf

    wave = np.zeros(8000, dtype=np.float32)
    wave[100] = 3e29
    sf.write(tone_dataset / "audio" / "test_mid_1.wav", wave, 16000, subtype="FLOAT")
    enc, cache, items = _setup(tone_dataset, tmp_path)
    with pytest.raises(BadAudio, match=r"test_mid_1.*samples up to 3e\+29.*--on-bad-audio skip"):
        extract(enc, items, cache, ExtractionConfig(progress=False))
    keys, stats = extract(enc, items, cache, ExtractionConfig(progress=False, on_bad_audio="skip"))
    assert [s["id"] for s in stats.skipped] == ["test_mid_1"]
    assert sum(k in cache for k in keys) == len(items) - 1
    assert np.isfinite(cache.pooled([k for k in keys if k in cache])).all()


def _channel_dataset(root, counts: dict[str, int]):
    import json

    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, channels in counts.items():
        sf.write(root / f"{name}.wav", 0.1 * rng.standard_normal((1600, channels)).astype(np.float32), 16000)
    rows = [{"id": name, "path": f"{name}.wav", "split": "train", "label": "x"} for name in counts]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_dataset(_task(root)).items


def test_each_channel_count_comes_from_the_whole_manifest(tmp_path):
    # the odd clip comes first: it must be the one blamed, not the three clips after it
    items = _channel_dataset(tmp_path / "a", {"odd": 4, "s1": 2, "s2": 2, "s3": 2})
    enc = build_encoder("mfcc").load()
    cache = EmbeddingCache(tmp_path / "cache", "k")
    each = ExtractionConfig(channels="each", progress=False)
    with pytest.raises(BadAudio, match=r"most clips \(3 of 4\) have 2.*'odd' .*has 4 channel") as caught:
        extract(enc, items, cache, each)
    assert "'s1'" not in str(caught.value)
    assert not list(cache.dir.glob("shard-*")), "nothing is encoded before the channel count is decided"


def test_each_channel_with_a_warm_cache_rejects_a_new_odd_clip(tmp_path):
    enc = build_encoder("mfcc").load()
    cache = EmbeddingCache(tmp_path / "cache", "k")
    each = ExtractionConfig(channels="each", progress=False)
    extract(enc, _channel_dataset(tmp_path / "a", {"m1": 1, "m2": 1, "m3": 1}), cache, each)
    items = _channel_dataset(tmp_path / "a", {"m1": 1, "m2": 1, "m3": 1, "stereo": 2})
    with pytest.raises(BadAudio, match="'stereo'.*has 2 channel"):
        extract(enc, items, cache, each)
    keys, stats = extract(enc, items, cache, ExtractionConfig(channels="each", progress=False, on_bad_audio="skip"))
    assert [s["id"] for s in stats.skipped] == ["stereo"] and keys[3] is None
    assert cache.pooled(keys[:3]).shape == (3, enc.embed_dim)


def test_a_cached_clip_with_the_odd_channel_count_is_left_out_too(tmp_path):
    enc = build_encoder("mfcc").load()
    cache = EmbeddingCache(tmp_path / "cache", "k")
    each = ExtractionConfig(channels="each", progress=False)
    extract(enc, _channel_dataset(tmp_path / "a", {"stereo": 2}), cache, each)
    items = _channel_dataset(tmp_path / "a", {"stereo": 2, "m1": 1, "m2": 1})
    assert clip_key(items[0]["_hash"], "each", None) in cache  # the stereo clip is cached from before
    keys, stats = extract(enc, items, cache, ExtractionConfig(channels="each", progress=False, on_bad_audio="skip"))
    assert [s["id"] for s in stats.skipped] == ["stereo"] and keys[0] is None and stats.n_cached == 0
