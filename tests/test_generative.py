"""Generative protocol: projector shapes, the answer-only loss mask, text metrics, a tiny random LLM end to end."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest

from bench.llm_prompt import PrefixCache, answer_loss, assemble, prompt_text
from bench.protocols.base import ProtocolInput
from bench.protocols.generative import resolve_config, run_generative
from bench.protocols.generative_train import build_projector, stack_factor, stack_frames
from bench.protocols.registry import protocol_function
from bench.taskspec import ProtocolSpec, parse_task
from bench.textmetrics import bleu_stats, corpus_metric, error_stats, match_stats, normalise

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread (two threads on a busy 2-core machine are several times slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with a character-level tokenizer and a chat template, saved offline."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list(string.printable))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant: {% endif %}")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True,
                         initializer_range=0.3)  # large enough logits for a random model to be steerable
    folder = tmp_path_factory.mktemp("tiny_llm")
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def _task(kind: str, protocol: dict, column: str = "label"):
    return parse_task({
        "name": "mock/gen", "version": 1, "domain": "sound", "dataset": {"source": "manifest", "path": "."},
        "label": {"kind": kind, "column": column}, "split": {"column": "split"}, "protocols": [protocol],
    }, "mock.yaml")


def _input(task, items: list[dict], frames: list[np.ndarray], hop_ms: float = 50.0) -> ProtocolInput:
    return ProtocolInput(task=task, items=items, pooled=np.zeros((len(items), 5), dtype=np.float32),
                         frames=lambda i: frames[i], hop_ms=hop_ms, dataset_dir=Path("."), seeds=[0, 1])


def test_stacking_and_projector_shapes() -> None:
    assert stack_factor(20.0, 8.0) == 6 and stack_factor(10.0, 8.0) == 12 and stack_factor(500.0, 8.0) == 1
    frames = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
    stacked = stack_frames(frames, 3)
    assert stacked.shape == (3, 9)
    np.testing.assert_array_equal(stacked[0], frames[:3].ravel())
    np.testing.assert_array_equal(stacked[2], np.r_[frames[6], np.zeros(6)])  # zero-padded tail
    for kind, n_params in (("mlp", 9 * 16 + 16 + 16 * 16 + 16), ("linear", 9 * 16 + 16)):
        projector = build_projector(kind, 9, 16)
        assert projector(torch.from_numpy(stacked)).shape == (3, 16)
        assert sum(p.numel() for p in projector.parameters()) == n_params


def test_answer_only_loss_mask() -> None:
    d = 4
    suffix = torch.randn(2, d)
    middles = [torch.randn(1, d), torch.randn(4, d)]
    ids = [[7, 8, 2], [9, 2]]
    embeds, mask, targets = assemble(suffix, middles, [torch.randn(len(a), d) for a in ids], ids)
    assert embeds.shape == (2, 4 + 2 + 2, d)
    assert mask.tolist() == [[0, 0, 1, 1, 1, 1, 1, 1], [1] * 8]
    assert targets.tolist() == [[7, 8, 2], [-100, 9, 2]]  # right-aligned answers; the prompt is never a target
    assert torch.equal(embeds[0, :2], torch.zeros(2, d)) and torch.equal(embeds[0, 3:5], suffix)

    class Echo(torch.nn.Module):
        """Logits = the embeddings themselves (12 channels), so the loss can be recomputed by hand."""

        def forward(self, inputs_embeds, attention_mask, position_ids, use_cache, cache, logits_to_keep):
            from types import SimpleNamespace

            return SimpleNamespace(logits=inputs_embeds[:, -logits_to_keep:])

    embeds, mask, targets = assemble(torch.randn(1, 12), [torch.randn(2, 12)] * 2,
                                     [torch.randn(len(a), 12) for a in ids], ids)
    loss = answer_loss(Echo(), PrefixCache(Echo(), torch.zeros(0, 12), memo=True), embeds, mask, targets)
    logp = torch.log_softmax(embeds, -1)
    by_hand = [-logp[0, 2 + j, t] for j, t in enumerate(ids[0])] + [-logp[1, 3 + j, t] for j, t in enumerate(ids[1])]
    assert torch.isclose(loss, torch.stack(by_hand).mean())


def test_prefix_cache_and_decoding_match_the_plain_model(tiny_llm: Path) -> None:
    from bench.llm import load_llm
    from bench.llm_prompt import greedy_decode

    llm = load_llm(str(tiny_llm), "cpu")
    torch.manual_seed(0)
    prefix, suffix = torch.randn(5, 32), torch.randn(3, 32)
    middles, ids = [torch.randn(2, 32), torch.randn(4, 32)], [[10, 11, 2], [12, 2]]
    answers = [llm.embed(torch.tensor(a)) for a in ids]
    embeds, mask, targets = assemble(suffix, middles, answers, ids)
    cached = answer_loss(llm.model, PrefixCache(llm.model, prefix, memo=True), embeds, mask, targets)
    inline = assemble(suffix, [torch.cat([prefix, m]) for m in middles], answers, ids)
    plain = answer_loss(llm.model, PrefixCache(llm.model, prefix[:0], memo=True), *inline)
    assert torch.isclose(cached, plain, atol=1e-5)

    ours = greedy_decode(llm, PrefixCache(llm.model, prefix, memo=True), suffix, middles, 8, batch_size=2)
    for middle, text in zip(middles, ours):
        row = torch.cat([prefix, middle, suffix])[None]
        theirs = llm.model.generate(inputs_embeds=row, attention_mask=torch.ones(1, len(row[0]), dtype=torch.long),
                                    max_new_tokens=8, do_sample=False, eos_token_id=2, pad_token_id=0)[0].tolist()
        theirs = theirs[:theirs.index(2)] if 2 in theirs else theirs
        assert text == llm.tokenizer.decode(theirs, skip_special_tokens=True).strip().split("\n")[0].strip()


def test_without_denormals_covers_every_thread() -> None:
    from bench.llm import without_denormals

    tiny, half = torch.full((1_000_000,), 3e-39), torch.full((1_000_000,), 0.5)
    torch.set_num_threads(2)
    try:
        tiny * half  # the OpenMP workers of this thread exist now, with denormals on
        assert without_denormals(lambda: bool((tiny * half == 0).all()))
        assert not bool((tiny * half == 0).any())  # off again afterwards
    finally:
        torch.set_num_threads(1)
    with pytest.raises(KeyError, match="raised inside"):
        without_denormals(lambda: {}["raised inside"])


def test_text_metrics_against_jiwer_and_sacrebleu() -> None:
    import jiwer
    import sacrebleu

    assert normalise("  Don't STOP!  the dog-bark, now. ") == "dont stop the dog bark now"
    refs = ["The cat sat on the mat.", "Hello, world!", "a dog barks twice"]
    hyps = ["the cat sat on mat", "hello world", "A dog bark loudly twice!"]
    norm_refs, norm_hyps = [normalise(r) for r in refs], [normalise(h) for h in hyps]
    stats = error_stats(hyps, refs)
    assert corpus_metric("wer")(None, stats["wer"]) == pytest.approx(jiwer.wer(norm_refs, norm_hyps))
    assert corpus_metric("cer")(None, stats["cer"]) == pytest.approx(jiwer.cer(norm_refs, norm_hyps))
    # by hand: 1 deletion ("the") + 0 + 1 substitution (barks/bark) + 1 insertion (loudly) over 6 + 2 + 4 words
    assert corpus_metric("wer")(None, stats["wer"]) == pytest.approx(3 / 12)
    bleu = bleu_stats(hyps, refs)
    assert corpus_metric("bleu")(None, bleu) == pytest.approx(sacrebleu.corpus_bleu(norm_hyps, [norm_refs]).score)
    multi = bleu_stats(hyps[:1], [["a cat sat", "the cat sat on the mat"]])
    assert corpus_metric("bleu")(None, multi) == pytest.approx(
        sacrebleu.corpus_bleu(norm_hyps[:1], [["a cat sat"], ["the cat sat on the mat"]]).score)
    weights = np.array([[1, 1, 1], [3, 0, 0]])  # the bootstrap's resamples: counts per item
    assert corpus_metric("wer")(None, stats["wer"], weights=weights)[1] == pytest.approx(1 / 6)
    match = match_stats(["Dog.", "cat!", "a bird", ""], ["dog", "dog", "cat", "cat"], ["cat", "dog"])
    assert corpus_metric("accuracy")(None, match["accuracy"]) == 0.25
    assert corpus_metric("unparseable_rate")(None, match["unparseable_rate"]) == 0.5
    with pytest.raises(ValueError, match="empty after normalisation"):
        error_stats(["x"], ["?!"])


def test_prompt_formats(tiny_llm: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llm)
    assert prompt_text(tok, "Say it.") == ("<s>user: Say it.\n", "\nassistant: ", "")
    shots = [("Text: b", "b")]  # solved examples, as for the text-only upper bound
    assert prompt_text(tok, "Say it.", shots)[0] == "<s>user: Say it.\nText: b\n<s>assistant: b\n<s>user: Say it.\n"
    tok.chat_template = None
    assert prompt_text(tok, "Say it.") == ("Say it.\n", "\nAnswer:", " ")
    assert prompt_text(tok, "Say it.", shots) == ("Say it.\nText: b\nAnswer: b\n\nSay it.\n", "\nAnswer:", " ")


def test_config_errors() -> None:
    task = _task("multiclass", {"kind": "generative"})
    config = resolve_config(ProtocolSpec("generative", "accuracy", {"tier": "standard", "steps": 10}), task)
    assert config["steps"] == 10 and config["eval_every"] == 150 and config["llm"] == "smollm2-135m"
    with pytest.raises(ValueError, match="unknown config key"):
        resolve_config(ProtocolSpec("generative", "accuracy", {"stepz": 1}), task)
    with pytest.raises(ValueError, match="'projector'"):
        resolve_config(ProtocolSpec("generative", "accuracy", {"projector": "qformer"}), task)
    with pytest.raises(ValueError, match="'lr' must be"):
        resolve_config(ProtocolSpec("generative", "accuracy", {"lr": -1}), task)


def _classification(n_per_split: dict[str, int]) -> tuple[list[dict], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    items, frames = [], []
    for split, n in n_per_split.items():
        for j in range(n):
            label = ["yes", "no"][j % 2]
            items.append({"id": f"{split}{j}", "split": split, "label": label, "transcript": label})
            frames.append((rng.normal(size=(int(rng.integers(6, 14)), 5)) + (3 if label == "yes" else -3))
                          .astype(np.float32))
    return items, frames


def test_tiny_llm_end_to_end_classification_with_lora(tiny_llm: Path) -> None:
    protocol = {"kind": "generative", "llm": str(tiny_llm), "device": "cpu", "steps": 60, "eval_every": 20,
                "lr": 1e-2, "batch_size": 8, "lora": True, "n_seeds": 2, "text_only": "transcript", "n_boot": 200}
    task = _task("multiclass", protocol)
    items, frames = _classification({"train": 24, "validation": 8, "test": 8})
    result = protocol_function("generative")(_input(task, items, frames), task.protocols[0])
    assert result.seeds == [0, 1] and len(result.per_seed) == 2
    assert set(result.metrics) == {"accuracy", "unparseable_rate", "text_only_accuracy", "text_only_unparseable_rate"}
    assert 0.0 <= result.metrics["accuracy"] <= 1.0 and result.main_score["name"] == "accuracy"
    assert result.metrics["accuracy"] >= 0.75  # "yes"/"no" audio is separable: projector + LoRA learn it
    assert result.n_samples == {"train": 24, "validation": 8, "test": 8}
    assert result.config["stack_frames"] == 2 and result.config["prompt_format"] == "chat template"
    assert result.config["variant"] == "projector+lora"
    assert "Answer with one of: no, yes." in result.config["instruction"]
    runs = result.selected["runs"]
    assert [r["seed"] for r in runs] and all(r["steps_run"] <= 60 and r["best_step"] % 20 == 0 for r in runs)
    assert result.selected["cost"]["s_per_step"] > 0
    again = run_generative(_input(task, items, frames), task.protocols[0])
    assert again.per_seed == result.per_seed  # same seeds, same numbers


def test_tiny_llm_end_to_end_asr(tiny_llm: Path) -> None:
    protocol = {"kind": "generative", "llm": str(tiny_llm), "device": "cpu", "steps": 4, "eval_every": 2,
                "projector": "linear", "max_new_tokens": 6, "main_score": "wer", "n_boot": 50}
    task = _task("transcripts", protocol, column="text")
    items, frames = _classification({"train": 6, "validation": 3, "test": 3})
    for item in items:
        item["text"] = f"say {item['label']}"
    result = run_generative(_input(task, items, frames), task.protocols[0])
    assert set(result.metrics) == {"wer", "cer"} and result.main_score["higher_is_better"] is False
    assert result.config["variant"] == "projector" and result.seeds == [0]  # the quick tier runs one seed
    assert result.selected["runs"][0]["trainable_params"] == 10 * 32 + 32  # Linear from 2 stacked 5-d frames
    assert all(len(e["answer"]) <= 6 for e in result.selected["examples"])  # 6 char tokens at most


def test_unsupported_kind_and_main_score(tiny_llm: Path) -> None:
    task = _task("regression", {"kind": "generative", "main_score": "accuracy"})  # a generative metric, wrong labels
    with pytest.raises(ValueError, match="handles multiclass"):
        run_generative(_input(task, [], []), task.protocols[0])
    task = _task("transcripts", {"kind": "generative", "main_score": "bleu", "llm": str(tiny_llm)})
    with pytest.raises(ValueError, match="choose one of wer, cer"):
        run_generative(_input(task, [], []), task.protocols[0])
