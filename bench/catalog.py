"""Find task files and suites: the shipped `tasks/` folder plus folders listed in `BENCH_TASKS_PATH`."""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from bench.taskspec import TaskSpec, TaskSpecError, load_task_file


@dataclass(frozen=True)
class Suite:
    """A named group of tasks: fnmatch patterns over task names; a pattern starting with '!' excludes."""

    name: str
    description: str
    patterns: tuple[str, ...]
    file: str

    def matches(self, task_name: str) -> bool:
        """True when the task belongs to this suite."""
        included = any(fnmatch.fnmatchcase(task_name, p) for p in self.patterns if not p.startswith("!"))
        return included and not any(fnmatch.fnmatchcase(task_name, p[1:]) for p in self.patterns if p.startswith("!"))


def task_roots() -> list[Path]:
    """Folders searched for task YAMLs: the shipped tasks, then `BENCH_TASKS_PATH` (os.pathsep-separated)."""
    import bench.tasks

    roots = [Path(bench.tasks.__file__).parent]
    extra = os.environ.get("BENCH_TASKS_PATH", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return roots


def _yaml_files(root: Path, suites: bool) -> list[Path]:
    files = sorted(root.rglob("*.yaml"))
    return [f for f in files if (f.parent.name == "suites") == suites]


def all_tasks() -> dict[str, TaskSpec]:
    """Every task by name; two files with the same task name raise."""
    tasks: dict[str, TaskSpec] = {}
    for root in task_roots():
        for path in _yaml_files(root, suites=False):
            task = load_task_file(path)
            if task.name in tasks:
                raise TaskSpecError(f"{path}: task name '{task.name}' is already defined in {tasks[task.name].file}")
            tasks[task.name] = task
    return tasks


def all_suites() -> dict[str, Suite]:
    """Every suite by name (files under a `suites/` folder: name, description, tasks: [patterns])."""
    import yaml

    suites: dict[str, Suite] = {}
    for root in task_roots():
        for path in _yaml_files(root, suites=True):
            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or "name" not in data:
                raise TaskSpecError(f"{path}: a suite file needs 'name' and a list 'tasks' of task-name patterns")
            if data["name"] in suites:
                raise TaskSpecError(f"{path}: suite '{data['name']}' is already defined in {suites[data['name']].file}")
            suites[data["name"]] = Suite(data["name"], str(data.get("description", "")),
                                         tuple(str(p) for p in data["tasks"]), str(path))
    return suites


def _unknown(kind: str, name: str, known: list[str]) -> KeyError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return KeyError(f"unknown {kind} '{name}'.{hint} See `bench list {kind}s`.")


def suite_tasks(name: str, tasks: dict[str, TaskSpec] | None = None) -> list[TaskSpec]:
    """The tasks of a suite, in name order."""
    tasks = all_tasks() if tasks is None else tasks
    suites = all_suites()
    if name not in suites:
        raise _unknown("suite", name, sorted(suites))
    chosen = [t for n, t in sorted(tasks.items()) if suites[name].matches(n)]
    if not chosen:
        raise KeyError(f"suite '{name}' ({suites[name].file}) matches no task")
    return chosen


def resolve_tasks(suite: str | None = None, names: list[str] | None = None) -> list[TaskSpec]:
    """Tasks from a suite name and/or task names, name patterns or YAML paths (deduplicated, in order)."""
    tasks = all_tasks()
    chosen: list[TaskSpec] = suite_tasks(suite, tasks) if suite else []
    for name in names or []:
        if name.endswith((".yaml", ".yml")) and Path(name).exists():
            chosen.append(load_task_file(name))
            continue
        matched = [t for n, t in sorted(tasks.items()) if fnmatch.fnmatchcase(n, name)]
        if not matched:
            raise _unknown("task", name, sorted(tasks))
        chosen.extend(matched)
    unique: dict[str, TaskSpec] = {}
    for task in chosen:
        unique.setdefault(task.name, task)
    if not unique:
        raise ValueError("no task chosen: pass --suite NAME or --tasks NAME [NAME ...]")
    return list(unique.values())
