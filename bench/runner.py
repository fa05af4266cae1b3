"""`bench.run`: encoder x tasks -> extraction (cached) -> protocols -> one result JSON per task."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from bench.encoder import Encoder
from bench.taskspec import TaskSpec

DEFAULT_SEEDS = (0, 1, 2)


def _reusable(path: Path, weights: str, task: TaskSpec, fingerprint: str, seeds: list[int], layer: str) -> bool:
    """True when a result already on disk was made from exactly these inputs and the same protocol code."""
    from bench.protocols.registry import protocol_code_sha256

    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    want = {(p.kind, json.dumps(p.config, sort_keys=True), protocol_code_sha256(p.kind)) for p in task.protocols}
    have = {(p["kind"], json.dumps(p.get("spec_config", {}), sort_keys=True), p.get("code_sha256"))
            for p in old.get("protocols", [])}
    return (old.get("encoder", {}).get("weights_sha256") == weights
            and old.get("task", {}).get("version") == task.version
            and old.get("task", {}).get("dataset_fingerprint") == fingerprint
            and old.get("seeds") == seeds and old.get("layer") == layer and want <= have)


def _text_side(encoder: Encoder):
    if not callable(getattr(encoder, "encode_text", None)):
        return None

    def encode_text(texts: list[str]):
        import numpy as np
        import torch

        with torch.inference_mode():
            return np.asarray(torch.as_tensor(encoder.encode_text(texts)).float().cpu().numpy())

    return encode_text


def run_task(encoder: Encoder, task: TaskSpec, *, out: Path, seeds: list[int], layer: str, cache_root: Path,
             batch_seconds: float, on_bad_audio: str, data_seed: int, progress: bool,
             force: bool) -> dict[str, Any] | None:
    """Run one task for a loaded encoder; returns the result record (None when no protocol is runnable)."""
    from bench.cache import EmbeddingCache
    from bench.data import load_dataset
    from bench.extract import ExtractionConfig, encoder_key, extract
    from bench.protocols.base import ProtocolInput
    from bench.protocols.registry import protocol_code_sha256, protocol_function
    from bench.results import SCHEMA_VERSION, environment, git_sha, now_utc, result_path, write_json_atomic

    import bench

    runnable = [(p, protocol_function(p.kind)) for p in task.protocols]
    pending = [p.kind for p, fn in runnable if fn is None]
    runnable = [(p, fn) for p, fn in runnable if fn is not None]
    if pending:
        print(f"[bench] {task.name}: protocol(s) {', '.join(pending)} not available yet; skipped")
    if not runnable:
        return None
    code = {p.kind: protocol_code_sha256(p.kind) for p, _ in runnable}  # before any source can change under us

    dataset = load_dataset(task, seed=data_seed, progress=progress)
    path = result_path(out, encoder.name, task.name)
    weights = encoder.weights_sha256()
    if not force and _reusable(path, weights, task, dataset.fingerprint, seeds, layer):
        print(f"[bench] {task.name}: result up to date in {path}; skipped (use --force to recompute)")
        return json.loads(path.read_text())

    key, description = encoder_key(encoder, layer)
    cache = EmbeddingCache(cache_root, key, description)
    config = ExtractionConfig(channels=task.channels, max_seconds=task.max_seconds, layer=layer,
                              batch_seconds=batch_seconds, on_bad_audio=on_bad_audio, progress=progress)
    keys, stats = extract(encoder, dataset.items, cache, config)
    kept = [(item, k) for item, k in zip(dataset.items, keys) if k in cache]
    items = [item for item, _ in kept]
    kept_keys = [k for _, k in kept]
    inp = ProtocolInput(
        task=task, items=items, pooled=cache.pooled(kept_keys, task.pooling),
        frames=lambda i: cache.frames(kept_keys[i]), hop_ms=float(encoder.hop_ms), dataset_dir=dataset.root,
        seeds=list(seeds), encode_text=_text_side(encoder),
    )
    protocols, protocol_s = [], 0.0
    for spec, fn in runnable:
        tick = time.perf_counter()
        result = fn(inp, spec).to_dict()
        result["spec_config"] = spec.config
        result["code_sha256"] = code[spec.kind]
        result["seconds"] = round(time.perf_counter() - tick, 3)
        protocol_s += result["seconds"]
        protocols.append(result)

    card = encoder.card()
    record = {
        "schema_version": SCHEMA_VERSION,
        "bench_version": bench.__version__,
        "git_sha": git_sha(),
        "created_utc": now_utc(),
        "encoder": {"name": encoder.name, "revision": card.revision, "weights_sha256": weights,
                    "init_args": encoder.init_args, "card": card.to_dict()},
        "task": {"name": task.name, "version": task.version, "domain": task.domain, "label_kind": task.label_kind,
                 "dataset_fingerprint": dataset.fingerprint, "chance": task.chance,
                 "file": Path(task.file).name},
        "layer": layer,
        "seeds": list(seeds),
        "protocols": protocols,
        "n_samples": len(items),
        "skipped": stats.skipped,
        "env": environment(encoder.device, encoder.dtype),
        "timing": {"extract_s": round(stats.extract_s, 3), "forward_s": round(stats.forward_s, 3),
                   "protocol_s": round(protocol_s, 3), "audio_seconds_encoded": round(stats.audio_seconds, 2)},
        "cache": {"key": key, "hit": stats.n_encoded == 0, "n_cached": stats.n_cached, "n_encoded": stats.n_encoded},
    }
    write_json_atomic(path, record)
    if stats.skipped:
        print(f"[bench] {task.name}: skipped {len(stats.skipped)} bad clip(s) (listed in {path})")
    return record


def _pin_code_provenance(tasks: Sequence[TaskSpec]) -> None:
    """Import every protocol the tasks use, hash its code and read the checkout's commit now, together, so that
    the hashes and commit stored in a result describe the code that ran even if the source files or the checkout
    change during a long run (all are memoised)."""
    from bench.protocols.registry import PROTOCOLS, protocol_code_sha256, protocol_function
    from bench.results import git_sha

    git_sha()
    for kind in sorted({p.kind for task in tasks for p in task.protocols} & set(PROTOCOLS)):
        protocol_function(kind)
        protocol_code_sha256(kind)


def run(encoder: str | Encoder, suite: str | None = None, tasks: Sequence[str] | None = None, *,
        checkpoint: str | None = None, device: str = "cpu", dtype: str = "float32", out: str | Path = "results",
        seeds: Sequence[int] = DEFAULT_SEEDS, layer: str = "last", cache_dir: str | Path | None = None,
        batch_seconds: float = 320.0, on_bad_audio: str = "error", data_seed: int = 0, progress: bool = True,
        force: bool = False) -> list[dict[str, Any]]:
    """Evaluate an encoder (registered name, `file.py:Class`, `module:Class`, or an Encoder) on a suite/tasks.

    Returns the result records written under `out/<encoder>/<task>.json`. Re-running is nearly free: results
    made from the same inputs are reused and embeddings come from the cache.
    """
    from bench.catalog import resolve_tasks
    from bench.paths import cache_dir as default_cache_dir
    from bench.registry import build_encoder

    if on_bad_audio not in ("error", "skip"):
        raise ValueError(f"on_bad_audio must be 'error' or 'skip', got {on_bad_audio!r}")
    chosen = resolve_tasks(suite, list(tasks) if tasks else None)
    _pin_code_provenance(chosen)
    enc = encoder if isinstance(encoder, Encoder) else build_encoder(encoder, checkpoint=checkpoint)
    enc.load(device, dtype)
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    records = []
    for index, task in enumerate(chosen, start=1):
        print(f"[bench] ({index}/{len(chosen)}) {enc.name} on {task.name}", flush=True)
        record = run_task(enc, task, out=Path(out), seeds=list(seeds), layer=layer, cache_root=cache_root,
                          batch_seconds=batch_seconds, on_bad_audio=on_bad_audio, data_seed=data_seed,
                          progress=progress, force=force)
        if record is not None:
            records.append(record)
            for proto in record["protocols"]:
                main = proto["main_score"]
                ci = main.get("ci95") or [float("nan"), float("nan")]
                print(f"    {proto['kind']:>8}: {main['name']} = {main['value']:.4f} "
                      f"[{ci[0]:.4f}, {ci[1]:.4f}]", flush=True)
    return records
