"""Train / validation / test index arrays of a task: fixed splits, or k folds rotated HEAR-style."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

Fold = tuple[np.ndarray, np.ndarray, np.ndarray]
_SHOWN = 5  # item ids or values quoted in a message


def _listed(values: list[str], limit: int = _SHOWN) -> str:
    """'a, b, c' or 'a, b, c ... (12 in all)'."""
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} ... ({len(values)} in all)"


def roles(task: TaskSpec) -> list[tuple[str, str, str]]:
    """(role, split value, task field) for every part the split needs: train/validation/test, or each fold."""
    spec = task.split
    if spec.is_kfold:
        return [(f"fold '{f}'", f, "split.folds") for f in spec.folds]
    return [("train", spec.train, "split.train"), ("validation", spec.validation, "split.validation"),
            ("test", spec.test, "split.test")]


def split_problems(task: TaskSpec, items: list[dict[str, Any]]) -> list[str]:
    """Every reason the items cannot be split as the task says, one line each (empty when they can)."""
    spec, column = task.split, task.split.column
    missing = [item_id(task, item, i) for i, item in enumerate(items) if item.get(column) is None]
    if missing:
        fields = sorted({str(k) for item in items for k in item if not str(k).startswith("_")})
        others = f" (nor have {len(missing) - 1} other items: {_listed(missing[1:])})" if len(missing) > 1 else ""
        return [f"{task.file}: item '{missing[0]}' has no split column '{column}'{others}; add it to the manifest, "
                f"or set split.column to the column holding the split (fields present: {_listed(fields, 12)})"]
    if spec.is_kfold:
        if len(set(spec.folds)) < len(spec.folds):
            return [f"{task.file}: split folds repeat a value: {list(spec.folds)}; list each fold once (split.folds)"]
    elif len({spec.train, spec.validation, spec.test}) < 3:
        return [f"{task.file}: split values train/validation/test must differ, got "
                f"{(spec.train, spec.validation, spec.test)} (split.train, split.validation, split.test)"]
    values = {str(item[column]) for item in items}
    present = _listed(sorted(values), 10)
    return [f"{task.file}: the {role} split is empty: no item has {column} = '{value}' (values present: {present}); "
            f"set {field} to one of them" for role, value, field in roles(task) if value not in values]


def split_indices(task: TaskSpec, items: list[dict[str, Any]]) -> list[Fold]:
    """(train, validation, test) item indices: one triple for fixed splits, one per fold for k-fold.

    k-fold: for fold i, test = fold i, validation = fold i+1 (wrapping), train = the other folds.
    Items whose split value is none of the listed ones are left out. Values compare as strings.
    A split that cannot be made raises ValueError with the first of `split_problems`.
    """
    problems = split_problems(task, items)
    if problems:
        raise ValueError(problems[0])
    values = np.array([str(item[task.split.column]) for item in items], dtype=object)
    members = [np.flatnonzero(values == value) for _, value, _ in roles(task)]
    if not task.split.is_kfold:
        return [tuple(members)]
    out = []
    for i in range(len(members)):
        j = (i + 1) % len(members)
        train = np.sort(np.concatenate([m for k, m in enumerate(members) if k not in (i, j)]))
        out.append((train, members[j], members[i]))
    return out
