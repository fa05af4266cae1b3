"""Every catalog task (tasks/xares, tasks/hear, tasks/maeb) validates against its dataset prepared from a fake
copy of the published layout (bench.prepare.fakes); no data, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.catalog import all_tasks
from bench.data import load_dataset
from bench.prepare import fakes, prepare
from bench.prepare.status import BENCHMARKS, catalog_status
from bench.taskspec import TaskSpec
from bench.validate import validate_task


def catalog_tasks() -> dict[str, TaskSpec]:
    return {n: t for n, t in all_tasks().items() if n.split("/")[0] in BENCHMARKS}


def fake_source(task: TaskSpec, root: Path) -> Path:
    """A fake copy of the published layout the task's dataset is prepared from."""
    name = task.dataset.name
    root.mkdir(parents=True, exist_ok=True)
    if name.startswith("hear-"):
        task_name, _, mode = name.removeprefix("hear-").partition("-")
        kind = "events" if task.label_kind == "events" else task.label_kind
        return fakes.fake_hear(root, task_name, len(task.split.folds), kind, mode or "full")
    if name.startswith("xares-"):
        return fakes.fake_xares(root, name.removeprefix("xares-"), task.split.folds)
    return getattr(fakes, f"fake_{name}")(root)


def test_the_catalogs_have_the_peers_tasks():
    names = set(catalog_tasks())
    assert len([n for n in names if n.startswith("xares/")]) == 22  # the 22 public tasks
    assert len([n for n in names if n.startswith("hear/")]) == 20  # beehive states in both hive rotations
    assert {"xares/esc50", "hear/esc50", "maeb/esc50", "hear/maestro", "xares/clotho", "xares/desed",
            "xares/maestro", "xares/librispeech_asr"} <= names


def test_every_catalog_task_validates_against_its_fixture(tmp_path):
    tasks = catalog_tasks()
    prepared: set[str] = set()
    problems = {}
    for name, task in sorted(tasks.items()):
        dataset = task.dataset.name
        if dataset not in prepared:
            prepare(dataset, fake_source(task, tmp_path / dataset))
            prepared.add(dataset)
        try:
            validate_task(task, load_dataset(task, progress=False).items)
        except ValueError as err:
            problems[name] = str(err)
    assert problems == {}
    assert all(row["ready"] for benchmark in BENCHMARKS for row in catalog_status(benchmark))


def test_catalog_status_says_how_to_prepare_when_no_data_exists():
    rows = catalog_status("xares")
    assert rows and not any(row["ready"] for row in rows)
    esc50 = next(row for row in rows if row["task"] == "xares/esc50")
    assert esc50["dataset"] == "esc50"
    assert "bench data prepare esc50 --from DIR" in esc50["how"] and "karolpiczak/ESC-50" in esc50["how"]
    with pytest.raises(KeyError, match="unknown benchmark"):
        catalog_status("superb")


def test_builtin_suites_do_not_pick_up_catalog_tasks():
    from bench.catalog import resolve_tasks

    for suite in ("builtin-quick", "builtin", "generative-quick", "generative"):
        chosen = [t.name for t in resolve_tasks(suite=suite)]
        assert chosen and not any(n.split("/")[0] in BENCHMARKS for n in chosen)
