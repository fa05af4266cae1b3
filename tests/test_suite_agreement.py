"""scripts/suite_agreement.py: Kendall's tau between suites' encoder rankings, checked on hand-computed cases."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "suite_agreement.py"


@pytest.fixture(scope="module")
def sa():
    spec = importlib.util.spec_from_file_location("suite_agreement", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kendall_tau_matches_a_hand_count(sa):
    # rankings 1,2,3,4 against 1,3,2,4: 5 concordant pairs, 1 discordant -> (5 - 1) / 6
    assert sa.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert sa.kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_aggregate_is_the_mean_of_domain_means(sa):
    domains = {"s1": "speech", "s2": "speech", "m1": "music"}
    agg = sa.aggregate({"s1": 0.2, "s2": 0.4, "m1": 0.9}, ["s1", "s2", "m1"], domains)
    assert agg["domain:speech"] == pytest.approx(0.3) and agg["overall"] == pytest.approx((0.3 + 0.9) / 2)


def _record(encoder, task, domain, value, metric="accuracy", higher=True):
    return {"status": "ok", "encoder": {"name": encoder}, "task": {"name": task, "domain": domain},
            "protocols": [{"main_score": {"name": metric, "value": value, "higher_is_better": higher}}]}


def test_agreement_on_hand_made_suites(sa):
    # suite A: one speech and one music task; suite B: one speech task. Encoder overall on A: e1 .5, e2 .6, e3 .7,
    # e4 .3 (mean of domain means); on B: e1 .1, e2 .3, e3 .2, e4 .0 -> ranks A: e4<e1<e2<e3, B: e4<e1<e3<e2:
    # one discordant pair of six -> tau = 4/6. Speech alone: A .4 .5 .6 .2 against B -> the same order as overall.
    a = {"e1": (0.4, 0.6), "e2": (0.5, 0.7), "e3": (0.6, 0.8), "e4": (0.2, 0.4)}
    b = {"e1": 0.1, "e2": 0.3, "e3": 0.2, "e4": 0.0}
    records = [r for e, (s, m) in a.items() for r in (_record(e, "A/s", "speech", s), _record(e, "A/m", "music", m))]
    records += [_record(e, "B/s", "speech", v) for e, v in b.items()]
    records += [_record("e1", "A/der", "speech", 0.3, metric="der", higher=False)]  # lower is better: left out
    scores_a, domains_a = sa.suite_scores(records, {"A/s", "A/m", "A/der"})
    scores_b, domains_b = sa.suite_scores(records, {"B/s"})
    assert set(domains_a) == {"A/s", "A/m"}
    result = sa.agreement(scores_a, domains_a, scores_b, domains_b, n_boot=50, seed=0)
    rows = {row["scope"]: row for row in result["rows"]}
    assert result["encoders"] == ["e1", "e2", "e3", "e4"]
    assert rows["overall"]["tau"] == pytest.approx(4 / 6)
    assert rows["domain:speech"]["tau"] == pytest.approx(4 / 6)
    assert set(rows) == {"overall", "domain:speech"}  # music is not in suite B
    low, high = rows["overall"]["ci95"]
    assert -1 <= low <= high <= 1
    assert "| overall | 2 | 1 | 0.67 |" in sa.to_markdown(result, "A", "B")


def test_encoders_missing_a_task_are_left_out(sa):
    records = [_record(e, "A/s", "speech", v) for e, v in (("e1", 0.1), ("e2", 0.2), ("e3", 0.3))]
    records += [_record(e, "B/s", "speech", v) for e, v in (("e1", 0.1), ("e2", 0.2))]
    scores_a, domains_a = sa.suite_scores(records, {"A/s"})
    scores_b, domains_b = sa.suite_scores(records, {"B/s"})
    result = sa.agreement(scores_a, domains_a, scores_b, domains_b, n_boot=10)
    assert result["encoders"] == ["e1", "e2"] and result["left_out"] == ["e3"]
