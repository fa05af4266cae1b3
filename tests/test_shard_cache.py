"""The cache's pooled matrix, filled shard by shard, matches the clips' frames pooled independently, in key order."""

import numpy as np
import pytest


def test_pooled_matches_frames_pooled_by_hand_across_shards(tmp_path):
    from bench.cache import EmbeddingCache

    rng = np.random.default_rng(0)
    cache = EmbeddingCache(tmp_path, "k")
    clips = {}
    for shard in range(3):
        keys = [f"s{shard}c{i}" for i in range(4)]
        frames = [rng.standard_normal((int(rng.integers(2, 9)), 6)).astype(np.float32) for _ in keys]
        cache.write_shard(keys, frames)
        clips.update(zip(keys, frames))
    order = ["s2c1", "s0c0", "s1c3", "s2c1", "s0c2"]  # shards interleaved, one key twice
    expected_mean = np.stack([clips[k].mean(axis=0) for k in order])
    expected_std = np.stack([clips[k].std(axis=0) for k in order])
    reopened = EmbeddingCache(tmp_path, "k")
    for pooled in (cache.pooled(order), reopened.pooled(order)):
        assert pooled.dtype == np.float32 and np.array_equal(pooled, expected_mean)
    both = reopened.pooled(order, "meanstd")
    assert np.array_equal(both, np.concatenate([expected_mean, expected_std], axis=1))
    reopened.frames("s0c0")  # a shard whose arrays are now held in memory gives the same rows
    assert np.array_equal(reopened.pooled(order, "meanstd"), both)
    with pytest.raises(KeyError, match="nope"):
        reopened.pooled(["s0c0", "nope"])
