"""Linear and MLP probes on pooled embeddings.

Minibatches hold `batch_size` items, or n_train / 8 (at least 4) when that is smaller (`batch_size_used` in the
config). Features are standardised with the train split's mean and std (`bench.protocols.features.standardiser`:
each std floored at 1% of the median non-zero std); regression predictions are clipped to the train targets' range.
For every seed and every lr of the grid a fresh model is trained with Adam on minibatches; after each epoch it is
scored on the validation split (the task's main score), and training stops when that score has not improved for
`patience` epochs. The lr and the epoch checkpoint with the best validation score are kept and only then is the
test split predicted: nothing is chosen on test. For k-fold tasks each fold's test part is predicted by that fold's
model, so every item is predicted once per seed, and the metrics are computed over all items.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, effective_config, scored_result, single_threaded
from bench.protocols.features import standardiser

if TYPE_CHECKING:
    import torch

    from bench.taskspec import ProtocolSpec, TaskSpec

LINEAR_DEFAULTS: dict[str, Any] = {
    "lrs": [1e-3, 1e-2], "weight_decay": 1e-4, "batch_size": 64, "max_epochs": 100, "patience": 10, "n_boot": 1000,
}
MLP_DEFAULTS: dict[str, Any] = {**LINEAR_DEFAULTS, "hidden": 512, "dropout": 0.1}
_MAY_BE_ZERO = {"weight_decay", "dropout"}
KFOLD_N_SAMPLES = "train and validation: mean per fold; test: total over folds (each item is tested once)"


def resolve_config(spec: "ProtocolSpec", defaults: dict[str, Any], task: "TaskSpec") -> dict[str, Any]:
    """The protocol's config from the task, over the defaults; unknown keys and bad values raise."""
    where = f"{task.file}: protocol '{spec.kind}'"
    config = effective_config(task, spec, defaults)
    for key, default in defaults.items():
        value = config[key]
        numbers = value if isinstance(default, list) else [value]
        kinds = int if isinstance(default, int) else (int, float)
        ok = isinstance(value, list) == isinstance(default, list) and len(numbers) > 0 and all(
            isinstance(v, kinds) and not isinstance(v, bool) and math.isfinite(v)
            and (v >= 0 if key in _MAY_BE_ZERO else v > 0) for v in numbers)
        if not ok:
            expected = ("a non-empty list of positive numbers" if isinstance(default, list)
                        else f"a {'non-negative' if key in _MAY_BE_ZERO else 'positive'} "
                             f"{'integer' if kinds is int else 'number'}")
            raise ValueError(f"{where}: config '{key}' must be {expected}, got {value!r}")
    if config.get("dropout", 0) >= 1:
        raise ValueError(f"{where}: config 'dropout' must be below 1, got {config['dropout']!r}")
    return config


def prepare(inp: ProtocolInput, spec: "ProtocolSpec", defaults: dict[str, Any]) -> tuple[
        dict[str, Any], np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Checks shared by the pooled-embedding protocols; returns (config, labels, folds)."""
    from bench.metrics import METRICS
    from bench.protocols.labels import encode_labels, item_id
    from bench.protocols.splits import split_indices

    task = inp.task
    if task.label_kind not in METRICS:
        raise ValueError(f"{task.file}: protocol '{spec.kind}' scores multiclass, multilabel or regression labels, "
                         f"not '{task.label_kind}'")
    if spec.main_score not in METRICS[task.label_kind]:
        raise ValueError(f"{task.file}: main score '{spec.main_score}' is not computed by protocol '{spec.kind}' for "
                         f"{task.label_kind} labels; choose one of {', '.join(METRICS[task.label_kind])}")
    if not inp.seeds:
        raise ValueError(f"{task.file}: protocol '{spec.kind}' needs at least one seed")
    if inp.pooled.ndim != 2 or len(inp.pooled) != len(inp.items):
        raise ValueError(f"{task.file}: pooled embeddings have shape {inp.pooled.shape}, expected "
                         f"[{len(inp.items)} items, D]")
    bad = np.flatnonzero(~np.isfinite(inp.pooled).all(1))
    if len(bad):
        raise ValueError(f"{task.file}: the pooled embedding of item '{item_id(task, inp.items[bad[0]], bad[0])}' "
                         f"has NaN or inf values ({len(bad)} items in all)")
    config = resolve_config(spec, defaults, task)
    labels, _ = encode_labels(task, inp.items)
    return config, labels, split_indices(task, inp.items)


def _plain(pred: np.ndarray) -> list:
    """Predictions as JSON-ready lists. Multilabel score vectors are written as the shortest decimals that read back
    as the same float32 values: half the size, and as those decimals keep every order and tie, mAP is unchanged."""
    if pred.ndim == 2:
        return pred.astype(np.float32).astype(str).astype(np.float64).tolist()
    return pred.tolist()


def finish(inp: ProtocolInput, spec: "ProtocolSpec", config: dict[str, Any], labels: np.ndarray,
           folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]], preds_per_seed: list[np.ndarray],
           seeds: list[int], selected: dict[str, Any]) -> ProtocolResult:
    """Score each seed's predictions of the tested items (via their sample rows) and assemble the result."""
    from bench.scoring import sample_fields

    tested = np.sort(np.concatenate([test for _, _, test in folds]))
    label_list, pred_lists = labels[tested].tolist(), [_plain(p[tested]) for p in preds_per_seed]
    rows = [{**sample_fields(inp.task, inp.items, int(i)), "label": label_list[k],
             "pred": [pred[k] for pred in pred_lists]} for k, i in enumerate(tested)]
    if len(folds) == 1:
        n_samples = {name: len(part) for name, part in zip(("train", "validation", "test"), folds[0])}
    else:
        n_samples = {"train": round(float(np.mean([len(f[0]) for f in folds]))),
                     "validation": round(float(np.mean([len(f[1]) for f in folds]))), "test": len(tested)}
        config = {**config, "folds": len(folds), "n_samples": KFOLD_N_SAMPLES}
    return scored_result(spec, inp, rows, config, list(seeds), n_samples=n_samples, selected=selected)


def scaled_batch_size(configured: int, n_train: int) -> int:
    """The minibatch size used: the configured one, but at most n_train / 8 (at least 4), so that a small train
    split still gets several optimiser steps per epoch (with 16 items a batch of 64 is one step an epoch)."""
    return min(configured, max(4, n_train // 8))


def _build(kind: str, d_in: int, d_out: int, config: dict[str, Any]) -> "torch.nn.Module":
    import torch.nn as nn

    if kind == "linear":
        return nn.Linear(d_in, d_out)
    return nn.Sequential(nn.Linear(d_in, config["hidden"]), nn.ReLU(), nn.Dropout(config["dropout"]),
                         nn.Linear(config["hidden"], d_out))


def _fit(model: "torch.nn.Module", x: "torch.Tensor", target: "torch.Tensor", x_val: "torch.Tensor",
         val_score: Callable[["torch.Tensor"], float], loss_fn: Callable, lr: float, config: dict[str, Any],
         generator: "torch.Generator") -> tuple[float, int, dict | None]:
    """Train with early stopping; (best validation score, its epoch, its state) — state None if never finite."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config["weight_decay"])
    best, best_epoch, best_state, waited = -math.inf, 0, None, 0
    for epoch in range(1, config["max_epochs"] + 1):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(config["batch_size"]):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[batch]), target[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            score = val_score(model(x_val))
        if score > best:  # a NaN score never counts as an improvement
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= config["patience"]:
                break
    return best, best_epoch, best_state


@single_threaded
def _run(inp: ProtocolInput, spec: "ProtocolSpec", defaults: dict[str, Any]) -> ProtocolResult:
    import torch
    import torch.nn as nn

    from bench.metrics import METRICS

    config, labels, folds = prepare(inp, spec, defaults)
    task, kind = inp.task, inp.task.label_kind
    metric_fn = METRICS[kind][spec.main_score]
    sign = 1.0 if spec.higher_is_better else -1.0
    n_out = 1 if kind == "regression" else labels.shape[1] if kind == "multilabel" else int(labels.max()) + 1
    loss_fn = {"multiclass": nn.CrossEntropyLoss(), "multilabel": nn.BCEWithLogitsLoss(),
               "regression": nn.MSELoss()}[kind]
    preds = [np.zeros(labels.shape, dtype=np.int64 if kind == "multiclass" else np.float32) for _ in inp.seeds]
    runs = []
    x_all = inp.pooled.astype(np.float64)
    batch_sizes = [scaled_batch_size(config["batch_size"], len(train)) for train, _, _ in folds]
    for fold_index, (train, val, test) in enumerate(folds):
        fold_config = {**config, "batch_size": batch_sizes[fold_index]}
        mean, std = standardiser(x_all[train])
        x_train, x_val, x_test = (torch.from_numpy(((x_all[part] - mean) / std).astype(np.float32))
                                  for part in (train, val, test))
        y_shift, y_scale = 0.0, 1.0
        if kind == "regression":
            y_shift, y_scale = float(labels[train].mean()), float(labels[train].std()) or 1.0
            target = torch.from_numpy(((labels[train] - y_shift) / y_scale).astype(np.float32))[:, None]
        else:
            target = torch.from_numpy(labels[train])

        def decode(out: "torch.Tensor") -> np.ndarray:
            out = out.numpy()
            if kind == "multiclass":
                return out.argmax(1)
            if kind == "regression":  # within the train targets' range: a near-constant feature cannot explode it
                return np.clip(out[:, 0] * y_scale + y_shift, labels[train].min(), labels[train].max())
            return out

        def val_score(out: "torch.Tensor") -> float:
            return sign * float(metric_fn(labels[val], decode(out)))

        for seed_index, seed in enumerate(inp.seeds):
            run_seed = int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0])
            grid, best = [], None
            for lr in config["lrs"]:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(run_seed)  # the same init and batch order for every lr
                    model = _build(spec.kind, x_train.shape[1], n_out, config)
                    score, epoch, state = _fit(model, x_train, target, x_val, val_score, loss_fn, lr, fold_config,
                                               torch.Generator().manual_seed(run_seed))
                finite = state is not None
                grid.append({"lr": lr, "epoch": epoch, "val_score": sign * score if finite else None})
                if finite and (best is None or score > best[0]):
                    best = (score, lr, epoch, model, state)
            fold_name = task.split.folds[fold_index] if task.split.is_kfold else None
            if best is None:
                raise ValueError(f"{task.file}: protocol '{spec.kind}'{f' fold {fold_name}' if fold_name else ''}: "
                                 f"the validation {spec.main_score} is undefined for every lr (no positives in the "
                                 f"validation split, or training diverged: try smaller 'lrs')")
            score, lr, epoch, model, state = best
            model.load_state_dict(state)
            model.eval()
            with torch.no_grad():
                preds[seed_index][test] = decode(model(x_test))
            runs.append({"seed": seed, "fold": fold_name, "lr": lr, "epoch": epoch, "val_score": sign * score,
                         "grid": grid})
    selected = {"metric": spec.main_score, "on": "validation", "runs": runs}
    used = batch_sizes[0] if len(set(batch_sizes)) == 1 else batch_sizes
    return finish(inp, spec, {**config, "batch_size_used": used}, labels, folds, preds, inp.seeds, selected)


def run_linear(inp: ProtocolInput, spec: "ProtocolSpec") -> ProtocolResult:
    """Linear probe (one nn.Linear) on standardised pooled embeddings; defaults in LINEAR_DEFAULTS."""
    return _run(inp, spec, LINEAR_DEFAULTS)


def run_mlp(inp: ProtocolInput, spec: "ProtocolSpec") -> ProtocolResult:
    """One-hidden-layer MLP probe (ReLU, dropout); defaults in MLP_DEFAULTS."""
    return _run(inp, spec, MLP_DEFAULTS)
