"""Shards of an extraction and the claim files that hand them out to workers on a shared filesystem.

A run's clips are planned once, deterministically, into encoder batches (the same batches one process makes);
consecutive batches are grouped into many more shards than workers, balanced by padded audio duration. A worker
takes a shard by creating its claim file with O_EXCL (`<id>.claim.0`); a claim whose owner is dead (same host and
its pid gone) or whose heartbeat (the file's mtime) is older than STALE_CLAIM_S is taken over by creating the
next generation (`<id>.claim.1`, ...), which again only one worker can do. A finished shard gets `<id>.done`
(JSON: the clips it skipped as bad audio), a shard whose extraction raised gets `<id>.failed` (the error), both
written atomically. Claim files live in `<cache>/<encoder key>/claims/`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cache import _process_alive, stable_hash

STALE_CLAIM_S = 600.0  # a claim not refreshed for this long is abandoned (its worker hung or its node died)
_GENERATION = re.compile(r"\.claim\.(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Consecutive encoder batches (each a list of clip keys) and the padded audio samples they cover."""

    index: int
    batches: tuple[tuple[str, ...], ...]
    samples: int

    @property
    def id(self) -> str:
        return f"{self.index:05d}-{stable_hash([list(b) for b in self.batches])[:16]}"


def plan_shards(batches: Sequence[Sequence[str]], costs: Sequence[int], n_shards: int) -> list[Shard]:
    """Group consecutive batches (clip keys; `costs` = padded samples of each) into at most `n_shards` shards of
    about equal cost. Deterministic: the same batches give the same shards on every worker."""
    if len(batches) != len(costs):
        raise ValueError(f"{len(batches)} batches but {len(costs)} costs")
    n_shards = max(1, min(n_shards, len(batches)))
    total = sum(costs)
    shards: list[Shard] = []
    current: list[tuple[str, ...]] = []
    spent = done = 0
    for batch, cost in zip(batches, costs):
        current.append(tuple(batch))
        spent += cost
        done += cost
        if len(shards) < n_shards - 1 and done >= total * (len(shards) + 1) / n_shards:
            shards.append(Shard(len(shards), tuple(current), spent))
            current, spent = [], 0
    if current:
        shards.append(Shard(len(shards), tuple(current), spent))
    return shards


def default_shard_count(world_size: int, n_batches: int) -> int:
    """Many more shards than workers (8 per worker), never more than there are batches."""
    return max(1, min(n_batches, 8 * max(1, world_size)))


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}


class ClaimBoard:
    """The claims, done and failed markers of one cache folder's shards."""

    def __init__(self, folder: Path, stale_after: float = STALE_CLAIM_S) -> None:
        self.dir = Path(folder) / "claims"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stale_after = stale_after

    # -- markers ---------------------------------------------------------------------------------
    def _write_atomic(self, path: Path, payload: dict[str, Any]) -> None:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)

    def done(self, shard_id: str) -> dict[str, Any] | None:
        """The done marker of a shard (None when not done)."""
        try:
            return json.loads((self.dir / f"{shard_id}.done").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def failed(self, shard_id: str) -> str | None:
        """The error a worker hit on this shard (None when none)."""
        try:
            return json.loads((self.dir / f"{shard_id}.failed").read_text())["error"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None

    def clear_failed(self, shard_ids: Sequence[str]) -> None:
        """Forget earlier failures so that a new run retries those shards."""
        for shard_id in shard_ids:
            (self.dir / f"{shard_id}.failed").unlink(missing_ok=True)

    def mark_done(self, shard_id: str, skipped: list[dict[str, str]]) -> None:
        self._write_atomic(self.dir / f"{shard_id}.done", {"skipped": skipped, "by": _owner()})
        self._release(shard_id)

    def mark_failed(self, shard_id: str, error: str) -> None:
        self._write_atomic(self.dir / f"{shard_id}.failed", {"error": error, "by": _owner()})
        self._release(shard_id)

    # -- claims ----------------------------------------------------------------------------------
    def _claims(self, shard_id: str) -> list[tuple[int, Path]]:
        found = []
        for path in self.dir.glob(f"{shard_id}.claim.*"):
            match = _GENERATION.search(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _is_stale(self, path: Path) -> bool:
        try:
            age = time.time() - path.stat().st_mtime
            owner = json.loads(path.read_text())
        except FileNotFoundError:
            return False
        except json.JSONDecodeError:  # being written right now, or a torn write long ago
            return age > self.stale_after
        if age > self.stale_after:
            return True
        return owner.get("host") == socket.gethostname() and not _process_alive(int(owner.get("pid", -1)))

    def try_claim(self, shard_id: str) -> Path | None:
        """Claim a shard that is neither done, failed nor held by a live worker; returns the claim file."""
        if self.done(shard_id) is not None or self.failed(shard_id) is not None:
            return None
        claims = self._claims(shard_id)
        generation = 0
        if claims:
            latest_generation, latest = claims[-1]
            if not self._is_stale(latest):
                return None
            generation = latest_generation + 1
        path = self.dir / f"{shard_id}.claim.{generation}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None  # another worker took it first
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(_owner()))
        if self.done(shard_id) is not None:  # finished between our check and our claim
            path.unlink(missing_ok=True)
            return None
        return path

    def still_ours(self, claim: Path) -> bool:
        """Refresh the claim's heartbeat; False when another worker has taken the shard over meanwhile."""
        match = _GENERATION.search(claim.name)
        shard_id = claim.name[: match.start()] if match else claim.name
        latest = self._claims(shard_id)
        if not latest or latest[-1][1] != claim:
            return False
        os.utime(claim)
        return True

    def _release(self, shard_id: str) -> None:
        for _, path in self._claims(shard_id):
            path.unlink(missing_ok=True)

    def pending(self, shard_ids: Sequence[str]) -> list[str]:
        """Shards not done yet."""
        return [s for s in shard_ids if self.done(s) is None]
