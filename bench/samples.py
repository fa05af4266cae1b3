"""The per-item samples sidecar of a result: `<task>.samples.jsonl.gz` beside `<task>.json`.

One JSON object per line (gzip): a protocol's sample row (see bench.scoring for the row formats) tagged with
`protocol` (its index in the result's `protocols` list) and `kind`. `bench.rescore` recomputes every score of the
result from this file alone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SUFFIX = ".samples.jsonl.gz"


def samples_path(result_json: str | Path) -> Path:
    """`<dir>/<task>.samples.jsonl.gz` for the result `<dir>/<task>.json`."""
    path = Path(result_json)
    if path.suffix != ".json":
        raise ValueError(f"{path}: a result file ends in .json; its samples are <name>{SUFFIX}")
    return path.with_name(path.name[:-len(".json")] + SUFFIX)


def write_samples(path: str | Path, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Write rows as gzip JSONL atomically (temp file + os.replace); returns {"file", "sha256", "rows"}.

    The gzip header carries no file name or time, so the same rows give the same bytes (and sha256).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")  # same folder: os.replace is atomic
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
                for row in rows:
                    out.write(json.dumps(row, separators=(",", ":")).encode() + b"\n")
                    n += 1
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"file": path.name, "sha256": file_sha256(path), "rows": n}


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a samples file; a missing, truncated or malformed file raises naming it (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: samples file not found (results written before samples existed have none; "
                                f"re-run the task with --force to make it)")
    rows = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path}:{n}: not a JSON object ({err.msg}); the file is damaged, "
                                         f"re-run the task with --force") from None
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err}); re-run the task with --force") from None
    return rows


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (to compare with the result's `samples.sha256`)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
