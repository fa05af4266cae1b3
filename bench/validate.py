"""Check a task against its loaded items before any encoder is loaded.

`validate_task` lists every problem at once (protocol configs, split column and values, label column and values,
classes the protocols cannot learn or select on), one line each naming the file, item or field and the fix, and
raises `TaskInvalid`; what only weakens the numbers (tiny splits) comes back as warnings.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

CLASS_KINDS = ("multiclass", "multilabel")
MIN_TRAIN_PER_CLASS = 5  # fewer train clips of a class than this: a warning
_ITEM_PROBLEMS_SHOWN = 5  # per-item problems of one kind listed before the rest are counted


class TaskInvalid(ValueError):
    """A task that cannot be scored on its items; the message lists every problem, one per line."""


def validate_task(task: TaskSpec, items: list[dict[str, Any]]) -> list[str]:
    """Warnings about `task` on `items` (e.g. tiny splits); raises TaskInvalid listing every problem.

    Checks: each protocol's config (keys, types, choices), label kind and main score; the split column and values;
    the group column; the label column and each item's label (as the protocols read it); and for multiclass and
    multilabel tasks that every class has a train and a validation item (k-fold: a train item in every rotation).
    """
    from bench.protocols.splits import split_problems

    problems = _protocol_problems(task)
    warnings: list[str] = []
    if not items:
        problems.append(f"{task.file}: the dataset has no items; check dataset.path")
    else:
        splits = split_problems(task, items)
        problems += splits + _group_problems(task, items)
        labels, label_problems = _labels(task, items)
        problems += label_problems
        if task.label_kind in CLASS_KINDS and not splits and not label_problems:
            class_problems, warnings = _class_coverage(task, items, labels)
            problems += class_problems
    if problems:
        raise TaskInvalid(f"{task.file}: {len(problems)} problem(s) with this task's data; fix them and run again:\n"
                          + "\n".join(f"- {p}" for p in problems))
    return warnings


def _protocol_problems(task: TaskSpec) -> list[str]:
    """Config, label kind and main score of each protocol."""
    from bench.protocols.registry import PROTOCOLS, validate_protocol_config

    problems = []
    for spec in task.protocols:
        where = f"{task.file}: protocol '{spec.kind}'"
        try:
            validate_protocol_config(task, spec)
        except ValueError as err:
            problems.append(str(err))
            continue
        kinds = PROTOCOLS[spec.kind].label_kinds
        if kinds and task.label_kind not in kinds:
            problems.append(f"{where} scores {', '.join(kinds)} labels, not '{task.label_kind}' (label.kind); "
                            f"change label.kind or drop the protocol")
            continue
        allowed = _main_scores(spec.kind, task.label_kind)
        if allowed is not None and spec.main_score not in allowed:
            problems.append(f"{where}: main_score '{spec.main_score}' is not computed for {task.label_kind} labels; "
                            f"choose one of {', '.join(allowed)}")
    return problems


def _main_scores(kind: str, label_kind: str) -> tuple[str, ...] | None:
    """The main scores a protocol can report for a label kind, where that depends on the label kind."""
    if kind in ("linear", "mlp", "knn"):
        from bench.metrics import METRICS

        return tuple(METRICS[label_kind])
    if kind == "generative":
        from bench.protocols.generative import METRIC_NAMES

        return METRIC_NAMES[label_kind]
    return None


def _capped(problems: list[str], what: str, task: TaskSpec) -> list[str]:
    """The first few per-item problems and a count of the rest."""
    if len(problems) <= _ITEM_PROBLEMS_SHOWN:
        return problems
    rest = len(problems) - _ITEM_PROBLEMS_SHOWN
    return problems[:_ITEM_PROBLEMS_SHOWN] + [f"{task.file}: ... and {rest} more items with {what}"]


def _group_problems(task: TaskSpec, items: list[dict[str, Any]]) -> list[str]:
    from bench.protocols.labels import item_id

    if task.group is None:
        return []
    missing = [item_id(task, item, i) for i, item in enumerate(items) if _empty(item.get(task.group))]
    if not missing:
        return []
    shown = ", ".join(missing[:_ITEM_PROBLEMS_SHOWN])
    return [f"{task.file}: {len(missing)} item(s) have no value in the group column '{task.group}' (field group): "
            f"{shown}{' ...' if len(missing) > _ITEM_PROBLEMS_SHOWN else ''}; fill it in, or name another column"]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float)
                                                                               and value != value)


def _labels(task: TaskSpec, items: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    """Each item's label as the protocols read it, and the problems (a missing column is one line)."""
    from bench.protocols.labels import item_id, item_label

    if all(spec.kind == "verification" for spec in task.protocols):
        return [], []  # verification reads trials.jsonl, never the label column
    column = task.label_column
    if not any(column in item for item in items):
        fields = sorted({str(k) for item in items for k in item if not str(k).startswith("_")})
        return [], [f"{task.file}: no item has the label column '{column}' (field label.column); set it to one of "
                    f"the fields present: {', '.join(fields[:15])}"]
    check = item_label if task.label_kind in ("multiclass", "multilabel", "regression") else _other_label
    labels, problems = [], []
    for i, item in enumerate(items):
        try:
            labels.append(check(task, item, i))
        except ValueError as err:
            problems.append(str(err))
    if "counting" in {spec.kind for spec in task.protocols}:
        for i, item in enumerate(items):
            value = item.get(column)
            if not _is_count(value):
                problems.append(f"{task.file}: item '{item_id(task, item, i)}', label column '{column}': protocol "
                                f"'counting' needs a speaker count (1, 2, ...), got {value!r}")
    return labels, _capped(problems, "label problems", task)


def _is_count(value: Any) -> bool:
    """A speaker count as the counting protocol reads it: 1, 2, "3" ... (not "03", not 2.5)."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return False
    return count >= 1 and str(count) == str(value).strip()


def _is_event(event: Any) -> bool:
    """[onset_s, offset_s, label] with 0 <= onset < offset, as the events protocol reads it."""
    try:
        return isinstance(event, (list, tuple)) and len(event) == 3 and float(event[1]) > float(event[0]) >= 0
    except (TypeError, ValueError):
        return False


def _other_label(task: TaskSpec, item: dict[str, Any], index: int) -> Any:
    """The label of a captions, transcripts, events, segments or trials item, checked as its protocols read it."""
    from bench.protocols.labels import item_id

    kind, value = task.label_kind, item.get(task.label_column)
    where = f"{task.file}: item '{item_id(task, item, index)}', label column '{task.label_column}'"
    if kind == "captions":
        captions = [value] if isinstance(value, str) else value
        ok = isinstance(captions, list) and captions and all(isinstance(c, str) and c.strip() for c in captions)
        expected = "a caption string or a non-empty list of them"
    elif kind == "transcripts":
        ok, expected = isinstance(value, str) and bool(value.strip()), "a non-empty transcript string"
    elif kind == "events":
        ok = isinstance(value, (list, tuple)) and all(_is_event(e) for e in value)
        expected = "a list of [onset_s, offset_s, label] with 0 <= onset < offset"
    elif kind == "segments":
        ok = isinstance(value, str) and bool(value.strip()) or isinstance(value, list)
        expected = "a list of [start_s, end_s, speaker] or the path of an RTTM file"
    else:
        ok, expected = value is not None, "a value"
    if not ok:
        raise ValueError(f"{where}: expected {expected}, got {value!r}; fix the manifest row")
    return value


def _class_coverage(task: TaskSpec, items: list[dict[str, Any]], labels: list[Any]) -> tuple[list[str], list[str]]:
    """Problems and warnings about where each class's clips fall among the split parts."""
    from bench.protocols.splits import roles

    column = task.split.column
    role_of = {value: role for role, value, _ in roles(task)}
    per_class: dict[Any, Counter] = {}
    for item, label in zip(items, labels):
        role = role_of.get(str(item[column]))
        if role is None:
            continue  # left out of every split part
        for name in (label if task.label_kind == "multilabel" else [label]):
            per_class.setdefault(name, Counter())[role] += 1
    if len({type(c) for c in per_class}) > 1:
        return [f"{task.file}: label column '{task.label_column}' mixes strings and integers; use one type"], []
    problems, single = [], []
    for name, counts in sorted(per_class.items()):
        if sum(counts.values()) == 1:
            single.append(f"'{name}' ({next(iter(counts))})")
    if single:
        problems.append(f"{task.file}: {len(single)} class(es) have a single clip: {', '.join(single[:10])}"
                        f"{' ...' if len(single) > 10 else ''}; a class needs a train and a validation clip at "
                        f"least: add clips or drop these items")
    singles = {name for name, counts in per_class.items() if sum(counts.values()) == 1}
    rest = {name: counts for name, counts in per_class.items() if name not in singles}
    if task.split.is_kfold:
        more, warnings = _kfold_coverage(task, rest)
    else:
        more, warnings = _fixed_coverage(task, rest, items)
    return problems + more, warnings


def _where_counts(counts: Counter) -> str:
    return ", ".join(f"{role} {n}" for role, n in sorted(counts.items()))


def _fixed_coverage(task: TaskSpec, per_class: dict[Any, Counter],
                    items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    problems = []
    for name, counts in sorted(per_class.items()):
        lacking = [role for role in ("train", "validation") if not counts[role]]
        if lacking:
            problems.append(f"{task.file}: class '{name}' has no {' and no '.join(lacking)} item (clips per split: "
                            f"{_where_counts(counts)}); every class needs at least one train and one validation "
                            f"item: move clips between splits or drop the class")
    warnings = []
    n_val = sum(1 for item in items if str(item[task.split.column]) == task.split.validation)
    if n_val < len(per_class):
        warnings.append(f"{task.file}: {n_val} validation items for {len(per_class)} classes: selection on "
                        f"validation will be noisy")
    few = sorted(f"'{name}' ({counts['train']})" for name, counts in per_class.items()
                 if 0 < counts["train"] < MIN_TRAIN_PER_CLASS)
    if few:
        warnings.append(f"{task.file}: {len(few)} class(es) have fewer than {MIN_TRAIN_PER_CLASS} train items: "
                        f"{', '.join(few[:10])}{' ...' if len(few) > 10 else ''}")
    return problems, warnings


def _kfold_coverage(task: TaskSpec, per_class: dict[Any, Counter]) -> tuple[list[str], list[str]]:
    """Rotation i: test = fold i, validation = fold i+1, train = the rest. Every class needs a train item in every
    rotation (an error); a class missing from a rotation's validation fold is a warning."""
    folds = [f"fold '{f}'" for f in task.split.folds]
    problems, no_val = [], []
    for name, counts in sorted(per_class.items()):
        bad_tests = [folds[i] for i in range(len(folds))
                     if not any(counts[folds[k]] for k in range(len(folds)) if k not in (i, (i + 1) % len(folds)))]
        if bad_tests:
            problems.append(f"{task.file}: class '{name}' has no train item when {', '.join(bad_tests)} is the test "
                            f"fold (clips per fold: {_where_counts(counts)}); spread its clips over more folds "
                            f"or drop the class")
        elif any(not counts[f] for f in folds):
            no_val.append(f"'{name}'")
    warnings = []
    if no_val:
        warnings.append(f"{task.file}: {len(no_val)} class(es) are missing from some fold, so some rotations "
                        f"validate without them: {', '.join(no_val[:10])}{' ...' if len(no_val) > 10 else ''}")
    return problems, warnings
