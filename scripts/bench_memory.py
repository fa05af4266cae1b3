"""Peak memory of the post-extraction path against dataset size: a synthetic cache of N short clips, then the
pooled matrix every protocol reads (memory-mapped from the cache), the check of its values, kNN over it as run_knn
does it (half the clips as gallery, 1000 queries), (optionally) every clip's frames as frame-level protocols read
them, and last the float64 copy the probes train on. Each size runs in a fresh process; peak RSS is that
process's ru_maxrss (resident file pages of a memory map count too).

    python scripts/bench_memory.py --sizes 10000 100000 [--dim 128] [--frames 5] [--with-frames]

The cache is written straight from random frames (no audio, no encoder): extraction itself holds one batch at a
time, so what can grow with the dataset is what is read back.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(size: int, dim: int, frames: int, with_frames: bool, folder: Path) -> dict:
    """Build the cache of `size` clips in `folder`, read it back, and report peak RSS (MiB) at each stage."""
    import numpy as np

    from bench.cache import EmbeddingCache
    from bench.protocols.features import nonfinite_rows
    from bench.protocols.knn import _rows, nearest, vote

    def peak_mib() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    rng = np.random.default_rng(0)
    writer = EmbeddingCache(folder, "synthetic")
    keys = [f"clip{i:07d}" for i in range(size)]
    for start in range(0, size, 256):  # one shard per batch of 256 clips, as extraction writes them
        batch = keys[start:start + 256]
        writer.write_shard(batch, [rng.standard_normal((frames, dim)).astype(np.float32) for _ in batch])
    del writer
    report = {"clips": size, "dim": dim, "after_write_mib": peak_mib()}
    tick = time.perf_counter()
    cache = EmbeddingCache(folder, "synthetic")
    pooled = cache.pooled(keys, "mean")
    report.update(pooled_mib=round(pooled.nbytes / 2**20, 1), after_pooled_mib=peak_mib())
    assert not len(nonfinite_rows(pooled))
    report["after_check_mib"] = peak_mib()
    labels = rng.integers(0, 10, size)
    half = size // 2
    gallery, queries = np.arange(half), np.arange(half, min(size, half + 1000))
    top, sims = nearest(_rows(pooled, gallery, True), len(gallery), _rows(pooled, queries, True), len(queries), 10,
                        dim)
    vote(top, sims, labels[gallery], 0.07, "multiclass", 10)
    report["after_knn_mib"] = peak_mib()
    if with_frames:
        total = sum(len(cache.frames(k)) for k in keys)
        report.update(frames_read=total, after_frames_mib=peak_mib())
    x = pooled.astype(np.float64)  # what the probes train on: the whole matrix, proportional to the dataset
    report.update(float64_copy_mib=round(x.nbytes / 2**20, 1), after_float64_copy_mib=peak_mib())
    report["seconds"] = round(time.perf_counter() - tick, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--frames", type=int, default=5, help="frames per clip (short clips)")
    parser.add_argument("--with-frames", action="store_true", help="also read every clip's frames")
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.dim, args.frames, args.with_frames, Path(args.folder))))
        return
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, __file__, "--child", str(size), "--folder", tmp, "--dim", str(args.dim),
                   "--frames", str(args.frames)] + (["--with-frames"] if args.with_frames else [])
            rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
        print(json.dumps(rows[-1]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
