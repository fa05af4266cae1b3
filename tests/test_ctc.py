"""The `ctc` protocol: error rates against jiwer and hand-computed cases, greedy decoding, frame rates, and a
synthetic recognition task (frames that encode the characters must be read; frames of other clips must not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import protocol_task

from bench.protocols.base import ProtocolInput
from bench.protocols.ctc import frame_rate, stack_frames
from bench.protocols.ctc_text import corpus_rate, encode, error_stats, greedy_decode, target_text, vocabulary
from bench.protocols.registry import higher_is_better, protocol_function

HOP_MS = 20.0
ALPHABET = "abcdefgh"


def test_corpus_rates_equal_jiwer_over_a_list():
    import jiwer

    refs = ["the cat sat", "a dog ran home", "open the door"]
    hyps = ["the bat sat down", "a dog ran", ""]
    for name, fn in (("cer", jiwer.cer), ("wer", jiwer.wer)):
        stats = np.array([error_stats(r, h, "characters")[name] for r, h in zip(refs, hyps)], dtype=float)
        assert corpus_rate(None, stats) == pytest.approx(fn(refs, hyps))
    # bootstrap form: weights [B, N] resample items; the first resample takes item 0 (2 edits: "cat" -> "bat",
    # "down" inserted, of 3 words) twice and item 2 (3 words deleted) once, the second item 1 (1 of 4 deleted)
    stats = np.array([error_stats(r, h, "characters")["wer"] for r, h in zip(refs, hyps)], dtype=float)
    weights = np.array([[2, 0, 1], [0, 1, 0]])
    assert corpus_rate(None, stats, weights) == pytest.approx([(2 * 2 + 3) / (2 * 3 + 3), 1 / 4])


def test_phoneme_error_rate_hand_computed():
    # "s ɛ v ə n" -> "s ɛ v n ə n": one insertion ... and "z ɛ v n": one substitution and one deletion
    assert error_stats("s ɛ v ə n", "s ɛ v n ə n", "phonemes") == {"per": [1, 5]}
    assert error_stats("s ɛ v ə n", "z ɛ v n", "phonemes") == {"per": [2, 5]}
    assert error_stats("oʊ p ə n", "", "phonemes") == {"per": [4, 4]}
    assert not higher_is_better("per") and not higher_is_better("cer") and not higher_is_better("wer")


def test_targets_and_vocabulary():
    assert target_text("Don't stop, now!", "characters") == "dont stop now"
    assert target_text(" s  ɛ v ", "phonemes") == "s ɛ v"
    vocab = vocabulary(["ab a", "ba"], "characters")
    assert vocab == [" ", "a", "b"]
    assert encode("ab c", vocab, "characters") == [2, 3, 1]  # 'c' is outside the train vocabulary: dropped
    assert vocabulary(["oʊ p", "p ə"], "phonemes") == ["oʊ", "p", "ə"]


def test_greedy_decode_hand_made_logits():
    vocab = ["a", "b"]  # ids 1, 2; blank 0
    path = [1, 1, 0, 1, 2, 2, 0, 0, 2]  # a a _ a b b _ _ b -> "a" "a" "b" "b"
    logits = np.full((len(path), 3), -1.0)
    logits[np.arange(len(path)), path] = 2.0
    assert greedy_decode(logits, vocab, "characters") == "aabb"
    assert greedy_decode(logits, ["oʊ", "p"], "phonemes") == "oʊ oʊ p p"
    assert greedy_decode(np.zeros((0, 3)), vocab, "characters") == ""


def test_frame_rate_and_stacking():
    assert frame_rate(10.0, 20.0) == (2, 1) and frame_rate(5.0, 20.0) == (4, 1)
    assert frame_rate(20.0, 20.0) == (1, 1) and frame_rate(80.0, 20.0) == (1, 4)
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    stacked = stack_frames(x, 2)
    assert stacked.shape == (3, 4)
    assert stacked[0].tolist() == [0, 1, 2, 3] and stacked[2].tolist() == [8, 9, 8, 9]  # last group edge-padded


def _task(**config):
    return protocol_task("ctc", "cer", "transcripts", "transcript", domain="speech", **config)


def _clips(seed: int = 0, n: int = 60) -> tuple[list[dict], list[np.ndarray]]:
    """Words of 2-5 letters from an 8-letter alphabet; each letter is 2-4 frames of its own direction plus noise,
    with 0-2 noise frames between letters."""
    rng = np.random.default_rng(seed)
    directions = 3.0 * rng.standard_normal((len(ALPHABET), 12))
    items, frames = [], []
    for k in range(n):
        word = "".join(rng.choice(list(ALPHABET), rng.integers(2, 6)))
        parts = [rng.standard_normal((int(rng.integers(0, 3)), 12))]
        for letter in word:
            parts.append(directions[ALPHABET.index(letter)] + rng.standard_normal((int(rng.integers(2, 5)), 12)))
            parts.append(rng.standard_normal((int(rng.integers(0, 3)), 12)))
        items.append({"id": f"w{k}", "split": ("train", "train", "train", "validation", "test")[k % 5],
                      "transcript": word})
        frames.append(np.concatenate(parts).astype(np.float32))
    return items, frames


def _run(items: list[dict], frames: list[np.ndarray], **config):
    task = _task(lrs=[0.01], max_epochs=25, patience=25, batch_size=4, n_boot=200, **config)
    inp = ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in frames]),
                        frames=lambda i: frames[i], hop_ms=HOP_MS, dataset_dir=Path("/nonexistent"), seeds=[0, 1])
    return protocol_function("ctc")(inp, task.protocols[0]), inp, task


def test_ctc_reads_characters_encoded_in_frames_and_rescore_agrees():
    from bench.scoring import score_samples

    items, frames = _clips()
    result, _, task = _run(items, frames)
    assert result.metrics["cer"] < 0.1 and set(result.metrics) == {"cer", "wer"}
    assert result.main_score == {"name": "cer", "value": result.metrics["cer"], "ci95": result.ci95["cer"],
                                 "higher_is_better": False}
    assert result.config["stack"] == 1 and result.config["upsample"] == 1
    assert len(result.selected["per_seed"]) == 2 and result.n_samples["test_items"] == 12
    again = score_samples("ctc", result.samples, task.label_kind, result.config, group_column=None,
                          n_boot=result.config["n_boot"], seed=0)
    assert again.metrics == result.metrics and again.ci95 == result.ci95 and again.per_seed == result.per_seed


def test_ctc_fails_on_frames_of_other_clips():
    items, frames = _clips()
    rng = np.random.default_rng(1)
    shuffled = [frames[k] for k in rng.permutation(len(frames))]
    result, _, _ = _run(items, shuffled)
    assert result.metrics["cer"] > 0.5


def test_ctc_upsampled_outputs_read_coarse_frames():
    items, frames = _clips()
    coarse = [f[::2] for f in frames]  # 40 ms frames: two outputs per frame at the 20 ms output rate
    task = _task(lrs=[0.01], max_epochs=25, patience=25, batch_size=4, n_boot=200)
    inp = ProtocolInput(task=task, items=items, pooled=np.stack([f.mean(0) for f in coarse]),
                        frames=lambda i: coarse[i], hop_ms=2 * HOP_MS, dataset_dir=Path("/nonexistent"), seeds=[0])
    result = protocol_function("ctc")(inp, task.protocols[0])
    assert result.config["upsample"] == 2 and result.config["effective_output_hop_ms"] == HOP_MS
    assert result.metrics["cer"] < 0.2


def test_ctc_conv_head_reads_characters():
    items, frames = _clips()
    result, _, _ = _run(items, frames, head="conv", hidden=16, kernel=3)
    assert result.metrics["cer"] < 0.2
    assert result.config["head"] == "conv" and result.config["variant"] == "conv"


def test_ctc_bilstm_head_reads_characters_and_rescore_agrees():
    from bench.leaderboard import protocol_label
    from bench.scoring import score_samples

    items, frames = _clips()
    result, _, task = _run(items, frames, head="bilstm", hidden=16)
    assert result.metrics["cer"] < 0.1 and result.metrics["wer"] < 0.3
    assert result.config["head"] == "bilstm" and protocol_label(result.to_dict()) == "ctc[bilstm]"
    again = score_samples("ctc", result.samples, task.label_kind, result.config, group_column=None,
                          n_boot=result.config["n_boot"], seed=0)
    assert again.metrics == result.metrics and again.ci95 == result.ci95 and again.per_seed == result.per_seed
    # the same command twice gives the same transcripts
    assert _run(items, frames, head="bilstm", hidden=16)[0].samples == result.samples


def test_ctc_bilstm_head_reads_each_clip_to_its_own_length():
    import torch

    from bench.protocols.ctc import _batch, _Head

    cfg = {"head": "bilstm", "hidden": 4}
    head = _Head(3, 5, 2, cfg, torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal((n, 3)) for n in (7, 3, 5)]
    x, lengths = _batch(clips)
    with torch.no_grad():
        batched = head(x, lengths)
        for k, clip in enumerate(clips):  # zero padding after a clip changes none of its outputs
            alone = head(torch.from_numpy(clip)[None])[0]
            assert batched.shape == (3, 14, 5) and alone.shape == (2 * len(clip), 5)
            assert torch.allclose(batched[k, :len(alone)], alone, rtol=0, atol=1e-12)
    again = _Head(3, 5, 2, cfg, torch.Generator().manual_seed(0))
    assert all(np.array_equal(a, b) for a, b in zip(head.state(), again.state()))  # seeded: the same init


def test_ctc_head_must_be_a_known_one():
    from bench.protocols.registry import resolve_protocol_config

    task = _task(head="gru")
    with pytest.raises(ValueError, match=r"test\.yaml: protocol 'ctc': config 'head' is 'gru'; expected one of "
                                         r"linear, conv, bilstm"):
        resolve_protocol_config(task, task.protocols[0])
    assert resolve_protocol_config(_task(), _task().protocols[0])["head"] == "linear"


def test_ctc_names_an_item_without_transcript():
    items, frames = _clips(n=10)
    items[3] = dict(items[3], transcript="  ")
    with pytest.raises(ValueError, match=r"item 'w3'.*no characters"):
        _run(items, frames)


def test_espeak_phonemes_drop_stress_and_join_clauses():
    from bench.builtin.espeak import phonemize

    assert phonemize("seven") == "s ɛ v ə n"  # /ˈsɛvən/, stress mark dropped
    assert phonemize("Seven! Open.") == "s ɛ v ə n oʊ p ə n"  # two clauses, one sequence
    assert phonemize("seven", "en-us") == phonemize("seven")  # same request, same answer
