"""Train / validation / test index arrays of a task: fixed splits, or k folds rotated HEAR-style."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

Fold = tuple[np.ndarray, np.ndarray, np.ndarray]


def _column_values(task: "TaskSpec", items: list[dict[str, Any]]) -> np.ndarray:
    column = task.split.column
    values = []
    for i, item in enumerate(items):
        if column not in item:
            raise ValueError(f"{task.file}: item '{item_id(task, item, i)}' has no split column '{column}'")
        values.append(str(item[column]))
    return np.array(values, dtype=object)


def _select(task: "TaskSpec", values: np.ndarray, value: str, role: str) -> np.ndarray:
    idx = np.flatnonzero(values == value)
    if not len(idx):
        present = ", ".join(sorted(set(values.tolist()))[:10])
        raise ValueError(f"{task.file}: the {role} split is empty: no item has {task.split.column} = '{value}' "
                         f"(values present: {present})")
    return idx


def split_indices(task: "TaskSpec", items: list[dict[str, Any]]) -> list[Fold]:
    """(train, validation, test) item indices: one triple for fixed splits, one per fold for k-fold.

    k-fold: for fold i, test = fold i, validation = fold i+1 (wrapping), train = the other folds.
    Items whose split value is none of the listed ones are left out. Values compare as strings.
    """
    spec = task.split
    values = _column_values(task, items)
    if not spec.is_kfold:
        names = (spec.train, spec.validation, spec.test)
        if len(set(names)) < 3:
            raise ValueError(f"{task.file}: split values train/validation/test must differ, got {names}")
        return [tuple(_select(task, values, v, role) for v, role in zip(names, ("train", "validation", "test")))]

    folds = spec.folds
    if len(set(folds)) < len(folds):
        raise ValueError(f"{task.file}: split folds repeat a value: {list(folds)}")
    members = [_select(task, values, f, f"fold '{f}'") for f in folds]
    out = []
    for i in range(len(folds)):
        j = (i + 1) % len(folds)
        train = np.sort(np.concatenate([m for k, m in enumerate(members) if k not in (i, j)]))
        out.append((train, members[j], members[i]))
    return out
