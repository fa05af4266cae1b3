"""Generative assessment with a frozen LLM: an encoder's frames as the prefix of a language model's answer.

Recipe. Cached frames [T, D] are standardised with the train split's per-dimension mean and std, then stacked: k
consecutive frames are concatenated into one [k*D] vector, k = round(1000 / (hop_ms * token_rate_hz)) (the tail is
zero-padded), so the LLM sees about `token_rate_hz` audio tokens per second. A projector (2-layer MLP with GELU and
hidden width = the LLM's, or one Linear) maps them into the LLM's input-embedding space, times a fixed scale (the
RMS of the LLM's token embeddings). The sequence (see bench.llm_prompt) puts the task's instruction before the audio
tokens: with the tokenizer's chat template when it has one (user turn = instruction, newline, audio tokens), else
plain text ("<instruction>\\n<audio>\\nAnswer:"), then the answer and the end-of-sequence token; the shared part
before the audio is encoded once and cached. Only the projector is trained
(optionally LoRA adapters on the attention q/v projections: a separate, labelled variant), with AdamW on random
train batches for a fixed number of steps; the cross-entropy covers the answer tokens (and the final eos) only.
Every `eval_every` steps the validation split is decoded for real (greedy generation, no teacher forcing) and scored
with the task's main score; the best checkpoint is kept and training stops after `patience` evaluations without
improvement (tie rule: bench.protocols.training). That checkpoint then decodes the test split greedily. Nothing
is chosen on test. k-fold tasks rotate as in the probes (test = fold i, validation = fold i+1).

Tasks: multiclass labels are answered by class name (accuracy by normalised exact match; an answer that is no class
name counts as wrong and its share is `unparseable_rate`), transcripts are ASR (wer, cer), captions are described
(bleu and, when bench.text's MiniLM is installed, semantic_sim); see bench.textmetrics for the normalisation.
`text_only: <column>` adds a projector-free upper bound: the same frozen LLM, untrained, given that column's text
(a transcript, metadata) where the audio tokens would be, after `text_only_shots` solved train examples in the same
form (so that it knows the answer format), scored on the same test items (metrics `text_only_*`).

Tiers: `tier: quick` (the default: 150 steps, evaluation every 50, one seed) is a smoke test for CI: with
SmolLM2-135M on one thread of a 2-core CPU a step takes about 0.5 s (batch 4; ~10 audio tokens, ~5 prompt tokens
after the cached prefix, ~3 answer tokens) to 0.8 s (ASR answers), so a quick task takes 2 to 3 minutes; at that
budget the projector has barely started to learn. `tier: standard` (1500 steps, evaluation every 150, patience 4,
three seeds) takes about 15 to 25 minutes per seed, so 45 to 75 minutes per task and encoder on that CPU (minutes on
a GPU). Any key set in the task overrides the tier's value. Gemma-3-270M steps take about 2.5x as long.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result, single_threaded

if TYPE_CHECKING:
    from bench.scoring import MetricTable
    from bench.taskspec import ProtocolSpec, TaskSpec

TIERS: dict[str, dict[str, Any]] = {
    "quick": {"steps": 150, "eval_every": 50, "patience": 2, "n_seeds": 1},
    "standard": {"steps": 1500, "eval_every": 150, "patience": 4, "n_seeds": 3},
}
# Numeric keys (ranges in bench.protocols.registry); steps, eval_every, patience and n_seeds (the first n of the
# run's seeds) default to the tier's values.
NUMERIC_DEFAULTS: dict[str, Any] = {
    "token_rate_hz": 8.0, "lr": 1e-3, "batch_size": 4, "eval_batch_size": 16, "lora_r": 8, "lora_alpha": 16,
    "n_boot": 1000, **TIERS["quick"],
}
OTHER_DEFAULTS: dict[str, Any] = {
    "tier": "quick",
    "llm": "smollm2-135m",  # smollm2-135m | gemma3-270m | a local Hugging Face causal-LM folder
    "device": "auto",  # auto (CUDA when present, bf16) | cpu | cuda[:i]
    "projector": "mlp",  # mlp | linear
    "lora": False,
    "prompt": None,  # None: a default per label kind; "{classes}", "{column}" and "{noun}" are filled in
    "max_new_tokens": None,  # None: ceil(1.25 * longest train answer in tokens) + 2
    "text_only": None,  # a column of the items: adds the text-only upper bound
    "text_only_shots": 4,  # solved train examples shown to the text-only LLM (0: zero-shot)
}
METRIC_NAMES = {"multiclass": ("accuracy", "unparseable_rate"), "transcripts": ("wer", "cer"),
                "captions": ("bleu", "semantic_sim")}
DEFAULT_PROMPTS = {
    "multiclass": "What is the {column} of the {noun} in this audio? Answer with one of: {classes}.",
    "transcripts": "Transcribe the audio.",
    "captions": "Describe the sound.",
}
DOMAIN_NOUNS = {"speech": "speech", "paralinguistic": "voice", "sound": "sound", "music": "music",
                "spatial": "sound scene"}


def resolve_config(spec: ProtocolSpec, task: TaskSpec) -> dict[str, Any]:
    """The protocol config (bench.protocols.registry.resolve_protocol_config: bad keys and values raise), with the
    tier's values for the keys the task leaves unset."""
    from bench.protocols.registry import resolve_protocol_config

    config = resolve_protocol_config(task, spec)
    return {**config, **{k: v for k, v in TIERS[config["tier"]].items() if k not in spec.config}}


def _references(task: TaskSpec, items: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    """(reference per item: class name, transcript or list of captions; class names for multiclass else [])."""
    from bench.protocols.labels import encode_labels, item_id

    if task.label_kind == "multiclass":
        labels, classes = encode_labels(task, items)
        return [str(classes[c]) for c in labels], [str(c) for c in classes]
    refs = []
    for i, item in enumerate(items):
        value = item.get(task.label_column)
        ok = isinstance(value, str) and value.strip() or (
            task.label_kind == "captions" and isinstance(value, list) and value
            and all(isinstance(v, str) and v.strip() for v in value))
        if not ok:
            kind = "a string or a list of strings" if task.label_kind == "captions" else "a string"
            raise ValueError(f"{task.file}: item '{item_id(task, item, i)}', column '{task.label_column}': "
                             f"a {task.label_kind[:-1]} must be {kind}, got {value!r}")
        refs.append(value)
    return refs, []


def _semantic_available() -> str | None:
    """None when the MiniLM text encoder can be used, else why not."""
    try:
        from bench.text import model_dir

        model_dir()
    except (ImportError, FileNotFoundError) as err:
        return f"left out: {err}"
    return None


def score_stats(kind: str, answers: Sequence[str], refs: Sequence[Any], classes: Sequence[str],
                names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-item statistics (see bench.textmetrics) of the metrics `names` that the label kind has."""
    from bench import textmetrics as tm

    if kind == "multiclass":
        stats = tm.match_stats(answers, refs, classes)
    elif kind == "transcripts":
        stats = tm.error_stats(answers, refs)
    else:
        stats = {}
        if "bleu" in names:
            stats["bleu"] = tm.bleu_stats(answers, refs)
        if "semantic_sim" in names:
            stats["semantic_sim"] = tm.semantic_stats(answers, refs)
    return {name: s for name, s in stats.items() if name in names}


def _load_frames(inp: ProtocolInput, indices: np.ndarray) -> dict[int, np.ndarray]:
    from bench.protocols.labels import item_id

    out, dim = {}, None
    for i in indices.tolist():
        x = np.asarray(inp.frames(i), dtype=np.float32)
        where = f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}'"
        if x.ndim != 2 or len(x) == 0 or (dim is not None and x.shape[1] != dim):
            raise ValueError(f"{where}: frames have shape {x.shape}, expected [T >= 1, {dim or 'D'}]")
        if not np.isfinite(x).all():
            raise ValueError(f"{where}: frames hold NaN or inf values")
        out[i], dim = x, x.shape[1]
    return out


def run_generative(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Train a projector into a frozen LLM on cached frames, decode greedily, score the text (see module doc).

    Runs on one CPU thread (as the other protocols: on a busy 2-core machine two threads made a SmolLM2 step 3 to 25
    times slower than one), with denormals flushed (see bench.llm.without_denormals).
    """
    from bench.llm import without_denormals

    return without_denormals(lambda: single_threaded(_run)(inp, spec))


def _run(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    import torch

    from bench.llm import load_llm
    from bench.llm_prompt import prompt_text
    from bench.protocols.generative_train import (
        embedder,
        embedding_scale,
        stack_factor,
        stack_frames,
        text_only_answers,
        train_and_decode,
    )
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields
    from bench.textmetrics import NORMALISATION, corpus_metric

    task = inp.task
    if task.label_kind not in METRIC_NAMES:
        raise ValueError(f"{task.file}: protocol 'generative' handles {', '.join(METRIC_NAMES)} labels, "
                         f"not '{task.label_kind}'")
    config = resolve_config(spec, task)
    names = list(METRIC_NAMES[task.label_kind])
    notes = {}
    if "semantic_sim" in names and (why := _semantic_available()):
        names.remove("semantic_sim")
        notes["semantic_sim"] = why
    if spec.main_score not in names:
        raise ValueError(f"{task.file}: main score '{spec.main_score}' is not computed by protocol 'generative' for "
                         f"{task.label_kind} labels; choose one of {', '.join(names)}")
    seeds = list(inp.seeds[:config["n_seeds"]])
    if not seeds:
        raise ValueError(f"{task.file}: protocol 'generative' needs at least one seed")

    refs, classes = _references(task, inp.items)
    folds = split_indices(task, inp.items)
    tested = np.sort(np.concatenate([test for _, _, test in folds]))
    instruction = (config["prompt"] or DEFAULT_PROMPTS[task.label_kind]).format(
        classes=", ".join(classes), column=task.label_column.replace("_", " "),
        noun=DOMAIN_NOUNS.get(task.domain, "audio"))

    tick = time.perf_counter()
    llm = load_llm(config["llm"], config["device"])
    load_s = time.perf_counter() - tick
    before, after, answer_prefix = prompt_text(llm.tokenizer, instruction)
    embed = embedder(llm)
    prefix, suffix, scale = embed(before, True), embed(after, False), embedding_scale(llm)
    tok = llm.tokenizer

    def answer_ids(text: str) -> list[int]:
        return tok(answer_prefix + text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

    answers = {i: [answer_ids(r) for r in ([refs[i]] if isinstance(refs[i], str) else refs[i])]
               for i in np.unique(np.concatenate([f[0] for f in folds])).tolist()}
    max_new = config["max_new_tokens"] or math.ceil(1.25 * max(len(a) for g in answers.values() for a in g)) + 2
    sign = 1.0 if spec.higher_is_better else -1.0

    def val_score(predicted: list[str], val_refs: list[Any]) -> float:
        stats = score_stats(task.label_kind, predicted, val_refs, classes, [spec.main_score])
        return corpus_metric(spec.main_score)(None, stats[spec.main_score])

    k = stack_factor(inp.hop_ms, config["token_rate_hz"])
    frames = _load_frames(inp, np.unique(np.concatenate([np.concatenate(f) for f in folds])))
    predictions = [[""] * len(inp.items) for _ in seeds]
    runs = []
    for fold_index, (train, val, test) in enumerate(folds):
        train_frames = np.concatenate([frames[i] for i in train.tolist()]).astype(np.float64)
        mean, std = train_frames.mean(0), train_frames.std(0)
        std[std < 1e-8] = 1.0
        x = {i: torch.from_numpy(stack_frames(((frames[i] - mean) / std).astype(np.float32), k))
             for i in np.concatenate([train, val, test]).tolist()}
        for seed_index, seed in enumerate(seeds):
            run_seed = int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0])
            with torch.random.fork_rng(devices=[]):
                predicted, log = train_and_decode(llm, config, run_seed, x, answers, refs,
                                                   (prefix, suffix, scale, max_new, sign), (train, val, test),
                                                   val_score)
            for i, text in zip(test.tolist(), predicted):
                predictions[seed_index][i] = text
            runs.append({"fold": task.split.folds[fold_index] if task.split.is_kfold else None, **log})

    test_refs = [refs[i] for i in tested.tolist()]
    stats = [score_stats(task.label_kind, [p[i] for i in tested.tolist()], test_refs, classes, names)
             for p in predictions]
    cost = {"llm_load_s": round(load_s, 2), "train_s": round(sum(r["train_s"] for r in runs), 2),
            "s_per_step": round(float(np.mean([r["s_per_step"] for r in runs])), 4),
            "test_decode_s": round(sum(r["test_decode_s"] for r in runs), 2)}
    upper = None
    if config["text_only"]:
        tick = time.perf_counter()
        upper = [""] * len(inp.items)
        for train, _, test in folds:  # shots from each fold's train part, never from its test part
            answers_of_test = text_only_answers(llm, inp, config, instruction, refs, train, test, max_new)
            for i, text in zip(test.tolist(), answers_of_test):
                upper[i] = text
        cost["text_only_s"] = round(time.perf_counter() - tick, 2)
        upper_stats = score_stats(task.label_kind, [upper[i] for i in tested.tolist()], test_refs, classes, names)
    record = {**config, "seeds_used": seeds, "variant": "projector+lora" if config["lora"] else "projector",
              "llm_source": llm.source, "llm_dim": llm.dim, "device": llm.device, "dtype": llm.dtype,
              "stack_frames": k, "token_rate_hz_effective": round(1000.0 / (inp.hop_ms * k), 3),
              "instruction": instruction, "prompt_format": "chat template" if tok.chat_template else "plain",
              "max_new_tokens": max_new, "normalisation": NORMALISATION, **notes}
    if task.split.is_kfold:
        n_samples = {"train": round(float(np.mean([len(f[0]) for f in folds]))),
                     "validation": round(float(np.mean([len(f[1]) for f in folds]))), "test": len(tested)}
    else:
        n_samples = {name: len(part) for name, part in zip(("train", "validation", "test"), folds[0])}
    examples = [{"reference": refs[i], "answer": predictions[0][i], **({"text_only": upper[i]} if upper else {})}
                for i in tested[:5].tolist()]
    selected = {"metric": spec.main_score, "on": "validation", "decoding": "greedy", "runs": runs, "cost": cost,
                "examples": examples}
    rows = []
    for k, i in enumerate(tested.tolist()):
        row = {**sample_fields(task, inp.items, i), "label": refs[i],
               "pred": [{"text": p[i], "stats": {n: st[n][k].tolist() for n in names}}
                        for p, st in zip(predictions, stats)]}
        if upper is not None:
            row["text_only"] = {"text": upper[i], "stats": {n: upper_stats[n][k].tolist() for n in names}}
        rows.append(row)
    return scored_result(spec, inp, rows, record, seeds, n_samples=n_samples, selected=selected)


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """The label kind's metrics (and the text-only bound's) from per-item statistics, as corpus rates."""
    from bench.scoring import metric_table
    from bench.textmetrics import corpus_metric

    idx = np.arange(len(rows))
    bounds = {"accuracy": 1.0, "unparseable_rate": 1.0, "bleu": 100.0, "wer": None, "cer": None,
              "semantic_sim": None}
    out = {}
    for prefix, get in (("", lambda r, s: r["pred"][s]), ("text_only_", lambda r, s: r["text_only"])):
        if prefix and "text_only" not in rows[0]:
            continue
        n_seeds = len(rows[0]["pred"]) if not prefix else 1
        for name in get(rows[0], 0)["stats"]:
            stats = [np.asarray([get(r, s)["stats"][name] for r in rows], dtype=np.float64) for s in range(n_seeds)]
            out[prefix + name] = metric_table(corpus_metric(name), np.zeros(len(rows)), stats, idx,
                                              proportion=name in ("accuracy", "unparseable_rate"), upper=bounds[name],
                                              per_seed=not prefix)
    return out
