"""The embedding cache: content-addressed, sharded, written atomically, resumable.

Layout: `<cache_dir>/<encoder_key>/shard-<uuid>.npz`. The encoder key hashes everything that changes the
encoder's output (weights hash, wrapper class and version, constructor arguments, sample rate, layer, dtype,
chunking); inside it, each clip is addressed by a clip key (audio content hash + channel policy + crop).
Shards are written to a temporary name and renamed into place, so a killed run leaves only whole shards, and
the next run encodes just the clips that no shard holds yet. Two tasks over the same clips share embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def stable_hash(payload: Any) -> str:
    """sha256 of a JSON-serialisable payload (sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def clip_key(audio_hash: str, channels: str, max_seconds: float | None) -> str:
    """Cache address of one clip under one preprocessing."""
    return stable_hash({"audio": audio_hash, "channels": channels, "max_seconds": max_seconds})[:32]


class EmbeddingCache:
    """Shards of pooled embeddings (mean, std; float32) and frames (float16) for one encoder key."""

    def __init__(self, root: Path, encoder_key: str, description: dict[str, Any] | None = None) -> None:
        self.dir = Path(root) / encoder_key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.encoder_key = encoder_key
        if description is not None and not (self.dir / "key.json").exists():
            self._atomic_write_bytes(self.dir / "key.json", json.dumps(description, indent=1, default=str).encode())
        self._index: dict[str, tuple[Path, int]] = {}
        self._shards: dict[Path, Any] = {}
        self._scan()

    # -- index -----------------------------------------------------------------------------------
    def _scan(self) -> None:
        for stale in self.dir.glob("*.tmp*"):
            stale.unlink(missing_ok=True)
        for shard in sorted(self.dir.glob("shard-*.npz")):
            with np.load(shard) as data:
                keys = data["keys"].tolist()
            for row, key in enumerate(keys):
                self._index.setdefault(key, (shard, row))

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def missing(self, keys: list[str]) -> list[str]:
        """Keys that no shard holds yet."""
        return [k for k in keys if k not in self._index]

    # -- writing ---------------------------------------------------------------------------------
    @staticmethod
    def _atomic_write_bytes(path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def write_shard(self, keys: list[str], frames: list[np.ndarray]) -> Path:
        """Store clips (frames [T, D] float32 each) as one new shard, atomically."""
        mean = np.stack([f.mean(axis=0) for f in frames]).astype(np.float32)
        std = np.stack([f.std(axis=0) for f in frames]).astype(np.float32)
        lengths = np.array([len(f) for f in frames], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        stacked = np.concatenate(frames).astype(np.float16)
        shard = self.dir / f"shard-{uuid.uuid4().hex}.npz"
        tmp = shard.with_name(shard.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            np.savez(handle, keys=np.array(keys), mean=mean, std=std, offsets=offsets, frames=stacked)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, shard)
        for row, key in enumerate(keys):
            self._index.setdefault(key, (shard, row))
        return shard

    # -- reading ---------------------------------------------------------------------------------
    def _shard(self, path: Path) -> dict[str, np.ndarray]:
        if path not in self._shards:
            with np.load(path) as data:
                self._shards[path] = {name: data[name] for name in ("mean", "std", "offsets")}
                self._shards[path]["_path"] = path
        return self._shards[path]

    def pooled(self, keys: list[str], pooling: str = "mean") -> np.ndarray:
        """[N, D] (mean) or [N, 2D] (meanstd) pooled embeddings for `keys`."""
        rows = []
        for key in keys:
            if key not in self._index:
                raise KeyError(f"clip {key} is not in the embedding cache {self.dir}")
            path, row = self._index[key]
            shard = self._shard(path)
            vec = shard["mean"][row]
            if pooling == "meanstd":
                vec = np.concatenate([vec, shard["std"][row]])
            rows.append(vec)
        return np.stack(rows).astype(np.float32)

    def frames(self, key: str) -> np.ndarray:
        """[T, D] float32 frames of one clip."""
        path, row = self._index[key]
        shard = self._shard(path)
        if "frames" not in shard:
            with np.load(path) as data:
                shard["frames"] = data["frames"]
        start, stop = shard["offsets"][row], shard["offsets"][row + 1]
        return shard["frames"][start:stop].astype(np.float32)
