"""Zero-shot classification by class-name prompts.

Encoders with a text tower (`inp.encode_text`) are scored as they are: cosine of the pooled audio embedding with the
class prompts ("the sound of {class}", underscores in class names read as spaces; several templates are averaged).
Audio-only encoders get the contrastive map of `bench.protocols.contrastive` into the frozen MiniLM sentence space,
trained on the train split's class prompts (or captions, `text_column`); the learning rate and the epoch are chosen
on the validation items' mean probability of their class (early stopping; accuracy saturates on small splits).

Some classes are held out (`heldout_classes`, or a seeded `heldout_fraction`): their items are removed from train
and validation, so their prompts are never seen by the probe nor by selection. Metrics, the same for both kinds of
encoder so rows compare:
- `accuracy`: test items of seen classes, choosing among the seen classes;
- `accuracy_heldout`: test items of held-out classes, choosing among the held-out classes (classic zero-shot);
- `accuracy_all`: all test items, choosing among all classes (generalised zero-shot).
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
    "templates": ["the sound of {class}"],
    "class_column": "class",  # falls back to the task's label column when no item has it
    "text_column": None,  # train the probe on this caption column instead of the class prompts
    "heldout_classes": None,  # explicit list, else `heldout_fraction` of the classes drawn with `heldout_seed`
    "heldout_fraction": 0.25,
    "heldout_seed": 0,
    "text_side": "auto",  # auto (tower when the encoder has one) | tower | probe
    **PROBE_DEFAULTS,
    "n_boot": 1000,
}


def prompt_embeddings(names: list[str], templates: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """[C, T] unit vectors: per class, the mean of its template prompts' unit embeddings."""
    if not templates or any("{class}" not in t for t in templates):
        raise ValueError(f"prompt templates must be a non-empty list, each with a '{{class}}' slot; got {templates}")
    readable = [str(n).replace("_", " ") for n in names]
    return unit(sum(unit(encode([t.replace("{class}", n) for n in readable])) for t in templates))


def class_column(inp: ProtocolInput, configured: str | None) -> str:
    """The column naming each item's class: `configured` when items carry it, else the task's label column."""
    if configured and any(configured in item for item in inp.items):
        return configured
    return inp.task.label_column


def class_names(inp: ProtocolInput, column: str) -> list[str]:
    """One class name (a string) per item, from `column`."""
    names = []
    for i, item in enumerate(inp.items):
        value = item.get(column)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, item, i)}', column '{column}': zero-shot "
                             f"needs one class name per item, got {value!r}")
        names.append(str(value))
    return names


def heldout_classes(classes: list[str], cfg: dict[str, Any], where: str) -> list[str]:
    """The held-out classes: the configured list, or a seeded draw of `heldout_fraction` of them (at least 2)."""
    if cfg["heldout_classes"] is not None:
        held = [str(c) for c in cfg["heldout_classes"]]
        missing = sorted(set(held) - set(classes))
        if missing:
            raise ValueError(f"{where}: heldout_classes {missing} are not classes of the task ({classes[:10]} ...)")
    elif cfg["heldout_fraction"] > 0:
        n = max(2, round(cfg["heldout_fraction"] * len(classes)))
        held = sorted(np.random.default_rng(cfg["heldout_seed"]).choice(classes, size=n, replace=False).tolist())
    else:
        held = []
    if held and (len(held) < 2 or len(classes) - len(held) < 2):
        raise ValueError(f"{where}: {len(classes)} classes with {len(held)} held out; both the seen and the held-out "
                         f"set need at least 2 (set heldout_classes, or heldout_fraction: 0 to hold none out)")
    return sorted(held)


def _captions(inp: ProtocolInput, column: str, idx: np.ndarray) -> list[str]:
    out = []
    for i in idx:
        value = inp.items[i].get(column)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}', column '{column}': "
                             f"expected a caption string, got {value!r}")
        out.append(value)
    return out


def _predict(audio: np.ndarray, prompts: np.ndarray, candidates: list[int]) -> np.ndarray:
    """Class index (into the full class list) of the most similar candidate prompt, per row."""
    cand = np.array(candidates, dtype=np.int64)
    return cand[np.argmax(audio @ prompts[cand].T, axis=1)]


def _true_class_probability(x: np.ndarray, y: np.ndarray, prompts: np.ndarray, candidates: list[int],
                            temperature: float) -> Callable[[ContrastiveMap], float]:
    """Selection score of a map: the mean softmax probability (over the candidate classes' prompts, at the training
    temperature) of each item's class. Unlike accuracy it does not saturate on a small validation split, so the
    tie rule (the earlier epoch wins) does not stop at the first epoch that classifies every item right."""
    cand = np.array(candidates, dtype=np.int64)
    column = {c: k for k, c in enumerate(candidates)}
    target = np.array([column[int(v)] for v in y], dtype=np.int64)

    def score(m: ContrastiveMap) -> float:
        logits = m(x) @ prompts[cand].T / temperature
        logits -= logits.max(1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(1, keepdims=True)
        return float(np.mean(prob[np.arange(len(target)), target]))

    return score


def run_zeroshot(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Zero-shot classification by prompts: accuracy on seen, held-out and all classes (module docstring)."""
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields
    from bench.text import TEXT_ENCODER, encode_texts

    cfg = resolve_protocol_config(inp.task, spec)
    where = f"{inp.task.file}: protocol '{spec.kind}'"
    tower = uses_tower(inp, cfg["text_side"], where)
    column = class_column(inp, cfg["class_column"])
    names = class_names(inp, column)
    classes = sorted(set(names))
    lookup = {c: k for k, c in enumerate(classes)}
    code = np.array([lookup[n] for n in names], dtype=np.int64)
    held = heldout_classes(classes, cfg, where)
    seen_ids = [k for k, c in enumerate(classes) if c not in held]
    held_ids = [k for k, c in enumerate(classes) if c in held]
    is_seen = np.isin(code, seen_ids)
    encode = inp.encode_text if tower else encode_texts
    prompts = prompt_embeddings(classes, cfg["templates"], encode)
    if tower and prompts.shape[1] != inp.pooled.shape[1]:
        raise ValueError(f"{where}: the text tower gives {prompts.shape[1]}-d vectors but pooled audio is "
                         f"{inp.pooled.shape[1]}-d (use pooling 'mean' with a text tower)")
    seeds = inp.seeds[:1] if tower else inp.seeds
    test_all, preds = [], {s: {"seen": [], "held": [], "all": []} for s in seeds}
    selected: list[dict[str, Any]] = []
    for train_idx, val_idx, test_idx in split_indices(inp.task, inp.items):
        test_all.append(test_idx)
        train_idx, val_idx = train_idx[is_seen[train_idx]], val_idx[is_seen[val_idx]]
        for seed in seeds:
            if tower:
                audio = unit(inp.pooled[test_idx])
            else:
                if cfg["text_column"]:
                    texts = _captions(inp, cfg["text_column"], train_idx)
                    vocab = sorted(set(texts))
                    position = {t: k for k, t in enumerate(vocab)}
                    ids = np.array([position[t] for t in texts], dtype=np.int64)
                    vectors = encode_texts(vocab)
                else:
                    ids, vectors = code[train_idx], prompts
                val_score = _true_class_probability(inp.pooled[val_idx], code[val_idx], prompts, seen_ids,
                                                    cfg["temperature"])
                cmap, info = fit_contrastive_map(inp.pooled[train_idx], ids, vectors, val_score, cfg, seed)
                selected.append({"seed": seed, **info})
                audio = cmap(inp.pooled[test_idx])
            preds[seed]["seen"].append(_predict(audio, prompts, seen_ids))
            preds[seed]["all"].append(_predict(audio, prompts, list(range(len(classes)))))
            if held_ids:
                preds[seed]["held"].append(_predict(audio, prompts, held_ids))
    test_idx = np.concatenate(test_all)
    if not is_seen[test_idx].any():
        raise ValueError(f"{where}: no test item of a seen class, so 'accuracy' is undefined")
    if held_ids and is_seen[test_idx].all():
        raise ValueError(f"{where}: no test item of a held-out class, so 'accuracy_heldout' is undefined")
    joined = {s: {key: np.concatenate(v).tolist() if v else [] for key, v in preds[s].items()} for s in seeds}
    rows = []
    for k, i in enumerate(test_idx.tolist()):
        seen = bool(is_seen[i])
        rows.append({**sample_fields(inp.task, inp.items, i), "label": int(code[i]), "seen": seen,
                     "pred": [{"seen": joined[s]["seen"][k] if seen else None, "all": joined[s]["all"][k],
                               "held": joined[s]["held"][k] if held_ids and not seen else None} for s in seeds]})
    config = {**cfg, "text_side": "tower" if tower else "probe", "class_column": column,
              "heldout_classes": held, "text_encoder": None if tower else TEXT_ENCODER}
    return scored_result(spec, inp, rows, config, seeds,
                         n_samples={"test": len(rows), "test_heldout": int((~is_seen[test_idx]).sum()),
                                    "classes": len(classes)},
                         selected={"probe": selected} if selected else {})


def sample_tables(rows: list[dict], label_kind: str, config: dict) -> dict[str, MetricTable]:
    """Accuracy on seen-class items, held-out-class items and over all classes."""
    from bench.metrics import accuracy
    from bench.scoring import metric_table, per_seed_values

    out = {}
    for name, key, keep in (("accuracy", "seen", lambda r: r["seen"]), ("accuracy_all", "all", lambda r: True),
                            ("accuracy_heldout", "held", lambda r: not r["seen"])):
        idx = np.array([i for i, r in enumerate(rows) if keep(r)], dtype=np.int64)
        if len(idx):
            sub = [rows[i] for i in idx]
            out[name] = metric_table(accuracy, [r["label"] for r in sub],
                                     per_seed_values(sub, lambda p, key=key: p[key]), idx, proportion=True)
    return out
