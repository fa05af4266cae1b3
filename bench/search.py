"""Maximum inner-product search: exact (torch matmul, FAISS flat on CPU or GPU) or approximate (FAISS IVF, HNSW).

Vectors are compared by inner product; L2-normalise them first for cosine similarity. Every backend returns the
top-k gallery indices of each query, best first, and their scores; an approximate index may find fewer than k
candidates, and the missing slots hold index -1 and score -inf.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

BACKENDS = ("torch", "faiss", "faiss_ivf", "faiss_hnsw")


def _as_float32(name: str, x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a [N, D] matrix, got shape {x.shape}")
    return x


def faiss_gpus() -> int:
    """Number of GPUs FAISS can use (0 with faiss-cpu)."""
    import faiss

    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def _torch_search(queries: np.ndarray, gallery: np.ndarray, k: int,
                  batch: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    g = torch.from_numpy(gallery).to(device)
    scores, indices = [], []
    with torch.inference_mode():
        for start in range(0, len(queries), batch):
            q = torch.from_numpy(queries[start:start + batch]).to(device)
            s, i = torch.topk(q @ g.T, k, dim=1, largest=True, sorted=True)
            scores.append(s.cpu().numpy())
            indices.append(i.cpu().numpy())
    return np.concatenate(scores), np.concatenate(indices).astype(np.int64)


def build_index(gallery: np.ndarray, backend: str = "faiss", *, nlist: int | None = None, nprobe: int = 16,
                hnsw_m: int = 32, ef_construction: int = 80, ef_search: int = 128, seed: int = 0) -> Any:
    """A FAISS inner-product index holding `gallery` (flat, IVF-flat or HNSW-flat); flat goes to the GPU if any.

    IVF: `nlist` cells (default about 4·sqrt(N), at most N/39 so each cell gets training points), `nprobe` visited.
    HNSW: `hnsw_m` links per node, `ef_construction` / `ef_search` beam widths.
    """
    import faiss

    gallery = _as_float32("gallery", gallery)
    n, d = gallery.shape
    if backend == "faiss":
        index = faiss.IndexFlatIP(d)
        if faiss_gpus() > 0:
            index = faiss.index_cpu_to_all_gpus(index)
    elif backend == "faiss_ivf":
        nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(gallery)
        index.nprobe = min(nprobe, nlist)
    elif backend == "faiss_hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        raise ValueError(f"unknown FAISS backend '{backend}'; expected one of {', '.join(BACKENDS[1:])}")
    index.add(gallery)
    return index


def search_index(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, indices) of `queries` in a FAISS index built by `build_index`."""
    import numpy as np

    queries = _as_float32("queries", queries)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(index.hnsw.efSearch, k)
    k = min(k, index.ntotal)
    scores, indices = index.search(queries, k)
    scores = np.where(indices < 0, -np.inf, scores).astype(np.float32)
    return scores, indices.astype(np.int64)


def search(queries: np.ndarray, gallery: np.ndarray, k: int, backend: str = "torch",
           batch: int = 256, **index_options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner-product neighbours of each query: (scores [Q, k'], indices [Q, k']), k' = min(k, N).

    backend: `torch` (exact matmul + topk, on the GPU when torch sees one), `faiss` (exact IndexFlatIP; GPU when
    FAISS sees one), `faiss_ivf` or `faiss_hnsw` (approximate; options as in `build_index`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown search backend '{backend}'; expected one of {', '.join(BACKENDS)}")
    queries, gallery = _as_float32("queries", queries), _as_float32("gallery", gallery)
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries are {queries.shape[1]}-d but the gallery is {gallery.shape[1]}-d")
    if k < 1 or len(gallery) == 0:
        raise ValueError(f"search needs k >= 1 and a non-empty gallery (k={k}, gallery size {len(gallery)})")
    k = min(k, len(gallery))
    if backend == "torch":
        if index_options:
            raise ValueError(f"the torch backend takes no index options, got {sorted(index_options)}")
        return _torch_search(queries, gallery, k, batch)
    return search_index(build_index(gallery, backend, **index_options), queries, k)


def recall_at_k(exact: np.ndarray, approx: np.ndarray) -> float:
    """Mean fraction of each query's exact top-k found in its approximate top-k (both [Q, k] index arrays)."""
    import numpy as np

    if exact.shape != approx.shape:
        raise ValueError(f"exact and approximate results differ in shape: {exact.shape} vs {approx.shape}")
    hits = [len(np.intersect1d(e, a[a >= 0])) for e, a in zip(exact, approx)]
    return float(np.mean(hits) / exact.shape[1])
