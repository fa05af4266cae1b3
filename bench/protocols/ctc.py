"""Sequence recognition on the encoder's frames: a small head trained with CTC on characters or phonemes.

What an encoder knows of speech content, read in order (as SUPERB's PR and ASR tasks do, with a lighter head):
- frames: the cached [T, D] frames at the encoder's hop. Where the hop is finer than `output_hop_ms` (20 ms), groups
  of `stack` = round(output_hop_ms / hop) consecutive frames are concatenated (the last group padded by repeating
  the last frame); where it is coarser, the head emits `upsample` = round(hop / output_hop_ms) outputs per frame, so
  that a 80 ms encoder can still say a character every 20 ms. Both, and the resulting output hop, are in `config`.
- head (`head`): `linear`, a linear layer on standardised frames; or one small layer before it, the labelled
  variants in the spirit of SUPERB's light heads: `conv`, one 1-D convolution (`hidden` channels, `kernel` frames,
  ReLU), or `bilstm`, one bidirectional LSTM (`hidden` units per direction, each clip read to its own length).
  A non-linear head is the result's `variant` (`ctc[conv]`, `ctc[bilstm]`), so tables never mix heads.
- training: CTC loss (torch.nn.CTCLoss, blank 0, zero_infinity) with Adam in float64 on one thread, parameters
  snapped to a grid after every step (bench.protocols.training), `batch_size` clips per step. After every epoch the
  validation clips are decoded greedily and scored (CER for characters, PER for phonemes); the checkpoint and the
  learning rate are chosen on that score with the tie rule of bench.protocols.training. Nothing is chosen on test.
- metrics on test: corpus `cer` and `wer` (characters) or `per` (phonemes) over the greedy transcripts, from per-item
  [edits, reference length] kept per seed in the sample rows (bench.protocols.ctc_text), so `bench rescore`
  recomputes them exactly; intervals resample items or the task's groups (e.g. speakers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput, ProtocolResult, scored_result, single_threaded
from bench.protocols.ctc_text import (
    METRICS_OF,
    corpus_rate,
    encode,
    error_stats,
    greedy_decode,
    target_text,
    vocabulary,
)
from bench.protocols.features import standardiser
from bench.protocols.labels import item_id
from bench.protocols.training import Fit, best_lr, fit_with_early_stopping, snap

if TYPE_CHECKING:
    from bench.taskspec import ProtocolSpec

HEADS = ("linear", "conv", "bilstm")

DEFAULTS: dict[str, Any] = {
    "targets": "characters",  # or "phonemes" (a space-separated phoneme string in the label column)
    "head": "linear",
    "hidden": 128,  # conv head: channels; bilstm head: units per direction
    "kernel": 5,  # conv head: frames seen per output (odd)
    "output_hop_ms": 20.0,  # frames are stacked or outputs repeated to about this rate
    "lrs": [1e-3, 1e-2],
    "max_epochs": 40,
    "patience": 8,  # epochs without a better validation error rate
    "batch_size": 8,  # clips per step
    "weight_decay": 0.0,
    "n_boot": 1000,  # bootstrap resamples of the test items (or groups)
}


def frame_rate(hop_ms: float, output_hop_ms: float) -> tuple[int, int]:
    """(stack, upsample): frames concatenated per head input and head outputs per input (module docstring)."""
    if hop_ms < output_hop_ms:
        return max(1, round(output_hop_ms / hop_ms)), 1
    return 1, max(1, round(hop_ms / output_hop_ms))


def stack_frames(frames: np.ndarray, stack: int) -> np.ndarray:
    """[T, D] -> [ceil(T / stack), stack * D]: consecutive frames concatenated, the last group edge-padded."""
    frames = np.asarray(frames, dtype=np.float64)
    if stack == 1:
        return frames
    pad = -len(frames) % stack
    frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)]) if pad else frames
    return frames.reshape(len(frames) // stack, stack * frames.shape[1])


class _Head:
    """The CTC head in float64: [T, D] standardised frames -> [T * upsample, V + 1] scores."""

    def __init__(self, dim: int, n_out: int, upsample: int, cfg: dict[str, Any], gen: Any) -> None:
        import torch

        def init(*shape: int, fan_in: int) -> Any:
            return (torch.randn(*shape, generator=gen, dtype=torch.float64) / fan_in ** 0.5).requires_grad_()

        self.upsample, self.n_out = upsample, n_out
        self.conv = self.lstm = None
        layer: list[Any] = []
        if cfg["head"] == "conv":
            if cfg["kernel"] % 2 != 1:
                raise ValueError(f"ctc: config 'kernel' must be odd (got {cfg['kernel']})")
            self.conv = (init(cfg["hidden"], dim, cfg["kernel"], fan_in=dim * cfg["kernel"]),
                         torch.zeros(cfg["hidden"], dtype=torch.float64, requires_grad=True))
            layer, dim = list(self.conv), cfg["hidden"]
        elif cfg["head"] == "bilstm":
            with torch.random.fork_rng(devices=[]):  # its own init draws from the global generator: redone below
                self.lstm = torch.nn.LSTM(dim, cfg["hidden"], batch_first=True, bidirectional=True,
                                          dtype=torch.float64)
            layer, dim = list(self.lstm.parameters()), 2 * cfg["hidden"]
            with torch.no_grad():  # torch's LSTM init, U(-1/sqrt(hidden), 1/sqrt(hidden)), from `gen`
                for p in layer:
                    p.uniform_(-cfg["hidden"] ** -0.5, cfg["hidden"] ** -0.5, generator=gen)
        self.weight = init(dim, upsample * n_out, fan_in=dim)
        self.bias = torch.zeros(upsample * n_out, dtype=torch.float64, requires_grad=True)
        self.params = [self.weight, self.bias, *layer]
        snap(self.params)

    def __call__(self, x: Any, lengths: Any = None) -> Any:
        """[B, T, D] (clip b valid for its first lengths[b] frames; all T when None) -> [B, T * upsample, V + 1]."""
        import torch.nn.functional as F
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        if self.conv is not None:
            w, b = self.conv
            x = F.relu(F.conv1d(x.transpose(1, 2), w, b, padding=w.shape[2] // 2)).transpose(1, 2)
        elif self.lstm is not None:  # packed: the backward direction starts at each clip's own last frame
            if lengths is not None:
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                x = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]
            else:
                x = self.lstm(x)[0]
        out = x @ self.weight + self.bias
        return out.reshape(out.shape[0], out.shape[1] * self.upsample, self.n_out)

    def state(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.params]

    def load(self, state: list[np.ndarray]) -> None:
        import torch

        with torch.no_grad():
            for p, value in zip(self.params, state):
                p.copy_(torch.from_numpy(value))


def _batch(xs: list[np.ndarray]) -> tuple[Any, Any]:
    """Zero-padded [B, T, D] tensor and the lengths."""
    import torch

    lengths = torch.tensor([len(x) for x in xs], dtype=torch.long)
    out = torch.zeros(len(xs), int(lengths.max()), xs[0].shape[1], dtype=torch.float64)
    for k, x in enumerate(xs):
        out[k, :len(x)] = torch.from_numpy(x)
    return out, lengths


def _decode_all(head: _Head, xs: list[np.ndarray], vocab: list[str], targets: str) -> list[str]:
    import torch

    with torch.no_grad():
        return [greedy_decode(head(torch.from_numpy(x)[None])[0].numpy(), vocab, targets) for x in xs]


def _error_rate(refs: list[str], hyps: list[str], targets: str) -> float:
    """The corpus rate of the first metric of the targets (cer or per)."""
    name = METRICS_OF[targets][0]
    return float(corpus_rate(None, np.array([error_stats(r, h, targets)[name] for r, h in zip(refs, hyps)])))


@single_threaded
def _train(x_train: list[np.ndarray], y_train: list[list[int]], x_val: list[np.ndarray], refs_val: list[str],
           vocab: list[str], upsample: int, cfg: dict[str, Any], seed: int) -> tuple[_Head, dict[str, Any]]:
    """The head with the lowest validation error over the lr grid and epochs (tie rule of bench.protocols.training)."""
    import torch

    ctc = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
    fits: list[tuple[float, Fit]] = []
    heads = []
    for lr in cfg["lrs"]:
        gen = torch.Generator().manual_seed(seed)
        head = _Head(x_train[0].shape[1], len(vocab) + 1, upsample, cfg, gen)
        opt = torch.optim.Adam(head.params, lr=lr, weight_decay=cfg["weight_decay"])

        def epoch(_: int, head: _Head = head, opt: Any = opt, gen: Any = gen) -> None:
            for batch in torch.randperm(len(x_train), generator=gen).split(cfg["batch_size"]):
                x, lengths = _batch([x_train[k] for k in batch])
                targets = [y_train[k] for k in batch]
                log_probs = head(x, lengths).log_softmax(-1).transpose(0, 1)
                loss = ctc(log_probs, torch.tensor([t for ts in targets for t in ts], dtype=torch.long),
                           lengths * upsample, torch.tensor([len(ts) for ts in targets], dtype=torch.long))
                opt.zero_grad()
                loss.backward()
                opt.step()
                snap(head.params)

        def score(head: _Head = head) -> float:
            return -_error_rate(refs_val, _decode_all(head, x_val, vocab, cfg["targets"]), cfg["targets"])

        fits.append((lr, fit_with_early_stopping(epoch, score, head.state, cfg["max_epochs"], cfg["patience"])))
        heads.append(head)
    winner = best_lr(fits)
    if winner is None:
        raise ValueError("ctc: the validation error rate is not finite for any lr (training diverged: try smaller "
                         "'lrs')")
    lr, fit = fits[winner]
    head = heads[winner]
    head.load(fit.state)
    name = METRICS_OF[cfg["targets"]][0]
    return head, {"lr": lr, "epoch": fit.round, "epochs_run": fit.rounds, f"validation_{name}": -fit.score}


def _references(inp: ProtocolInput, targets: str) -> list[str]:
    """Each item's reference (ctc_text.target_text of its label column); an empty one is an error naming the item."""
    column = inp.task.label_column
    refs = []
    for i, item in enumerate(inp.items):
        value = item.get(column)
        ref = "" if value is None else target_text(value, targets)
        if not ref:
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, item, i)}' has no {targets} in column "
                             f"'{column}' (got {value!r}); every item needs a non-empty transcript")
        refs.append(ref)
    return refs


def run_ctc(inp: ProtocolInput, spec: ProtocolSpec) -> ProtocolResult:
    """CTC recognition of characters or phonemes from frames: CER/WER or PER (module docstring)."""
    from bench.protocols.registry import resolve_protocol_config
    from bench.protocols.splits import split_indices
    from bench.scoring import sample_fields

    cfg = resolve_protocol_config(inp.task, spec)
    targets = cfg["targets"]
    stack, upsample = frame_rate(inp.hop_ms, cfg["output_hop_ms"])
    refs = _references(inp, targets)
    rows: dict[int, dict[str, Any]] = {}
    selected, too_short = [], 0
    for train_idx, val_idx, test_idx in split_indices(inp.task, inp.items):
        vocab = vocabulary([refs[i] for i in train_idx], targets)
        frames = {int(i): stack_frames(inp.frames(int(i)), stack)
                  for i in (*train_idx, *val_idx, *test_idx)}
        mean, std = standardiser(np.concatenate([frames[int(i)] for i in train_idx]))
        x = {i: (f - mean) / std for i, f in frames.items()}
        y_train = [encode(refs[i], vocab, targets) for i in train_idx]
        too_short += sum(len(x[int(i)]) * upsample < len(y) for i, y in zip(train_idx, y_train))
        for seed in inp.seeds:
            head, info = _train([x[int(i)] for i in train_idx], y_train, [x[int(i)] for i in val_idx],
                                [refs[i] for i in val_idx], vocab, upsample, cfg, seed)
            selected.append({"seed": seed, **info})
            hyps = _decode_all(head, [x[int(i)] for i in test_idx], vocab, targets)
            for i, hyp in zip(test_idx, hyps):
                row = rows.setdefault(int(i), {**sample_fields(inp.task, inp.items, int(i)), "label": refs[i],
                                               "pred": []})
                row["pred"].append({"text": hyp, "stats": error_stats(refs[i], hyp, targets)})
    samples = list(rows.values())
    variant = {} if cfg["head"] == "linear" else {"variant": cfg["head"]}
    config = {**cfg, **variant, "frame_hop_ms": inp.hop_ms, "stack": stack, "upsample": upsample,
              "effective_output_hop_ms": inp.hop_ms * stack / upsample, "vocabulary": vocab}
    return scored_result(spec, inp, samples, config, list(inp.seeds),
                         n_samples={"test_items": len(samples), "vocabulary": len(vocab),
                                    "train_items_too_short": too_short},
                         selected={"per_seed": selected})
