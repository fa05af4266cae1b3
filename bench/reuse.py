"""When a result already on disk may stand for a new run: only when every input that can change its numbers is
the same (encoder cache key, whole task spec, data, seeds, protocol code, bad-audio mode) and its samples sidecar
is intact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.taskspec import TaskSpec, spec_sha256


def reuse_inputs(*, cache_key: str, task: TaskSpec, fingerprint: str, seeds: list[int], code: dict[str, str],
                 on_bad_audio: str) -> dict[str, Any]:
    """The inputs a stored result must match to be reused (in the shape `stored_inputs` reads them back)."""
    return {"cache_key": cache_key, "spec_sha256": spec_sha256(task), "fingerprint": fingerprint,
            "seeds": list(seeds), "code": dict(sorted(code.items())), "on_bad_audio": on_bad_audio}


def stored_inputs(record: dict[str, Any]) -> dict[str, Any]:
    """The same inputs as recorded in a result JSON."""
    task = record.get("task", {})
    return {"cache_key": record.get("cache", {}).get("key"), "spec_sha256": task.get("spec_sha256"),
            "fingerprint": task.get("dataset_fingerprint"), "seeds": record.get("seeds"),
            "code": dict(sorted((p.get("kind"), p.get("code_sha256")) for p in record.get("protocols", []))),
            "on_bad_audio": record.get("on_bad_audio")}


def reusable(path: Path, want: dict[str, Any]) -> bool:
    """True when `path` holds a successful result made from exactly the inputs `want` (from `reuse_inputs`)."""
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return (isinstance(old, dict) and old.get("status") == "ok" and stored_inputs(old) == want
            and samples_intact(path, old))


def samples_intact(path: Path, record: dict[str, Any]) -> bool:
    """The result's samples sidecar exists with the sha256 it recorded (so the result can still be rescored)."""
    from bench.samples import file_sha256, samples_path

    meta = record.get("samples") or {}
    sidecar = samples_path(path)
    return bool(meta.get("sha256")) and sidecar.exists() and file_sha256(sidecar) == meta["sha256"]
