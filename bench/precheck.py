"""What `bench.run` checks before any encoder work: every task's data loads and validates, and an encoder that
is not registered passes the fast conformance checks (once per cache key, remembered in its cache folder)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.encoder import Encoder
from bench.taskspec import TaskSpec

logger = logging.getLogger(__name__)

CHECK_FILE = "check.json"


class EncoderCheckFailed(ValueError):
    """An unregistered encoder failed the fast conformance checks that `bench run` applies before its first run."""


@dataclass
class PreparedTask:
    """A task with its loaded dataset and validation warnings, or the error that stops it."""

    task: TaskSpec
    dataset: Any = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def one_line(err: BaseException) -> str:
    """An exception as one line: its type, then its message's lines joined by '; '."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {'; '.join(lines)}" if lines else type(err).__name__


def _validator():
    """The task validator (a seam for tests)."""
    from bench.validate import validate_task

    return validate_task


def prepare_tasks(tasks: Sequence[TaskSpec], *, data_seed: int, progress: bool,
                  debug: bool = False) -> list[PreparedTask]:
    """Load and validate every task's dataset; a task that fails gets its error (all problems, one line) instead
    of stopping the others. Problems and warnings are printed as they are found."""
    from bench.data import load_dataset

    validate = _validator()
    prepared = []
    for task in tasks:
        entry = PreparedTask(task)
        try:
            entry.dataset = load_dataset(task, seed=data_seed, progress=progress)
            entry.warnings = list(validate(task, entry.dataset.items))
        except Exception as err:  # reported and recorded; the other tasks go on
            if debug:
                import traceback

                traceback.print_exc()
            entry.dataset, entry.error = None, one_line(err)
            logger.warning(f"[bench] {task.name}: invalid, will not run:\n    "
                           + "\n    ".join(str(err).splitlines()))
        for warning in entry.warnings:
            logger.warning(f"[bench] {task.name}: warning: {warning}")
        prepared.append(entry)
    return prepared


def conformance_gate(encoder: Encoder, reference: str | None, cache_folder: Path, *, skip: bool,
                     checkpoint: str | None = None) -> dict[str, Any]:
    """The result's `check` block. A registered encoder (`reference` None or a plain name) is not checked here.
    Any other runs the fast conformance checks once per cache key; the outcome is kept in `cache_folder/check.json`
    so later runs skip them; a failure raises EncoderCheckFailed naming the failed checks and the fix."""
    if reference is None or ":" not in reference:
        return {"ran": False, "passed": None, "skipped_by_user": False}
    if skip:
        return {"ran": False, "passed": None, "skipped_by_user": True}
    from bench.check import quick_check
    from bench.results import now_utc, write_json_atomic

    path = Path(cache_folder) / CHECK_FILE
    stored = None
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            stored = None
    if not isinstance(stored, dict) or "checks" not in stored:
        logger.info(f"[bench] {reference}: not a registered encoder; running the fast conformance checks once "
                    f"(remembered in {path})")
        stored = {"reference": reference, "created_utc": now_utc(),
                  "checks": [{"name": r.name, "passed": bool(r.passed), "detail": r.detail}
                             for r in quick_check(encoder, reference, checkpoint=checkpoint)]}
        write_json_atomic(path, stored)
    failed = [c["name"] for c in stored["checks"] if not c["passed"]]
    if failed:
        raise EncoderCheckFailed(f"encoder '{reference}' failed the conformance check(s) {', '.join(failed)}; run "
                                 f"`bench check {reference}` for details and fix the wrapper, or pass --no-check to "
                                 f"run it anyway")
    return {"ran": True, "passed": True, "skipped_by_user": False}
