"""Aggregates on hand-computed tables; suite files declare which ones a leaderboard shows."""

import math

import pandas as pd
import pytest

from bench.aggregates import (
    TaskInfo,
    borda,
    chance_normalised,
    compute_aggregates,
    mean_rank,
    normalised_domain_mean,
    raw_domain_mean,
    task_ranks,
)
from bench.catalog import TaskSpecError, _read_suite, all_suites

TASKS = {
    "acc": TaskInfo("acc", "speech", "accuracy", True, 0.25),
    "eer": TaskInfo("eer", "speech", "eer", False, 0.5),
    "bleu": TaskInfo("bleu", "sound", "bleu", True, 0.0),
}
SCORES = pd.DataFrame({"acc": [0.75, 0.25, 0.5], "eer": [0.1, 0.5, 0.25], "bleu": [20.0, 40.0, 10.0]},
                      index=["a", "b", "c"])


def test_chance_normalisation_maps_chance_to_0_and_perfect_to_1_both_directions():
    assert chance_normalised(0.25, 0.25, True) == 0 and chance_normalised(1.0, 0.25, True) == 1
    assert chance_normalised(0.625, 0.25, True) == 0.5
    assert chance_normalised(0.5, 0.5, False) == 0 and chance_normalised(0.0, 0.5, False) == 1
    assert chance_normalised(0.1, 0.5, False) == pytest.approx(0.8)
    assert chance_normalised(1.5, 1.0, False) == pytest.approx(-0.5)  # WER above chance counts below 0
    assert chance_normalised(20.0, 0.0, True, "bleu") == pytest.approx(0.2)
    assert math.isnan(chance_normalised(0.5, None, True)) and math.isnan(chance_normalised(0.1, 0.0, False))


def test_normalised_mean_of_domain_means_by_hand():
    # a: speech (0.5/0.75=0.6667, 0.4/0.5=0.8) -> 0.7333; sound 0.2 -> overall 0.46667
    # b: speech (0, 0) -> 0; sound 0.4 -> 0.2.  c: speech (0.3333, 0.5) -> 0.41667; sound 0.1 -> 0.25833
    got = normalised_domain_mean(SCORES, TASKS)
    assert got["a"] == pytest.approx((2 / 3 + 0.8) / 2 / 2 + 0.1)
    assert got["b"] == pytest.approx(0.2)
    assert got["c"] == pytest.approx(((1 / 3 + 0.5) / 2 + 0.1) / 2)


def test_raw_mean_leaves_out_lower_is_better_and_scales_bleu():
    got = raw_domain_mean(SCORES, TASKS)
    assert got["a"] == pytest.approx((0.75 + 0.2) / 2) and got["b"] == pytest.approx((0.25 + 0.4) / 2)


def test_ranks_and_borda_by_hand_with_a_tie_and_an_incomplete_task():
    scores = pd.DataFrame({"acc": [0.5, 0.5, 0.25], "eer": [0.3, 0.1, 0.2], "bleu": [1.0, None, 2.0]},
                          index=["a", "b", "c"])
    ranks = task_ranks(scores, TASKS)
    assert list(ranks.columns) == ["acc", "eer"]  # bleu lacks b: not a complete block
    assert list(ranks["acc"]) == [1.5, 1.5, 3] and list(ranks["eer"]) == [3, 1, 2]
    assert list(mean_rank(scores, TASKS)) == [2.25, 1.25, 2.5]
    assert list(borda(scores, TASKS)) == [1.5 + 0, 1.5 + 2, 0 + 1]


def test_a_domain_mean_is_blank_for_an_encoder_lacking_one_of_its_tasks():
    scores = SCORES.copy()
    scores.loc["c", "eer"] = None
    assert math.isnan(normalised_domain_mean(scores, TASKS)["c"])
    table = compute_aggregates(["mean_rank", "borda"], scores, TASKS)
    assert list(table.columns) == ["mean_rank", "borda"]
    with pytest.raises(KeyError, match="unknown aggregate"):
        compute_aggregates(["overall"], scores, TASKS)


def test_suite_files_declare_aggregates_and_unknown_names_are_refused(tmp_path):
    assert "normalised_domain_mean" in all_suites()["builtin-quick"].aggregates
    bad = tmp_path / "suites" / "x.yaml"
    bad.parent.mkdir()
    bad.write_text("name: x\ntasks: ['a/*']\naggregates: [overall]\n")
    with pytest.raises(TaskSpecError, match="unknown aggregate.*overall"):
        _read_suite(bad)
