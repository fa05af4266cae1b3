"""Zero-shot classification: text-tower prompts, held-out classes, the MiniLM contrastive probe, the text encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.registry import protocol_function
from bench.protocols.zeroshot import heldout_classes, prompt_embeddings


def _task(**config):
    return protocol_task("zeroshot", "accuracy", "multiclass", "label", **config)


def _input(task, items, pooled, encode_text=None, seeds=(0,)):
    return ProtocolInput(task=task, items=items, pooled=np.asarray(pooled, dtype=np.float32), frames=lambda i: None,
                         hop_ms=20.0, dataset_dir=Path("/nonexistent"), seeds=list(seeds), encode_text=encode_text)


def test_text_encoder_matches_sentence_transformers():
    from bench.text import encode_texts

    texts = ["the sound of a dog barking", "a man speaks", "rain"]
    ours = encode_texts(texts)
    # SentenceTransformer(model_dir()).encode(texts[:1])[0][:6] with sentence-transformers 6.2
    reference = [0.012694498524069786, -0.030954020097851753, 0.03521702066063881, 0.058555521070957184,
                 -0.022132541984319687, 0.017233731225132942]
    assert ours.shape == (3, 384) and np.allclose(ours[0, :6], reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.allclose(encode_texts(texts[:1]), ours[:1])  # memoised
    with pytest.raises(ValueError, match="text #1"):
        encode_texts(["ok", ""])


def test_heldout_classes_are_seeded_and_checked():
    classes = [f"c{k}" for k in range(8)]
    cfg = {"heldout_classes": None, "heldout_fraction": 0.25, "heldout_seed": 0}
    held = heldout_classes(classes, cfg, "t.yaml")
    assert len(held) == 2 and held == heldout_classes(classes, cfg, "t.yaml") and set(held) <= set(classes)
    assert heldout_classes(classes, {**cfg, "heldout_fraction": 0}, "t.yaml") == []
    assert heldout_classes(classes, {**cfg, "heldout_classes": ["c7", "c1"]}, "t.yaml") == ["c1", "c7"]
    with pytest.raises(ValueError, match="not classes"):
        heldout_classes(classes, {**cfg, "heldout_classes": ["zebra", "c1"]}, "t.yaml")
    with pytest.raises(ValueError, match="at least 2"):
        heldout_classes(classes[:3], cfg, "t.yaml")


def test_text_tower_scores_prompts_and_splits_seen_from_heldout():
    """Class k's prompt maps to basis vector k; clips are their class vector plus noise."""
    names = ["dog_bark", "cat", "rain", "siren", "engine", "bird"]

    def encode_text(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 8))
        for row, text in enumerate(texts):
            assert text.startswith("a recording of ")
            out[row, names.index(text[len("a recording of "):].replace(" ", "_"))] = 1.0
        return out

    rng = np.random.default_rng(0)
    items, pooled = [], []
    for k in range(60):
        c = k % 6
        items.append({"id": f"x{k}", "split": ("train", "validation", "test")[(k // 6) % 3], "label": names[c]})
        vec = np.zeros(8)
        vec[c] = 1.0
        pooled.append(vec + 0.3 * rng.standard_normal(8))
    # test item x14 (class rain) is closest to the "dog_bark" prompt: wrong among all classes, right among held-out.
    pooled[14] = np.zeros(8)
    pooled[14][[0, 2]] = [1.0, 0.8]
    task = _task(templates=["a recording of {class}"], heldout_classes=["rain", "siren"])
    result = protocol_function("zeroshot")(_input(task, items, pooled, encode_text, seeds=(0, 1)), task.protocols[0])
    pooled_arr = np.array(pooled)
    test = [k for k, it in enumerate(items) if it["split"] == "test"]
    truth = np.array([names.index(items[k]["label"]) for k in test])
    all_pred = np.argmax(pooled_arr[test][:, :6], axis=1)
    assert result.metrics["accuracy_all"] == pytest.approx(np.mean(all_pred == truth))
    held = np.isin(truth, [2, 3])
    held_pred = np.array([2, 3])[np.argmax(pooled_arr[test][:, [2, 3]], axis=1)]
    assert result.metrics["accuracy_heldout"] == pytest.approx(np.mean(held_pred[held] == truth[held]))
    x14 = test.index(14)
    assert all_pred[x14] == 0 and held_pred[x14] == truth[x14] == 2
    assert result.config["text_side"] == "tower" and result.seeds == [0]
    assert result.config["heldout_classes"] == ["rain", "siren"] and result.n_samples["test_heldout"] == 6


def test_contrastive_probe_transfers_to_heldout_classes(monkeypatch):
    """Audio = a random linear view of the caption's MiniLM vector plus noise; the probe trains on the captions."""
    import bench.protocols.zeroshot as zeroshot
    from bench.text import encode_texts

    names = ["dog", "cat", "cow", "rooster", "frog", "crow", "pig", "sheep", "church bells", "clock tick",
             "rain", "sea waves", "thunderstorm", "helicopter", "chainsaw", "siren"]
    where = ["far away", "close to the microphone", "in a small room", "outdoors", "with wind noise", "at night",
             "in a city street", "in a forest", "recorded on a phone", "very loud", "quietly", "with people talking"]
    items = [{"id": f"x{k}", "split": ("train", "train", "validation", "test")[(k // 16) % 4],
              "class": names[k % 16], "label": f"L{k % 16}",
              "caption": f"the sound of {names[k % 16]} {where[k // 16]}"} for k in range(16 * 12)]
    rng = np.random.default_rng(0)
    pooled = encode_texts([it["caption"] for it in items]) @ rng.standard_normal((384, 64))
    pooled += 0.3 * rng.standard_normal(pooled.shape)
    trained_on = []

    def spy(x_train, *args, **kwargs):
        trained_on.append(len(x_train))
        return fit(x_train, *args, **kwargs)

    fit = zeroshot.fit_contrastive_map
    monkeypatch.setattr(zeroshot, "fit_contrastive_map", spy)
    task = _task(heldout_fraction=0.25, heldout_seed=1, max_epochs=30, text_column="caption")
    result = protocol_function("zeroshot")(_input(task, items, pooled, seeds=(0, 1)), task.protocols[0])
    assert result.config["class_column"] == "class" and result.config["text_side"] == "probe"
    held = result.config["heldout_classes"]
    assert len(held) == 4 and set(held) <= set(names)
    assert trained_on == [6 * 12, 6 * 12]  # train items of the 12 seen classes only, once per seed
    assert result.metrics["accuracy"] > 0.9  # 12 seen classes, chance 1/12
    assert result.metrics["accuracy_heldout"] > 0.45  # 4 held-out classes, chance 1/4
    assert len(result.per_seed) == 2 and len(result.selected["probe"]) == 2
    lo, hi = result.ci95["accuracy_heldout"]
    assert lo <= result.metrics["accuracy_heldout"] <= hi


def test_prompt_embeddings_average_templates():
    def encode(texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if t.startswith("a") else [0.0, 2.0] for t in texts])

    emb = prompt_embeddings(["x_y"], ["a {class}", "b {class}"], encode)
    assert emb == pytest.approx(np.array([[1.0, 1.0]]) / np.sqrt(2))
    with pytest.raises(ValueError, match="class"):
        prompt_embeddings(["x"], ["no slot"], encode)
