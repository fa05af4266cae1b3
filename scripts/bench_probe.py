"""Wall time and peak memory of the linear (or MLP) probe protocol on synthetic pooled features, end to end
(`run_linear` / `run_mlp`: standardising, the lr grid and seeds trained as one batched model, test predictions,
bootstrap), on the CPU or a CUDA device.

    python scripts/bench_probe.py --n 200000 --dim 1280 --classes 50 --epochs 100 --device cuda
    python scripts/bench_probe.py --n 20000 --dim 512 --classes 20 --epochs 5

Features are Gaussian class blobs (60/20/20 split). Patience is set to the number of epochs, so every lr and seed
trains all of them and the time is that of `--epochs` full epochs. On the CPU the protocol runs on one thread, as in
`bench run`. Prints one JSON row: seconds, seconds per epoch, peak RSS (MiB) and, on CUDA, peak device memory.

Where a full epoch takes too long (200k x 1280 on a small CPU), `--steps K` times the batched model itself on the
same standardised float64 matrices: K optimiser steps and one validation pass, extrapolated to `--epochs` epochs of
n_train / batch steps each (`extrapolated_seconds`; the bootstrap and test predictions are not in it).
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


def time_steps(args: argparse.Namespace) -> dict:
    """Seconds per optimiser step and per validation pass of the batched grid on the full-size matrices."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from bench.protocols.batched import ProbeGrid, predict
    from bench.protocols.features import standardiser

    inp = synthetic_input(args.n, args.dim, args.classes, args.seeds, {"kind": args.kind})
    split = np.array([item["split"] for item in inp.items])
    labels = np.array([int(item["label"][1:]) for item in inp.items])
    train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "validation")
    x_all = inp.pooled.astype(np.float64)  # as the protocol does
    mean, std = standardiser(x_all[train])
    x_train, x_val = (torch.from_numpy((x_all[part] - mean) / std).to(args.device) for part in (train, val))
    batch = min(args.batch_size, max(4, len(train) // 8))
    config = {"weight_decay": 1e-4, "batch_size": batch, "max_epochs": 1, "patience": 1, "hidden": 512,
              "dropout": 0.1}
    target = torch.from_numpy(labels[train]).to(args.device)
    run_seeds = list(range(len(args.seeds)))

    def score(out: torch.Tensor) -> float:
        return float((out.argmax(1).cpu().numpy() == labels[val]).mean())

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with threadpool_limits(limits=1 if args.device == "cpu" else None):
        grid = ProbeGrid(args.kind, args.dim, args.classes, config, args.lrs, run_seeds, args.device)
        sync()
        tick = time.perf_counter()
        fits = grid.fit(x_train[:args.steps * batch], target[:args.steps * batch], x_val, score, "multiclass")
        sync()
        steps_and_pass = time.perf_counter() - tick
        tick = time.perf_counter()
        for seed_fits in fits:
            for fit in seed_fits:
                score(predict(fit.state, x_val))
        sync()
        one_pass = time.perf_counter() - tick
    per_step = max(steps_and_pass - one_pass, 0.0) / args.steps
    steps_per_epoch = -(-len(train) // batch)
    row = {"n": args.n, "dim": args.dim, "classes": args.classes, "kind": args.kind, "device": args.device,
           "members": len(args.lrs) * len(args.seeds), "batch_size": batch, "steps_timed": args.steps,
           "seconds_per_step": round(per_step, 4), "seconds_per_validation_pass": round(one_pass, 2),
           "steps_per_epoch": steps_per_epoch, "epochs": args.epochs,
           "extrapolated_seconds": round(args.epochs * (steps_per_epoch * per_step + one_pass), 1),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.device.startswith("cuda"):
        row["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


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
    parser.add_argument("--steps", type=int, help="time this many steps and one validation pass, and extrapolate")
    args = parser.parse_args()
    if args.steps:
        print(json.dumps(time_steps(args)))
        return

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
