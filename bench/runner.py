"""`bench.run`: encoder x tasks -> extraction (cached) -> protocols -> one result JSON per task.

Before any encoder work the run proves its folders writable, loads and validates every task's data, and (for an
encoder that is not registered) runs the fast conformance checks; a task that fails, then or later, gets an error
record and the others go on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.defaults import DEFAULT_BATCH_SECONDS, DEFAULT_SEEDS
from bench.encoder import Encoder
from bench.taskspec import TaskSpec

logger = logging.getLogger(__name__)


def _text_side(encoder: Encoder):
    if not callable(getattr(encoder, "encode_text", None)):
        return None

    def encode_text(texts: list[str]):
        import numpy as np
        import torch

        with torch.inference_mode():
            return np.asarray(torch.as_tensor(encoder.encode_text(texts)).float().cpu().numpy())

    return encode_text


def _record_head(encoder: Encoder, task: TaskSpec, *, status: str, layer: str, seeds: list[int],
                 on_bad_audio: str, warnings: list[str], check: dict[str, Any] | None) -> dict[str, Any]:
    """The fields every result record starts with, successful or not."""
    import bench
    from bench.results import SCHEMA_VERSION, git_sha, now_utc
    from bench.taskspec import spec_sha256

    return {
        "schema_version": SCHEMA_VERSION, "bench_version": bench.__version__, "git_sha": git_sha(),
        "created_utc": now_utc(), "status": status,
        "encoder": {"name": encoder.name},
        "task": {"name": task.name, "version": task.version, "domain": task.domain, "label_kind": task.label_kind,
                 "spec_sha256": spec_sha256(task), "chance": task.chance, "file": Path(task.file).name},
        "layer": layer, "seeds": list(seeds), "on_bad_audio": on_bad_audio, "warnings": list(warnings),
        "check": check or {"ran": False, "passed": None, "skipped_by_user": False},
    }


def write_error_record(encoder: Encoder, task: TaskSpec, error: str, *, out: Path, layer: str, seeds: list[int],
                       on_bad_audio: str, warnings: list[str], check: dict[str, Any] | None) -> dict[str, Any]:
    """Write (atomically) and return a `status: "error"` record for a task that could not be scored. A good result
    already at the task's path is kept: the error record then goes beside it (`<task>.error.json`)."""
    from bench.results import error_path, read_status, result_path, write_json_atomic

    record = _record_head(encoder, task, status="error", layer=layer, seeds=seeds, on_bad_audio=on_bad_audio,
                          warnings=warnings, check=check)
    record["error"] = error
    record["protocols"] = []
    path = result_path(out, encoder.name, task.name, layer)
    if read_status(path) == "ok":
        logger.warning(f"[bench] {task.name}: the earlier result {path} is kept; this run's error is in "
                       f"{error_path(path)}")
        path = error_path(path)
    write_json_atomic(path, record)
    return record


def run_task(encoder: Encoder, task: TaskSpec, *, out: Path, seeds: list[int], layer: str, cache_root: Path,
             batch_seconds: float, on_bad_audio: str, data_seed: int, progress: bool, force: bool,
             dataset: Any = None, warnings: Sequence[str] = (),
             check: dict[str, Any] | None = None, world: Any = None,
             decode_workers: int | None = None) -> dict[str, Any] | None:
    """Run one task for a loaded encoder; returns the result record.
    `dataset` is the task's already loaded dataset (loaded here when None). With a `world` of several workers
    (bench.distributed.World) the extraction is shared through the cache and only rank 0 runs the protocols and
    writes the result (the others return None)."""
    from bench.cache import EmbeddingCache
    from bench.data import load_dataset
    from bench.extract import ExtractionConfig, encoder_key, extract
    from bench.protocols.base import ProtocolInput
    from bench.protocols.registry import protocol_code_sha256, protocol_function
    from bench.results import environment, error_path, result_path, write_json_atomic
    from bench.reuse import reusable, reuse_inputs

    runnable = [(p, protocol_function(p.kind)) for p in task.protocols]  # parse_task admits registered kinds only
    code = {p.kind: protocol_code_sha256(p.kind) for p, _ in runnable}  # before any source can change under us

    if dataset is None:
        dataset = load_dataset(task, seed=data_seed, progress=progress)
    path = result_path(out, encoder.name, task.name, layer)
    key, description = encoder_key(encoder, layer)
    want = reuse_inputs(cache_key=key, task=task, fingerprint=dataset.fingerprint, seeds=seeds, code=code,
                        on_bad_audio=on_bad_audio)
    if not force and reusable(path, want):
        logger.info(f"[bench] {task.name}: result up to date in {path}; skipped (use --force to recompute)")
        return json.loads(path.read_text())

    cache = EmbeddingCache(cache_root, key, description)
    config = ExtractionConfig(channels=task.channels, max_seconds=task.max_seconds, layer=layer,
                              batch_seconds=batch_seconds, on_bad_audio=on_bad_audio, progress=progress,
                              decode_workers=decode_workers)
    if world is not None and world.size > 1:
        from bench.sharded import extract_sharded

        keys, stats = extract_sharded(encoder, dataset.items, cache, config, world)
        if not world.is_main:
            return None
    else:
        keys, stats = extract(encoder, dataset.items, cache, config)
    kept = [(item, k) for item, k in zip(dataset.items, keys) if k in cache]
    items = [item for item, _ in kept]
    kept_keys = [k for _, k in kept]
    pooled = cache.pooled(kept_keys, task.pooling)
    layers = pooled if layer == "all" else None  # [N, L, D]: every layer (bench.layers); protocols get the last
    inp = ProtocolInput(
        task=task, items=items, pooled=pooled if layers is None else layers[:, -1],
        frames=lambda i: cache.frames(kept_keys[i]), hop_ms=float(encoder.hop_ms), dataset_dir=dataset.root,
        seeds=list(seeds), encode_text=_text_side(encoder),
    )
    from bench.layers import run_protocol, storage
    from bench.protocols.training import on_device

    protocols, protocol_s, sample_rows = [], 0.0, []
    for spec, fn in runnable:
        tick = time.perf_counter()
        with on_device(encoder.device):  # CUDA when the encoder is on it, else CPU
            result, rows = run_protocol(fn, inp, spec, layers)
        sample_rows.extend({"protocol": len(protocols), "kind": spec.kind, **row} for row in rows)
        result["spec_config"] = spec.config
        result["code_sha256"] = code[spec.kind]
        result["seconds"] = round(time.perf_counter() - tick, 3)
        protocol_s += result["seconds"]
        protocols.append(result)

    card = encoder.card()
    record = _record_head(encoder, task, status="ok", layer=layer, seeds=seeds, on_bad_audio=on_bad_audio,
                          warnings=list(warnings), check=check)
    record["encoder"].update({"revision": card.revision, "weights_sha256": encoder.weights_sha256(),
                              "init_args": encoder.init_args, "card": card.to_dict()})
    record["task"]["dataset_fingerprint"] = dataset.fingerprint
    record.update({
        "protocols": protocols,
        "n_samples": len(items),
        "skipped": stats.skipped,
        "env": environment(encoder.device, encoder.dtype),
        "timing": {"extract_s": round(stats.extract_s, 3), "forward_s": round(stats.forward_s, 3),
                   "protocol_s": round(protocol_s, 3), "audio_seconds_encoded": round(stats.audio_seconds, 2)},
        "cache": {"key": key, "hit": stats.n_encoded == 0, "n_cached": stats.n_cached, "n_encoded": stats.n_encoded,
                  **(storage(layers, task.pooling) if layers is not None else {})},
    })
    from bench.samples import samples_path, write_samples

    record["samples"] = write_samples(samples_path(path), sample_rows)  # before the JSON that vouches for it
    write_json_atomic(path, record)
    error_path(path).unlink(missing_ok=True)  # an earlier run's error, now superseded
    if stats.skipped:
        logger.warning(f"[bench] {task.name}: skipped {len(stats.skipped)} bad clip(s) (listed in {path})")
    return record


def _pin_code_provenance(tasks: Sequence[TaskSpec]) -> None:
    """Import every protocol the tasks use, hash its code and read the checkout's commit and dirty state now,
    together, so that what a result stores describes the code that ran even if the source files or the checkout
    change during a long run (all are memoised)."""
    from bench.protocols.registry import PROTOCOLS, protocol_code_sha256, protocol_function
    from bench.results import git_dirty, git_sha

    git_sha()
    git_dirty()
    for kind in sorted({p.kind for task in tasks for p in task.protocols} & set(PROTOCOLS)):
        protocol_function(kind)
        protocol_code_sha256(kind)


def check_storage(out: Path, cache_root: Path, tasks: Sequence[TaskSpec], data_seed: int) -> None:
    """Prove the results folder, the embedding cache and (when a built-in dataset is still to be generated) the
    data folder writable with room to spare; raises bench.paths.StorageError naming the folder and the fix."""
    from bench.paths import data_dir, ensure_writable

    ensure_writable(out, "results folder (--out)")
    ensure_writable(cache_root, "embedding cache folder (--cache, default $BENCH_HOME/cache)")
    builtin = [t.dataset for t in tasks if t.dataset.source == "builtin"]
    if builtin:
        from bench.builtin import CHECKSUM_FILE, dataset_path

        try:
            missing = any(not (dataset_path(d.name, d.tier, data_seed) / CHECKSUM_FILE).exists() for d in builtin)
        except OSError:
            missing = True
        if missing:
            ensure_writable(data_dir(), "built-in data folder ($BENCH_HOME/data)")


def _log_scores(record: dict[str, Any]) -> None:
    for proto in record["protocols"]:
        main = proto["main_score"]
        ci = main.get("ci95") or [float("nan"), float("nan")]
        logger.info(f"    {proto['kind']:>8}: {main['name']} = {main['value']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]")


def run(encoder: str | Encoder, suite: str | None = None, tasks: Sequence[str] | None = None, *,
        checkpoint: str | None = None, device: str = "cpu", dtype: str = "float32", out: str | Path = "results",
        seeds: Sequence[int] = DEFAULT_SEEDS, layer: str = "last", cache_dir: str | Path | None = None,
        batch_seconds: float = DEFAULT_BATCH_SECONDS, on_bad_audio: str = "error", data_seed: int = 0,
        progress: bool = True, force: bool = False, check: bool = True, debug: bool = False,
        shard: str | tuple[int, int] | None = None, executor: Any = None, workers: int | None = None,
        decode_workers: int | None = None) -> list[dict[str, Any]]:
    """Evaluate an encoder (registered name, `file.py:Class`, `module:Class`, or an Encoder) on a suite/tasks.

    Returns the result records written under `out/<encoder>/<task>.json`, one per task: `status` "ok", or
    "error" with a one-line `error` for a task whose data failed validation or whose run raised (the other
    tasks still run; `debug` prints each such traceback). Re-running is nearly free: results made from the same
    inputs are reused and embeddings come from the cache. An encoder given as `file.py:Class` or `module:Class`
    passes the fast conformance checks before its first run (`check=False` skips them).

    Scale-out (docs/scale.md): under torchrun or Slurm, or with `shard="i/N"`, this process is one of several
    workers that share the extraction through the cache; only rank 0 runs the protocols and returns records (the
    others return []). `executor` (any concurrent.futures.Executor, or "slurm" for submitit) runs `workers`
    such workers itself and returns rank 0's records. `decode_workers`: threads that decode and resample audio
    ahead of the encoder (default: CPU cores - 1).
    """
    if executor is not None:
        from bench.executors import run_on_executor

        return run_on_executor(executor, workers, encoder, suite=suite, tasks=tasks, checkpoint=checkpoint,
                               device=device, dtype=dtype, out=out, seeds=seeds, layer=layer, cache_dir=cache_dir,
                               batch_seconds=batch_seconds, on_bad_audio=on_bad_audio, data_seed=data_seed,
                               progress=progress, force=force, check=check, debug=debug,
                               decode_workers=decode_workers)
    from bench.catalog import resolve_tasks
    from bench.distributed import detect_world, init_process_group, shutdown, worker_device
    from bench.paths import cache_dir as default_cache_dir
    from bench.precheck import prepare_tasks

    if on_bad_audio not in ("error", "skip"):
        raise ValueError(f"on_bad_audio must be 'error' or 'skip', got {on_bad_audio!r}")
    out = Path(out)
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    chosen = resolve_tasks(suite, list(tasks) if tasks else None)
    check_storage(out, cache_root, chosen, data_seed)
    _pin_code_provenance(chosen)
    prepared = prepare_tasks(chosen, data_seed=data_seed, progress=progress, debug=debug)

    world = detect_world(shard)
    device = worker_device(device, world)
    joined = init_process_group(world, device)
    try:
        return _run_tasks(encoder, prepared, world, checkpoint=checkpoint, device=device, dtype=dtype, out=out,
                          seeds=seeds, layer=layer, cache_root=cache_root, batch_seconds=batch_seconds,
                          on_bad_audio=on_bad_audio, data_seed=data_seed, progress=progress, force=force,
                          check=check, debug=debug, decode_workers=decode_workers)
    finally:
        if joined:
            shutdown(world)


def _run_tasks(encoder: str | Encoder, prepared: list[Any], world: Any, *, checkpoint: str | None, device: str,
               dtype: str, out: Path, seeds: Sequence[int], layer: str, cache_root: Path, batch_seconds: float,
               on_bad_audio: str, data_seed: int, progress: bool, force: bool, check: bool,
               debug: bool, decode_workers: int | None) -> list[dict[str, Any]]:
    """Load the encoder and run each prepared task; rank 0 of several workers alone writes and returns records."""
    from bench.extract import encoder_key
    from bench.paths import safe_name
    from bench.precheck import conformance_gate, one_line
    from bench.registry import build_encoder

    enc = encoder if isinstance(encoder, Encoder) else build_encoder(encoder, checkpoint=checkpoint)
    safe_name(enc.name, "encoder name")  # results and cache folders are named after it
    check_block = None
    if any(p.error is None for p in prepared):
        enc.load(device, dtype)
        key, _ = encoder_key(enc, layer)
        reference = encoder if isinstance(encoder, str) else None
        check_block = conformance_gate(enc, reference, cache_root / key, skip=not check, checkpoint=checkpoint)
    common = dict(out=out, layer=layer, seeds=list(seeds), on_bad_audio=on_bad_audio, check=check_block)
    records = []
    for index, prep in enumerate(prepared, start=1):
        task = prep.task
        logger.info(f"[bench] ({index}/{len(prepared)}) {enc.name} on {task.name}")
        if prep.error is not None:
            if world.is_main:
                records.append(write_error_record(enc, task, prep.error, warnings=prep.warnings, **common))
            continue
        try:
            record = run_task(enc, task, cache_root=cache_root, batch_seconds=batch_seconds, data_seed=data_seed,
                              progress=progress, force=force, dataset=prep.dataset, warnings=prep.warnings,
                              world=world, decode_workers=decode_workers, **common)
        except Exception as err:  # recorded; the other tasks go on
            if debug:
                import traceback

                traceback.print_exc()
            logger.error(f"[bench] {task.name}: failed: {one_line(err)}")
            if world.is_main:
                records.append(write_error_record(enc, task, one_line(err), warnings=prep.warnings, **common))
            continue
        finally:
            prep.dataset = None  # let its items go
        if record is None:  # a worker other than rank 0: its part of the extraction is done
            continue
        records.append(record)
        _log_scores(record)
    return records
