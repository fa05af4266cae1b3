"""Sound event detection with a per-frame linear head on the encoder's frames.

Targets: frame k (centre (k + 0.5)·hop) is active for a class when it lies inside one of the clip's events (the
task's label column: a list of `[onset_s, offset_s, label]`, possibly empty). A linear layer on standardised frames
is trained in float64 with binary cross-entropy on the train clips; lr and epoch are chosen by validation loss (early
stopping, with the tie rule of bench.protocols.training), then the post-processing (probabilities median-filtered
over `median_s`, thresholded, events shorter than `min_duration_s` dropped) is chosen by the validation value of
the task's main score (onset F1, or segment F1 where the task scores segments, e.g. X-ARES's DESED and MAESTRO).
Nothing is chosen on test.

Metrics, micro-averaged over all test clips and classes:
- `onset_f1` (+ precision, recall): event-based; an estimated event is correct when its class matches a reference
  event's and its onset is within `onset_tolerance_s` (200 ms) of it; offsets are ignored; one-to-one matching.
- `segment_f1`: segment-based over `segment_s` (1 s) segments: a class is active in a segment when an event overlaps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result, single_threaded
from bench.protocols.features import standardiser
from bench.protocols.labels import item_id
from bench.protocols.training import Fit, best_lr, fit_with_early_stopping, snap

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

Event = tuple[float, float, int]  # onset_s, offset_s, class index

DEFAULTS: dict[str, Any] = {
    "classes": None,  # class list; default: every label found in the events column
    "lrs": [1e-3, 1e-2],
    "max_epochs": 30,
    "patience": 5,
    "batch_size": 1024,
    "weight_decay": 0.0,
    "max_train_frames": 200_000,  # cap on train frames: at most this / n_train_clips from each clip
    "thresholds": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "median_s": [0.0, 0.1, 0.2, 0.4],
    "min_duration_s": [0.0, 0.1, 0.2],
    "onset_tolerance_s": 0.2,
    "segment_s": 1.0,
    "n_boot": 1000,  # bootstrap resamples of the test clips
}


def read_events(inp: ProtocolInput, index: int) -> list[tuple[float, float, str]]:
    """The `(onset_s, offset_s, label)` events of an item, from the task's label column."""
    item = inp.items[index]
    value = item.get(inp.task.label_column)
    where = f"{inp.task.file}: item '{item_id(inp.task, item, index)}', column '{inp.task.label_column}'"
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list of [onset_s, offset_s, label], got {value!r}")
    out = []
    for ev in value:
        if not isinstance(ev, (list, tuple)) or len(ev) != 3 or not float(ev[1]) > float(ev[0]) >= 0:
            raise ValueError(f"{where}: event {ev!r} is not [onset_s, offset_s, label] with 0 <= onset < offset")
        out.append((float(ev[0]), float(ev[1]), str(ev[2])))
    return out


def frame_targets(events: list[Event], n_frames: int, hop_s: float, n_classes: int) -> np.ndarray:
    """[T, C] 0/1: frame k is active when its centre (k + 0.5)·hop lies in [onset, offset)."""
    y = np.zeros((n_frames, n_classes), dtype=np.float32)
    centres = (np.arange(n_frames) + 0.5) * hop_s
    for onset, offset, c in events:
        y[(centres >= onset) & (centres < offset), c] = 1.0
    return y


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, start frame, end frame) of every run of True in a [T, C] array."""
    padded = np.pad(active.astype(np.int8), ((1, 1), (0, 0)))
    diff = np.diff(padded, axis=0).T  # [C, T + 1]
    cls_on, start = np.nonzero(diff == 1)
    _, end = np.nonzero(diff == -1)  # same row-major order: runs pair up
    return cls_on, start, end


def decode(probs: np.ndarray, hop_s: float, threshold: float, min_duration_s: float) -> list[Event]:
    """Events from [T, C] (already smoothed) probabilities: runs >= threshold lasting at least min_duration_s."""
    cls, start, end = _runs(probs >= threshold)
    keep = (end - start) * hop_s >= min_duration_s - 1e-9
    return [(s * hop_s, e * hop_s, int(c)) for c, s, e in zip(cls[keep], start[keep], end[keep])]


def smooth(probs: np.ndarray, median_s: float, hop_s: float) -> np.ndarray:
    """Median filter along time over an odd number of frames covering about median_s (no-op below 3 frames)."""
    from scipy.ndimage import median_filter

    size = 2 * round(median_s / hop_s / 2) + 1
    return probs if size < 3 else median_filter(probs, size=(size, 1), mode="nearest")


def onset_counts(reference: list[Event], estimated: list[Event], tolerance: float) -> tuple[int, int, int]:
    """(TP, FP, FN) of event-based onset matching: same class, |onset difference| <= tolerance, one-to-one.

    Per class, references in onset order each take the earliest unmatched estimate within tolerance; with equal
    tolerance windows this greedy choice gives a maximum matching.
    """
    tp = 0
    for c in {e[2] for e in reference} | {e[2] for e in estimated}:
        ref = sorted(e[0] for e in reference if e[2] == c)
        est = sorted(e[0] for e in estimated if e[2] == c)
        k = 0
        for r in ref:
            while k < len(est) and est[k] < r - tolerance - 1e-9:
                k += 1
            if k < len(est) and est[k] <= r + tolerance + 1e-9:
                tp += 1
                k += 1
    return tp, len(estimated) - tp, len(reference) - tp


def segment_counts(reference: list[Event], estimated: list[Event], duration: float, segment_s: float,
                   n_classes: int) -> tuple[int, int, int]:
    """(TP, FP, FN) over (segment, class) cells: a class is active where an event overlaps the segment."""
    n_seg = max(1, int(np.ceil(duration / segment_s - 1e-9)))

    def activity(events: list[Event]) -> np.ndarray:
        grid = np.zeros((n_seg, n_classes), dtype=bool)
        for onset, offset, c in events:
            first = int(np.floor(onset / segment_s))
            last = int(np.ceil(offset / segment_s))  # exclusive
            grid[first:min(last, n_seg), c] = True
        return grid

    ref, est = activity(reference), activity(estimated)
    return int((ref & est).sum()), int((est & ~ref).sum()), int((ref & ~est).sum())


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)


def _metric(kind: str, offset: int) -> Callable[..., float | np.ndarray]:
    """A bootstrap-ready micro metric over per-clip rows [tp, fp, fn] starting at column `offset`."""
    from bench.metrics import summed_metric

    def reduce(sums: np.ndarray) -> np.ndarray:
        tp, fp, fn = (sums[:, offset + k] for k in range(3))
        if kind == "f1":
            return _f1(tp, fp, fn)
        den = tp + (fp if kind == "precision" else fn)
        return np.divide(tp, den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)

    return summed_metric(reduce)


METRICS = {"onset_f1": _metric("f1", 0), "onset_precision": _metric("precision", 0),
           "onset_recall": _metric("recall", 0), "segment_f1": _metric("f1", 3)}


@single_threaded
def _train_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                cfg: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any]]:
    """A linear head [D -> C] on standardised frames, trained in float64; the (lr, epoch) with the lowest
    validation BCE under the tie rule of bench.protocols.training."""
    import torch
    import torch.nn.functional as F

    x_train, x_val = np.asarray(x_train, dtype=np.float64), np.asarray(x_val, dtype=np.float64)
    mean, std = standardiser(x_train)
    xt = torch.from_numpy((x_train - mean) / std)
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float64))
    xv = torch.from_numpy((x_val - mean) / std)
    yv = torch.from_numpy(np.asarray(y_val, dtype=np.float64))
    fits: list[tuple[float, Fit]] = []
    for lr in cfg["lrs"]:
        gen = torch.Generator().manual_seed(seed)
        weight = (torch.randn(xt.shape[1], yt.shape[1], generator=gen, dtype=torch.float64) * 0.01).requires_grad_()
        bias = torch.zeros(yt.shape[1], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=cfg["weight_decay"])
        snap([weight, bias])

        def epoch(_: int) -> None:
            for batch in torch.randperm(len(xt), generator=gen).split(cfg["batch_size"]):
                loss = F.binary_cross_entropy_with_logits(xt[batch] @ weight + bias, yt[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                snap([weight, bias])

        def neg_val_loss() -> float:
            with torch.no_grad():
                return -float(F.binary_cross_entropy_with_logits(xv @ weight + bias, yv))

        fits.append((lr, fit_with_early_stopping(
            epoch, neg_val_loss, lambda: (weight.detach().numpy().copy(), bias.detach().numpy().copy()),
            cfg["max_epochs"], cfg["patience"])))
    winner = best_lr(fits)
    if winner is None:
        raise ValueError("the event head's validation loss is not finite for any lr (training diverged: try smaller "
                         "'lrs')")
    lr, fit = fits[winner]
    w, b = fit.state

    def predict(frames: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-((((frames - mean) / std) @ w) + b)))

    return predict, {"lr": lr, "epoch": fit.round, "validation_bce": -fit.score}


def _choose_postprocessing(probs: list[np.ndarray], refs: list[list[Event]], durations: list[float], hop_s: float,
                           cfg: dict[str, Any], metric: str, n_classes: int) -> dict[str, float]:
    """(median_s, threshold, min_duration_s) with the best validation value of `metric`, the task's main score
    (first in grid order on ties)."""
    best_score, best = -1.0, {}
    for median_s in cfg["median_s"]:
        smoothed = [smooth(p, median_s, hop_s) for p in probs]
        for threshold in cfg["thresholds"]:
            for min_dur in cfg["min_duration_s"]:
                counts = []
                for p, r, duration in zip(smoothed, refs, durations):
                    est = decode(p, hop_s, threshold, min_dur)
                    counts.append(onset_counts(r, est, cfg["onset_tolerance_s"])
                                  + segment_counts(r, est, duration, cfg["segment_s"], n_classes))
                score = float(METRICS[metric](np.zeros(len(counts)), np.asarray(counts, dtype=np.float64)))
                if score > best_score:
                    best_score = score
                    best = {"median_s": median_s, "threshold": threshold, "min_duration_s": min_dur,
                            f"validation_{metric}": score}
    return best


def _duration(frames: np.ndarray, events: list[Event], hop_s: float) -> float:
    """A clip's length for segment scoring: its frames' span, or its last event's offset when that is later."""
    return max(len(frames) * hop_s, max((e[1] for e in events), default=0.0))


def run_events(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Frame-level event detection: onset F1 (200 ms, offsets ignored) and 1 s segment F1 (module docstring)."""
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields

    cfg = resolve_protocol_config(inp.task, spec)
    hop_s = inp.hop_ms / 1000
    raw = [read_events(inp, i) for i in range(len(inp.items))]
    classes = [str(c) for c in cfg["classes"]] if cfg["classes"] else sorted({e[2] for evs in raw for e in evs})
    if not classes:
        raise ValueError(f"{inp.task.file}: no events found in column '{inp.task.label_column}' and no 'classes' set")
    lookup = {c: k for k, c in enumerate(classes)}
    refs = []
    for i, evs in enumerate(raw):
        unknown = sorted({e[2] for e in evs} - set(lookup))
        if unknown:
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}' has events of classes "
                             f"{unknown} outside the configured 'classes'")
        refs.append([(on, off, lookup[label]) for on, off, label in evs])
    n_classes = len(classes)

    def clip(i: int) -> np.ndarray:
        return np.asarray(inp.frames(i), dtype=np.float32)

    folds = split_indices(inp.task, inp.items)
    rows: dict[int, dict[str, Any]] = {}
    selected = []
    for train_idx, val_idx, test_idx in folds:
        # at most max_train_frames / n_train_clips frames per train clip (a seeded random subset), in memory once
        per_clip = -(-cfg["max_train_frames"] // len(train_idx))
        rng = np.random.default_rng(inp.seeds[0])
        x_train, y_train = [], []
        for i in train_idx:
            x = clip(i)
            y = frame_targets(refs[i], len(x), hop_s, n_classes)
            if len(x) > per_clip:
                keep = np.sort(rng.choice(len(x), per_clip, replace=False))
                x, y = x[keep], y[keep]
            x_train.append(x)
            y_train.append(y)
        x_val = [clip(i) for i in val_idx]
        y_val = [frame_targets(refs[i], len(x), hop_s, n_classes) for i, x in zip(val_idx, x_val)]
        for seed in inp.seeds:
            predict, info = _train_head(np.concatenate(x_train), np.concatenate(y_train), np.concatenate(x_val),
                                        np.concatenate(y_val), cfg, seed)
            post = _choose_postprocessing([predict(x) for x in x_val], [refs[i] for i in val_idx],
                                          [_duration(x, refs[i], hop_s) for i, x in zip(val_idx, x_val)], hop_s, cfg,
                                          spec.main_score, n_classes)
            selected.append({"seed": seed, **info, **post})
            for i in test_idx:
                x = clip(i)
                est = decode(smooth(predict(x), post["median_s"], hop_s), hop_s, post["threshold"],
                             post["min_duration_s"])
                counts = (onset_counts(refs[i], est, cfg["onset_tolerance_s"])
                          + segment_counts(refs[i], est, _duration(x, refs[i], hop_s), cfg["segment_s"], n_classes))
                row = rows.setdefault(int(i), {**sample_fields(inp.task, inp.items, int(i)),
                                               "label": [[on, off, c] for on, off, c in refs[i]], "pred": []})
                row["pred"].append({"events": [[round(on, 6), round(off, 6), c] for on, off, c in est],
                                    "counts": [int(v) for v in counts]})
    samples = list(rows.values())
    return scored_result(spec, inp, samples, {**cfg, "classes": classes}, list(inp.seeds),
                         n_samples={"test_clips": len(samples),
                                    "test_events": sum(r["pred"][0]["counts"][0] + r["pred"][0]["counts"][2]
                                                       for r in samples),
                                    "classes": len(classes)},
                         selected={"per_seed": selected})


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """Onset and segment precision, recall and F1 from each clip's [TP, FP, FN] counts."""
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    counts = [np.asarray(c, dtype=np.float64).reshape(-1, 6) for c in per_seed_values(rows, lambda p: p["counts"])]
    return {name: metric_table(fn, counts[0], counts, idx) for name, fn in METRICS.items()}
