"""Where bench keeps generated data, caches and downloads (`$BENCH_HOME`, default `~/.cache/bench`), and the
checks that a folder bench writes to is usable before any work starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MIN_FREE_BYTES = 64 * 2**20  # below this a run would die mid-way writing a cache shard or a result


class StorageError(OSError):
    """A folder bench must write to is unusable; the message names the folder and the fix."""


def bench_home() -> Path:
    """Root folder for generated built-in data and the embedding cache (`BENCH_HOME` overrides)."""
    env = os.environ.get("BENCH_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "bench"


def data_dir() -> Path:
    """Folder of generated built-in datasets."""
    return bench_home() / "data"


def cache_dir() -> Path:
    """Folder of the embedding cache (`BENCH_CACHE` overrides)."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env).expanduser() if env else bench_home() / "cache"


def safe_name(name: str, what: str = "name") -> str:
    """`name` as one file or folder name: '/' becomes '__' (task names are `suite/task`); a name that could
    reach outside its folder (a '.' or '..' part, an empty part, a backslash, a NUL) raises ValueError."""
    parts = str(name).split("/")
    if not name or "\\" in name or "\x00" in name or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{what} {name!r} cannot be used in a file or folder name (it is empty or has a '.', '..' "
                         f"or empty part, a backslash or a NUL); rename it, e.g. letters, digits, '-', '_' and '/'")
    return str(name).replace("/", "__")


def _write_probe(folder: Path) -> None:
    probe = folder / f".bench-write-probe-{os.getpid()}"
    probe.write_bytes(b"bench")
    probe.unlink()


def ensure_writable(folder: Path, what: str, min_free: int = MIN_FREE_BYTES) -> Path:
    """Create `folder` if needed and prove it takes a file and has `min_free` bytes free on its disk; raise
    StorageError naming `what` (e.g. "results folder (--out)") and the fix otherwise. Returns the folder."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise StorageError(f"{what} '{folder}' is a file, not a folder; pass a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_probe(folder)
    except OSError as err:
        reason = err.strerror or str(err)
        raise StorageError(f"{what} '{folder}' is not writable ({reason}); fix its permissions or choose another "
                           f"folder") from err
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise StorageError(f"{what} '{folder}': only {free / 2**20:.1f} MiB free on its disk, bench needs at least "
                           f"{min_free / 2**20:.0f} MiB; free some space or choose a folder on another disk")
    return folder
