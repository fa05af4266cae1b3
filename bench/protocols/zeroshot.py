"""Zero-shot classification by class-name prompts, and the contrastive probe that gives any encoder a text side.

Encoders with a text tower (`inp.encode_text`) are scored as they are: cosine of the pooled audio embedding with the
class prompts ("the sound of {class}", underscores in class names read as spaces; several templates are averaged).
Audio-only encoders get a contrastive probe: a linear map from standardised pooled audio into the frozen MiniLM
sentence space (`bench.text`), trained with a symmetric InfoNCE loss (fixed temperature) on the train split's class
prompts (or captions, `text_column`); the learning rate and the epoch are chosen on validation (early stopping).

Some classes are held out (`heldout_classes`, or a seeded `heldout_fraction`): their items are removed from train
and validation, so their prompts are never seen by the probe nor by selection. Metrics, the same for both kinds of
encoder so rows compare:
- `accuracy`: test items of seen classes, choosing among the seen classes;
- `accuracy_heldout`: test items of held-out classes, choosing among the held-out classes (classic zero-shot);
- `accuracy_all`: all test items, choosing among all classes (generalised zero-shot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, effective_config, scored_result, single_threaded
from bench.protocols.features import standardiser
from bench.protocols.labels import item_id

if TYPE_CHECKING:
    import torch

    from bench.taskspec import ProtocolSpec

PROBE_DEFAULTS: dict[str, Any] = {
    "lrs": [1e-3, 1e-2],  # Adam learning rates, one chosen on validation
    "max_epochs": 100,
    "patience": 10,  # epochs without validation improvement before stopping
    "batch_size": 256,
    "temperature": 0.07,
    "weight_decay": 0.0,
}
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
TEXT_SIDES = ("auto", "tower", "probe")


def uses_tower(inp: ProtocolInput, text_side: str, where: str) -> bool:
    """Whether to score with the encoder's text tower (True) or with a contrastive probe into MiniLM (False)."""
    if text_side not in TEXT_SIDES:
        raise ValueError(f"{where}: text_side is {text_side!r}; expected one of {', '.join(TEXT_SIDES)}")
    if text_side == "tower" and inp.encode_text is None:
        raise ValueError(f"{where}: text_side 'tower' but the encoder has no text tower (encode_text is None)")
    return text_side == "tower" or (text_side == "auto" and inp.encode_text is not None)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def prompt_embeddings(names: list[str], templates: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """[C, T] unit vectors: per class, the mean of its template prompts' unit embeddings."""
    if not templates or any("{class}" not in t for t in templates):
        raise ValueError(f"prompt templates must be a non-empty list, each with a '{{class}}' slot; got {templates}")
    readable = [str(n).replace("_", " ") for n in names]
    return unit(sum(unit(encode([t.replace("{class}", n) for n in readable])) for t in templates))


@dataclass
class ContrastiveMap:
    """Standardise (train statistics), apply a linear map, L2-normalise."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray  # [D, T]
    bias: np.ndarray  # [T]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return unit(((np.asarray(x, dtype=np.float32) - self.mean) / self.std) @ self.weight + self.bias)


def _info_nce(audio: "torch.Tensor", texts: "torch.Tensor", ids: "torch.Tensor", temperature: float) -> "torch.Tensor":
    """Symmetric InfoNCE over a batch; items sharing a text id are all positives of that text."""
    import torch
    import torch.nn.functional as F

    unique, position = torch.unique(ids, return_inverse=True)
    logits = F.normalize(audio, dim=-1) @ texts[unique].T / temperature  # [B, U]
    a2t = F.cross_entropy(logits, position)
    positives = F.one_hot(position, len(unique)).T.float()  # [U, B]
    t2a = -(positives / positives.sum(1, keepdim=True) * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (a2t + t2a)


@single_threaded
def fit_contrastive_map(x_train: np.ndarray, text_ids: np.ndarray, text_vectors: np.ndarray,
                        val_score: Callable[[ContrastiveMap], float], cfg: dict[str, Any],
                        seed: int) -> tuple[ContrastiveMap, dict[str, Any]]:
    """Train the linear audio->text map on (x_train[i], text_vectors[text_ids[i]]) pairs.

    Every lr in `cfg['lrs']` is trained with early stopping on `val_score` (higher is better, evaluated after each
    epoch; `patience` epochs without a strict improvement stop a run, whose last best-scoring epoch is kept); the
    best lr wins, the first on ties. Returns the map and what was selected.
    """
    import torch

    x = np.asarray(x_train, dtype=np.float32)
    mean, std = standardiser(x)
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    xs = torch.from_numpy((x - mean) / std)
    texts = torch.from_numpy(unit(text_vectors))
    ids = torch.from_numpy(np.asarray(text_ids, dtype=np.int64))
    d_in, d_out = xs.shape[1], texts.shape[1]
    best: tuple[float, ContrastiveMap | None, dict[str, Any]] = (-np.inf, None, {})
    for lr in cfg["lrs"]:
        gen = torch.Generator().manual_seed(seed)
        weight = (torch.randn(d_in, d_out, generator=gen) / np.sqrt(d_in)).requires_grad_()
        bias = torch.zeros(d_out, requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=cfg["weight_decay"])
        run: tuple[float, ContrastiveMap | None, int] = (-np.inf, None, 0)
        since = 0
        for epoch in range(1, cfg["max_epochs"] + 1):
            for batch in torch.randperm(len(xs), generator=gen).split(cfg["batch_size"]):
                loss = _info_nce(xs[batch] @ weight + bias, texts, ids[batch], cfg["temperature"])
                opt.zero_grad()
                loss.backward()
                opt.step()
            current = ContrastiveMap(mean, std, weight.detach().numpy().copy(), bias.detach().numpy().copy())
            score = float(val_score(current))
            since = 0 if score > run[0] else since + 1
            if score >= run[0]:  # on a plateau (small validation sets saturate) keep the later epoch
                run = (score, current, epoch)
            if since >= cfg["patience"]:
                break
        if run[0] > best[0]:
            best = (run[0], run[1], {"lr": lr, "epoch": run[2], "validation_score": run[0]})
    if best[1] is None:
        raise ValueError("the contrastive probe never produced a finite validation score")
    return best[1], best[2]


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


def _accuracy_on(x: np.ndarray, y: np.ndarray, prompts: np.ndarray,
                 candidates: list[int]) -> Callable[[ContrastiveMap], float]:
    """Selection score of a map: accuracy on (x, y) choosing among the candidate classes."""
    return lambda m: float(np.mean(_predict(m(x), prompts, candidates) == y))


def run_zeroshot(inp: ProtocolInput, spec: "ProtocolSpec") -> ProtocolResult:
    """Zero-shot classification by prompts: accuracy on seen, held-out and all classes (module docstring)."""
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields
    from bench.text import TEXT_ENCODER, encode_texts

    cfg = effective_config(inp.task, spec, DEFAULTS)
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
                val_accuracy = _accuracy_on(inp.pooled[val_idx], code[val_idx], prompts, seen_ids)
                cmap, info = fit_contrastive_map(inp.pooled[train_idx], ids, vectors, val_accuracy, cfg, seed)
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
