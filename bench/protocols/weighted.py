"""SUPERB's learnable weighted sum of layers: the `weighted_layers: true` variant of the linear and MLP probes.

Under `--layer all` (bench.layers) the probe gets every layer's pooled vectors [N, L, D]. Each layer is standardised
with its own train statistics (bench.protocols.features.standardiser), the layers are mixed by softmax(w) (w starts
at 0: equal weights) and the mix feeds the probe's head; w and the head train jointly, in float64 on the grid, under
the probe's lr grid, minibatches and early stopping on validation (bench.protocols.training; the same tie rule).
The learned weights (softmax) of every seed's chosen run are in `selected.runs[].layer_weights`, their mean in
`selected.layer_weights`; the result is labelled `linear[weighted_layers]` / `mlp[weighted_layers]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, single_threaded
from bench.protocols.features import standardiser
from bench.protocols.pooled import finish
from bench.protocols.probe import no_valid_lr, output_size, scaled_batch_size, train_targets
from bench.protocols.training import Fit, best_lr, fit_with_early_stopping, protocol_device, snap

if TYPE_CHECKING:
    import torch

    from bench.taskspec import ProtocolSpec


def weighted_model(kind: str, n_layers: int, d_in: int, d_out: int, config: dict[str, Any]) -> torch.nn.Module:
    """softmax(layer_logits)-weighted sum over [N, n_layers, d_in] -> the probe head (float64)."""
    import torch
    import torch.nn as nn

    class WeightedLayers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer_logits = nn.Parameter(torch.zeros(n_layers, dtype=torch.float64))
            self.head = nn.Linear(d_in, d_out, dtype=torch.float64) if kind == "linear" else nn.Sequential(
                nn.Linear(d_in, config["hidden"], dtype=torch.float64), nn.ReLU(), nn.Dropout(config["dropout"]),
                nn.Linear(config["hidden"], d_out, dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.einsum("l,nld->nd", torch.softmax(self.layer_logits, 0), x))

        def layer_weights(self) -> list[float]:
            with torch.no_grad():
                return torch.softmax(self.layer_logits, 0).cpu().tolist()

    return WeightedLayers()


def standardise_layers(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """[N, L, D] with each layer standardised by its own train mean and (floored) std."""
    stats = [standardiser(x[train, layer]) for layer in range(x.shape[1])]
    mean, std = np.stack([m for m, _ in stats]), np.stack([s for _, s in stats])
    return (x - mean) / std


def _fit(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, val_score: Callable[[torch.nn.Module], float],
         loss_fn: Callable, lr: float, batch_size: int, config: dict[str, Any], seed: int) -> Fit:
    """Adam on minibatches, parameters on the grid, early stopping on `val_score(model)`; the Fit's state is the
    best epoch's state dict."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config["weight_decay"])
    snap(model.parameters())
    generator = torch.Generator().manual_seed(seed)

    def epoch(_: int) -> None:
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[batch]), target[batch]).backward()
            optimizer.step()
            snap(model.parameters())

    return fit_with_early_stopping(epoch, lambda: val_score(model),
                                   lambda: {k: v.clone() for k, v in model.state_dict().items()},
                                   config["max_epochs"], config["patience"])


@single_threaded
def run_weighted(inp: ProtocolInput, spec: ProtocolSpec, config: dict[str, Any], labels: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> ProtocolResult:
    """The weighted-layers probe on `inp.pooled` [N, L, D]; config, labels and folds from pooled.prepare."""
    import torch
    import torch.nn as nn

    from bench.metrics import METRICS

    task, kind = inp.task, inp.task.label_kind
    if not config["weighted_layers"] or inp.pooled.ndim != 3:
        raise ValueError(f"{task.file}: protocol '{spec.kind}' with weighted_layers: true needs every layer's pooled "
                         f"vectors: run with --layer all (or remove weighted_layers)" if config["weighted_layers"]
                         else f"{task.file}: protocol '{spec.kind}' got every layer's vectors; set weighted_layers")
    metric_fn = METRICS[kind][spec.main_score]
    sign = 1.0 if spec.higher_is_better else -1.0
    n_out = output_size(kind, labels)
    loss_fn = {"multiclass": nn.CrossEntropyLoss(), "multilabel": nn.BCEWithLogitsLoss(),
               "regression": nn.MSELoss()}[kind]
    preds = [np.zeros(labels.shape, dtype=np.int64 if kind == "multiclass" else np.float32) for _ in inp.seeds]
    x_all, n_layers, device, runs = inp.pooled.astype(np.float64), inp.pooled.shape[1], protocol_device(), []
    batch_sizes = [scaled_batch_size(config["batch_size"], len(train)) for train, _, _ in folds]
    for fold_index, (train, val, test) in enumerate(folds):
        x = standardise_layers(x_all, train)
        x_train, x_val, x_test = (torch.from_numpy(x[part]).to(device) for part in (train, val, test))
        target, decode = train_targets(kind, labels, train)
        target = target.to(device)

        def val_score(model: torch.nn.Module, val: np.ndarray = val, x_val: Any = x_val,
                      decode: Callable = decode) -> float:
            model.eval()
            with torch.no_grad():
                return sign * float(metric_fn(labels[val], decode(model(x_val))))

        for seed_index, seed in enumerate(inp.seeds):
            run_seed = int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0])
            fits = []
            for lr in config["lrs"]:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(run_seed)  # the same init and batch order for every lr
                    model = weighted_model(spec.kind, n_layers, x_train.shape[-1], n_out, config).to(device)
                    fit = _fit(model, x_train, target, val_score, loss_fn, lr, batch_sizes[fold_index], config,
                               run_seed)
                fits.append((lr, fit, model))
            winner = best_lr([(lr, fit) for lr, fit, _ in fits])
            fold_name = task.split.folds[fold_index] if task.split.is_kfold else None
            if winner is None:
                raise no_valid_lr(task.file, spec, fold_name, " (weighted_layers)")
            lr, fit, model = fits[winner]
            model.load_state_dict(fit.state)
            model.eval()
            with torch.no_grad():
                preds[seed_index][test] = decode(model(x_test))
            runs.append({"seed": seed, "fold": fold_name, "lr": lr, "epoch": fit.round, "val_score": sign * fit.score,
                         "layer_weights": model.layer_weights(),
                         "grid": [{"lr": r, "epoch": f.round, "val_score": sign * f.score if f.finite else None}
                                  for r, f, _ in fits]})
    selected = {"metric": spec.main_score, "on": "validation", "runs": runs,
                "layer_weights": np.mean([run["layer_weights"] for run in runs], axis=0).tolist()}
    used = batch_sizes[0] if len(set(batch_sizes)) == 1 else batch_sizes
    config = {**config, "batch_size_used": used, "variant": "weighted_layers", "layers": n_layers}
    return finish(inp, spec, config, labels, folds, preds, inp.seeds, selected)
