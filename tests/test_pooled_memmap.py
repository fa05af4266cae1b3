"""Bounded memory: the pooled matrix is a memory-mapped file of the cache, kNN streams it chunk by chunk with the
same neighbours as a one-shot search, and released pages leave the resident set."""

from pathlib import Path

import numpy as np
import pytest

from bench.cache import EmbeddingCache
from bench.memmap import release_pages
from bench.protocols import knn
from bench.protocols.features import nonfinite_rows, unit


def _cache(tmp_path, n=600, dim=8, per_shard=64):
    rng = np.random.default_rng(0)
    cache = EmbeddingCache(tmp_path, "k")
    keys = [f"c{i}" for i in range(n)]
    frames = {}
    for start in range(0, n, per_shard):
        batch = keys[start:start + per_shard]
        clips = [rng.standard_normal((3 + i % 4, dim)).astype(np.float32) for i in range(len(batch))]
        frames.update(zip(batch, clips))
        cache.write_shard(batch, clips)
    return cache, keys, frames


def test_pooled_is_a_read_only_memory_map_written_once(tmp_path):
    cache, keys, frames = _cache(tmp_path)
    order = keys[::-1][:500]  # a subset, across shards, in another order
    pooled = cache.pooled(order, "meanstd")
    assert isinstance(pooled, np.memmap) and not pooled.flags.writeable and pooled.dtype == np.float32
    expected = np.stack([np.r_[frames[k].mean(0), frames[k].std(0)] for k in order])
    np.testing.assert_allclose(pooled, expected, rtol=1e-6, atol=1e-6)
    files = sorted((cache.dir / "pooled").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"  # no temporary left behind
    written = files[0].stat().st_mtime_ns
    again = EmbeddingCache(tmp_path, "k").pooled(order, "meanstd")
    np.testing.assert_array_equal(again, pooled)
    assert files[0].stat().st_mtime_ns == written  # reused, not rewritten
    mean = cache.pooled(order)
    np.testing.assert_array_equal(mean, pooled[:, :8])
    assert len(list((cache.dir / "pooled").iterdir())) == 2  # keyed by pooling (and keys)
    with pytest.raises(KeyError, match="clip nope is not in the embedding cache"):
        cache.pooled(["nope"])


def test_chunked_knn_finds_the_one_shot_neighbours(monkeypatch):
    rng = np.random.default_rng(1)
    gallery, queries = unit(rng.normal(size=(500, 6))), unit(rng.normal(size=(70, 6)))
    labels = rng.integers(0, 3, 500)
    sims = queries @ gallery.T
    expected = np.sort(np.argsort(-sims, axis=1, kind="stable")[:, :7], axis=1)  # independent: full sort
    one_shot = knn.knn_predict(gallery, labels, queries, 7, 0.1, "multiclass", 3)
    monkeypatch.setattr(knn, "_CHUNK_CELLS", 6 * 45)  # gallery chunks of 45 items, query blocks of 6
    top, top_sims = knn.nearest(lambda a, b: gallery[a:b], 500, lambda a, b: queries[a:b], 70, 7, 6)
    np.testing.assert_array_equal(np.sort(top, axis=1), expected)
    np.testing.assert_allclose(top_sims, np.take_along_axis(sims, top, axis=1))
    np.testing.assert_array_equal(knn.knn_predict(gallery, labels, queries, 7, 0.1, "multiclass", 3), one_shot)


def test_knn_reads_a_memory_map_by_rows(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    raw = (rng.normal(size=(300, 5)) * 4).astype(np.float32)
    targets = rng.normal(size=150)
    np.save(tmp_path / "x.npy", raw)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    train, test = np.arange(0, 300, 2), np.arange(1, 300, 2)
    x = unit(raw.astype(np.float64))  # as run_knn did before: the whole matrix at once
    expected = knn.knn_predict(x[train], targets, x[test], 5, 0.07, "regression")
    monkeypatch.setattr(knn, "_CHUNK_CELLS", 5 * 40)  # gallery chunks of 40 rows
    top, sims = knn.nearest(knn._rows(mapped, train, True), 150, knn._rows(mapped, test, True), 150, 5, 5)
    np.testing.assert_allclose(knn.vote(top, sims, targets, 0.07, "regression"), expected, rtol=1e-12)
    full = x[test] @ x[train].T
    np.testing.assert_array_equal(np.sort(top, 1), np.sort(np.argsort(-full, axis=1)[:, :5], 1))


def test_nonfinite_rows_checks_chunk_by_chunk(tmp_path):
    x = np.zeros((1000, 3, 4), dtype=np.float32)
    x[[5, 611, 999], [0, 2, 1], [3, 0, 2]] = [np.nan, np.inf, -np.inf]
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert nonfinite_rows(mapped, chunk_values=50).tolist() == [5, 611, 999]
    assert nonfinite_rows(x[:0]).tolist() == []


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_released_pages_leave_the_resident_set(tmp_path):
    np.save(tmp_path / "big.npy", np.ones((4096, 4096), dtype=np.float32))  # 64 MiB
    mapped = np.load(tmp_path / "big.npy", mmap_mode="r")
    before = _rss_file_kib()
    assert float(mapped[:, ::1024].sum()) == 4096 * 4  # touches every page
    touched = _rss_file_kib()
    release_pages(mapped[10:20])  # a view releases the whole map
    released = _rss_file_kib()
    assert touched - before > 48 * 1024 and released - before < 8 * 1024
    assert float(mapped[3, 5]) == 1.0  # still readable
