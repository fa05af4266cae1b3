"""Audio-text retrieval (both directions) and audio-audio retrieval by class, over the test split.

Text side: MiniLM sentence vectors of the captions (the task's label column: a string or a list of strings per
clip); audio side: the contrastive map of `bench.protocols.contrastive` (trained on the train split's captions, lr and
epoch chosen on the validation split's mean recall), or the encoder's own text tower when it has one. Queries and
gallery are the test split: audio->text ranks all test captions for each test clip, text->audio ranks all test clips
for each caption. Relevance is by caption text: for a clip (a2t) every test caption equal, verbatim, to one of its
own captions is relevant; for a caption (t2a) every test clip that has that caption is relevant. Template captions
repeat (two clips both "a dog barks"), and ranking only the query's own pair as relevant would decide such ties by
gallery order.

Per query: `rank` is the 1-based position of the first relevant item (an item an approximate index did not return
counts as gallery size + 1); R@k = share of queries with rank <= k; medr = median rank;
AP@10 = sum over the top 10 of precision@i at each relevant position i, divided by min(#relevant, 10).
Audio->audio (`a2a_map@10`, `a2a_r@1`) uses the plain pooled embeddings (cosine) and the class column: every test
clip queries the other test clips; clips whose class has no other test clip are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result
from bench.protocols.contrastive import PROBE_DEFAULTS, ContrastiveMap, fit_contrastive_map, uses_tower
from bench.protocols.features import unit
from bench.protocols.labels import item_id

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec

DEFAULTS: dict[str, Any] = {
    "class_column": "class",  # audio->audio retrieval by this column when items carry it; None to skip
    "text_side": "auto",  # auto (tower when the encoder has one) | tower | probe
    "backend": "torch",  # torch | faiss | faiss_ivf | faiss_hnsw (see bench.search)
    **PROBE_DEFAULTS,
    "n_boot": 1000,
}
KS = (1, 5, 10)


def rank_queries(queries: np.ndarray, query_groups: np.ndarray, gallery: np.ndarray, gallery_groups: np.ndarray,
                 backend: str = "torch", exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per query: rank of the first relevant gallery item, and AP@10. Relevant = same group.

    exclude_self: queries are the gallery itself (row q is gallery item q), which is left out of q's ranking.
    Queries without any relevant gallery item get rank NaN and AP NaN.
    """
    relevance = np.asarray(query_groups)[:, None] == np.asarray(gallery_groups)[None, :]
    return rank_relevant(queries, gallery, relevance, backend, exclude_self)


def rank_relevant(queries: np.ndarray, gallery: np.ndarray, relevance: np.ndarray, backend: str = "torch",
                  exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per query: rank of the first relevant gallery item, and AP@10, where relevance[q, g] says whether gallery
    item g is relevant to query q (see `rank_queries` for exclude_self and queries without a relevant item)."""
    from bench.search import search

    relevance = np.asarray(relevance, dtype=bool)
    if exclude_self:
        relevance = relevance & ~np.eye(len(queries), len(gallery), dtype=bool)
    _, idx = search(queries, gallery, len(gallery), backend=backend)
    if exclude_self:  # drop q from row q (or the last slot, if an approximate index did not return q)
        idx = np.where(idx == np.arange(len(queries))[:, None], -1, idx)
        idx = np.take_along_axis(idx, np.argsort(idx < 0, axis=1, kind="stable"), axis=1)[:, :-1]
    n_gallery = idx.shape[1]
    relevant = (idx >= 0) & np.take_along_axis(relevance, np.maximum(idx, 0), axis=1)
    n_relevant = relevance.sum(1)
    found = relevant.any(1)
    rank = np.where(found, relevant.argmax(1) + 1, n_gallery + 1).astype(np.float64)
    top = relevant[:, :10].astype(np.float64)
    precision = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * top).sum(1) / np.minimum(n_relevant, 10)
    has = n_relevant > 0
    return np.where(has, rank, np.nan), np.where(has, ap, np.nan)


def caption_relevance(texts: list[str], owner: np.ndarray, n_clips: int) -> np.ndarray:
    """Clip x caption relevance: caption t is relevant to clip c when its text equals (verbatim, outer spaces
    stripped) one of c's own captions."""
    lookup: dict[str, int] = {}
    codes = np.array([lookup.setdefault(t.strip(), len(lookup)) for t in texts], dtype=np.int64)
    has_text = np.zeros((n_clips, len(lookup)), dtype=bool)
    has_text[owner, codes] = True
    return has_text[:, codes]


def _captions(inp: ProtocolInput, idx: np.ndarray) -> tuple[list[str], np.ndarray]:
    """All captions of the items `idx` and the position (in idx) of each caption's item."""
    column = inp.task.label_column
    texts, owner = [], []
    for pos, i in enumerate(idx):
        value = inp.items[i].get(column)
        captions = [value] if isinstance(value, str) else value
        if not isinstance(captions, (list, tuple)) or not captions or \
                not all(isinstance(c, str) and c.strip() for c in captions):
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}', column '{column}': "
                             f"expected a caption string or a non-empty list of them, got {value!r}")
        texts.extend(captions)
        owner.extend([pos] * len(captions))
    return texts, np.array(owner, dtype=np.int64)


def _text_retrieval(audio: np.ndarray, text: np.ndarray, texts: list[str], owner: np.ndarray,
                    backend: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    relevance = caption_relevance(texts, owner, len(audio))
    return {"a2t": rank_relevant(audio, text, relevance, backend),
            "t2a": rank_relevant(text, audio, relevance.T, backend)}


def _classes(inp: ProtocolInput, column: str | None) -> np.ndarray | None:
    """Class code per item (-1 where missing), or None when no item has the column."""
    if not column or not any(item.get(column) is not None for item in inp.items):
        return None
    names = [item.get(column) for item in inp.items]
    lookup = {c: k for k, c in enumerate(sorted({str(n) for n in names if n is not None}))}
    return np.array([lookup[str(n)] if n is not None else -1 for n in names], dtype=np.int64)


def _mean_recall_on(audio: np.ndarray, text: np.ndarray, texts: list[str],
                    owner: np.ndarray) -> Callable[[ContrastiveMap], float]:
    """Selection score of a map: mean of R@1, R@5, R@10 in both directions on (audio, captions)."""

    def score(m: ContrastiveMap) -> float:
        ranks = [r for r, _ in _text_retrieval(m(audio), text, texts, owner, "torch").values()]
        return float(np.mean([np.mean(r <= k) for r in ranks for k in KS]))

    return score


def run_retrieval(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """a2t / t2a R@1/5/10, mAP@10, median rank; a2a mAP@10 and R@1 by class (module docstring)."""
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields
    from bench.text import TEXT_ENCODER, encode_texts

    cfg = resolve_protocol_config(inp.task, spec)
    where = f"{inp.task.file}: protocol '{spec.kind}'"
    tower = uses_tower(inp, cfg["text_side"], where)
    encode = inp.encode_text if tower else encode_texts
    backend = cfg["backend"]
    classes = _classes(inp, cfg["class_column"])
    seeds = inp.seeds[:1] if tower else inp.seeds
    preds: dict[int, list[dict[str, Any]]] = {}  # test item -> per seed {"a2t": [rank, ap], "t2a": [...]}
    a2a: dict[int, list[float] | None] = {}
    selected, n_test, n_captions = [], 0, 0

    for train_idx, val_idx, test_idx in split_indices(inp.task, inp.items):
        texts, owner = _captions(inp, test_idx)
        text = unit(encode(texts))
        n_test, n_captions = n_test + len(test_idx), n_captions + len(texts)
        if not tower:
            train_texts, train_owner = _captions(inp, train_idx)
            vocab = sorted(set(train_texts))
            position = {t: k for k, t in enumerate(vocab)}
            ids = np.array([position[t] for t in train_texts], dtype=np.int64)
            val_texts, val_owner = _captions(inp, val_idx)
            val_recall = _mean_recall_on(inp.pooled[val_idx], unit(encode_texts(val_texts)), val_texts, val_owner)

        for seed in seeds:
            if tower:
                audio = unit(inp.pooled[test_idx])
            else:
                cmap, info = fit_contrastive_map(inp.pooled[train_idx[train_owner]], ids, encode_texts(vocab),
                                                 val_recall, cfg, seed)
                selected.append({"seed": seed, **info})
                audio = cmap(inp.pooled[test_idx])
            found = _text_retrieval(audio, text, texts, owner, backend)
            a2t = np.stack(found["a2t"], 1).tolist()
            t2a = np.stack(found["t2a"], 1).tolist()
            for pos, i in enumerate(test_idx.tolist()):
                preds.setdefault(i, []).append({"a2t": a2t[pos], "t2a": [t2a[q] for q in np.flatnonzero(owner == pos)]})
        if classes is not None:
            labelled = test_idx[classes[test_idx] >= 0]
            pooled = unit(inp.pooled[labelled])
            rank, ap = rank_queries(pooled, classes[labelled], pooled, classes[labelled], backend, True)
            for i, r, a in zip(labelled.tolist(), rank.tolist(), ap.tolist()):
                a2a[i] = None if np.isnan(r) else [r, a]

    rows = [{**sample_fields(inp.task, inp.items, i), "label": int(classes[i]) if classes is not None else None,
             "a2a": a2a.get(i), "pred": p} for i, p in preds.items()]
    config = {**cfg, "text_side": "tower" if tower else "probe", "caption_column": inp.task.label_column,
              "class_column": cfg["class_column"] if classes is not None else None,
              "text_encoder": None if tower else TEXT_ENCODER}
    return scored_result(spec, inp, rows, config, seeds,
                         n_samples={"test_clips": n_test, "test_captions": n_captions},
                         selected={"probe": selected} if selected else {})


def _median_rank(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.median(y_pred))


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """a2t (a query per clip), t2a (a query per caption, owned by its clip) and a2a (clips with a same-class peer)."""
    from bench.metrics import mean_value
    from bench.scoring import metric_table

    out: dict[str, MetricTable] = {}

    def direction(prefix: str, per_seed: list[np.ndarray], owner: np.ndarray, in_per_seed: bool = True) -> None:
        ranks, aps = [v[:, 0] for v in per_seed], [v[:, 1] for v in per_seed]
        for k in (1, 5, 10):
            if prefix == "a2a" and k > 1:
                continue
            out[f"{prefix}_r@{k}"] = metric_table(mean_value, ranks[0], [(r <= k).astype(np.float64) for r in ranks],
                                                  owner, proportion=True, per_seed=in_per_seed)
        out[f"{prefix}_map@10"] = metric_table(mean_value, aps[0], aps, owner, per_seed=in_per_seed)
        if prefix != "a2a":
            out[f"{prefix}_medr"] = metric_table(_median_rank, ranks[0], ranks, owner, upper=None,
                                                 per_seed=in_per_seed)

    seeds = range(len(rows[0]["pred"]))
    clips = np.arange(len(rows))
    direction("a2t", [np.array([r["pred"][s]["a2t"] for r in rows], dtype=np.float64).reshape(-1, 2)
                      for s in seeds], clips)
    t2a_owner = np.array([i for i, r in enumerate(rows) for _ in r["pred"][0]["t2a"]], dtype=np.int64)
    direction("t2a", [np.array([q for r in rows for q in r["pred"][s]["t2a"]], dtype=np.float64).reshape(-1, 2)
                      for s in seeds], t2a_owner)
    valid = np.array([i for i, r in enumerate(rows) if r.get("a2a") is not None], dtype=np.int64)
    if len(valid):
        a2a = np.array([rows[i]["a2a"] for i in valid], dtype=np.float64).reshape(-1, 2)
        direction("a2a", [a2a], valid)
    order = [f"{p}_{m}" for p in ("a2t", "t2a") for m in ("r@1", "r@5", "r@10", "map@10", "medr")]
    return {name: out[name] for name in order + ["a2a_map@10", "a2a_r@1"] if name in out}
