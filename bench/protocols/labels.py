"""Turn the label column of a task's items into arrays: class indices, 0/1 matrices or floats."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

# The label kinds that encode_labels turns into arrays.
LABEL_KINDS = ("multiclass", "multilabel", "regression")


def item_id(task: TaskSpec, item: dict[str, Any], index: int) -> str:
    """The id of an item for error messages (its position when it has none)."""
    return str(item.get(task.dataset.id_column, item.get("id", f"#{index}")))


def _where(task: TaskSpec, item: dict[str, Any], index: int) -> str:
    return f"{task.file}: item '{item_id(task, item, index)}', label column '{task.label_column}'"


def _class_name(value: Any, task: TaskSpec, item: dict[str, Any], index: int) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{_where(task, item, index)}: a class name must be a string or an integer, "
                         f"got {type(value).__name__} ({value!r})")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{_where(task, item, index)}: the class name is empty; fill it in or drop the item")
    return value


def item_label(task: TaskSpec, item: dict[str, Any], index: int) -> Any:
    """One item's label, checked for `task.label_kind`: a class name (multiclass), a list of class names
    (multilabel, possibly empty) or a finite number (regression). ValueError names the item and the column."""
    kind, value = task.label_kind, item.get(task.label_column)
    if value is None or (isinstance(value, float) and value != value and kind != "regression"):
        present = ", ".join(sorted(k for k in item if not str(k).startswith("_"))[:12])
        raise ValueError(f"{_where(task, item, index)}: the label is missing (fields present: {present}); "
                         f"fill it in, or set label.column to the column that holds it")
    if kind == "multiclass":
        return _class_name(value, task, item, index)
    if kind == "multilabel":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{_where(task, item, index)}: a multilabel label must be a list of class names, "
                             f"got {type(value).__name__} ({value!r})")
        return [_class_name(c, task, item, index) for c in value]
    if kind == "regression":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{_where(task, item, index)}: a regression label must be a finite number, "
                             f"got {type(value).__name__} ({value!r})")
        return value
    raise ValueError(f"{task.file}: label kind '{kind}' is not one of {', '.join(LABEL_KINDS)}, "
                     f"which this protocol needs")


def _sorted_classes(values: set, task: TaskSpec) -> list:
    if len({type(v) for v in values}) > 1:
        raise ValueError(f"{task.file}: label column '{task.label_column}' mixes strings and integers "
                         f"({sorted(map(repr, values))[:6]}); use one type")
    return sorted(values)


def encode_labels(task: TaskSpec, items: list[dict[str, Any]]) -> tuple[np.ndarray, list]:
    """Labels of all items by `task.label_kind`, and the class list (sorted set over all items; [] for regression).

    multiclass: a string (or int) per item -> int64 [N] class indices.
    multilabel: a list of strings (or ints) per item, possibly empty -> float32 [N, C] of 0/1.
    regression: a number per item -> float32 [N].
    """
    kind = task.label_kind
    if kind not in LABEL_KINDS:
        raise ValueError(f"{task.file}: label kind '{kind}' is not one of {', '.join(LABEL_KINDS)}, "
                         f"which this protocol needs")
    values = [item_label(task, item, i) for i, item in enumerate(items)]
    if kind == "multiclass":
        classes = _sorted_classes(set(values), task)
        lookup = {c: k for k, c in enumerate(classes)}
        return np.array([lookup[v] for v in values], dtype=np.int64), classes
    if kind == "multilabel":
        classes = _sorted_classes({c for v in values for c in v}, task)
        lookup = {c: k for k, c in enumerate(classes)}
        y = np.zeros((len(items), len(classes)), dtype=np.float32)
        for i, v in enumerate(values):
            y[i, [lookup[c] for c in v]] = 1.0
        return y, classes
    return np.array(values, dtype=np.float32), []
