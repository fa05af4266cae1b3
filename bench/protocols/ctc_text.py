"""Targets, greedy CTC decoding and error statistics of the `ctc` protocol.

Targets are token sequences read from the task's label column:
- `characters`: the text normalised as bench.textmetrics.normalise does (lower case, punctuation dropped, spaces
  collapsed); tokens are its characters, the space included.
- `phonemes`: a space-separated phoneme string (e.g. the built-in `phonemes` field from eSpeak NG); tokens are the
  phonemes.
The vocabulary is the train split's tokens (sorted) after the CTC blank (index 0); a test token outside it can only
be an error.

Error statistics per item are [edits, reference length] from jiwer, summed over items for corpus rates:
`cer` (characters, spaces count), `wer` (words), `per` (phonemes, jiwer's word alignment over phoneme tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bench.scoring import MetricTable

TARGETS = ("characters", "phonemes")
BLANK = 0
METRICS_OF = {"characters": ("cer", "wer"), "phonemes": ("per",)}


def target_text(value: object, targets: str) -> str:
    """The reference of an item as the metrics compare it: normalised text (characters) or phonemes joined by one
    space (phonemes)."""
    from bench.textmetrics import normalise

    text = str(value)
    return normalise(text) if targets == "characters" else " ".join(text.split())


def tokens(reference: str, targets: str) -> list[str]:
    """The token sequence of a reference made by `target_text`."""
    return list(reference) if targets == "characters" else reference.split()


def join(tokens_: Sequence[str], targets: str) -> str:
    """The text of a decoded token sequence (the inverse of `tokens`)."""
    return "".join(tokens_) if targets == "characters" else " ".join(tokens_)


def vocabulary(references: Sequence[str], targets: str) -> list[str]:
    """Sorted token vocabulary of the (train) references; index k + 1 in the head's output is token k."""
    return sorted({t for ref in references for t in tokens(ref, targets)})


def encode(reference: str, vocab: Sequence[str], targets: str) -> list[int]:
    """Token ids (1-based: 0 is the blank) of a reference; tokens outside the vocabulary are dropped."""
    index = {t: k + 1 for k, t in enumerate(vocab)}
    return [index[t] for t in tokens(reference, targets) if t in index]


def greedy_decode(logits: np.ndarray, vocab: Sequence[str], targets: str) -> str:
    """Best-path decoding of [T, V + 1] scores: argmax per frame, repeats collapsed, blanks removed."""
    best = np.asarray(logits).argmax(axis=1)
    keep = (best != BLANK) & np.concatenate([[True], best[1:] != best[:-1]])
    return join([vocab[k - 1] for k in best[keep]], targets)


def error_stats(reference: str, hypothesis: str, targets: str) -> dict[str, list[int]]:
    """{metric: [edits, reference length]} of one item (module docstring), via jiwer."""
    import jiwer

    out = {}
    for name in METRICS_OF[targets]:
        if name == "cer":
            o = jiwer.process_characters(reference, hypothesis)
        else:  # wer over words, per over phoneme tokens: both are jiwer's word alignment
            o = jiwer.process_words(reference, hypothesis)
        out[name] = [o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits]
    return out


def corpus_rate(y_true: np.ndarray, stats: np.ndarray, weights: np.ndarray | None = None) -> float | np.ndarray:
    """Summed edits / summed reference length of per-item [edits, length] rows (weights [B, N]: B resamples)."""
    from bench.metrics import summed_metric

    def ratio(sums: np.ndarray) -> np.ndarray:
        return np.divide(sums[:, 0], sums[:, 1], out=np.full(len(sums), np.nan), where=sums[:, 1] != 0)

    return summed_metric(ratio)(y_true, stats, weights)


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """cer and wer (characters) or per (phonemes): corpus rates from per-item [edits, reference length] per seed."""
    from bench.scoring import metric_table

    idx = np.arange(len(rows))
    seeds = range(len(rows[0]["pred"]))
    return {name: metric_table(corpus_rate, np.zeros(len(rows)),
                               [np.asarray([r["pred"][s]["stats"][name] for r in rows], dtype=np.float64).reshape(-1, 2)
                                for s in seeds], idx, upper=None)
            for name in rows[0]["pred"][0]["stats"]}
