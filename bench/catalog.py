"""Find task files and suites: the shipped `tasks/` folder, then the folders listed in `BENCH_TASKS_PATH`
(os.pathsep-separated), then any `extra_roots` a caller passes (`--tasks-path`)."""

from __future__ import annotations

import difflib
import fnmatch
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.taskspec import TaskSpec, TaskSpecError, load_tasks

T = TypeVar("T")


@dataclass(frozen=True)
class Suite:
    """A named group of tasks: fnmatch patterns over task names; a pattern starting with '!' excludes."""

    name: str
    description: str
    patterns: tuple[str, ...]
    file: str
    aggregates: tuple[str, ...] = ()  # names from bench.aggregates.AGGREGATES the leaderboard page shows

    def matches(self, task_name: str) -> bool:
        """True when the task belongs to this suite."""
        included = any(fnmatch.fnmatchcase(task_name, p) for p in self.patterns if not p.startswith("!"))
        return included and not any(fnmatch.fnmatchcase(task_name, p[1:]) for p in self.patterns if p.startswith("!"))


@dataclass(frozen=True)
class BrokenFile:
    """A task or suite file that could not be loaded: its path, the names it declares (empty if unreadable), why."""

    path: str
    names: tuple[str, ...]
    error: Exception


Roots = Sequence[str | Path] | None


def task_roots(extra_roots: Roots = None) -> list[Path]:
    """Folders searched for task YAMLs: the shipped tasks, then `BENCH_TASKS_PATH` (os.pathsep-separated), then
    `extra_roots` (e.g. from `--tasks-path`)."""
    import bench.tasks

    roots = [Path(bench.tasks.__file__).parent]
    extra = os.environ.get("BENCH_TASKS_PATH", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    roots += [Path(p).expanduser() for p in extra_roots or ()]
    return roots


def _yaml_files(root: Path, suites: bool) -> list[Path]:
    files = sorted(root.rglob("*.yaml"))
    return [f for f in files if (f.parent.name == "suites") == suites]


def _declared_names(path: Path) -> tuple[str, ...]:
    """The names a YAML file declares (its `name`, and the `name` of each entry of a `tiers:` block), when it can
    be read at all."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ()
    if not isinstance(data, dict):
        return ()
    tiers = data.get("tiers")
    entries = [data] + (list(tiers.values()) if isinstance(tiers, dict) else [])
    names = [entry.get("name") for entry in entries if isinstance(entry, dict)]
    return tuple(name for name in names if isinstance(name, str))


def _warn_skipped(broken: list[BrokenFile]) -> None:
    for bad in broken:
        warnings.warn(f"skipped a task file that does not load: {bad.error}", stacklevel=3)


def _load_or_note_broken(path: Path, load: Callable[[Path], T], broken: list[BrokenFile]) -> T | None:
    """`load(path)`, or None after noting the file in `broken` (with the names it declares) when it does not load."""
    try:
        return load(path)
    except (TaskSpecError, OSError, UnicodeDecodeError) as err:
        error = err if isinstance(err, TaskSpecError) else TaskSpecError(f"{path}: cannot be read ({err})")
        broken.append(BrokenFile(str(path), _declared_names(path), error))
        return None


def scan_tasks(extra_roots: Roots = None) -> tuple[dict[str, TaskSpec], list[BrokenFile]]:
    """Every task that loads, by name, and the files that do not (a file with a `tiers:` block loads all its tiers
    or none); two files with the same task name raise."""
    tasks: dict[str, TaskSpec] = {}
    broken: list[BrokenFile] = []
    for root in task_roots(extra_roots):
        for path in _yaml_files(root, suites=False):
            loaded = _load_or_note_broken(path, load_tasks, broken)
            if loaded is None:
                continue
            for task in loaded:
                if task.name in tasks:
                    raise TaskSpecError(f"{path}: task name '{task.name}' is already defined in "
                                        f"{tasks[task.name].file}")
                tasks[task.name] = task
    return tasks, broken


def all_tasks(extra_roots: Roots = None) -> dict[str, TaskSpec]:
    """Every task by name; a file that does not load is skipped with a warning naming it (it raises only when
    that task is requested, see `resolve_tasks`); two files with the same task name raise."""
    tasks, broken = scan_tasks(extra_roots)
    _warn_skipped(broken)
    return tasks


def _read_suite(path: Path) -> Suite:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise TaskSpecError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or "name" not in data:
        raise TaskSpecError(f"{path}: a suite file needs 'name' and a list 'tasks' of task-name patterns")
    return Suite(str(data["name"]), str(data.get("description", "")), tuple(str(p) for p in data["tasks"]), str(path),
                 _read_aggregates(path, data.get("aggregates")))


def _read_aggregates(path: Path, names) -> tuple[str, ...]:
    """The suite's `aggregates:` list, checked against bench.aggregates.AGGREGATES (absent: the defaults)."""
    from bench.aggregates import AGGREGATES, DEFAULT_AGGREGATES

    if names is None:
        return DEFAULT_AGGREGATES
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TaskSpecError(f"{path}: 'aggregates' must be a list of aggregate names, got {names!r}")
    unknown = [n for n in names if n not in AGGREGATES]
    if unknown:
        raise TaskSpecError(f"{path}: unknown aggregate(s) {', '.join(unknown)} in 'aggregates'; known: "
                            f"{', '.join(AGGREGATES)}")
    return tuple(names)


def scan_suites(extra_roots: Roots = None) -> tuple[dict[str, Suite], list[BrokenFile]]:
    """Every suite that loads, by name, and the suite files that do not; two suites with one name raise."""
    suites: dict[str, Suite] = {}
    broken: list[BrokenFile] = []
    for root in task_roots(extra_roots):
        for path in _yaml_files(root, suites=True):
            suite = _load_or_note_broken(path, _read_suite, broken)
            if suite is None:
                continue
            if suite.name in suites:
                raise TaskSpecError(f"{path}: suite '{suite.name}' is already defined in {suites[suite.name].file}")
            suites[suite.name] = suite
    return suites, broken


def all_suites(extra_roots: Roots = None) -> dict[str, Suite]:
    """Every suite by name (files under a `suites/` folder: name, description, tasks: [patterns]); a suite file
    that does not load is skipped with a warning naming it."""
    suites, broken = scan_suites(extra_roots)
    _warn_skipped(broken)
    return suites


def _unknown(kind: str, name: str, known: list[str], broken: list[BrokenFile] = ()) -> KeyError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    unread = [b.path for b in broken if not b.names]
    if unread:
        hint += f" These {kind} files do not load, so it may be in one of them: {', '.join(unread)}."
    return KeyError(f"unknown {kind} '{name}'.{hint} See `bench list {kind}s`.")


def _raise_if_broken(broken: list[BrokenFile], matches) -> None:
    """Raise the error of the first broken file with a declared name that `matches` accepts."""
    for bad in broken:
        if any(map(matches, bad.names)):
            raise bad.error


def suite_tasks(name: str, tasks: dict[str, TaskSpec] | None = None, extra_roots: Roots = None,
                broken_tasks: list[BrokenFile] = ()) -> list[TaskSpec]:
    """The tasks of a suite, in name order; a broken task file the suite would include raises its error."""
    if tasks is None:
        tasks, broken_tasks = scan_tasks(extra_roots)
    suites, broken_suites = scan_suites(extra_roots)
    if name not in suites:
        _raise_if_broken(broken_suites, lambda declared: declared == name)
        raise _unknown("suite", name, sorted(suites), broken_suites)
    _raise_if_broken(list(broken_tasks), suites[name].matches)
    chosen = [t for n, t in sorted(tasks.items()) if suites[name].matches(n)]
    if not chosen:
        raise KeyError(f"suite '{name}' ({suites[name].file}) matches no task")
    return chosen


def resolve_tasks(suite: str | None = None, names: list[str] | None = None,
                  extra_roots: Roots = None) -> list[TaskSpec]:
    """Tasks from a suite name and/or task names, name patterns or YAML paths (deduplicated, in order; a path to a
    file with a `tiers:` block means all its tiers).

    A task file that does not load breaks only the requests that could mean it: a name or pattern matching the
    name it declares raises its error; a name matching no task lists the files whose names cannot be read.
    """
    tasks, broken = scan_tasks(extra_roots)
    chosen: list[TaskSpec] = suite_tasks(suite, tasks, extra_roots, broken) if suite else []
    for name in names or []:
        if name.endswith((".yaml", ".yml")):
            if not Path(name).is_file():
                raise FileNotFoundError(f"task file not found: {name}")
            chosen.extend(load_tasks(name))
            continue
        _raise_if_broken(broken, lambda declared, pattern=name: fnmatch.fnmatchcase(declared, pattern))
        matched = [t for n, t in sorted(tasks.items()) if fnmatch.fnmatchcase(n, name)]
        if not matched:
            raise _unknown("task", name, sorted(tasks), broken)
        chosen.extend(matched)
    _warn_skipped(broken)
    unique: dict[str, TaskSpec] = {}
    for task in chosen:
        unique.setdefault(task.name, task)
    if not unique:
        raise ValueError("no task chosen: pass --suite NAME or --tasks NAME [NAME ...]")
    return list(unique.values())
