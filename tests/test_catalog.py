"""The task catalog: extra task folders, files that do not load, and task paths that do not exist."""

import pytest
import yaml

from bench.catalog import all_suites, all_tasks, resolve_tasks, suite_tasks, task_roots
from bench.taskspec import TaskSpecError

BASE = {
    "name": "t", "version": 1, "domain": "sound",
    "dataset": {"source": "manifest", "path": "x"},
    "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["linear"],
}


@pytest.fixture
def user_tasks(tmp_path, monkeypatch):
    """A BENCH_TASKS_PATH folder with a good task, a task with a bad field and a file that is not YAML."""
    folder = tmp_path / "mine"
    (folder / "suites").mkdir(parents=True)
    (folder / "good.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine/good"}))
    (folder / "bad_field.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine/bad", "domain": "cooking"}))
    (folder / "suites" / "ok.yaml").write_text(yaml.safe_dump({"name": "mine-ok", "tasks": ["mine/good"]}))
    (folder / "suites" / "all.yaml").write_text(yaml.safe_dump({"name": "mine-all", "tasks": ["mine/*"]}))
    monkeypatch.setenv("BENCH_TASKS_PATH", str(folder))
    return folder


def test_a_broken_task_file_is_skipped_with_a_warning_naming_it(user_tasks):
    (user_tasks / "garbled.yaml").write_text("name: [unclosed\n")
    with pytest.warns(UserWarning, match="does not load") as caught:
        tasks = all_tasks()
    assert "mine/good" in tasks and "mine/bad" not in tasks
    assert any("garbled.yaml: not valid YAML" in str(w.message) for w in caught)
    assert any("bad_field.yaml" in str(w.message) and "domain" in str(w.message) for w in caught)
    for request in ({"names": ["mine/good"]}, {"suite": "mine-ok"}):
        with pytest.warns(UserWarning, match="does not load") as caught:
            assert [t.name for t in resolve_tasks(**request)] == ["mine/good"]
        assert sorted(str(w.message).split(": ")[1].rsplit("/", 1)[1] for w in caught) == ["bad_field.yaml",
                                                                                            "garbled.yaml"]


def test_a_broken_task_file_raises_when_its_task_is_requested(user_tasks):
    with pytest.raises(TaskSpecError, match=r"bad_field\.yaml.*domain"):
        resolve_tasks(names=["mine/bad"])
    with pytest.raises(TaskSpecError, match=r"bad_field\.yaml"):
        resolve_tasks(names=["mine/*"])  # the pattern could mean the broken task
    with pytest.raises(TaskSpecError, match=r"bad_field\.yaml"):
        resolve_tasks(suite="mine-all")


def test_an_unreadable_task_file_is_listed_when_a_name_matches_nothing(user_tasks):
    (user_tasks / "garbled.yaml").write_text("name: [unclosed\n")
    with pytest.raises(KeyError, match=r"unknown task 'mine/other'.*garbled\.yaml"):
        resolve_tasks(names=["mine/other"])


def test_a_broken_suite_file_is_skipped_and_raises_when_requested(user_tasks):
    (user_tasks / "suites" / "broken.yaml").write_text(yaml.safe_dump({"name": "mine-broken", "tasks": "mine/*"}))
    with pytest.warns(UserWarning, match=r"broken\.yaml"):
        assert "mine-ok" in all_suites() and "mine-broken" not in all_suites()
    with pytest.raises(TaskSpecError, match=r"broken\.yaml: a suite file needs"):
        suite_tasks("mine-broken", tasks={})


def test_a_missing_task_file_is_reported_as_not_found(tmp_path):
    missing = tmp_path / "missin.yaml"
    with pytest.raises(FileNotFoundError, match=f"task file not found: {missing}"):
        resolve_tasks(names=[str(missing)])


@pytest.mark.filterwarnings("ignore:skipped a task file")
def test_extra_roots_are_searched_after_the_environment(tmp_path, user_tasks):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "x.yaml").write_text(yaml.safe_dump({**BASE, "name": "extra/x"}))
    assert task_roots([extra])[-2:] == [user_tasks, extra]
    assert [t.name for t in resolve_tasks(names=["extra/x"], extra_roots=[extra])] == ["extra/x"]
    with pytest.raises(KeyError, match="unknown task 'extra/x'"):
        resolve_tasks(names=["extra/x"])


def test_suite_tasks_alone_also_raises_for_a_broken_member(user_tasks):
    with pytest.raises(TaskSpecError, match=r"bad_field\.yaml"):
        suite_tasks("mine-all")
    assert [t.name for t in suite_tasks("mine-ok")] == ["mine/good"]


def test_a_broken_tier_breaks_its_file_and_raises_for_either_tier_name(user_tasks):
    tiered = {**BASE, "tiers": {"quick": {"name": "mine-quick/t"}, "full": {"name": "mine/t", "split": "oops"}}}
    del tiered["name"]
    (user_tasks / "tiered.yaml").write_text(yaml.safe_dump(tiered))
    with pytest.warns(UserWarning, match="does not load") as caught:
        tasks = all_tasks()
    assert any("tiered.yaml [tier full]: field 'split' must be dict" in str(w.message) for w in caught)
    assert "mine-quick/t" not in tasks and "mine/t" not in tasks
    for name in ("mine-quick/t", "mine/t"):
        with pytest.raises(TaskSpecError, match=r"tiered\.yaml \[tier full\]: field 'split'"):
            resolve_tasks(names=[name])
