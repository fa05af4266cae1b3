"""Who this process is in a multi-worker run: rank and world from torchrun, Slurm or an explicit `--shard i/N`.

Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR set) a torch.distributed process group (gloo on CPU,
nccl on CUDA) provides barriers; under Slurm or `--shard` the workers need none: they meet through the claim files
of the shared cache (bench.shard), and rank 0 waits for every shard before it runs the protocols.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This worker's place: `rank` of `size`, `local_rank` on its node, and where that came from."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    source: str = "single"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def uses_process_group(self) -> bool:
        return self.source == "torchrun"


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' -> (i, N) with 0 <= i < N; ValueError naming the accepted form otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError as err:
        raise ValueError(f"--shard {text!r}: expected i/N with integers, e.g. 0/4") from err
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need 0 <= i < N")
    return index, count


def detect_world(shard: str | tuple[int, int] | None = None, environ: dict[str, str] | None = None) -> World:
    """The World from an explicit shard (wins), else torchrun's or Slurm's variables, else a single process."""
    env = os.environ if environ is None else environ
    if shard is not None:
        index, count = parse_shard(shard) if isinstance(shard, str) else shard
        return World(index, count, int(env.get("LOCAL_RANK", 0)), "shard")
    if "WORLD_SIZE" in env and "RANK" in env:
        size = int(env["WORLD_SIZE"])
        if size > 1:
            return World(int(env["RANK"]), size, int(env.get("LOCAL_RANK", 0)), "torchrun")
    if "SLURM_NTASKS" in env and "SLURM_PROCID" in env:
        size = int(env["SLURM_NTASKS"])
        if size > 1:
            return World(int(env["SLURM_PROCID"]), size, int(env.get("SLURM_LOCALID", 0)), "slurm")
    return World()


def worker_device(device: str, world: World) -> str:
    """`cuda` becomes `cuda:<local rank>` in a multi-worker run (one GPU per worker); anything else is kept."""
    if world.size > 1 and device == "cuda":
        return f"cuda:{world.local_rank}"
    return device


def init_process_group(world: World, device: str) -> bool:
    """Join torchrun's process group (nccl for CUDA, gloo otherwise); True when this call joined it (False for
    other worlds, or when the caller's code had already joined one)."""
    if not world.uses_process_group:
        return False
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        import torch

        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size)
    logger.info(f"[bench] rank {world.rank}/{world.size}: joined the {backend} process group")
    return True


def barrier(world: World) -> None:
    """Wait for every worker when there is a process group; a no-op otherwise."""
    if not world.uses_process_group:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def shutdown(world: World) -> None:
    """Leave the process group (if this process joined one)."""
    if not world.uses_process_group:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
