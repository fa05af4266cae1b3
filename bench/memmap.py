"""Memory maps that cost no resident memory once read: used by the cache and the protocols that stream over a
memory-mapped matrix (no other `bench` import, so a protocol's code hash does not take in the cache)."""

from __future__ import annotations

import numpy as np


def release_pages(array: np.ndarray) -> None:
    """Drop the pages of a memory-mapped `array` (a view of one is fine) from this process's resident set: they stay
    in the page cache (written ones included) and the next read maps them again, so a loop that reads or writes a
    memory map chunk by chunk and releases it after each chunk holds one chunk in RSS, not the file. No-op for an
    array in memory or where madvise is missing."""
    import mmap

    handle = getattr(array, "_mmap", None)  # numpy.memmap keeps its mmap.mmap here (and in views of it)
    if handle is not None and hasattr(handle, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        handle.madvise(mmap.MADV_DONTNEED)
