"""bench.protocols.splits: fixed splits, HEAR fold rotation and the error messages."""

import numpy as np
import pytest

from bench.protocols.splits import split_indices
from bench.taskspec import parse_task


def _task(split):
    return parse_task({"name": "t", "version": 1, "domain": "sound", "dataset": {"source": "builtin", "name": "x"},
                       "label": {"kind": "multiclass"}, "split": split, "protocols": ["linear"]}, "tasks/t.yaml")


def test_fixed_splits_give_one_triple():
    items = [{"id": f"i{i}", "split": s} for i, s in enumerate(["train", "test", "validation", "train", "other"])]
    [(train, val, test)] = split_indices(_task({"column": "split"}), items)
    assert train.tolist() == [0, 3] and val.tolist() == [2] and test.tolist() == [1]


def test_kfold_rotation():
    folds = [1, 2, 3, 4, 5]
    items = [{"id": f"i{i}", "fold": folds[i % 5]} for i in range(23)]  # integer values match the folds as strings
    triples = split_indices(_task({"column": "fold", "folds": folds}), items)
    assert len(triples) == 5
    fold_of = np.array([it["fold"] for it in items])
    tested = []
    for i, (train, val, test) in enumerate(triples):
        assert set(fold_of[test]) == {folds[i]}
        assert set(fold_of[val]) == {folds[(i + 1) % 5]}
        assert set(fold_of[train]) == set(folds) - {folds[i], folds[(i + 1) % 5]}
        assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
        assert len(train) + len(val) + len(test) == len(items)
        tested.extend(test.tolist())
    assert sorted(tested) == list(range(len(items)))  # every item tested exactly once


def test_missing_column_names_the_item():
    items = [{"id": "a", "split": "train"}, {"id": "b"}]
    with pytest.raises(ValueError, match=r"tasks/t.yaml: item 'b' has no split column 'split'"):
        split_indices(_task({"column": "split"}), items)


def test_empty_split_names_file_column_and_value():
    items = [{"id": "a", "split": "train"}, {"id": "b", "split": "test"}]
    with pytest.raises(ValueError, match=r"tasks/t.yaml: the validation split is empty: no item has split = 'dev'"):
        split_indices(_task({"column": "split", "validation": "dev"}), items)
    with pytest.raises(ValueError, match=r"fold '3'.*fold = '3'"):
        split_indices(_task({"column": "fold", "folds": [1, 2, 3]}), [{"id": "a", "fold": 1}, {"id": "b", "fold": 2}])


def test_identical_split_values_are_refused():
    with pytest.raises(ValueError, match="must differ"):
        split_indices(_task({"column": "split", "validation": "train"}), [{"id": "a", "split": "train"}])


def test_problems_list_the_values_present_and_every_empty_part():
    from bench.protocols.splits import split_problems

    items = [{"id": "a", "split": "train"}, {"id": "b", "split": "dev"}, {"id": "c", "split": "eval"}]
    problems = split_problems(_task({"column": "split"}), items)
    assert problems == [
        "tasks/t.yaml: the validation split is empty: no item has split = 'validation' (values present: dev, eval, "
        "train); set split.validation to one of them",
        "tasks/t.yaml: the test split is empty: no item has split = 'test' (values present: dev, eval, train); "
        "set split.test to one of them"]
    assert split_problems(_task({"column": "split", "validation": "dev", "test": "eval"}), items) == []


def test_a_missing_split_column_counts_the_items_and_lists_the_fields():
    from bench.protocols.splits import split_problems

    items = [{"id": f"i{k}", "part": "train", "label": "x"} for k in range(8)]
    [problem] = split_problems(_task({"column": "split"}), items)
    assert problem == ("tasks/t.yaml: item 'i0' has no split column 'split' (nor have 7 other items: i1, i2, i3, i4, "
                       "i5 ... (7 in all)); add it to the manifest, or set split.column to the column holding the "
                       "split (fields present: id, label, part)")
