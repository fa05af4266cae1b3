"""Turn the label column of a task's items into arrays: class indices, 0/1 matrices or floats."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec


def item_id(task: "TaskSpec", item: dict[str, Any], index: int) -> str:
    """The id of an item for error messages (its position when it has none)."""
    return str(item.get(task.dataset.id_column, item.get("id", f"#{index}")))


def _where(task: "TaskSpec", item: dict[str, Any], index: int) -> str:
    return f"{task.file}: item '{item_id(task, item, index)}', label column '{task.label_column}'"


def _class_name(value: Any, task: "TaskSpec", item: dict[str, Any], index: int) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{_where(task, item, index)}: a class name must be a string or an integer, "
                         f"got {type(value).__name__} ({value!r})")
    return value


def _sorted_classes(values: set, task: "TaskSpec") -> list:
    if len({type(v) for v in values}) > 1:
        raise ValueError(f"{task.file}: label column '{task.label_column}' mixes strings and integers "
                         f"({sorted(map(repr, values))[:6]}); use one type")
    return sorted(values)


def encode_labels(task: "TaskSpec", items: list[dict[str, Any]]) -> tuple[np.ndarray, list]:
    """Labels of all items by `task.label_kind`, and the class list (sorted set over all items; [] for regression).

    multiclass: a string (or int) per item -> int64 [N] class indices.
    multilabel: a list of strings (or ints) per item, possibly empty -> float32 [N, C] of 0/1.
    regression: a number per item -> float32 [N].
    """
    kind = task.label_kind
    values = []
    for i, item in enumerate(items):
        value = item.get(task.label_column)
        if value is None:
            raise ValueError(f"{_where(task, item, i)}: the label is missing")
        values.append(value)

    if kind == "multiclass":
        names = [_class_name(v, task, items[i], i) for i, v in enumerate(values)]
        classes = _sorted_classes(set(names), task)
        lookup = {c: k for k, c in enumerate(classes)}
        return np.array([lookup[v] for v in names], dtype=np.int64), classes

    if kind == "multilabel":
        lists = []
        for i, v in enumerate(values):
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"{_where(task, items[i], i)}: a multilabel label must be a list of class names, "
                                 f"got {type(v).__name__} ({v!r})")
            lists.append([_class_name(c, task, items[i], i) for c in v])
        classes = _sorted_classes({c for v in lists for c in v}, task)
        lookup = {c: k for k, c in enumerate(classes)}
        y = np.zeros((len(items), len(classes)), dtype=np.float32)
        for i, v in enumerate(lists):
            y[i, [lookup[c] for c in v]] = 1.0
        return y, classes

    if kind == "regression":
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{_where(task, items[i], i)}: a regression label must be a finite number, "
                                 f"got {type(v).__name__} ({v!r})")
        return np.array(values, dtype=np.float32), []

    raise ValueError(f"{task.file}: label kind '{kind}' is not one of multiclass, multilabel, regression, "
                     f"which this protocol needs")
