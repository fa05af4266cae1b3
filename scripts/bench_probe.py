"""Wall time and peak memory of the linear (or MLP) probe protocol on synthetic pooled features, end to end
(`run_linear` / `run_mlp`: standardising, the lr grid and seeds trained as one batched model, test predictions,
bootstrap), on the CPU or a CUDA device.

    python scripts/bench_probe.py --n 200000 --dim 1280 --classes 50 --epochs 100 --device cuda
    python scripts/bench_probe.py --n 20000 --dim 512 --classes 20 --epochs 5

Features are Gaussian class blobs (60/20/20 split). Patience is set to the number of epochs, so every lr and seed
trains all of them and the time is that of `--epochs` full epochs. On the CPU the protocol runs on one thread, as in
`bench run`. Prints one JSON row: seconds, seconds per epoch, peak RSS (MiB) and, on CUDA, peak device memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def synthetic_input(n: int, dim: int, classes: int, seeds: list[int], protocol: dict, seed: int = 0):
    """A ProtocolInput of `n` items with `dim`-d float32 features in `classes` Gaussian blobs."""
    import numpy as np

    from bench.protocols.base import ProtocolInput
    from bench.taskspec import parse_task

    task = parse_task({"name": "synthetic", "version": 1, "domain": "sound",
                       "dataset": {"source": "builtin", "name": "synthetic"},
                       "label": {"kind": "multiclass", "column": "label"}, "split": {"column": "split"},
                       "protocols": [protocol]}, "tasks/synthetic.yaml")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.standard_normal((classes, dim)).astype(np.float32)
    pooled = centres[labels] + 4 * rng.standard_normal((n, dim), dtype=np.float32)
    parts = np.array(["train", "validation", "test"])[rng.choice(3, n, p=[0.6, 0.2, 0.2])]
    items = [{"id": f"i{i}", "split": str(parts[i]), "label": f"c{labels[i]}"} for i in range(n)]
    return ProtocolInput(task=task, items=items, pooled=pooled, frames=lambda i: None, hop_ms=20.0,
                         dataset_dir=Path("."), seeds=seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="items (all splits)")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--kind", choices=["linear", "mlp"], default="linear")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N")
    args = parser.parse_args()

    from bench.protocols.probe import run_linear, run_mlp
    from bench.protocols.training import on_device

    protocol = {"kind": args.kind, "lrs": args.lrs, "max_epochs": args.epochs, "patience": args.epochs,
                "batch_size": args.batch_size, "n_boot": 100}
    inp = synthetic_input(args.n, args.dim, args.classes, args.seeds, protocol)
    spec = inp.task.protocols[0]
    tick = time.perf_counter()
    with on_device(args.device):
        result = (run_linear if args.kind == "linear" else run_mlp)(inp, spec)
    seconds = time.perf_counter() - tick
    row = {"n": args.n, "dim": args.dim, "classes": args.classes, "kind": args.kind, "device": args.device,
           "members": len(args.lrs) * len(args.seeds), "epochs": args.epochs,
           "batch_size": result.config["batch_size_used"], "seconds": round(seconds, 1),
           "seconds_per_epoch": round(seconds / args.epochs, 2), "accuracy": round(result.metrics["accuracy"], 4),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.device.startswith("cuda"):
        import torch

        row["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
