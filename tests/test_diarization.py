"""Diarization and counting protocols: DER/JER against hand-computed cases, validation-chosen threshold, counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.diarization import window_embeddings
from bench.protocols.registry import protocol_function

HOP_MS = 100.0


def _task(kind: str, main_score: str, label_kind: str = "segments", column: str = "segments", **config):
    return protocol_task(kind, main_score, label_kind, column, domain="speech", **config)


def _input(task, items: list[dict], frames: list[np.ndarray], dataset_dir: Path = Path("/nonexistent")):
    return ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in frames]),
                         frames=lambda i: frames[i], hop_ms=HOP_MS, dataset_dir=dataset_dir, seeds=[0, 1])


def _recording(rng, centres: np.ndarray, turns: list[tuple[float, float, int]], duration: float,
               noise: float = 0.3) -> np.ndarray:
    """Frames at HOP_MS: the active speaker's centre plus noise; silence is noise only."""
    n = round(duration * 1000 / HOP_MS)
    frames = noise * rng.standard_normal((n, centres.shape[1]))
    t = (np.arange(n) + 0.5) * HOP_MS / 1000
    for start, end, spk in turns:
        frames[(t >= start) & (t < end)] += centres[spk]
    return frames.astype(np.float32)


def _corpus(seed: int = 0, n_per_split: int = 4):
    """Recordings of 1-3 speakers with 3-6 s turns, speakers drawn from a pool of 12 directions."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, 24))
    items, frames = [], []
    for split in ("train", "validation", "test"):
        for r in range(n_per_split):
            n_spk = 1 + r % 3
            speakers = rng.choice(12, size=n_spk, replace=False)
            turns, t = [], 0.5
            for k in range(2 * n_spk):
                length = float(rng.uniform(3, 6))
                turns.append((t, t + length, int(speakers[k % n_spk])))
                t += length + float(rng.choice([0.0, 0.5]))
            items.append({"id": f"{split}{r}", "split": split,
                          "segments": [[s, e, f"spk{k}"] for s, e, k in turns], "count": str(n_spk)})
            frames.append(_recording(rng, centres, turns, t + 0.5))
    return items, frames


def test_window_embeddings_cover_the_clip():
    frames = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    emb, centres = window_embeddings(frames, 100.0, window_s=0.4, hop_s=0.3)
    # windows of 4 frames every 3 frames: starts 0, 3, 6 (the last one ends at frame 10)
    assert centres == pytest.approx([0.2, 0.5, 0.8])
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    emb, centres = window_embeddings(frames[:2], 100.0, window_s=1.5, hop_s=0.75)
    assert len(emb) == 1 and centres == pytest.approx([0.1])


def test_der_and_jer_hand_computed():
    """Reference A 0-12 s, B 12-20 s; the embeddings switch speaker at 10 s, so 2 s are confused."""
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32) * 5
    frames = _recording(rng, centres, [(0, 10, 0), (10, 20, 1)], 20.0, noise=0.01)
    items = [{"id": f"{s}", "split": s, "segments": [[0, 12, "A"], [12, 20, "B"]]}
             for s in ("train", "validation", "test")]
    for collar_s, der in ((0.0, 2 / 20), (0.25, 1.75 / 19)):
        # collar 0.25 s each side of the boundaries at 0, 12 and 20 s removes 0.25 + 0.5 + 0.25 s; the confused
        # span becomes 10-11.75 s.
        task = _task("diarization", "der", window_s=1.0, hop_s=1.0, collar_s=collar_s, thresholds=[0.5])
        result = protocol_function("diarization")(_input(task, items, [frames] * 3), task.protocols[0])
        assert result.metrics["der"] == pytest.approx(der)
        assert result.metrics["speaker_confusion"] == pytest.approx(der)
        assert result.metrics["der_oracle"] == pytest.approx(der)
    # JER (collar 0): A vs hypothesis 0-10 s: 1 - 10/12; B vs 10-20 s: 1 - 8/10; mean over reference speakers.
    task = _task("diarization", "der", window_s=1.0, hop_s=1.0, collar_s=0.0, thresholds=[0.5])
    result = protocol_function("diarization")(_input(task, items, [frames] * 3), task.protocols[0])
    assert result.metrics["jer"] == pytest.approx(((1 - 10 / 12) + (1 - 8 / 10)) / 2)
    assert result.metrics["count_accuracy"] == 1.0 and result.metrics["count_mae"] == 0.0


def test_der_matches_pyannote_on_hand_built_annotations():
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    ref[Segment(0, 12)], ref[Segment(12, 20)] = "A", "B"
    hyp[Segment(0, 10)], hyp[Segment(10, 20)] = 1, 2
    uem = Timeline([Segment(0, 20)])
    assert DiarizationErrorRate()(ref, hyp, uem=uem) == pytest.approx(0.1)
    assert DiarizationErrorRate(collar=0.5)(ref, hyp, uem=uem) == pytest.approx(1.75 / 19)


def test_diarization_protocol_end_to_end():
    items, frames = _corpus()
    task = _task("diarization", "der")
    result = protocol_function("diarization")(_input(task, items, frames), task.protocols[0])
    assert result.metrics["der"] < 0.1 and result.metrics["der_oracle"] < 0.1
    assert result.metrics["count_accuracy"] >= 0.75
    assert set(result.metrics) == {"der", "jer", "speaker_confusion", "der_oracle", "jer_oracle",
                                   "speaker_confusion_oracle", "count_accuracy", "count_mae"}
    assert result.main_score["higher_is_better"] is False
    assert result.config["collar_s"] == 0.25 and result.config["oracle_vad"] is True
    assert result.selected["threshold"] in result.config["thresholds"]
    for name, (lo, hi) in result.ci95.items():
        assert lo <= result.metrics[name] + 1e-12 and result.metrics[name] <= hi + 1e-12, name
    # The threshold is chosen on validation: corrupting the test references changes scores, not the threshold.
    broken = [dict(it, segments=[[s, e, "x"] for s, e, _ in it["segments"]]) if it["split"] == "test" else it
              for it in items]
    again = protocol_function("diarization")(_input(task, broken, frames), task.protocols[0])
    assert again.selected == result.selected and again.metrics["der"] > result.metrics["der"]


@pytest.mark.parametrize("kind, main", [("diarization", "der"), ("counting", "accuracy")])
def test_train_centring_undoes_a_common_offset(kind, main):
    items, frames = _corpus()
    task = _task(kind, main, **({"label_kind": "multiclass", "column": "count"} if kind == "counting" else {}))
    offset = [f + 40.0 for f in frames]  # e.g. log-mel energies: every window within a tiny cosine distance
    plain = protocol_function(kind)(_input(task, items, frames), task.protocols[0]).metrics
    shifted = protocol_function(kind)(_input(task, items, offset), task.protocols[0]).metrics
    raw_task = _task(kind, main, centre="none", **({"label_kind": "multiclass", "column": "count"}
                                                    if kind == "counting" else {}))
    raw = protocol_function(kind)(_input(raw_task, items, offset), raw_task.protocols[0]).metrics
    good = (lambda m: m["der"]) if kind == "diarization" else (lambda m: -m["accuracy"])
    assert good(shifted) == pytest.approx(good(plain), abs=0.05)
    assert good(raw) > good(shifted) + 0.2  # uncentred, the offset drowns the speakers


def test_rttm_reference(tmp_path):
    items, frames = _corpus(n_per_split=2)
    lines = []
    for item in items:
        for s, e, spk in item["segments"]:
            lines.append(f"SPEAKER {item['id']} 1 {s:.6f} {e - s:.6f} <NA> <NA> {spk} <NA> <NA>")
    (tmp_path / "all.rttm").write_text("\n".join(lines) + "\n")
    task = _task("diarization", "der")
    direct = protocol_function("diarization")(_input(task, items, frames), task.protocols[0])
    via_rttm = [dict(it, segments="all.rttm") for it in items]
    read = protocol_function("diarization")(_input(task, via_rttm, frames, tmp_path), task.protocols[0])
    assert read.metrics == pytest.approx(direct.metrics, rel=1e-4)
    with pytest.raises(FileNotFoundError, match=r"missing\.rttm"):
        protocol_function("diarization")(_input(task, [dict(it, segments="missing.rttm") for it in items], frames,
                                                tmp_path), task.protocols[0])


def test_counting_protocol():
    items, frames = _corpus(n_per_split=6)
    task = _task("counting", "accuracy", label_kind="multiclass", column="count")
    result = protocol_function("counting")(_input(task, items, frames), task.protocols[0])
    assert result.metrics["accuracy"] >= 5 / 6 and result.metrics["mae"] <= 1 / 6
    assert result.main_score == {"name": "accuracy", "value": result.metrics["accuracy"],
                                 "ci95": result.ci95["accuracy"], "higher_is_better": True}
    assert result.n_samples == {"test": 6, "validation": 6}
    bad = [dict(it, count="two") if it["id"] == "test0" else it for it in items]
    with pytest.raises(ValueError, match=r"item 'test0'.*speaker count"):
        protocol_function("counting")(_input(task, bad, frames), task.protocols[0])
