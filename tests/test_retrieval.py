"""Search backends and the retrieval protocol: torch vs FAISS, approximate recall, hand-computed R@k / mAP@10."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.registry import protocol_function
from bench.protocols.retrieval import rank_queries
from bench.search import recall_at_k, search


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d))
    return _unit(centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, d)))


def test_torch_and_faiss_flat_give_identical_rankings():
    gallery, queries = _clustered(3000, 48, 0), _clustered(200, 48, 1)
    s_torch, i_torch = search(queries, gallery, 25, backend="torch")
    s_faiss, i_faiss = search(queries, gallery, 25, backend="faiss")
    assert np.array_equal(i_torch, i_faiss)
    assert np.allclose(s_torch, s_faiss, atol=1e-5)
    brute = np.argsort(-(queries @ gallery.T), axis=1, kind="stable")[:, :25]
    assert np.array_equal(i_torch, brute)
    assert search(queries, gallery[:7], 25)[1].shape == (200, 7)  # k is capped at the gallery size


def test_approximate_recall_against_exact():
    gallery, queries = _clustered(4000, 32, 2), _clustered(100, 32, 3)
    _, exact = search(queries, gallery, 10)
    _, ivf_all = search(queries, gallery, 10, backend="faiss_ivf", nlist=16, nprobe=16)
    assert recall_at_k(exact, ivf_all) == 1.0  # visiting every cell is exhaustive
    _, ivf = search(queries, gallery, 10, backend="faiss_ivf", nlist=64, nprobe=2)
    _, hnsw = search(queries, gallery, 10, backend="faiss_hnsw", hnsw_m=16, ef_search=64)
    assert 0.3 < recall_at_k(exact, ivf) <= 1.0
    assert recall_at_k(exact, hnsw) > 0.9
    assert recall_at_k(np.array([[1, 2, 3, 4]]), np.array([[4, 9, 1, -1]])) == 0.5
    with pytest.raises(ValueError, match="unknown search backend"):
        search(queries, gallery, 10, backend="annoy")


def test_rank_queries_hand_computed():
    gallery = np.eye(4, dtype=np.float32)
    # query 0 ranks the gallery 2, 0, 1, 3; query 1 ranks it 3, 1, 0, 2.
    queries = np.array([[0.5, 0.2, 0.9, 0.0], [0.3, 0.6, 0.0, 0.9]], dtype=np.float32)
    groups = np.array([0, 1, 0, 1])
    # query 0 (group 1): relevant 1 and 3 at ranks 3 and 4 -> rank 3, AP@10 = (1/3 + 2/4) / 2
    # query 1 (group 0): relevant 0 and 2 at ranks 3 and 4 -> same
    # query 2 (group 0, first row again): relevant 0 and 2 at ranks 1 and 2 -> rank 1, AP 1
    rank, ap = rank_queries(np.vstack([queries, queries[:1]]), np.array([1, 0, 0]), gallery, groups)
    assert rank.tolist() == [3, 3, 1]
    assert ap == pytest.approx([(1 / 3 + 2 / 4) / 2, (1 / 3 + 2 / 4) / 2, 1.0])
    # audio->audio: every row queries the others; row 0's only relevant (row 2) is first, row 1's (row 3) second
    emb = np.array([[1, 0.1], [0.9, 0.3], [1, 0], [0, 1]], dtype=np.float32)
    rank, ap = rank_queries(_unit(emb), groups, _unit(emb), groups, exclude_self=True)
    order = np.argsort(-(_unit(emb) @ _unit(emb).T), axis=1)
    assert order[1].tolist()[:2] == [1, 0]  # row 1: itself, then row 0 (irrelevant)
    assert rank[0] == 1 and ap[0] == 1.0
    assert rank[1] == 3 and ap[1] == pytest.approx(1 / 3)
    lone, _ = rank_queries(_unit(emb), np.array([0, 1, 2, 3]), _unit(emb), np.array([0, 1, 2, 3]), exclude_self=True)
    assert np.isnan(lone).all()  # nobody shares a class: no relevant item


def _task(**config):
    return protocol_task("retrieval", "t2a_r@1", "captions", "caption", **config)


def _brute_force(audio: np.ndarray, text: np.ndarray, owner: np.ndarray) -> dict[str, float]:
    """Independent metrics by full argsort: audio->text and text->audio."""
    sims = audio @ text.T
    a2t = [1 + np.flatnonzero(owner[np.argsort(-sims[q])] == q)[0] for q in range(len(audio))]
    t2a = [1 + np.flatnonzero(np.argsort(-sims[:, c]) == owner[c])[0] for c in range(len(text))]
    out = {}
    for name, ranks in (("a2t", np.array(a2t)), ("t2a", np.array(t2a))):
        for k in (1, 5, 10):
            out[f"{name}_r@{k}"] = float(np.mean(ranks <= k))
        out[f"{name}_medr"] = float(np.median(ranks))
    out["t2a_map@10"] = float(np.mean(np.where(np.array(t2a) <= 10, 1 / np.array(t2a), 0.0)))
    return out


def test_retrieval_protocol_with_a_text_tower_matches_brute_force():
    """A fake text tower: caption "w<k> ..." maps to word vector k; clips are noisy word vectors."""
    rng = np.random.default_rng(0)
    words = rng.standard_normal((30, 16))

    def encode_text(texts: list[str]) -> np.ndarray:
        return np.stack([words[int(t.split()[0][1:])] + 0.2 * words[int(t.split()[1][1:])] for t in texts])

    items, pooled = [], []
    for k in range(30):
        split = ("train", "validation", "test")[k % 3]
        items.append({"id": f"c{k}", "split": split, "caption": [f"w{k} w{(k + 1) % 30}", f"w{k} w{(k + 7) % 30}"],
                      "class": f"g{k % 2}"})
        pooled.append(words[k] + 1.5 * rng.standard_normal(16))
    pooled = np.array(pooled, dtype=np.float32)
    task = _task()
    inp = ProtocolInput(task=task, items=items, pooled=pooled, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=Path("/nonexistent"), seeds=[0, 1], encode_text=encode_text)
    result = protocol_function("retrieval")(inp, task.protocols[0])
    test = [k for k, it in enumerate(items) if it["split"] == "test"]
    texts = [c for k in test for c in items[k]["caption"]]
    owner = np.repeat(np.arange(len(test)), 2)
    expected = _brute_force(_unit(pooled[test]), _unit(encode_text(texts)), owner)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value), name
    assert 0.0 < result.metrics["t2a_r@1"] < 1.0
    assert result.seeds == [0] and result.config["text_side"] == "tower"
    assert {"a2a_map@10", "a2a_r@1", "a2t_map@10"} <= set(result.metrics)
    assert result.main_score["name"] == "t2a_r@1"
    assert result.n_samples == {"test_clips": 10, "test_captions": 20}
    faiss_task = _task(backend="faiss")
    faiss_inp = ProtocolInput(**{**inp.__dict__, "task": faiss_task})
    same = protocol_function("retrieval")(faiss_inp, faiss_task.protocols[0])
    assert same.metrics == pytest.approx(result.metrics)


def test_retrieval_protocol_trains_the_contrastive_probe_on_minilm():
    """Audio = a fixed random linear view of the caption's MiniLM vector plus noise: the probe must invert it."""
    from bench.text import encode_texts

    animals = ["dog", "cat", "cow", "bird", "frog", "horse", "sheep", "duck", "lion", "owl"]
    places = ["in a park", "indoors", "near a road", "on a farm", "in the rain", "at night"]
    captions = [f"a {a} calls {p}" for a in animals for p in places]
    rng = np.random.default_rng(0)
    view = rng.standard_normal((384, 48))
    pooled = (encode_texts(captions) @ view + 0.05 * rng.standard_normal((len(captions), 48))).astype(np.float32)
    order = rng.permutation(len(captions))
    split = np.empty(len(captions), dtype=object)
    split[order[:36]], split[order[36:48]], split[order[48:]] = "train", "validation", "test"
    items = [{"id": f"x{k}", "split": split[k], "caption": c} for k, c in enumerate(captions)]
    task = _task(max_epochs=40, lrs=[1e-2])
    inp = ProtocolInput(task=task, items=items, pooled=pooled, frames=lambda i: None, hop_ms=20.0,
                        dataset_dir=Path("/nonexistent"), seeds=[0])
    result = protocol_function("retrieval")(inp, task.protocols[0])
    assert result.config["text_side"] == "probe" and "MiniLM" in result.config["text_encoder"]
    assert result.metrics["t2a_r@5"] > 0.6 and result.metrics["a2t_r@5"] > 0.6  # chance: 5/12
    assert result.metrics["t2a_medr"] <= 3
    assert "a2a_map@10" not in result.metrics  # no class column
    info = result.selected["probe"][0]
    assert info["lr"] == 1e-2 and 1 <= info["epoch"] <= 40
