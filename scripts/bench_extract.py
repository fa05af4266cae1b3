"""Benchmark: harness extraction time against the bare encoder forward, on the same clips, in one process.

    python scripts/bench_extract.py --encoders logmel mfcc --clips 400 [--device cuda] [--dtype bfloat16]

Both are timed in alternation (median of --repeats rounds, after one warm-up of each).
"bare forward" = only `encoder.encode` on batches of already-decoded, already-resampled audio in memory (the same
length-sorted batches the harness makes); "harness" = `bench.extract.extract` from files on disk into an empty
cache (decode, resample, batching, chunking, pooling, shard writes). ratio = harness / bare; the goal is that on a
GPU the harness reaches >= 90% of the bare throughput (ratio <= 1.11).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.defaults import DEFAULT_BATCH_SECONDS


def make_clips(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """Write `count` clips (1-4 s of noisy tones, 16 and 44.1 kHz mixed) and return items for `extract`."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(count):
        rate = 16000 if i % 2 else 44100
        t = np.arange(int(rng.uniform(1.0, 4.0) * rate)) / rate
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"clip{i:05d}.wav"
        sf.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
        items.append({"id": f"clip{i:05d}", "_audio": path, "_hash": f"{seed}-{i}"})
    return items


def preload_batches(encoder, items, batch_seconds: float) -> list:
    """The harness's own batches (bench.extract.plan), decoded, padded and moved to the device up front."""
    from bench.audio import load_audio
    from bench.extract import ExtractionConfig, ExtractionStats, pad_batch, plan, split_rows, to_device, window_samples

    cfg = ExtractionConfig(batch_seconds=batch_seconds, progress=False)
    _, batches = plan(encoder, items, cfg, ExtractionStats())
    loaded = []
    for batch in batches:
        rows = [r for u in batch for r in split_rows(load_audio(u.item["_audio"], encoder.sample_rate, "mix", "x"),
                                                    window_samples(encoder))]
        waves, mask = pad_batch(rows)
        loaded.append((to_device(waves, encoder.device), to_device(mask, encoder.device)))
    return loaded


def bare_forward_seconds(encoder, batches) -> float:
    """Time of encoder.encode alone over preloaded batches."""
    import torch

    from bench.extract import _sync_time

    tick = _sync_time(encoder)
    with torch.inference_mode():
        for waves, mask in batches:
            encoder.encode(waves, mask)
    return _sync_time(encoder) - tick


def harness_seconds(encoder, items, batch_seconds: float, decode_workers: int | None, cache_dir: Path) -> float:
    """Wall time of a full extraction from files on disk into an empty cache."""
    from bench.cache import EmbeddingCache
    from bench.extract import ExtractionConfig, extract

    cache = EmbeddingCache(cache_dir, "bench")
    tick = time.perf_counter()
    extract(encoder, items, cache, ExtractionConfig(batch_seconds=batch_seconds, progress=False,
                                                    decode_workers=decode_workers))
    return time.perf_counter() - tick


def measure(encoder, items, args, work: Path) -> tuple[float, float]:
    """Median harness and bare times over `args.repeats` alternating rounds, after one warm-up of each."""
    batches = preload_batches(encoder, items, args.batch_seconds)
    bare_forward_seconds(encoder, batches)
    harness_seconds(encoder, items[:16], args.batch_seconds, args.decode_workers, work / "warm")
    bare, full = [], []
    for r in range(args.repeats):
        bare.append(bare_forward_seconds(encoder, batches))
        full.append(harness_seconds(encoder, items, args.batch_seconds, args.decode_workers, work / f"run{r}"))
    return statistics.median(full), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["logmel", "mfcc"])
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-seconds", type=float, default=DEFAULT_BATCH_SECONDS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decode-workers", type=int, default=None,
                        help="decode threads of the harness (default: CPU cores - 1, at least 1)")
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args()

    from bench.registry import build_encoder

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = make_clips(Path(tmp) / "clips", args.clips)
        for name in args.encoders:
            encoder = build_encoder(name).load(args.device, args.dtype)
            audio_s = sum(__import__("soundfile").info(str(i["_audio"])).duration for i in items)
            full, bare = measure(encoder, items, args, Path(tmp) / name)
            rows.append({"encoder": name, "clips": len(items), "audio_s": round(audio_s, 1),
                         "bare_forward_s": round(bare, 3), "harness_s": round(full, 3), "ratio": round(full / bare, 2),
                         "harness_x_realtime": round(audio_s / full, 1), "bare_x_realtime": round(audio_s / bare, 1),
                         "device": args.device, "dtype": args.dtype, "decode_workers": args.decode_workers,
                         "repeats": args.repeats})
    print(f"{'encoder':<10} {'clips':>5} {'audio s':>8} {'bare s':>8} {'harness s':>9} {'ratio':>6} "
          f"{'bare xRT':>9} {'harness xRT':>11}")
    for r in rows:
        print(f"{r['encoder']:<10} {r['clips']:>5} {r['audio_s']:>8} {r['bare_forward_s']:>8} {r['harness_s']:>9} "
              f"{r['ratio']:>6} {r['bare_x_realtime']:>9} {r['harness_x_realtime']:>11}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
