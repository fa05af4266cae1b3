"""The linear or MLP probes of a learning-rate grid and several seeds, trained as one batched model.

Member m = s * G + g is seed s's probe at lr g: its own parameters (a leading member axis on every tensor), its own
Adam moments and lr, the initial weights, minibatch order and dropout masks of seed s (the same for every lr of that
seed, as when each run was trained alone), and its own early stopping (bench.protocols.training): a member that stops
keeps its best checkpoint and leaves the batch, the others go on. Every member is therefore the run it would be alone,
up to kernel noise far below the parameter grid (`snap`); the float64 grid's choices and scores are those of training
the runs one by one (tests/test_batched_probe.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bench.protocols.training import Fit, fit_members_with_early_stopping, snap

if TYPE_CHECKING:
    import torch

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which the probes used


def _init(kind: str, d_in: int, d_out: int, config: dict[str, Any]) -> list[torch.Tensor]:
    """One probe's float64 parameters as torch.nn initialises them from the global RNG (linear: W, b; MLP: W1, b1,
    W2, b2; W as [out, in])."""
    import torch
    import torch.nn as nn

    if kind == "linear":
        module: nn.Module = nn.Linear(d_in, d_out, dtype=torch.float64)
    else:
        module = nn.Sequential(nn.Linear(d_in, config["hidden"], dtype=torch.float64),
                               nn.Linear(config["hidden"], d_out, dtype=torch.float64))
    return [p.detach() for p in module.parameters()]


def forward(params: Sequence[torch.Tensor], x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs [A, B, C] of A members on inputs [A, B, D] (or [B, D], shared); `masks` [A, B, H]: scaled dropout
    masks of an MLP's hidden layer (None: no dropout)."""
    import torch

    if x.dim() == 2:
        x = x.expand(len(params[0]), *x.shape)
    out = torch.baddbmm(params[1].unsqueeze(1), x, params[0].transpose(1, 2))
    if len(params) == 2:
        return out
    hidden = torch.relu(out)
    if masks is not None:
        hidden = hidden * masks
    return torch.baddbmm(params[3].unsqueeze(1), hidden, params[2].transpose(1, 2))


def _member_loss(kind: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over members of each member's mean loss (so each member's gradient is that of its own loss)."""
    import torch.nn.functional as F

    if kind == "multiclass":
        per_item = F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1), reduction="none")
        return per_item.view(out.shape[:2]).mean(1).sum()
    if kind == "multilabel":
        return F.binary_cross_entropy_with_logits(out, target, reduction="none").mean((1, 2)).sum()
    return ((out - target) ** 2).mean((1, 2)).sum()


class ProbeGrid:
    """G learning rates x S seeds of one probe (`kind` "linear" or "mlp") on one device, trained as one model.

    `run_seeds[s]` seeds member s*G+g's initial weights, minibatch order and dropout masks exactly as
    `torch.manual_seed(run_seed)` followed by building the probe, and `torch.Generator().manual_seed(run_seed)` for
    the order, did for a run trained alone.
    """

    def __init__(self, kind: str, d_in: int, d_out: int, config: dict[str, Any], lrs: Sequence[float],
                 run_seeds: Sequence[int], device: str) -> None:
        import torch

        self.kind, self.config, self.device = kind, config, device
        self.n_lrs, self.run_seeds = len(lrs), list(run_seeds)
        per_seed, self.dropout_rngs = [], []
        for run_seed in self.run_seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(run_seed)
                per_seed.append(_init(kind, d_in, d_out, config))
                rng = torch.Generator(device)  # dropout draws continue the RNG stream after the initialisation
                if device == "cpu":
                    rng.set_state(torch.get_rng_state())
                else:
                    rng.manual_seed(run_seed)
                self.dropout_rngs.append(rng)
        self.params = [torch.stack([seed_params[i] for seed_params in per_seed for _ in lrs]).to(device)
                       for i in range(len(per_seed[0]))]
        snap(self.params)
        for p in self.params:
            p.requires_grad_()  # leaves of the batched model; updated in place
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.lrs = torch.tensor([lr for _ in run_seeds for lr in lrs], dtype=torch.float64, device=device)
        self.rows = list(range(len(self.lrs)))  # member index of each row of the batched tensors
        self.steps = 0

    def _keep(self, members: list[int]) -> None:
        """Drop the rows of members that stopped."""
        if members == self.rows:
            return
        index = [self.rows.index(m) for m in members]
        self.params = [p.detach()[index].requires_grad_() for p in self.params]
        self.moments = [(m[index], v[index]) for m, v in self.moments]
        self.lrs, self.rows = self.lrs[index], members

    def _step(self, loss: torch.Tensor) -> None:
        """One Adam step (L2 weight decay, as torch.optim.Adam) of every row with its own lr, then `snap`."""
        import torch

        grads = torch.autograd.grad(loss, self.params)
        self.steps += 1
        correction1, correction2 = 1 - BETAS[0] ** self.steps, (1 - BETAS[1] ** self.steps) ** 0.5
        with torch.no_grad():
            for p, g, (m, v) in zip(self.params, grads, self.moments, strict=True):
                g = g.add(p, alpha=self.config["weight_decay"])
                m.lerp_(g, 1 - BETAS[0])
                v.mul_(BETAS[1]).addcmul_(g, g, value=1 - BETAS[1])
                size = (self.lrs / correction1).view(-1, *[1] * (p.dim() - 1))
                p.sub_(torch.div(m, v.sqrt().div_(correction2).add_(EPS)).mul_(size))
        snap(self.params)

    def _masks(self, batch: int, seed_rows: torch.Tensor) -> torch.Tensor | None:
        """This step's scaled dropout masks [A, B, H]: one draw per seed, shared by that seed's rows."""
        import torch

        p = self.config.get("dropout", 0.0) if self.kind == "mlp" else 0.0
        if not p:
            return None
        hidden = self.params[0].shape[1]
        drawn = torch.stack([torch.empty(batch, hidden, dtype=torch.float64, device=self.device)
                             .bernoulli_(1 - p, generator=rng).div_(1 - p) for rng in self.dropout_rngs])
        return drawn[seed_rows]

    def fit(self, x: torch.Tensor, target: torch.Tensor, x_val: torch.Tensor,
            val_score: Callable[[torch.Tensor], float], label_kind: str) -> list[list[Fit]]:
        """Train with early stopping on `val_score(outputs [N, C])` (bench.protocols.training); returns fits[s][g],
        whose state is that member's best parameters."""
        import torch

        orders = [torch.Generator().manual_seed(seed) for seed in self.run_seeds]
        batch_size = self.config["batch_size"]

        def epoch(_: int, active: list[int]) -> None:
            self._keep(active)
            seed_rows = torch.tensor([m // self.n_lrs for m in self.rows], device=self.device)
            perms = torch.stack([torch.randperm(len(x), generator=rng) for rng in orders]).to(self.device)
            for start in range(0, len(x), batch_size):
                index = perms[:, start:start + batch_size][seed_rows]  # [A, B]
                out = forward(self.params, x[index], self._masks(index.shape[1], seed_rows))
                self._step(_member_loss(label_kind, out, target[index]))

        def evaluate(active: list[int]) -> list[float]:
            self._keep(active)
            with torch.no_grad():
                return [val_score(forward([p[row:row + 1] for p in self.params], x_val)[0])
                        for row in range(len(self.rows))]

        def snapshot(member: int) -> list[torch.Tensor]:
            row = self.rows.index(member)
            return [p[row].detach().clone() for p in self.params]

        fits = fit_members_with_early_stopping(epoch, evaluate, snapshot, len(self.lrs), self.config["max_epochs"],
                                               self.config["patience"])
        return [fits[s * self.n_lrs:(s + 1) * self.n_lrs] for s in range(len(self.run_seeds))]


def predict(state: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Outputs [N, C] of one member's parameters (a Fit's state) on inputs [N, D], without dropout."""
    import torch

    with torch.no_grad():
        return forward([p.unsqueeze(0) for p in state], x)[0]
