import pytest
import yaml

from bench.catalog import all_tasks, resolve_tasks
from bench.taskspec import TaskSpecError, load_task_file, parse_task

BASE = {
    "name": "t", "version": 1, "domain": "sound",
    "dataset": {"source": "manifest", "path": "x"},
    "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["linear", {"kind": "knn"}],
}


def test_valid_task_gets_defaults():
    task = parse_task(BASE, "t.yaml")
    assert task.label_column == "label" and task.channels == "mix" and task.pooling == "mean"
    assert [p.kind for p in task.protocols] == ["linear", "knn"]
    assert all(p.main_score == "accuracy" and p.higher_is_better for p in task.protocols)


@pytest.mark.parametrize("change, field", [
    ({"domain": "cooking"}, "domain"),
    ({"version": "one"}, "version"),
    ({"label": {"kind": "poetry"}}, "kind"),
    ({"protocols": [{"kind": "telepathy"}]}, "kind"),
    ({"dataset": {"source": "manifest"}}, "path"),
    ({"audio": {"channels": "left"}}, "channels"),
    ({"colour": "blue"}, "colour"),
    ({"split": {"folds": [1, 2]}}, "folds"),
])
def test_errors_name_file_and_field(change, field):
    with pytest.raises(TaskSpecError) as err:
        parse_task({**BASE, **change}, "tasks/demo.yaml")
    assert "tasks/demo.yaml" in str(err.value) and field in str(err.value)


def test_missing_field_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    data = dict(BASE)
    del data["label"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TaskSpecError, match=r"bad.yaml: missing required field 'label'"):
        load_task_file(path)


def test_regression_main_score_is_r2():
    task = parse_task({**BASE, "label": {"kind": "regression"}}, "t.yaml")
    assert task.protocols[0].main_score == "r2"


def test_extra_task_folders_and_duplicates(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine/a"}))
    monkeypatch.setenv("BENCH_TASKS_PATH", str(folder))
    assert "mine/a" in all_tasks()
    assert [t.name for t in resolve_tasks(names=["mine/*"])] == ["mine/a"]
    with pytest.raises(KeyError, match="mine/a"):
        resolve_tasks(names=["mine/b"])
    (folder / "b.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine/a"}))
    with pytest.raises(TaskSpecError, match="already defined"):
        all_tasks()


def test_shipped_tasks_all_validate():
    tasks = all_tasks()
    for task in tasks.values():
        assert task.version >= 1


def test_suite_patterns_include_and_exclude(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    (folder / "suites").mkdir(parents=True)
    for name in ("mine/a", "mine/b", "mine/slow"):
        (folder / f"{name.split('/')[1]}.yaml").write_text(yaml.safe_dump({**BASE, "name": name}))
    (folder / "suites" / "s.yaml").write_text(yaml.safe_dump({"name": "mine", "tasks": ["mine/*", "!mine/slow"]}))
    monkeypatch.setenv("BENCH_TASKS_PATH", str(folder))
    assert [t.name for t in resolve_tasks(suite="mine")] == ["mine/a", "mine/b"]
