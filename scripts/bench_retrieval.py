"""Benchmark the search backends of `bench.search` on a clustered random gallery.

Exact torch matmul, exact FAISS flat (GPU when FAISS sees one) and approximate FAISS IVF / HNSW: index build time,
search time, queries per second and recall@k against the exact top-k. Defaults: 100k gallery, 1k queries, 384-d
unit vectors around 1,000 cluster centres.

    python scripts/bench_retrieval.py [--n-gallery 100000] [--n-queries 1000] [--dim 384] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def clustered(n: int, dim: int, centres: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors: a random centre plus Gaussian noise of `noise` per unit-norm direction."""
    x = centres[rng.integers(0, len(centres), n)] + noise * rng.standard_normal((n, dim)) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-gallery", type=int, default=100_000)
    parser.add_argument("--n-queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--noise", type=float, default=1.5, help="noise norm relative to the unit cluster centre")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch and FAISS threads (0: their default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss
    import torch

    from bench.search import build_index, faiss_gpus, recall_at_k, search, search_index

    if args.threads:
        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    gallery = clustered(args.n_gallery, args.dim, centres, args.noise, rng)
    queries = clustered(args.n_queries, args.dim, centres, args.noise, rng)
    print(f"gallery {args.n_gallery} x {args.dim}, {args.n_queries} queries, k={args.k}, "
          f"threads torch {torch.get_num_threads()} / faiss {faiss.omp_get_max_threads()}, "
          f"torch cuda {torch.cuda.is_available()}, faiss gpus {faiss_gpus()}")

    search(queries[:8], gallery[:64], 1)  # warm-up (imports, thread pools)
    rows = []
    start = time.perf_counter()
    _, exact = search(queries, gallery, args.k, backend="torch")
    rows.append(("exact torch matmul+topk", 0.0, time.perf_counter() - start, 1.0))
    setups = [("faiss flat (IndexFlatIP)", "faiss", {}, [None]),
              ("faiss IVF-flat nprobe={}", "faiss_ivf", {}, [8, 32, 128]),
              ("faiss HNSW M=32 efSearch={}", "faiss_hnsw", {"hnsw_m": 32}, [32, 64, 128, 256])]
    for name, backend, options, knobs in setups:
        start = time.perf_counter()
        index = build_index(gallery, backend, seed=args.seed, **options)
        build = time.perf_counter() - start
        label = name
        for knob in knobs:
            if backend == "faiss_ivf":
                index.nprobe, label = knob, name.format(knob) + f" (nlist {index.nlist})"
            elif backend == "faiss_hnsw":
                index.hnsw.efSearch, label = knob, name.format(knob)
            start = time.perf_counter()
            _, found = search_index(index, queries, args.k)
            rows.append((label, build, time.perf_counter() - start, recall_at_k(exact, found)))

    width = max(len(r[0]) for r in rows)
    print(f"{'method':<{width}}  {'build_s':>8}  {'search_s':>8}  {'qps':>9}  {'recall@' + str(args.k):>9}")
    for label, build, took, recall in rows:
        print(f"{label:<{width}}  {build:8.2f}  {took:8.3f}  {args.n_queries / took:9.0f}  {recall:9.4f}")


if __name__ == "__main__":
    main()
