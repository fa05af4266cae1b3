"""Event detection: onset / segment scoring against hand-computed cases and an independent matcher, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.events import decode, frame_targets, onset_counts, segment_counts, smooth
from bench.protocols.registry import protocol_function

HOP_MS = 40.0


def test_onset_counts_hand_computed():
    ref = [(1.0, 2.0, 0), (3.0, 3.5, 0), (1.0, 4.0, 1)]
    est = [(1.15, 1.5, 0),  # matches (1.0, 0): onset 150 ms late, offset ignored
           (3.3, 3.6, 0),  # 300 ms late: no match
           (0.85, 2.0, 1),  # matches (1.0, 1)
           (0.9, 1.0, 1)]  # a second estimate near the same reference: one-to-one, so a false positive
    assert onset_counts(ref, est, 0.2) == (2, 2, 1)
    assert onset_counts(ref, est, 0.35) == (3, 1, 0)
    assert onset_counts([], est, 0.2) == (0, 4, 0) and onset_counts(ref, [], 0.2) == (0, 0, 3)


def test_onset_matching_is_maximal_like_an_assignment_solver():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for _ in range(300):
        ref = [(float(t), float(t) + 0.1, int(c)) for t, c in zip(rng.uniform(0, 3, rng.integers(0, 8)),
                                                                  rng.integers(0, 2, 8))]
        est = [(float(t), float(t) + 0.1, int(c)) for t, c in zip(rng.uniform(0, 3, rng.integers(0, 8)),
                                                                  rng.integers(0, 2, 8))]
        ok = np.array([[r[2] == e[2] and abs(r[0] - e[0]) <= 0.2 for e in est] for r in ref], dtype=float)
        best = 0 if ok.size == 0 else int(ok[linear_sum_assignment(-ok)].sum())
        assert onset_counts(ref, est, 0.2)[0] == best


def test_segment_counts_hand_computed():
    # 3 s clip, 1 s segments. Class 0 ref in segments 0-1 (0.5-1.2 s), estimate in segments 1-2 (1.5-2.5 s);
    # class 1 ref in segment 2 only (2.0-3.0: ends on a boundary), estimate none.
    ref = [(0.5, 1.2, 0), (2.0, 3.0, 1)]
    est = [(1.5, 2.5, 0)]
    assert segment_counts(ref, est, 3.0, 1.0, 2) == (1, 1, 2)  # TP (1, c0); FP (2, c0); FN (0, c0), (2, c1)


def test_decode_and_targets():
    hop = 0.1
    probs = np.zeros((20, 2))
    probs[2:6, 0] = 0.9
    probs[10:11, 0] = 0.8  # one frame: dropped by a 0.2 s minimum duration
    probs[12:20, 1] = 0.7
    events = decode(probs, hop, 0.5, 0.2)
    assert [(round(a, 6), round(b, 6), c) for a, b, c in events] == [(0.2, 0.6, 0), (1.2, 2.0, 1)]
    assert len(decode(probs, hop, 0.5, 0.0)) == 3
    y = frame_targets([(0.2, 0.6, 0)], 10, hop, 2)
    assert y[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0] and not y[:, 1].any()
    spiky = np.zeros((9, 1))
    spiky[4] = 1.0
    assert not smooth(spiky, 0.3, hop).any() and smooth(spiky, 0.0, hop)[4] == 1.0


def _task(**config):
    return protocol_task("events", "onset_f1", "events", "events", **config)


def _clips(seed: int = 0, n: int = 36) -> tuple[list[dict], list[np.ndarray]]:
    """6 s clips with 1-3 events of 3 classes; frames = noise + the active classes' directions."""
    rng = np.random.default_rng(seed)
    directions = 2.0 * rng.standard_normal((3, 16))
    n_frames = int(6000 / HOP_MS)
    centres = (np.arange(n_frames) + 0.5) * HOP_MS / 1000
    items, frames = [], []
    for k in range(n):
        events = []
        for _ in range(rng.integers(1, 4)):
            onset = float(rng.uniform(0, 5))
            events.append([round(onset, 3), round(min(6.0, onset + float(rng.uniform(0.3, 1.0))), 3),
                           ["dog", "car", "bell"][rng.integers(0, 3)]])
        x = rng.standard_normal((n_frames, 16))
        for onset, offset, label in events:
            x[(centres >= onset) & (centres < offset)] += directions[["dog", "car", "bell"].index(label)]
        items.append({"id": f"c{k}", "split": ("train", "train", "validation", "test")[k % 4], "events": events})
        frames.append(x.astype(np.float32))
    return items, frames


def test_micro_f1_over_clips_and_its_bootstrap_form():
    from bench.protocols.events import METRICS

    rows = np.array([[3, 1, 0, 5, 0, 1], [1, 0, 2, 2, 2, 0]], dtype=float)  # per clip: onset tp fp fn, segment tp fp fn
    assert METRICS["onset_f1"](rows, rows) == pytest.approx(2 * 4 / (2 * 4 + 1 + 2))
    assert METRICS["onset_precision"](rows, rows) == pytest.approx(4 / 5)
    assert METRICS["onset_recall"](rows, rows) == pytest.approx(4 / 6)
    assert METRICS["segment_f1"](rows, rows) == pytest.approx(2 * 7 / (2 * 7 + 2 + 1))
    weights = np.array([[2, 0], [0, 1]])  # resample 1: clip 0 twice; resample 2: clip 1 once
    assert METRICS["onset_f1"](rows, rows, weights=weights) == pytest.approx([12 / 14, 2 / 4])


def test_events_protocol_end_to_end():
    items, frames = _clips()
    task = _task(max_epochs=15)
    inp = ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in frames]),
                        frames=lambda i: frames[i], hop_ms=HOP_MS, dataset_dir=Path("/nonexistent"), seeds=[0, 1])
    result = protocol_function("events")(inp, task.protocols[0])
    assert result.metrics["onset_f1"] > 0.8 and result.metrics["segment_f1"] > 0.8
    assert set(result.metrics) == {"onset_f1", "onset_precision", "onset_recall", "segment_f1"}
    assert result.config["classes"] == ["bell", "car", "dog"]
    chosen = result.selected["per_seed"]
    assert len(chosen) == 2 and all(c["threshold"] in result.config["thresholds"] for c in chosen)
    assert result.main_score["name"] == "onset_f1" and result.main_score["higher_is_better"]
    n_test = sum(it["split"] == "test" for it in items)
    assert result.n_samples["test_clips"] == n_test
    assert result.n_samples["test_events"] == sum(len(it["events"]) for it in items if it["split"] == "test")
    # post-processing is chosen on validation: rewriting the test references leaves the choices unchanged
    moved = [dict(it, events=[[0.0, 0.5, "dog"]]) if it["split"] == "test" else it for it in items]
    again = protocol_function("events")(ProtocolInput(**{**inp.__dict__, "items": moved}), task.protocols[0])
    assert again.selected == result.selected and again.metrics["onset_f1"] < result.metrics["onset_f1"]
    bad = [dict(items[0], events=[[2.0, 1.0, "dog"]]), *items[1:]]
    with pytest.raises(ValueError, match=r"item 'c0'.*onset < offset"):
        protocol_function("events")(ProtocolInput(**{**inp.__dict__, "items": bad}), task.protocols[0])


def test_post_processing_is_chosen_by_the_tasks_main_score():
    """A long reference event with a loud start, a quiet body and a quiet false blip later: a high threshold keeps
    only the start (onset F1 1.0, segment F1 0.5), a low one keeps the body and the blip (onset F1 0.67, segment
    F1 0.86). Each main score picks the threshold that is best for it, on validation."""
    from bench.protocols.events import DEFAULTS, _choose_postprocessing

    hop_s = 0.02
    probs = np.zeros((250, 1))
    probs[:5] = 0.95  # 0-0.1 s
    probs[5:150] = 0.35  # 0.1-3.0 s
    probs[200:220] = 0.35  # 4.0-4.4 s: no event there (longer than every min_duration_s)
    refs = [[(0.0, 3.0, 0)]]
    cfg = {**DEFAULTS}
    onset = _choose_postprocessing([probs], refs, [5.0], hop_s, cfg, "onset_f1", 1)
    segment = _choose_postprocessing([probs], refs, [5.0], hop_s, cfg, "segment_f1", 1)
    assert onset["threshold"] == 0.4 and onset["validation_onset_f1"] == pytest.approx(1.0)
    assert segment["threshold"] == 0.1 and segment["validation_segment_f1"] == pytest.approx(6 / 7)
