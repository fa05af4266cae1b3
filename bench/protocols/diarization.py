"""Speaker diarization and speaker counting by clustering windowed embeddings.

Each recording's frames are averaged over sliding windows (`window_s`, `hop_s`), L2-normalised and clustered
agglomeratively (cosine distance, average linkage). The distance threshold is chosen on the validation recordings
(lowest DER for diarization; best count accuracy, then lowest count MAE, for counting; the middle of the tied
thresholds on a plateau); the oracle-count variant cuts the same tree at the true number of speakers. Each
instant goes to the cluster of the window whose centre is nearest; the hypothesis has one speaker at a time, so
overlapped speech counts as missed unless `skip_overlap`.

With `centre: train` (default) the mean of the unit window embeddings of the train recordings is subtracted from
every window embedding before it is normalised again: features with a large common offset (log-mel energies)
otherwise sit within a tiny cosine distance of each other, and no threshold on the grid separates speakers.
Nothing of the validation or test recordings enters the centre.

With `oracle_vad` (default) only windows centred in reference speech are clustered and the hypothesis is cropped to
reference speech, so DER measures speaker confusion rather than speech detection. DER and JER come from
pyannote.metrics with a forgiveness collar of `collar_s` on each side of reference boundaries (pyannote's
`collar` = 2·collar_s), over the whole recording (UEM [0, duration]).

Reference segments are the task's label column: a list of `[start_s, end_s, speaker]`, or the path of an RTTM file
(relative to the dataset folder). The counting protocol reads a speaker count (1, 2, "3" ...) per clip instead.
k-fold tasks: each fold's test recordings are scored with the threshold chosen on that fold's validation fold.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result
from bench.protocols.features import unit
from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from pyannote.core import Annotation

    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

_THRESHOLDS = [round(float(t), 2) for t in np.arange(0.05, 1.501, 0.05)]  # cosine distances
DIARIZATION_DEFAULTS: dict[str, Any] = {
    "window_s": 1.5,
    "hop_s": 0.75,
    "thresholds": _THRESHOLDS,  # candidate distance thresholds, one chosen on validation
    "centre": "train",  # or "none": subtract the train windows' mean embedding before cosine clustering
    "collar_s": 0.25,
    "skip_overlap": False,
    "oracle_vad": True,
    "n_boot": 1000,  # bootstrap resamples of the test recordings
}
COUNTING_DEFAULTS: dict[str, Any] = {
    "window_s": 1.5,
    "hop_s": 0.75,
    "thresholds": _THRESHOLDS,
    "centre": "train",
    "n_boot": 1000,
}


def _config(inp: ProtocolInput, spec: ProtocolSpec) -> dict[str, Any]:
    from bench.protocols.registry import resolve_protocol_config

    cfg = resolve_protocol_config(inp.task, spec)
    if not cfg["thresholds"] or cfg["window_s"] <= 0 or cfg["hop_s"] <= 0:
        raise ValueError(f"{inp.task.file}: protocol '{spec.kind}': needs window_s > 0, hop_s > 0 and at least one "
                         f"threshold (got {cfg['window_s']}, {cfg['hop_s']}, {cfg['thresholds']})")
    return cfg


def window_embeddings(frames: np.ndarray, hop_ms: float, window_s: float,
                      hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm mean embeddings of sliding windows over [T, D] frames, and the windows' centres in seconds.

    The last window is aligned to the end of the clip; a clip shorter than a window gives one window.
    """
    frames = np.asarray(frames, dtype=np.float64)
    n = len(frames)
    if n == 0:
        return np.zeros((0, frames.shape[1] if frames.ndim == 2 else 0)), np.zeros(0)
    width = min(n, max(1, round(window_s * 1000 / hop_ms)))
    step = max(1, round(hop_s * 1000 / hop_ms))
    starts = list(range(0, n - width + 1, step))
    if starts[-1] + width < n:
        starts.append(n - width)
    starts = np.array(starts)
    csum = np.vstack([np.zeros((1, frames.shape[1])), np.cumsum(frames, axis=0)])
    emb = (csum[starts + width] - csum[starts]) / width
    return unit(emb), (starts + width / 2) * hop_ms / 1000


def centred(emb: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    """Unit window embeddings minus `centre` (None: unchanged), normalised again."""
    if centre is None or len(emb) == 0:
        return emb
    return unit(emb - centre)


def train_centre(inp: ProtocolInput, train_idx: np.ndarray, cfg: dict[str, Any]) -> np.ndarray | None:
    """Mean unit window embedding over the train clips (None when `centre` is "none" or there are none)."""
    if cfg["centre"] == "none" or len(train_idx) == 0:
        return None
    windows = [window_embeddings(inp.frames(i), inp.hop_ms, cfg["window_s"], cfg["hop_s"])[0] for i in train_idx]
    return np.concatenate(windows).mean(0)


def cluster_tree(emb: np.ndarray) -> np.ndarray | None:
    """Average-linkage tree of unit vectors under cosine distance (None for fewer than two)."""
    from scipy.cluster.hierarchy import linkage

    return linkage(emb, method="average", metric="cosine") if len(emb) > 1 else None


def cut_tree(tree: np.ndarray | None, n: int, threshold: float | None = None,
             n_clusters: int | None = None) -> np.ndarray:
    """Cluster labels of n windows: merge while the distance is at most `threshold`, or stop at `n_clusters`."""
    from scipy.cluster.hierarchy import fcluster

    if tree is None:
        return np.zeros(n, dtype=np.int64)
    if n_clusters is not None:
        return fcluster(tree, t=max(1, n_clusters), criterion="maxclust")
    return fcluster(tree, t=threshold, criterion="distance")


def _n_clusters(labels: np.ndarray) -> int:
    return len(np.unique(labels))


def read_segments(inp: ProtocolInput, index: int) -> list[tuple[float, float, str]]:
    """Reference `(start_s, end_s, speaker)` of an item: its label column, a segment list or an RTTM path."""
    item = inp.items[index]
    name = item_id(inp.task, item, index)
    where = f"{inp.task.file}: item '{name}', column '{inp.task.label_column}'"
    value = item.get(inp.task.label_column)
    if isinstance(value, str):
        return _read_rttm(Path(inp.dataset_dir) / value, name)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list of [start_s, end_s, speaker] or an RTTM path, got {value!r}")
    out = []
    for seg in value:
        if not isinstance(seg, (list, tuple)) or len(seg) != 3 or not float(seg[1]) > float(seg[0]) >= 0:
            raise ValueError(f"{where}: segment {seg!r} is not [start_s, end_s, speaker] with 0 <= start < end")
        out.append((float(seg[0]), float(seg[1]), str(seg[2])))
    return out


def _read_rttm(path: Path, uri: str) -> list[tuple[float, float, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: RTTM file of recording '{uri}' not found")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise ValueError(f"{path}:{n}: an RTTM SPEAKER line has at least 8 fields, got {len(fields)}")
        rows.append((fields[1], float(fields[3]), float(fields[4]), fields[7]))
    uris = {r[0] for r in rows}
    if len(uris) > 1:
        rows = [r for r in rows if r[0] == uri]
        if not rows:
            raise ValueError(f"{path}: holds recordings {sorted(uris)[:5]} but none named '{uri}'")
    return [(start, start + dur, spk) for _, start, dur, spk in rows]


def _reference(segments: list[tuple[float, float, str]], uri: str) -> Annotation:
    from pyannote.core import Annotation, Segment

    ref = Annotation(uri=uri)
    for k, (start, end, speaker) in enumerate(segments):
        ref[Segment(start, end), k] = speaker
    return ref


def _hypothesis(labels: np.ndarray, centres: np.ndarray, duration: float, uri: str, speech: Any) -> Annotation:
    """Each instant to the nearest window centre's cluster; merged runs; cropped to `speech` when given."""
    from pyannote.core import Annotation, Segment

    hyp = Annotation(uri=uri)
    if not len(labels):
        return hyp
    bounds = np.r_[0.0, (centres[1:] + centres[:-1]) / 2, duration]
    start = 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[start]:
            if bounds[k] > bounds[start]:
                hyp[Segment(float(bounds[start]), float(bounds[k]))] = int(labels[start])
            start = k
    return hyp if speech is None else hyp.crop(speech, mode="intersection")


class _Recording:
    """One recording ready for clustering: its windows, tree, reference and scoring support."""

    def __init__(self, inp: ProtocolInput, index: int, cfg: dict[str, Any], centre: np.ndarray | None):
        from pyannote.core import Segment, Timeline

        self.uri = item_id(inp.task, inp.items[index], index)
        segments = read_segments(inp, index)
        frames = inp.frames(index)
        emb, self.centres = window_embeddings(frames, inp.hop_ms, cfg["window_s"], cfg["hop_s"])
        emb = centred(emb, centre)
        self.reference = _reference(segments, self.uri)
        self.n_speakers = len(self.reference.labels())
        self.duration = max(len(frames) * inp.hop_ms / 1000, max((s[1] for s in segments), default=0.0))
        self.uem = Timeline([Segment(0.0, self.duration)])
        self.speech = self.reference.get_timeline().support() if cfg["oracle_vad"] else None
        if self.speech is not None:
            keep = np.array([any(seg.start <= c < seg.end for seg in self.speech) for c in self.centres], dtype=bool)
            emb, self.centres = emb[keep], self.centres[keep]
        self.n_windows = len(emb)
        self.tree = cluster_tree(emb)
        self.opts = {"collar": 2 * cfg["collar_s"], "skip_overlap": cfg["skip_overlap"]}
        self._der: dict[bytes, np.ndarray] = {}

    def labels(self, threshold: float | None = None, n_clusters: int | None = None) -> np.ndarray:
        return cut_tree(self.tree, self.n_windows, threshold, n_clusters)

    def hypothesis(self, labels: np.ndarray) -> Annotation:
        return _hypothesis(labels, self.centres, self.duration, self.uri, self.speech)

    def der(self, labels: np.ndarray) -> np.ndarray:
        """[DER error, DER total, confusion] in seconds (memoised per clustering)."""
        from pyannote.metrics.diarization import DiarizationErrorRate

        key = np.asarray(labels, dtype=np.int64).tobytes()
        if key not in self._der:
            der = DiarizationErrorRate(**self.opts)(self.reference, self.hypothesis(labels), uem=self.uem,
                                                    detailed=True)
            error = der["confusion"] + der["missed detection"] + der["false alarm"]
            self._der[key] = np.array([error, der["total"], der["confusion"]])
        return self._der[key]

    def errors(self, labels: np.ndarray) -> np.ndarray:
        """[DER error, DER total, confusion, JER error, JER speaker count] in seconds / speakers."""
        from pyannote.metrics.diarization import JaccardErrorRate

        jer = JaccardErrorRate(**self.opts)(self.reference, self.hypothesis(labels), uem=self.uem, detailed=True)
        return np.r_[self.der(labels), jer["speaker error"], jer["speaker count"]]


def ratio(num: int, den: int) -> Callable[..., float | np.ndarray]:
    """A bootstrap-ready metric: sum of column `num` over sum of column `den` of per-recording rows (NaN when the
    denominator is 0)."""
    from bench.metrics import summed_metric

    return summed_metric(lambda sums: np.divide(sums[:, num], sums[:, den], out=np.full(len(sums), np.nan),
                                                where=sums[:, den] > 0))


def _select(candidates: list[float], scores: list[tuple]) -> float:
    """The candidate with the smallest score tuple; on ties the middle one of the tied (in grid order).

    A validation plateau is common with few recordings; its middle generalises better than its edge.
    """
    best = min(scores)
    tied = [c for c, s in zip(candidates, scores) if s == best]
    return tied[len(tied) // 2]


def _segments(hypothesis: Annotation) -> list[list[Any]]:
    return [[round(seg.start, 6), round(seg.end, 6), int(label)]
            for seg, _, label in hypothesis.itertracks(yield_label=True)]


def run_diarization(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """DER, JER, speaker confusion (threshold and oracle count) and counting from the same clustering."""
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields

    cfg = _config(inp, spec)
    rows, chosen, n_val = [], [], 0
    for train_idx, val_idx, test_idx in split_indices(inp.task, inp.items):
        centre = train_centre(inp, train_idx, cfg)
        val = [_Recording(inp, i, cfg, centre) for i in val_idx]
        n_val += len(val)
        totals = [sum(r.der(r.labels(t)) for r in val) for t in cfg["thresholds"]]
        threshold = _select(cfg["thresholds"], [(e[0] / max(e[1], 1e-12),) for e in totals])
        chosen.append(threshold)
        for i in test_idx.tolist():
            rec = _Recording(inp, i, cfg, centre)
            labels = rec.labels(threshold)
            stats = np.r_[rec.errors(labels), rec.errors(rec.labels(n_clusters=rec.n_speakers))]
            rows.append({**sample_fields(inp.task, inp.items, i), "label": rec.n_speakers,
                         "pred": [{"stats": stats.tolist(), "count": _n_clusters(labels),
                                   "segments": _segments(rec.hypothesis(labels))}]})
    speech = float(sum(r["pred"][0]["stats"][1] for r in rows))
    return scored_result(spec, inp, rows, cfg, inp.seeds[:1],
                         n_samples={"test_recordings": len(rows), "validation_recordings": n_val,
                                    "test_speech_s": speech},
                         selected={"threshold": chosen if len(chosen) > 1 else chosen[0]})


def _count_label(inp: ProtocolInput, index: int) -> int:
    value = inp.items[index].get(inp.task.label_column)
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 1 or str(count) != str(value).strip():
        raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[index], index)}', column "
                         f"'{inp.task.label_column}': expected a speaker count (1, 2, ...), got {value!r}")
    return count


def run_counting(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Speaker count = number of clusters of a clip's windows, at the validation-chosen threshold."""
    from bench.metrics import accuracy, mae
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields

    cfg = _config(inp, spec)
    thresholds = cfg["thresholds"]

    def trees(idx: np.ndarray, centre: np.ndarray | None) -> tuple[list[tuple[np.ndarray | None, int]], np.ndarray]:
        out = []
        for i in idx:
            emb, _ = window_embeddings(inp.frames(i), inp.hop_ms, cfg["window_s"], cfg["hop_s"])
            out.append((cluster_tree(centred(emb, centre)), len(emb)))
        return out, np.array([_count_label(inp, i) for i in idx], dtype=np.float64)

    rows, chosen, n_val = [], [], 0
    for train_idx, val_idx, test_idx in split_indices(inp.task, inp.items):
        centre = train_centre(inp, train_idx, cfg)
        val_trees, val_true = trees(val_idx, centre)
        n_val += len(val_idx)
        scores = []
        for t in thresholds:
            pred = np.array([_n_clusters(cut_tree(tree, n, t)) for tree, n in val_trees], dtype=np.float64)
            scores.append((-accuracy(val_true, pred), mae(val_true, pred)))
        threshold = _select(thresholds, scores)
        chosen.append(threshold)
        test_trees, test_true = trees(test_idx, centre)
        for i, (tree, n), count in zip(test_idx.tolist(), test_trees, test_true.tolist()):
            rows.append({**sample_fields(inp.task, inp.items, i), "label": int(count),
                         "pred": [_n_clusters(cut_tree(tree, n, threshold))]})
    return scored_result(spec, inp, rows, cfg, inp.seeds[:1], n_samples={"test": len(rows), "validation": n_val},
                         selected={"threshold": chosen if len(chosen) > 1 else chosen[0]})


def diarization_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """DER, JER and speaker confusion (at the chosen threshold and at the oracle count), count accuracy and MAE."""
    from bench.metrics import accuracy, mae
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    stats = per_seed_values(rows, lambda p: p["stats"])
    table = np.asarray(stats[0], dtype=np.float64)
    out = {name: metric_table(ratio(num, den), table, [np.asarray(s, dtype=np.float64) for s in stats], idx, upper=up)
           for name, (num, den, up) in {"der": (0, 1, None), "jer": (3, 4, 1.0), "speaker_confusion": (2, 1, 1.0),
                                        "der_oracle": (5, 6, None), "jer_oracle": (8, 9, 1.0),
                                        "speaker_confusion_oracle": (7, 6, 1.0)}.items()}
    y = np.asarray([r["label"] for r in rows], dtype=np.float64)
    counts = [np.asarray(c, dtype=np.float64) for c in per_seed_values(rows, lambda p: p["count"])]
    out["count_accuracy"] = metric_table(accuracy, y, counts, idx, proportion=True)
    out["count_mae"] = metric_table(mae, y, counts, idx, upper=None)
    return out


def counting_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """Speaker-count accuracy and MAE per test clip."""
    from bench.metrics import accuracy, mae
    from bench.scoring import metric_table, per_seed_values

    idx = np.arange(len(rows))
    y = np.asarray([r["label"] for r in rows], dtype=np.float64)
    counts = [np.asarray(c, dtype=np.float64) for c in per_seed_values(rows)]
    return {"accuracy": metric_table(accuracy, y, counts, idx, proportion=True),
            "mae": metric_table(mae, y, counts, idx, upper=None)}
