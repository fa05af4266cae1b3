"""The contrastive text map: gives an audio-only encoder a text side (zero-shot classification, retrieval).

A linear map from standardised pooled audio into the frozen MiniLM sentence space (`bench.text`), trained in float64
with a symmetric InfoNCE loss (fixed temperature) on (audio, text) pairs of the train split; every lr of the grid is
trained with early stopping on a validation score, and the best run is kept (tie rule: bench.protocols.training).
Encoders with a text tower are scored with it instead (`uses_tower`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, single_threaded
from bench.protocols.features import standardiser, unit
from bench.protocols.training import Fit, best_lr, fit_with_early_stopping, snap

if TYPE_CHECKING:
    import torch

PROBE_DEFAULTS: dict[str, Any] = {
    "lrs": [1e-3, 1e-2],  # Adam learning rates, one chosen on validation
    "max_epochs": 100,
    "patience": 10,  # epochs without validation improvement before stopping
    "batch_size": 256,
    "temperature": 0.07,
    "weight_decay": 0.0,
}
TEXT_SIDES = ("auto", "tower", "probe")


def uses_tower(inp: ProtocolInput, text_side: str, where: str) -> bool:
    """Whether to score with the encoder's text tower (True) or with a contrastive probe into MiniLM (False)."""
    if text_side not in TEXT_SIDES:
        raise ValueError(f"{where}: text_side is {text_side!r}; expected one of {', '.join(TEXT_SIDES)}")
    if text_side == "tower" and inp.encode_text is None:
        raise ValueError(f"{where}: text_side 'tower' but the encoder has no text tower (encode_text is None)")
    return text_side == "tower" or (text_side == "auto" and inp.encode_text is not None)


@dataclass
class ContrastiveMap:
    """Standardise (train statistics), apply a linear map, L2-normalise (float64)."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray  # [D, T]
    bias: np.ndarray  # [T]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return unit(((np.asarray(x, dtype=np.float64) - self.mean) / self.std) @ self.weight + self.bias)


def _info_nce(audio: torch.Tensor, texts: torch.Tensor, ids: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch; items sharing a text id are all positives of that text."""
    import torch
    import torch.nn.functional as F

    unique, position = torch.unique(ids, return_inverse=True)
    logits = F.normalize(audio, dim=-1) @ texts[unique].T / temperature  # [B, U]
    a2t = F.cross_entropy(logits, position)
    positives = F.one_hot(position, len(unique)).T.to(logits.dtype)  # [U, B]
    t2a = -(positives / positives.sum(1, keepdim=True) * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (a2t + t2a)


@single_threaded
def fit_contrastive_map(x_train: np.ndarray, text_ids: np.ndarray, text_vectors: np.ndarray,
                        val_score: Callable[[ContrastiveMap], float], cfg: dict[str, Any],
                        seed: int) -> tuple[ContrastiveMap, dict[str, Any]]:
    """Train the linear audio->text map on (x_train[i], text_vectors[text_ids[i]]) pairs, in float64.

    Every lr in `cfg['lrs']` is trained with early stopping on `val_score` (higher is better, evaluated after each
    epoch), and the best run wins, under the tie rule of bench.protocols.training (the earlier epoch, the smaller
    lr). Returns the map and what was selected.
    """
    import torch

    x = np.asarray(x_train, dtype=np.float64)
    mean, std = standardiser(x)
    xs = torch.from_numpy((x - mean) / std)
    texts = torch.from_numpy(unit(np.asarray(text_vectors, dtype=np.float64)))
    ids = torch.from_numpy(np.asarray(text_ids, dtype=np.int64))
    d_in, d_out = xs.shape[1], texts.shape[1]
    fits: list[tuple[float, Fit]] = []
    for lr in cfg["lrs"]:
        gen = torch.Generator().manual_seed(seed)
        weight = (torch.randn(d_in, d_out, generator=gen, dtype=torch.float64) / np.sqrt(d_in)).requires_grad_()
        bias = torch.zeros(d_out, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=cfg["weight_decay"])
        snap([weight, bias])

        def epoch(_: int) -> None:
            for batch in torch.randperm(len(xs), generator=gen).split(cfg["batch_size"]):
                loss = _info_nce(xs[batch] @ weight + bias, texts, ids[batch], cfg["temperature"])
                opt.zero_grad()
                loss.backward()
                opt.step()
                snap([weight, bias])

        def current() -> ContrastiveMap:
            return ContrastiveMap(mean, std, weight.detach().numpy().copy(), bias.detach().numpy().copy())

        fits.append((lr, fit_with_early_stopping(epoch, lambda: float(val_score(current())), current,
                                                 cfg["max_epochs"], cfg["patience"])))
    winner = best_lr(fits)
    if winner is None:
        raise ValueError("the contrastive probe never produced a finite validation score")
    lr, fit = fits[winner]
    return fit.state, {"lr": lr, "epoch": fit.round, "validation_score": fit.score}
