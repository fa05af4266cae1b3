"""The protocol registry (schemas, metric directions) and task validation before any encoder is loaded."""

import re

import pytest

from bench.protocols.registry import (
    PROTOCOLS,
    higher_is_better,
    protocol_defaults,
    protocol_function,
    validate_protocol_config,
)
from bench.taskspec import parse_task

BASE = {
    "name": "t", "version": 1, "domain": "sound",
    "dataset": {"source": "manifest", "path": "x"},
    "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["linear"],
}


def _task(protocol: dict, **changes):
    return parse_task({**BASE, **changes, "protocols": [protocol]}, "tasks/demo.yaml")


def test_every_registered_protocol_resolves_its_function_and_defaults():
    for kind in PROTOCOLS:
        assert callable(protocol_function(kind)) and protocol_defaults(kind)
    assert protocol_function("telepathy") is None


def test_registry_defaults_are_the_protocol_modules_constants():
    from bench.protocols import generative, knn, probe

    assert protocol_defaults("linear") == probe.LINEAR_DEFAULTS and protocol_defaults("knn") == knn.KNN_DEFAULTS
    assert protocol_defaults("generative") == {**generative.NUMERIC_DEFAULTS, **generative.OTHER_DEFAULTS}


@pytest.mark.parametrize("metric, up", [("accuracy", True), ("map", True), ("r2", True), ("mae", False),
                                        ("eer", False), ("min_dcf_0.01", False), ("min_dcf_0.3", False),
                                        ("der", False), ("der_oracle", False), ("count_accuracy", True),
                                        ("a2t_r@1", True), ("t2a_medr", False), ("onset_f1", True),
                                        ("wer", False), ("text_only_cer", False), ("bleu", True),
                                        ("unparseable_rate", False)])
def test_metric_directions(metric, up):
    assert higher_is_better(metric) is up


def test_unknown_metric_is_named():
    with pytest.raises(KeyError, match="'acuracy'"):
        higher_is_better("acuracy")


@pytest.mark.parametrize("protocol, key", [
    ({"kind": "linear", "lr": [0.1]}, "lr"),  # typo of lrs
    ({"kind": "linear", "lrs": 0.1}, "lrs"),  # not a list
    ({"kind": "linear", "max_epochs": 10.5}, "max_epochs"),
    ({"kind": "knn", "k": "ten"}, "k"),
    ({"kind": "mlp", "dropout": True}, "dropout"),
    ({"kind": "linear", "lrs": ["fast"]}, "lrs"),
])
def test_protocol_config_errors_name_file_protocol_and_key(protocol, key):
    task = _task(protocol)
    with pytest.raises(ValueError) as err:
        validate_protocol_config(task, task.protocols[0])
    message = str(err.value)
    assert message.startswith(f"tasks/demo.yaml: protocol '{protocol['kind']}': ")
    assert re.search(rf"(config '{key}' must be|unknown config key\(s\) {key};)", message)


@pytest.mark.parametrize("protocol, label_kind, key, allowed", [
    ({"kind": "verification", "main_score": "eer", "score_norm": "znorm"}, "trials", "score_norm", "snorm"),
    ({"kind": "qbe", "pooled_match": "farthest"}, "multiclass", "pooled_match", "centroid"),
    ({"kind": "retrieval", "main_score": "a2t_r@1", "backend": "annoy"}, "captions", "backend", "faiss"),
    ({"kind": "generative", "tier": "huge"}, "multiclass", "tier", "standard"),
    ({"kind": "diarization", "main_score": "der", "centre": "test"}, "segments", "centre", "train"),
])
def test_values_outside_choices_list_the_choices(protocol, label_kind, key, allowed):
    task = _task(protocol, label={"kind": label_kind})
    pattern = rf"tasks/demo.yaml: protocol '{protocol['kind']}': config '{key}' .*{allowed}"
    with pytest.raises(ValueError, match=pattern):
        validate_protocol_config(task, task.protocols[0])


def test_valid_configs_pass_including_nullable_keys():
    for protocol, label_kind in [({"kind": "linear", "lrs": [1e-3, 1], "max_epochs": 5}, "multiclass"),
                                 ({"kind": "verification", "main_score": "eer", "cohort_top_k": None}, "trials"),
                                 ({"kind": "verification", "main_score": "eer", "cohort_top_k": 50}, "trials"),
                                 ({"kind": "zeroshot", "heldout_classes": ["a", "b"], "text_column": None},
                                  "multiclass"),
                                 ({"kind": "generative", "tier": "standard", "prompt": "Say it."}, "multiclass")]:
        task = _task(protocol, label={"kind": label_kind})
        assert validate_protocol_config(task, task.protocols[0]) is None


# ---- validate_task: problems found before any encoder is loaded ----

def _items(spec: dict[str, list[str]], label_column: str = "label", split_column: str = "split") -> list[dict]:
    """Items from {split value: [class of each item]}."""
    return [{"id": f"{split}{i}", split_column: split, label_column: label}
            for split, labels in spec.items() for i, label in enumerate(labels)]


BALANCED = {"train": ["a"] * 5 + ["b"] * 5, "validation": ["a", "a", "b", "b"], "test": ["a", "b"]}


def _invalid(task, items) -> list[str]:
    """The problem lines of the TaskInvalid that validate_task raises."""
    from bench.validate import TaskInvalid, validate_task

    with pytest.raises(TaskInvalid) as err:
        validate_task(task, items)
    lines = str(err.value).splitlines()
    assert lines[0].startswith("tasks/demo.yaml: ")
    assert all(line.startswith("- tasks/demo.yaml: ") for line in lines[1:])
    return lines[1:]


def _validate(task, items) -> list[str]:
    from bench.validate import validate_task

    return validate_task(task, items)


def test_a_sound_task_passes_without_warnings():
    assert _validate(_task({"kind": "linear"}), _items(BALANCED)) == []


def test_every_problem_is_listed_at_once():
    task = _task({"kind": "linear", "lr": [0.1]}, split={"column": "split", "validation": "val"})
    problems = _invalid(task, _items(BALANCED))
    assert len(problems) == 2
    assert "unknown config key(s) lr" in problems[0]
    assert "no item has split = 'val' (values present: test, train, validation); set split.validation" in problems[1]


def test_missing_split_column_lists_the_fields_present():
    [problem] = _invalid(_task({"kind": "linear"}), _items(BALANCED, split_column="part"))
    assert "has no split column 'split'" in problem and "nor have 15 other items" in problem
    assert "fields present: id, label, part" in problem


def test_wrong_label_column_lists_the_fields_present():
    task = _task({"kind": "linear"}, label={"kind": "multiclass", "column": "class"})
    [problem] = _invalid(task, _items(BALANCED))
    assert "no item has the label column 'class' (field label.column)" in problem and "id, label, split" in problem


@pytest.mark.parametrize("extra_split, lacking", [("test", "no train and no validation item"),
                                                  ("validation", "no train item")])
def test_a_class_missing_from_train_or_validation_is_refused(extra_split, lacking):
    spec = {k: list(v) for k, v in BALANCED.items()}
    spec[extra_split] += ["c", "c"]
    [problem] = _invalid(_task({"kind": "linear"}), _items(spec))
    assert f"class 'c' has {lacking}" in problem and f"{extra_split} 2" in problem


def test_a_class_without_validation_items_is_refused():
    spec = {**BALANCED, "train": BALANCED["train"] + ["c"] * 5}
    [problem] = _invalid(_task({"kind": "linear"}), _items(spec))
    assert "class 'c' has no validation item (clips per split: train 5)" in problem


def test_a_class_with_a_single_clip_is_refused():
    spec = {**BALANCED, "train": BALANCED["train"] + ["lonely"]}
    [problem] = _invalid(_task({"kind": "linear"}), _items(spec))
    assert "1 class(es) have a single clip: 'lonely' (train)" in problem


def test_an_empty_label_cell_is_refused_naming_the_item():
    items = _items(BALANCED)
    items[3]["label"] = " "
    [problem] = _invalid(_task({"kind": "linear"}), items)
    assert "item 'train3', label column 'label': the class name is empty" in problem


def test_per_item_problems_are_capped_and_counted():
    items = _items(BALANCED)
    for item in items:
        item["label"] = None
    problems = _invalid(_task({"kind": "linear"}), items)
    assert len(problems) == 6 and problems[-1].endswith(f"... and {len(items) - 5} more items with label problems")


def test_few_train_items_per_class_give_a_warning():
    spec = {"train": ["a", "a", "b", "b", "b", "c", "c", "c", "c", "c"], "validation": ["a", "b", "c"],
            "test": ["a", "b", "c"]}
    assert _validate(_task({"kind": "linear"}), _items(spec)) == [
        "tasks/demo.yaml: 2 class(es) have fewer than 5 train items: 'a' (2), 'b' (3)"]


def test_fewer_validation_items_than_classes_give_a_warning():
    task = _task({"kind": "linear"}, label={"kind": "multilabel"})
    spec = {"train": [["a"]] * 5 + [["b"]] * 5 + [["c"]] * 5 + [[]], "validation": [["a", "b"], ["c"]],
            "test": [["a"], ["b", "c"]]}
    assert _validate(task, _items(spec)) == ["tasks/demo.yaml: 2 validation items for 3 classes: selection on "
                                             "validation will be noisy"]


def test_a_multilabel_tag_only_in_test_is_refused_and_empty_tag_lists_are_fine():
    task = _task({"kind": "linear"}, label={"kind": "multilabel"})
    spec = {"train": [["a"]] * 5 + [["b"]] * 5 + [[]], "validation": [["a"], ["b"]], "test": [["a", "rare"], ["rare"]]}
    [problem] = _invalid(task, _items(spec))
    assert "class 'rare' has no train and no validation item (clips per split: test 2)" in problem
    spec["test"] = [["a"], ["b"]]
    assert _validate(task, _items(spec)) == []


def _kfold_items(classes_per_fold: dict[int, str]) -> list[dict]:
    return [{"id": f"f{fold}-{i}", "fold": fold, "label": c}
            for fold, classes in classes_per_fold.items() for i, c in enumerate(classes * 5)]


def test_kfold_every_class_needs_a_train_item_in_every_rotation():
    task = _task({"kind": "linear"}, split={"column": "fold", "folds": [1, 2, 3]})
    assert _validate(task, _kfold_items({1: "ab", 2: "ab", 3: "ab"})) == []
    # 'c' only in folds 1 and 2: when fold 1 is tested, fold 2 validates and fold 3 alone trains
    [problem] = _invalid(task, _kfold_items({1: "abc", 2: "abc", 3: "ab"}))
    assert "class 'c' has no train item when fold '1' is the test fold" in problem


def test_kfold_a_class_missing_from_one_fold_of_four_is_a_warning():
    task = _task({"kind": "linear"}, split={"column": "fold", "folds": [1, 2, 3, 4]})
    warnings = _validate(task, _kfold_items({1: "abc", 2: "abc", 3: "abc", 4: "ab"}))
    assert warnings == ["tasks/demo.yaml: 1 class(es) are missing from some fold, so some rotations validate "
                        "without them: 'c'"]


def test_kfold_fold_values_absent_are_listed():
    task = _task({"kind": "linear"}, split={"column": "fold", "folds": [1, 2, 3]})
    [problem] = _invalid(task, _kfold_items({1: "ab", 2: "ab"}))
    assert "the fold '3' split is empty: no item has fold = '3' (values present: 1, 2); set split.folds" in problem


@pytest.mark.parametrize("label_kind, protocol, label, fix", [
    ("captions", {"kind": "retrieval", "main_score": "a2t_r@1"}, "", "a caption string"),
    ("transcripts", {"kind": "generative", "main_score": "wer"}, ["a list"], "a non-empty transcript"),
    ("events", {"kind": "events", "main_score": "onset_f1"}, [[2.0, 1.0, "dog"]], "0 <= onset < offset"),
    ("segments", {"kind": "diarization", "main_score": "der"}, 3, "RTTM file"),
])
def test_other_label_kinds_check_what_their_protocols_read(label_kind, protocol, label, fix):
    good = {"captions": "a dog barks", "transcripts": "hello there", "events": [[0.5, 1.0, "dog"]],
            "segments": [[0.0, 1.0, "s1"]]}[label_kind]
    task = _task(protocol, label={"kind": label_kind})
    items = [{"id": f"{s}{i}", "split": s, "label": good} for s in ("train", "validation", "test") for i in range(2)]
    assert _validate(task, items) == []
    items[4]["label"] = label
    [problem] = _invalid(task, items)
    assert "item 'test0', label column 'label'" in problem and fix in problem
    [problem] = _invalid(task, [dict(it, split="dev" if it["split"] == "validation" else it["split"]) for it in
                                items[:4] + items[5:]])
    assert "no item has split = 'validation' (values present: dev, test, train)" in problem


def test_verification_needs_no_label_column_but_its_split_values():
    task = _task({"kind": "verification", "main_score": "eer"}, label={"kind": "trials", "column": "speaker"})
    items = [{"id": f"{s}{i}", "split": s} for s in ("train", "validation", "test") for i in range(2)]
    assert _validate(task, items) == []
    problems = _invalid(task, items[:2])  # train only: one line for each empty part
    assert [p.split(": ")[1] for p in problems] == ["the validation split is empty", "the test split is empty"]


def test_a_protocol_that_cannot_score_the_label_kind_is_refused():
    task = _task({"kind": "linear", "main_score": "accuracy"}, label={"kind": "captions"})
    [problem] = _invalid(task, _items(BALANCED))
    assert "protocol 'linear' scores multiclass, multilabel, regression labels, not 'captions'" in problem


def _regression_items() -> list[dict]:
    return [{"id": f"{s}{i}", "split": s, "label": float(i)} for s in ("train", "validation", "test") for i in range(3)]


def test_a_main_score_of_another_label_kind_is_refused():
    task = _task({"kind": "linear", "main_score": "accuracy"}, label={"kind": "regression"})
    items = _regression_items()
    [problem] = _invalid(task, items)
    assert "main_score 'accuracy' is not computed for regression labels; choose one of mae, r2" in problem


def test_regression_labels_must_be_finite_numbers():
    task = _task({"kind": "linear"}, label={"kind": "regression"})
    items = _regression_items()
    assert _validate(task, items) == []
    items[2]["label"] = "tall"
    [problem] = _invalid(task, items)
    assert "item 'train2', label column 'label': a regression label must be a finite number" in problem


def test_counting_needs_speaker_counts():
    task = _task({"kind": "counting", "main_score": "accuracy"})
    spec = {"train": ["1", "2"] * 5, "validation": ["1", "2"], "test": ["1", "2"]}
    assert _validate(task, _items(spec)) == []
    spec["test"] = ["1", "two"]
    problems = _invalid(task, _items(spec))
    assert any("protocol 'counting' needs a speaker count (1, 2, ...), got 'two'" in p for p in problems)


def test_the_group_column_must_be_filled_in():
    task = _task({"kind": "linear"}, group="speaker")
    items = [dict(it, speaker=f"s{i % 3}") for i, it in enumerate(_items(BALANCED))]
    assert _validate(task, items) == []
    items[0]["speaker"] = ""
    [problem] = _invalid(task, items)
    assert "1 item(s) have no value in the group column 'speaker' (field group): train0" in problem


def test_every_shipped_task_has_valid_protocols():
    """Only parses (nothing is generated): each built-in task's protocol configs, label kinds and main scores."""
    from bench.catalog import all_tasks
    from bench.validate import _protocol_problems

    tasks = all_tasks()
    assert tasks
    assert {name: _protocol_problems(task) for name, task in tasks.items() if _protocol_problems(task)} == {}
