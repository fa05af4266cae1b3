"""Result records: one JSON per encoder x task, with provenance; written atomically."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def run_label(encoder_name: str, layer: str = "last") -> str:
    """The name a run goes by in result folders, tables and comparisons: the encoder's name for the default layer,
    else `<name>@layer-<layer>` (a `--layer all` or `--layer 3` run is a system of its own: it never overwrites,
    nor shares a row with, the default run)."""
    return encoder_name if str(layer) == "last" else f"{encoder_name}@layer-{layer}"


def record_label(record: dict[str, Any]) -> str:
    """`run_label` of a result record."""
    return run_label(record["encoder"]["name"], record.get("layer", "last"))


def result_path(out_dir: Path, encoder_name: str, task_name: str, layer: str = "last") -> Path:
    """`<out>/<run label>/<task>.json` (see `run_label`; slashes in names become '__'; a name that could leave
    `out_dir` raises)."""
    from bench.paths import safe_name

    folder = safe_name(run_label(encoder_name, layer), "encoder name")
    return Path(out_dir) / folder / f"{safe_name(task_name, 'task name')}.json"


def error_path(path: Path) -> Path:
    """Where a failed run's error record goes when a good result already holds `path` (`<task>.error.json`)."""
    return path.with_name(path.name[:-len(".json")] + ".error.json")


def read_status(path: Path) -> str | None:
    """The `status` of the result record at `path`, or None when there is none (or it cannot be read)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record.get("status") if isinstance(record, dict) else None


@cache
def git_sha() -> str:
    """The commit of the bench checkout in use, or 'unknown' (e.g. installed from a wheel); memoised, so that a
    long run records the commit it started from even if the checkout moves on meanwhile."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


@cache
def git_dirty() -> bool | None:
    """True when the bench checkout has uncommitted changes (`git status --porcelain` not empty), None when it
    is not a git checkout; memoised like `git_sha`, so it describes the code at the start of the run."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def environment(device: str, dtype: str) -> dict[str, Any]:
    """Versions and machine facts that can change numbers."""
    import numpy
    import torch

    import bench

    versions = {"bench": bench.__version__, "numpy": numpy.__version__, "torch": torch.__version__}
    for module in ("sklearn", "transformers", "faiss"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    return {
        "python": platform.python_version(), "platform": platform.platform(), "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
        "dtype": dtype, "threads": torch.get_num_threads(), "versions": versions,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "git_dirty": git_dirty(),
    }


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary file and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w") as handle:
        json.dump(payload, handle, indent=1, sort_keys=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def now_utc() -> str:
    """ISO-8601 UTC timestamp, seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every result JSON under `results_dir` (recursively); a malformed file raises naming it."""
    records = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}); delete it and re-run that task") from err
        if not isinstance(record, dict) or "schema_version" not in record:
            continue  # not a result record (e.g. a leaderboard export)
        record["_file"] = str(path)
        records.append(record)
    return records
