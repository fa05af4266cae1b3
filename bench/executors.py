"""Run the workers of one `bench run` on an executor you already have (a process pool, Dask, Ray, Slurm).

Any object with `submit(fn, *args) -> future` whose future has `.result()` works: concurrent.futures executors,
`dask.distributed.Client.get_executor()`, Ray's `ray.util.ActorPool`-backed executors, submitit executors. Each
worker is `bench.runner.run(..., shard=(i, N))` and shares the extraction through the cache; worker 0 runs the
protocols once every shard is done and its records are returned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _worker(index: int, count: int, encoder: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.runner import run

    return run(encoder, shard=(index, count), **kwargs)


def slurm_executor(folder: str | Path, **parameters: Any):
    """A submitit AutoExecutor (Slurm, or local processes where there is no Slurm) writing its logs in `folder`;
    `parameters` go to `update_parameters` (e.g. slurm_partition, gpus_per_node, timeout_min)."""
    try:
        import submitit
    except ImportError as err:
        raise ImportError("--executor slurm needs submitit: pip install 'bench[slurm]' (or pip install "
                          "submitit)") from err
    executor = submitit.AutoExecutor(folder=str(folder))
    if parameters:
        executor.update_parameters(**parameters)
    return executor


def default_workers() -> int:
    """Workers when none are asked for: one per CPU core (at least 2)."""
    return max(2, os.cpu_count() or 1)


def run_on_executor(executor: Any, workers: int | None, encoder: Any, **run_kwargs: Any) -> list[dict[str, Any]]:
    """Submit `workers` workers of one run to `executor` ("slurm" = a submitit executor logging under
    `<out>/.submitit`) and return worker 0's result records once all have finished."""
    count = workers or default_workers()
    if count < 1:
        raise ValueError(f"workers must be >= 1, got {count}")
    if executor == "slurm":
        executor = slurm_executor(Path(run_kwargs.get("out", "results")) / ".submitit")
    elif isinstance(executor, str):
        raise ValueError(f"executor {executor!r}: expected 'slurm' or an object with submit()")
    futures = [executor.submit(_worker, index, count, encoder, run_kwargs) for index in range(count)]
    results = [future.result() for future in futures]  # raises the first worker error
    return results[0]
