"""Where bench keeps generated data, caches and downloads: `$BENCH_HOME`, default `~/.cache/bench`."""

from __future__ import annotations

import os
from pathlib import Path


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
