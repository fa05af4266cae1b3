"""The embedding cache: temporaries of live writers survive, unreadable shards are moved aside, frames beyond
float16's range are kept as float32, and two runs on one BENCH_HOME finish side by side."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from bench.encoders.baselines import MFCC

from bench.cache import EmbeddingCache
from bench.data import load_dataset
from bench.extract import ExtractionConfig, encoder_key, extract
from bench.registry import build_encoder
from bench.taskspec import parse_task


def _items(dataset):
    return load_dataset(parse_task({
        "name": "t", "version": 1, "domain": "sound", "dataset": {"source": "manifest", "path": str(dataset)},
        "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["knn"]}, "t.yaml")).items


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_temporaries_of_dead_writers_or_old_ones_are_removed(tmp_path):
    cache = EmbeddingCache(tmp_path, "k")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        in_flight = cache.dir / f"shard-a.npz.tmp{live.pid}"
        key_in_flight = cache.dir / f"key.json.tmp{live.pid}"
        dead = cache.dir / f"shard-b.npz.tmp{_dead_pid()}"
        old = cache.dir / f"shard-c.npz.tmp{live.pid}"
        for path in (in_flight, key_in_flight, dead, old):
            path.write_bytes(b"half a shard")
        hours_ago = time.time() - 2 * 3600
        os.utime(old, (hours_ago, hours_ago))
        EmbeddingCache(tmp_path, "k")
        assert in_flight.exists() and key_in_flight.exists()
        assert not dead.exists() and not old.exists()
    finally:
        live.kill()
        live.wait()


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_unreadable_shard_is_moved_aside_and_its_clips_encoded_again(tone_dataset, tmp_path, damage):
    enc = build_encoder("mfcc").load()
    key, desc = encoder_key(enc, "last")
    items = _items(tone_dataset)
    cache = EmbeddingCache(tmp_path, key, desc)
    keys, _ = extract(enc, items, cache, ExtractionConfig(progress=False, batch_seconds=4))
    before = cache.pooled(keys)
    shards = sorted(cache.dir.glob("shard-*.npz"))
    assert len(shards) > 1
    with np.load(shards[0]) as data:
        lost = len(set(data["keys"].tolist()))
    content = shards[0].read_bytes()
    shards[0].write_bytes(content[: len(content) // 2] if damage == "truncated" else b"")

    with pytest.warns(UserWarning, match=rf"shard {shards[0]} is unreadable.*moved it to {shards[0].name}.corrupt"):
        reopened = EmbeddingCache(tmp_path, key, desc)
    assert not shards[0].exists() and shards[0].with_name(shards[0].name + ".corrupt").exists()
    _, stats = extract(enc, items, reopened, ExtractionConfig(progress=False))
    assert stats.n_encoded == lost and all(k in reopened for k in keys)
    np.testing.assert_array_equal(reopened.pooled(keys), before)


class Loud(MFCC):
    """MFCC scaled far beyond float16's range (65504)."""

    name = "loud"

    def encode(self, waveforms, mask):
        out = super().encode(waveforms, mask)
        out.frames = out.frames * 1e6
        return out


def test_frames_beyond_float16_are_stored_as_float32(tone_dataset, tmp_path):
    from bench.audio import load_audio
    from bench.extract import encode_clip

    enc = Loud().load()
    key, desc = encoder_key(enc, "last")
    items = _items(tone_dataset)[:6]
    cache = EmbeddingCache(tmp_path, key, desc)
    with pytest.warns(UserWarning, match=rf"encoder '{key}' produced frames up to .*float32"):
        keys, _ = extract(enc, items, cache, ExtractionConfig(progress=False))
    alone = encode_clip(enc, load_audio(items[0]["_audio"], 16000, "mix", "x"))
    assert np.abs(alone).max() > 65504
    np.testing.assert_allclose(cache.frames(keys[0]), alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())
    reread = EmbeddingCache(tmp_path, key)
    assert np.isfinite(reread.frames(keys[0])).all() and np.isfinite(reread.pooled(keys, "meanstd")).all()


def test_float16_and_float32_shards_both_read(tmp_path):
    cache = EmbeddingCache(tmp_path, "k")
    small = np.arange(12, dtype=np.float32).reshape(4, 3)
    cache.write_shard(["small"], [small])
    with pytest.warns(UserWarning, match="float32"):
        cache.write_shard(["big"], [small * 1e5])
    dtypes = {}
    for shard in cache.dir.glob("shard-*.npz"):
        with np.load(shard) as data:
            dtypes[data["keys"][0]] = data["frames"].dtype
    assert dtypes == {"small": np.float16, "big": np.float32}
    reopened = EmbeddingCache(tmp_path, "k")
    np.testing.assert_array_equal(reopened.frames("small"), small)
    np.testing.assert_allclose(reopened.frames("big"), small * 1e5, rtol=1e-6)


RACE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path

    import bench.cache

    role, flags, task, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    real_replace = bench.cache.os.replace
    first = [True]

    def replace(src, dst):
        # the first shard of each run: A holds its temporary until B has opened the cache and written a shard
        if first[0] and ".npz.tmp" in str(src):
            first[0] = False
            if role == "A":
                (flags / "a_in_flight").touch()
                deadline = time.time() + 120
                while not (flags / "b_wrote").exists() and time.time() < deadline:
                    time.sleep(0.05)
            else:
                real_replace(src, dst)
                (flags / "b_wrote").touch()
                return
        real_replace(src, dst)

    bench.cache.os.replace = replace
    import bench
    records = bench.run("mfcc", tasks=[task], out=out, progress=False, batch_seconds=4)
    assert records and all(r.get("status", "ok") == "ok" for r in records), records
""")


def test_two_runs_on_one_bench_home_finish_with_the_same_results(tone_dataset, tmp_path):
    from conftest import write_task

    task = write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",))
    script = tmp_path / "race.py"
    script.write_text(RACE)
    flags = tmp_path / "flags"
    flags.mkdir()
    import bench

    repo = str(Path(bench.__file__).resolve().parents[1])  # the script must import the bench under test
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}

    def start(role):
        return subprocess.Popen([sys.executable, str(script), role, str(flags), str(task), str(tmp_path / role)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start("A")
    deadline = time.time() + 120
    while not (flags / "a_in_flight").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = start("B")
    out_b, err_b = second.communicate(timeout=300)
    out_a, err_a = first.communicate(timeout=300)
    assert (flags / "a_in_flight").exists() and (flags / "b_wrote").exists(), (err_a, err_b)
    assert first.returncode == 0, err_a
    assert second.returncode == 0, err_b
    results = [json.loads((tmp_path / role / "mfcc" / "test__tones.json").read_text()) for role in ("A", "B")]
    assert results[0]["protocols"][0]["metrics"] == results[1]["protocols"][0]["metrics"]
    assert results[0]["cache"]["key"] == results[1]["cache"]["key"]


def test_a_shard_damaged_after_the_scan_is_named_when_read(tmp_path):
    cache = EmbeddingCache(tmp_path, "k")
    shard = cache.write_shard(["a"], [np.ones((3, 2), dtype=np.float32)])
    shard.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"shard {shard} cannot be read.*run again"):
        cache.pooled(["a"])
    with pytest.warns(UserWarning, match=str(shard)):
        assert "a" not in EmbeddingCache(tmp_path, "k")
