"""Decoding in several threads gives the embeddings of one thread; the GPU check script is safe to call here."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _extract(items, cache_root, workers, on_bad_audio="error"):
    from bench.cache import EmbeddingCache
    from bench.extract import ExtractionConfig, extract
    from bench.registry import build_encoder

    encoder = build_encoder("mfcc").load("cpu", "float32")
    cache = EmbeddingCache(cache_root, "k")
    keys, stats = extract(encoder, items, cache, ExtractionConfig(batch_seconds=1.0, progress=False,
                                                                  decode_workers=workers, on_bad_audio=on_bad_audio))
    return {k: (cache.pooled([k], "meanstd").tobytes(), cache.frames(k).tobytes()) for k in keys if k in cache}, stats


def test_three_decode_threads_give_the_embeddings_of_one(tmp_path, tone_dataset):
    import json

    rows = [json.loads(line) for line in (tone_dataset / "manifest.jsonl").read_text().splitlines()]
    items = [{"id": r["id"], "_audio": tone_dataset / r["path"], "_hash": r["id"]} for r in rows]
    one, stats_one = _extract(items, tmp_path / "one", 1)
    three, stats_three = _extract(items, tmp_path / "three", 3)
    assert one == three and len(one) == len(items)
    assert stats_one.n_encoded == stats_three.n_encoded == len(items)


def test_bad_audio_is_reported_the_same_way_with_a_pool(tmp_path, tone_dataset):
    import numpy as np
    import soundfile as sf

    from bench.audio import BadAudio

    items = []
    for i in range(12):
        path = tmp_path / f"clip{i}.wav"
        wave = np.full(8000, 0.1, dtype=np.float32)
        if i in (3, 8):
            wave[100] = np.nan  # the header reads fine; decoding finds the NaN
        sf.write(path, wave, 16000, subtype="FLOAT")
        items.append({"id": f"c{i}", "_audio": path, "_hash": f"c{i}"})
    with pytest.raises(BadAudio, match="item 'c3'"):
        _extract(items, tmp_path / "raise", 3)
    one, stats_one = _extract(items, tmp_path / "one", 1, "skip")
    three, stats_three = _extract(items, tmp_path / "three", 3, "skip")
    assert stats_one.skipped == stats_three.skipped and [s["id"] for s in stats_one.skipped] == ["c3", "c8"]
    assert one == three


def test_gpu_check_dry_run_lists_every_step():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run"], capture_output=True,
                         text=True, check=True).stdout
    for step in ("check:", "throughput:", "nccl:", "probe:", "retrieval:"):
        assert step in out


def test_gpu_check_says_clearly_that_it_needs_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the script would run for real")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "g.json")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no CUDA device" in done.stderr and not (tmp_path / "g.json").exists()
