"""The embedding cache: content-addressed, sharded, written atomically, resumable.

Layout: `<cache_dir>/<encoder_key>/shard-<uuid>.npz`. The encoder key hashes everything that changes the
encoder's output (weights hash, wrapper class and version, constructor arguments, sample rate, layer, dtype,
chunking); inside it, each clip is addressed by a clip key (audio content hash + channel policy + crop).
Shards are written to a temporary name (`<name>.tmp<pid>`) and renamed into place, so a killed run leaves only
whole shards, and the next run encodes just the clips that no shard holds yet. Two tasks over the same clips share
embeddings. Several processes may use one cache at once: a temporary is removed only when its writer is dead (or it
is over an hour old), and a shard that cannot be read is moved aside (`*.corrupt`) so its clips are encoded again.
Frames are stored as float16 unless a shard's values exceed float16's range; then that shard keeps float32.
Under `--layer all` (docs/scale.md) a shard holds pooled vectors per layer (`mean` and `std` [N, L, D]) and the
frames of the last layer only, which the frame-level protocols read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FLOAT16_MAX = 65504.0
STALE_TEMPORARY_S = 3600.0  # a temporary this old is left over even if its pid now belongs to another process
_TEMPORARY = re.compile(r"\.tmp(\d+)$")
SHARD_ARRAYS = ("keys", "mean", "std", "offsets", "frames")


def _process_alive(pid: int) -> bool:
    """True when a process with this pid exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_temporary(path: Path) -> bool:
    """True for a `*.tmp<pid>` file whose writer has died or that is older than STALE_TEMPORARY_S."""
    match = _TEMPORARY.search(path.name)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False  # its writer renamed it into place meanwhile
    if age > STALE_TEMPORARY_S:
        return True
    return match is None or not _process_alive(int(match.group(1)))


def stable_hash(payload: Any) -> str:
    """sha256 of a JSON-serialisable payload (sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def clip_key(audio_hash: str, channels: str, max_seconds: float | None) -> str:
    """Cache address of one clip under one preprocessing."""
    return stable_hash({"audio": audio_hash, "channels": channels, "max_seconds": max_seconds})[:32]


class EmbeddingCache:
    """Shards of pooled embeddings (mean, std; float32) and frames (float16, or float32 when out of float16's
    range) for one encoder key."""

    def __init__(self, root: Path, encoder_key: str, description: dict[str, Any] | None = None) -> None:
        self.dir = Path(root) / encoder_key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.encoder_key = encoder_key
        if description is not None and not (self.dir / "key.json").exists():
            self._atomic_write_bytes(self.dir / "key.json", json.dumps(description, indent=1, default=str).encode())
        self._index: dict[str, tuple[Path, int]] = {}
        self._shards: dict[Path, Any] = {}
        self._scanned: set[Path] = set()
        self._warned_float32 = False  # once per cache and run, not once per shard
        self._scan()

    # -- index -----------------------------------------------------------------------------------
    def _scan(self) -> None:
        for temporary in self.dir.glob("*.tmp*"):
            if is_stale_temporary(temporary):
                temporary.unlink(missing_ok=True)
        self.refresh()

    def refresh(self) -> None:
        """Index the shards written since the last scan (by other workers sharing this cache)."""
        for shard in sorted(set(self.dir.glob("shard-*.npz")) - self._scanned):
            keys = self._read_keys(shard)
            self._scanned.add(shard)
            for row, key in enumerate(keys):
                self._index.setdefault(key, (shard, row))

    @staticmethod
    def _read_keys(shard: Path) -> list[str]:
        """The clip keys of a shard; a shard that cannot be read is moved aside (`*.corrupt`) with a warning, and
        its clips count as not cached."""
        try:
            with np.load(shard) as data:
                missing = [name for name in SHARD_ARRAYS if name not in data.files]
                if missing:
                    raise ValueError(f"arrays {', '.join(missing)} are missing")
                return data["keys"].tolist()
        except FileNotFoundError:
            return []
        except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as err:  # truncated, 0-byte, bad header
            aside = shard.with_name(shard.name + ".corrupt")
            try:
                os.replace(shard, aside)
            except FileNotFoundError:  # another process moved it first
                pass
            warnings.warn(f"embedding cache shard {shard} is unreadable ({type(err).__name__}: {err}); moved it to "
                          f"{aside.name} and its clips will be encoded again", stacklevel=3)
            return []

    def __contains__(self, key: str) -> bool:
        return key in self._index

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
        """Store clips (frames [T, D] float32 each) as one new shard, atomically. Clips given as every layer's
        frames [L, T, D] keep their pooled vectors per layer ([L, D]) and the frames of the last layer only."""
        mean = np.stack([f.mean(axis=-2) for f in frames]).astype(np.float32)
        std = np.stack([f.std(axis=-2) for f in frames]).astype(np.float32)
        if not np.isfinite(std).all():  # squares of frames beyond ~1e19 overflow float32: redo in float64
            std = np.stack([f.astype(np.float64).std(axis=-2) for f in frames]).astype(np.float32)
        frames = [f[-1] if f.ndim == 3 else f for f in frames]
        lengths = np.array([len(f) for f in frames], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        stacked = np.concatenate(frames)
        largest = float(np.abs(stacked).max()) if stacked.size else 0.0
        if largest > FLOAT16_MAX:
            if not self._warned_float32:
                warnings.warn(f"encoder '{self.encoder_key}' produced frames up to {largest:.3g}, beyond float16's "
                              f"range (±{FLOAT16_MAX:g}); shards with such frames store them as float32 so none "
                              f"become inf", stacklevel=2)
                self._warned_float32 = True
            stacked = stacked.astype(np.float32)
        else:
            stacked = stacked.astype(np.float16)
        shard = self.dir / f"shard-{uuid.uuid4().hex}.npz"
        tmp = shard.with_name(shard.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            np.savez(handle, keys=np.array(keys), mean=mean, std=std, offsets=offsets, frames=stacked)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, shard)
        self._scanned.add(shard)
        for row, key in enumerate(keys):
            self._index.setdefault(key, (shard, row))
        return shard

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def _load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Arrays of a shard; a shard damaged after this run scanned it raises ValueError naming it."""
        try:
            with np.load(path) as data:
                return {name: data[name] for name in names}
        except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as err:
            raise ValueError(f"embedding cache shard {path} cannot be read ({type(err).__name__}: {err}); run again "
                             f"(it is then moved aside as *.corrupt and its clips are encoded again)") from err

    def _shard(self, path: Path) -> dict[str, np.ndarray]:
        if path not in self._shards:
            self._shards[path] = self._load_arrays(path, ("mean", "std", "offsets"))
        return self._shards[path]

    def pooled(self, keys: list[str], pooling: str = "mean") -> np.ndarray:
        """[N, D] (mean) or [N, 2D] (meanstd) pooled embeddings for `keys`, float32 ([N, L, D] or [N, L, 2D] in a
        cache of every layer), read-only and memory-mapped: the matrix is written once, shard by shard, to
        `pooled/<hash of keys and pooling>.npy` in the cache (atomically; reused when present), and is read from
        disk as it is used, so holding it costs no memory and streaming over it (`release_pages`) one chunk's
        (scripts/bench_memory.py)."""
        by_shard: dict[Path, tuple[list[int], list[int]]] = {}
        digest = hashlib.sha256(pooling.encode())
        for position, key in enumerate(keys):
            if key not in self._index:
                raise KeyError(f"clip {key} is not in the embedding cache {self.dir}")
            path, row = self._index[key]
            positions, rows = by_shard.setdefault(path, ([], []))
            positions.append(position)
            rows.append(row)
            digest.update(b"\n" + key.encode())
        if not keys:
            return np.stack([])  # raises as before: there is nothing to pool
        matrix = self.dir / "pooled" / f"{digest.hexdigest()[:32]}.npy"
        if not matrix.exists():
            self._write_pooled(matrix, by_shard, len(keys), pooling)
        return np.load(matrix, mmap_mode="r")

    def _write_pooled(self, matrix: Path, by_shard: dict[Path, tuple[list[int], list[int]]], n: int,
                      pooling: str) -> None:
        """Fill the `.npy` file of a pooled matrix shard by shard through a temporary memory map, renamed into
        place; the pages written are released as it goes, so the writer holds one shard's vectors."""
        from bench.memmap import release_pages

        matrix.parent.mkdir(exist_ok=True)
        for temporary in matrix.parent.glob("*.tmp*"):
            if is_stale_temporary(temporary):
                temporary.unlink(missing_ok=True)
        tmp = matrix.with_name(matrix.name + f".tmp{os.getpid()}")
        names = ("mean", "std") if pooling == "meanstd" else ("mean",)
        out: np.memmap | None = None
        for path, (positions, rows) in by_shard.items():
            arrays = self._shards[path] if path in self._shards else self._load_arrays(path, names)
            vectors = arrays["mean"][rows]
            if pooling == "meanstd":
                vectors = np.concatenate([vectors, arrays["std"][rows]], axis=-1)
            if out is None:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *vectors.shape[1:]))
            out[positions] = vectors
            release_pages(out)
        assert out is not None  # keys is not empty
        out.flush()
        del out
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, matrix)

    def frames(self, key: str) -> np.ndarray:
        """[T, D] float32 frames of one clip."""
        path, row = self._index[key]
        shard = self._shard(path)
        if "frames" not in shard:
            shard.update(self._load_arrays(path, ("frames",)))
        start, stop = shard["offsets"][row], shard["offsets"][row + 1]
        return shard["frames"][start:stop].astype(np.float32)
