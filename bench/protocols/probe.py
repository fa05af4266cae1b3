"""Linear and MLP probes on pooled embeddings.

Minibatches hold `batch_size` items, or n_train / 8 (at least 4) when that is smaller (`batch_size_used` in the
config). Features are standardised with the train split's mean and std (`bench.protocols.features.standardiser`:
each std floored at 1% of the median non-zero std); regression predictions are clipped to the train targets' range.
For every seed and every lr of the grid a fresh model is trained in float64 with Adam on minibatches (parameters
kept on a fixed grid, see bench.protocols.training), all of them together as one batched model
(bench.protocols.batched: each member is the run it would be alone); after each
epoch it is scored on the validation split (the task's main score), and training stops when that score has not
improved for `patience` epochs. The lr and the epoch checkpoint with the best validation score are kept (ties: the
earlier epoch, the smaller lr; see bench.protocols.training) and only then is the test split predicted: nothing is
chosen on test. For k-fold tasks each fold's test part is predicted by that fold's
model, so every item is predicted once per seed, and the metrics are computed over all items.

`weighted_layers: true` (under `--layer all`) is SUPERB's learnable weighted sum of layers, a labelled variant
trained by bench.protocols.weighted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, single_threaded
from bench.protocols.batched import ProbeGrid, predict
from bench.protocols.features import standardiser
from bench.protocols.pooled import finish, prepare
from bench.protocols.training import best_lr, protocol_device

if TYPE_CHECKING:
    import torch

    from bench.taskspec import ProtocolSpec

LINEAR_DEFAULTS: dict[str, Any] = {
    "lrs": [1e-3, 1e-2], "weight_decay": 1e-4, "batch_size": 64, "max_epochs": 100, "patience": 10, "n_boot": 1000,
    "weighted_layers": False,
}
MLP_DEFAULTS: dict[str, Any] = {**LINEAR_DEFAULTS, "hidden": 512, "dropout": 0.1}


def scaled_batch_size(configured: int, n_train: int) -> int:
    """The minibatch size used: the configured one, but at most n_train / 8 (at least 4), so that a small train
    split still gets several optimiser steps per epoch (with 16 items a batch of 64 is one step an epoch)."""
    return min(configured, max(4, n_train // 8))


def output_size(kind: str, labels: np.ndarray) -> int:
    """The probe's output width: 1 for regression, one per class or tag otherwise."""
    return 1 if kind == "regression" else labels.shape[1] if kind == "multilabel" else int(labels.max()) + 1


def train_targets(kind: str, labels: np.ndarray, train: np.ndarray) -> tuple[torch.Tensor, Callable]:
    """The train targets (float64 standardised values for regression, class indices, or 0/1 tags) and the decoder
    of model outputs into predictions: argmax for classes, and regression values back in label units clipped to
    the train targets' range (a near-constant feature cannot explode them)."""
    import torch

    if kind == "regression":
        shift, scale = float(labels[train].mean()), float(labels[train].std()) or 1.0
        low, high = labels[train].min(), labels[train].max()
        target = torch.from_numpy((labels[train].astype(np.float64) - shift) / scale)[:, None]
        return target, lambda out: np.clip(out.cpu().numpy()[:, 0] * scale + shift, low, high)
    if kind == "multiclass":
        return torch.from_numpy(labels[train]), lambda out: out.cpu().numpy().argmax(1)
    return torch.from_numpy(labels[train].astype(np.float64)), lambda out: out.cpu().numpy()


def no_valid_lr(task_file: str, spec: ProtocolSpec, fold_name: str | None, variant: str = "") -> ValueError:
    """The error when no lr of the grid has a defined validation score."""
    return ValueError(f"{task_file}: protocol '{spec.kind}'{variant}{f' fold {fold_name}' if fold_name else ''}: the "
                      f"validation {spec.main_score} is undefined for every lr (no positives in the validation split, "
                      f"or training diverged: try smaller 'lrs')")


@single_threaded
def _run(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    import torch

    from bench.metrics import METRICS

    config, labels, folds = prepare(inp, spec)
    if config["weighted_layers"] or inp.pooled.ndim == 3:  # every layer at once: SUPERB's weighted sum
        from bench.protocols.weighted import run_weighted

        return run_weighted(inp, spec, config, labels, folds)
    task, kind = inp.task, inp.task.label_kind
    metric_fn = METRICS[kind][spec.main_score]
    sign = 1.0 if spec.higher_is_better else -1.0
    n_out = output_size(kind, labels)
    preds = [np.zeros(labels.shape, dtype=np.int64 if kind == "multiclass" else np.float32) for _ in inp.seeds]
    runs = []
    x_all = inp.pooled.astype(np.float64)
    device = protocol_device()
    batch_sizes = [scaled_batch_size(config["batch_size"], len(train)) for train, _, _ in folds]
    for fold_index, (train, val, test) in enumerate(folds):
        fold_config = {**config, "batch_size": batch_sizes[fold_index]}
        mean, std = standardiser(x_all[train])
        x_train, x_val, x_test = (torch.from_numpy((x_all[part] - mean) / std).to(device)
                                  for part in (train, val, test))
        target, decode = train_targets(kind, labels, train)
        target = target.to(device)

        def val_score(out: torch.Tensor) -> float:
            return sign * float(metric_fn(labels[val], decode(out)))

        run_seeds = [int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0]) for seed in inp.seeds]
        probes = ProbeGrid(spec.kind, x_train.shape[1], n_out, fold_config, config["lrs"], run_seeds, device)
        grid_fits = probes.fit(x_train, target, x_val, val_score, kind)  # every lr and seed as one batched model
        for seed_index, seed in enumerate(inp.seeds):
            fits = list(zip(config["lrs"], grid_fits[seed_index]))
            grid = [{"lr": lr, "epoch": fit.round, "val_score": sign * fit.score if fit.finite else None}
                    for lr, fit in fits]
            winner = best_lr(fits)
            fold_name = task.split.folds[fold_index] if task.split.is_kfold else None
            if winner is None:
                raise no_valid_lr(task.file, spec, fold_name)
            lr, fit = fits[winner]
            preds[seed_index][test] = decode(predict(fit.state, x_test))
            runs.append({"seed": seed, "fold": fold_name, "lr": lr, "epoch": fit.round,
                         "val_score": sign * fit.score, "grid": grid})
    selected = {"metric": spec.main_score, "on": "validation", "runs": runs}
    used = batch_sizes[0] if len(set(batch_sizes)) == 1 else batch_sizes
    return finish(inp, spec, {**config, "batch_size_used": used}, labels, folds, preds, inp.seeds, selected)


def run_linear(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """Linear probe (one nn.Linear) on standardised pooled embeddings; defaults in LINEAR_DEFAULTS."""
    return _run(inp, spec)


def run_mlp(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """One-hidden-layer MLP probe (ReLU, dropout); defaults in MLP_DEFAULTS."""
    return _run(inp, spec)
