"""Caption retrieval counts every clip with the same caption text as relevant (hand-computed and sklearn-checked)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.protocols.retrieval import caption_relevance, rank_queries, rank_relevant

TEXTS = ["a dog barks", "a dog barks", "a cat meows"]  # captions of clips 0, 1, 2 (one each)
OWNER = np.array([0, 1, 2])
TEXT_EMB = np.eye(3, dtype=np.float32)
AUDIO_EMB = np.array([[0.2, 0.9, 0.1], [0.9, 0.2, 0.5], [0.1, 0.3, 0.8]], dtype=np.float32)


def test_caption_relevance_by_text():
    assert caption_relevance(TEXTS, OWNER, 3).tolist() == [[True, True, False], [True, True, False],
                                                           [False, False, True]]
    # a clip with two captions is relevant to both texts; outer spaces do not make a caption different
    multi = caption_relevance(["x", "y ", "y"], np.array([0, 0, 1]), 2)
    assert multi.tolist() == [[True, True, True], [False, True, True]]


def test_identical_captions_are_all_relevant_hand_computed():
    relevance = caption_relevance(TEXTS, OWNER, 3)
    # audio->text. clip 0 ranks t1, t0, t2: both dog captions first -> rank 1, AP 1.
    # clip 1 ranks t0 (0.9), t2 (0.5), t1 (0.2): relevant at 1 and 3 -> rank 1, AP (1 + 2/3) / 2.
    # clip 2 ranks t2 first -> rank 1, AP 1.
    rank, ap = rank_relevant(AUDIO_EMB, TEXT_EMB, relevance)
    assert rank.tolist() == [1, 1, 1]
    assert ap == pytest.approx([1.0, (1 + 2 / 3) / 2, 1.0])
    # text->audio. t0 ranks clips 1, 0, 2 -> rank 1, AP 1; t1 ranks clips 0, 2, 1 -> rank 1, AP (1 + 2/3) / 2.
    rank, ap = rank_relevant(TEXT_EMB, AUDIO_EMB, relevance.T)
    assert rank.tolist() == [1, 1, 1]
    assert ap == pytest.approx([1.0, (1 + 2 / 3) / 2, 1.0])
    # counting only the clip's own caption (the old rule) puts clip 1's at rank 3: the duplicate decided the tie
    own_rank, own_ap = rank_queries(AUDIO_EMB, np.arange(3), TEXT_EMB, OWNER)
    assert own_rank[1] == 3 and own_ap[1] == pytest.approx(1 / 3)


def test_ap_at_10_matches_sklearn_when_every_item_is_in_the_top_10():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        n_clips = int(rng.integers(3, 9))
        texts = [str(t) for t in rng.integers(0, 3, n_clips)]  # few distinct captions: many duplicates
        audio = rng.standard_normal((n_clips, 5)).astype(np.float32)
        text = rng.standard_normal((n_clips, 5)).astype(np.float32)
        relevance = caption_relevance(texts, np.arange(n_clips), n_clips)
        rank, ap = rank_relevant(audio, text, relevance)
        scores = audio @ text.T
        for q in range(n_clips):
            assert ap[q] == pytest.approx(average_precision_score(relevance[q], scores[q]))
            order = np.argsort(-scores[q], kind="stable")
            assert rank[q] == 1 + int(np.flatnonzero(relevance[q][order])[0])
