"""Verification protocol: EER and minDCF against hand-computed cases and scikit-learn, scoring, trials checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.registry import PROTOCOLS, protocol_function
from bench.protocols.verification import eer, min_dcf, score_trials


def _task(dataset_dir: Path, **config):
    return protocol_task("verification", "eer", "trials", "speaker", domain="speech", dataset_dir=dataset_dir, **config)


def _speakers(tmp_path: Path, noise: float = 2.0, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """18 speakers x 5 utterances (6 speakers per split) and all within-split trials of validation and test."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((18, 16))
    items, emb = [], []
    for s in range(18):
        for u in range(5):
            items.append({"id": f"s{s}u{u}", "split": ("train", "validation", "test")[s // 6], "speaker": f"s{s}"})
            emb.append(centres[s] + noise * rng.standard_normal(16))
    trials = [{"enroll": a["id"], "test": b["id"], "target": int(a["speaker"] == b["speaker"]), "split": a["split"]}
              for k, a in enumerate(items) for b in items[k + 1:] if a["split"] == b["split"] != "train"]
    (tmp_path / "trials.jsonl").write_text("\n".join(json.dumps(t) for t in trials) + "\n")
    return items, np.array(emb, dtype=np.float32)


def _sklearn_eer(targets: np.ndarray, scores: np.ndarray) -> float:
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(targets, scores)
    return brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)


def test_eer_and_min_dcf_hand_computed():
    # targets 0.9, 0.8, 0.4; non-targets 0.7, 0.3, 0.2: accepting >= 0.7 misses 1/3 and falsely accepts 1/3.
    targets = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
    assert eer(targets, scores) == pytest.approx(1 / 3)
    # targets 0.9, 0.3; non-targets 0.5, 0.1, 0.0, -0.1. Operating points (miss, fa): (1, 0), (.5, 0), (.5, .25),
    # (0, .25), (0, .5), (0, .75), (0, 1). The ROC crosses miss = fa on the segment (.5, .25) -> (0, .25).
    targets = np.array([1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.5, 0.3, 0.1, 0.0, -0.1])
    assert eer(targets, scores) == pytest.approx(0.25)
    # p = 0.5: miss + fa, best 0.25; p = 0.01: (0.01 miss + 0.99 fa) / 0.01, best 0.5 at (.5, 0).
    assert min_dcf(targets, scores, 0.5) == pytest.approx(0.25)
    assert min_dcf(targets, scores, 0.01) == pytest.approx(0.5)
    assert eer(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


def test_eer_matches_sklearn_roc_and_min_dcf_matches_brute_force():
    rng = np.random.default_rng(3)
    for n in (50, 400, 3000):
        targets = rng.integers(0, 2, n)
        scores = rng.standard_normal(n) + 1.2 * targets
        assert eer(targets, scores) == pytest.approx(_sklearn_eer(targets, scores), abs=1e-9)
        for p in (0.01, 0.05, 0.5):
            costs = []
            for thr in np.r_[np.inf, np.sort(scores)]:
                accept = scores >= thr
                p_miss, p_fa = np.mean(~accept[targets == 1]), np.mean(accept[targets == 0])
                costs.append((p * p_miss + (1 - p) * p_fa) / min(p, 1 - p))
            assert min_dcf(targets, scores, p) == pytest.approx(min(costs))


def test_score_trials_normalisations():
    rng = np.random.default_rng(0)
    emb, cohort = rng.standard_normal((4, 8)), rng.standard_normal((10, 8))
    enroll, test = np.array([0, 1]), np.array([2, 3])
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    plain = score_trials(emb, enroll, test, None, "none")
    assert plain == pytest.approx((unit[enroll] * unit[test]).sum(1))
    centred = emb - cohort.mean(0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    assert score_trials(emb, enroll, test, cohort, "mean") == pytest.approx((centred[enroll] * centred[test]).sum(1))
    cohort_unit = cohort / np.linalg.norm(cohort, axis=1, keepdims=True)
    sims = unit @ cohort_unit.T
    expected = [0.5 * ((plain[k] - sims[e].mean()) / sims[e].std() + (plain[k] - sims[t].mean()) / sims[t].std())
                for k, (e, t) in enumerate(zip(enroll, test))]
    assert score_trials(emb, enroll, test, cohort, "snorm") == pytest.approx(expected)
    top = np.sort(sims, axis=1)[:, ::-1][:, :3]
    expected_top = [0.5 * ((plain[k] - top[e].mean()) / top[e].std() + (plain[k] - top[t].mean()) / top[t].std())
                    for k, (e, t) in enumerate(zip(enroll, test))]
    assert score_trials(emb, enroll, test, cohort, "snorm", cohort_top_k=3) == pytest.approx(expected_top)
    with pytest.raises(ValueError, match="cohort"):
        score_trials(emb, enroll, test, None, "mean")


def test_protocol_scores_test_trials_with_cosine(tmp_path):
    from sklearn.metrics import roc_auc_score

    items, emb = _speakers(tmp_path)
    task = _task(tmp_path)
    inp = ProtocolInput(task=task, items=items, pooled=emb, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=tmp_path, seeds=[0, 1])
    assert PROTOCOLS["verification"].target == "bench.protocols.verification:run_verification"
    result = protocol_function("verification")(inp, task.protocols[0])
    trials = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    index = {item["id"]: i for i, item in enumerate(items)}
    test = [t for t in trials if t["split"] == "test"]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    scores = np.array([unit[index[t["enroll"]]] @ unit[index[t["test"]]] for t in test])
    targets = np.array([t["target"] for t in test])
    assert 0.05 < result.metrics["eer"] < 0.45 and roc_auc_score(targets, scores) > 0.6
    assert result.metrics["eer"] == pytest.approx(_sklearn_eer(targets, scores), abs=1e-9)
    assert set(result.metrics) == {"eer", "min_dcf_0.01", "min_dcf_0.05"}
    lo, hi = result.ci95["eer"]
    assert lo <= result.metrics["eer"] <= hi
    assert result.main_score["name"] == "eer" and result.main_score["higher_is_better"] is False
    assert result.n_samples["test_trials"] == len(test) and result.config["score_norm"] == "none"
    assert "validation_eer" in result.selected
    assert result.to_dict()["seeds"] == [0]


def test_protocol_normalisation_and_errors(tmp_path):
    items, emb = _speakers(tmp_path)
    for norm in ("mean", "snorm"):
        task = _task(tmp_path, score_norm=norm, cohort_top_k=10)
        inp = ProtocolInput(task=task, items=items, pooled=emb, frames=lambda i: None, hop_ms=20.0,
                            dataset_dir=tmp_path, seeds=[0])
        result = protocol_function("verification")(inp, task.protocols[0])
        assert 0.0 <= result.metrics["eer"] < 0.5 and result.config["score_norm"] == norm
    task = _task(tmp_path, score_nrm="mean")
    inp = ProtocolInput(task=task, items=items, pooled=emb, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=tmp_path, seeds=[0])
    with pytest.raises(ValueError, match="score_nrm"):
        protocol_function("verification")(inp, task.protocols[0])
    with (tmp_path / "trials.jsonl").open("a") as f:
        f.write(json.dumps({"enroll": "nobody", "test": "s0u0", "target": 0, "split": "test"}) + "\n")
    task = _task(tmp_path)
    inp = ProtocolInput(task=task, items=items, pooled=emb, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=tmp_path, seeds=[0])
    with pytest.raises(ValueError, match=r"trials.jsonl:\d+: enroll id 'nobody'"):
        protocol_function("verification")(inp, task.protocols[0])
