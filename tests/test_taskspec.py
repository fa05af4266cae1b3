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


def test_group_is_an_optional_manifest_column():
    assert parse_task(BASE, "t.yaml").group is None
    assert parse_task({**BASE, "group": "speaker"}, "t.yaml").group == "speaker"
    with pytest.raises(TaskSpecError, match=r"t.yaml: field 'group'"):
        parse_task({**BASE, "group": ["speaker"]}, "t.yaml")


def test_spec_sha256_covers_every_field_but_the_file_path():
    from bench.taskspec import spec_sha256

    plain = spec_sha256(parse_task(BASE, "a.yaml"))
    assert plain == spec_sha256(parse_task(BASE, "elsewhere/b.yaml"))
    # a default written out resolves to the same spec
    assert plain == spec_sha256(parse_task({**BASE, "audio": {"pooling": "mean"}}, "a.yaml"))
    changes = [{"group": "speaker"}, {"description": "other words"}, {"chance": 0.5},
               {"split": {"column": "split", "validation": "dev"}}, {"protocols": ["linear", {"kind": "knn", "k": 5}]},
               {"extra": {"note": 1}}, {"audio": {"max_seconds": 4}}]
    hashes = {spec_sha256(parse_task({**BASE, **change}, "a.yaml")) for change in changes}
    assert len(hashes) == len(changes) and plain not in hashes


def test_main_score_must_be_a_metric_of_the_protocol():
    with pytest.raises(TaskSpecError, match=r"t.yaml: protocols\[0\]: main_score 'acuracy' is not a metric of "
                                            r"protocol 'linear'.*accuracy"):
        parse_task({**BASE, "protocols": [{"kind": "linear", "main_score": "acuracy"}]}, "t.yaml")


def test_kinds_and_directions_come_from_the_registry():
    from bench.protocols.registry import PROTOCOLS, higher_is_better
    from bench.taskspec import LOWER_IS_BETTER, PROTOCOL_KINDS

    assert PROTOCOL_KINDS == tuple(PROTOCOLS)
    assert {"eer", "der", "wer", "mae", "a2t_medr"} <= LOWER_IS_BETTER and "accuracy" not in LOWER_IS_BETTER
    spec = parse_task({**BASE, "label": {"kind": "regression"},
                       "protocols": [{"kind": "linear", "main_score": "mae"}]}, "t.yaml").protocols[0]
    assert spec.higher_is_better is False and higher_is_better("min_dcf_0.2") is False


TIERED = {
    "version": 1, "domain": "sound", "dataset": {"source": "builtin", "name": "gen"},
    "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["linear", "knn"],
    "tiers": {
        "quick": {"name": "mine-quick/x", "dataset": {"tier": "quick"}},
        "full": {"name": "mine/x", "dataset": {"tier": "full"}, "protocols": [{"kind": "knn", "k": 5}],
                 "chance": 0.1},
    },
}


def test_a_tiers_block_yields_one_task_per_tier_merged_deeply(tmp_path):
    from bench.taskspec import load_tasks, spec_sha256

    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(TIERED, sort_keys=False))
    quick, full = load_tasks(path)
    shared = {k: v for k, v in TIERED.items() if k != "tiers"}
    # each tier is exactly the task written out in full: mappings merge, lists and scalars replace
    assert spec_sha256(quick) == spec_sha256(parse_task(
        {**shared, "name": "mine-quick/x", "dataset": {"source": "builtin", "name": "gen", "tier": "quick"}}, "y"))
    assert spec_sha256(full) == spec_sha256(parse_task(
        {**shared, "name": "mine/x", "dataset": {"source": "builtin", "name": "gen", "tier": "full"},
         "protocols": [{"kind": "knn", "k": 5}], "chance": 0.1}, "y"))
    assert quick.file == full.file == str(path)
    assert load_task_file(path, "full").name == "mine/x"
    with pytest.raises(TaskSpecError, match=r"x\.yaml: holds one task per tier \(mine-quick/x, mine/x\)"):
        load_task_file(path)
    with pytest.raises(TaskSpecError, match=r"x\.yaml: no tier 'standard' \(its tiers: quick, full\)"):
        load_task_file(path, "standard")


@pytest.mark.parametrize("tiers, message", [
    ({"quick": {"name": "a", "dataset": {"tier": "quick"}}, "full": {"name": "b", "domain": "cooking"}},
     r"x\.yaml \[tier full\]: field 'domain' is 'cooking'"),
    ({"quick": {"name": "a"}, "full": {"name": "b", "colour": "blue"}},
     r"x\.yaml \[tier full\]: unknown field.*colour"),
    ({"quick": {"dataset": {"tier": "quick"}}}, r"x\.yaml \[tier quick\]: missing required field 'name'"),
    ({"quick": {"name": "a"}, "full": {"name": "a"}}, r"x\.yaml \[tier full\]: task name 'a' is also the name"),
    ({"quick": "builtin-quick/x"}, r"x\.yaml \[tier quick\]: a tier must be a mapping"),
    ([{"name": "a"}], r"x\.yaml: field 'tiers' must map each tier"),
    ({}, r"x\.yaml: field 'tiers' must map each tier"),
])
def test_tier_errors_name_the_file_the_tier_and_the_field(tmp_path, tiers, message):
    from bench.taskspec import load_tasks

    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({**TIERED, "tiers": tiers}, sort_keys=False))
    with pytest.raises(TaskSpecError, match=message):
        load_tasks(path)


def test_tiered_files_in_a_task_folder_and_by_path(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "x.yaml").write_text(yaml.safe_dump(TIERED, sort_keys=False))
    monkeypatch.setenv("BENCH_TASKS_PATH", str(folder))
    assert {"mine-quick/x", "mine/x"} <= set(all_tasks())
    assert [t.name for t in resolve_tasks(names=["mine/*"])] == ["mine/x"]
    assert [t.name for t in resolve_tasks(names=[str(folder / "x.yaml")])] == ["mine-quick/x", "mine/x"]
    (folder / "y.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine/x"}))
    with pytest.raises(TaskSpecError, match=r"y\.yaml: task name 'mine/x' is already defined in .*x\.yaml"):
        all_tasks()


def test_shipped_builtin_files_define_each_task_once_per_tier():
    from pathlib import Path

    from bench.taskspec import load_tasks

    folder = Path(__file__).resolve().parents[1] / "tasks" / "builtin"
    for path in sorted(folder.glob("*.yaml")):
        tasks = load_tasks(path)
        assert [(t.name, t.dataset.tier) for t in tasks] == [(f"builtin-quick/{path.stem}", "quick"),
                                                              (f"builtin/{path.stem}", "full")], path


def test_caveats_are_parsed_and_leave_the_spec_hash_alone(tmp_path):
    from pathlib import Path

    from bench.taskspec import load_tasks as load_task
    from bench.taskspec import spec_sha256

    base = yaml.safe_load((Path(__file__).parents[1] / "tasks/builtin/gender.yaml").read_text())
    base["dataset"] = {**base["dataset"]}
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(base))
    flagged = tmp_path / "flagged.yaml"
    flagged.write_text(yaml.safe_dump({**base, "caveats": ["one voice per language"]}))
    tasks_plain, tasks_flagged = load_task(plain), load_task(flagged)
    assert tasks_flagged[0].caveats == ("one voice per language",)
    assert tasks_plain[0].caveats == ()
    assert [spec_sha256(t) for t in tasks_plain] == [spec_sha256(t) for t in tasks_flagged]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**base, "caveats": "not a list"}))
    with pytest.raises(TaskSpecError, match="caveats"):
        load_task(bad)
