"""The encoder contract on what `encode` returns: frames a floating tensor [B, T, embed_dim] and a boolean mask
[B, T] whose valid frames come first; a breach raises EncoderOutputError naming the encoder and the clip."""

from __future__ import annotations

from typing import Any

from bench.encoder import Encoder


class EncoderOutputError(ValueError):
    """Frames or mask that break the encoder contract; `row` is the batch row at fault (None: the whole batch)."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def describe(value: Any) -> str:
    """A value named by its type, shape and dtype, for error messages."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        return type(value).__name__
    return f"{type(value).__name__} of shape {list(shape)} and dtype {dtype}"


def check_output(encoder: Encoder, out: Any, n_rows: int) -> None:
    """Raise EncoderOutputError unless `out` keeps the contract for a batch of `n_rows`: frames a floating tensor
    [B, T, embed_dim]; mask a torch.bool tensor [B, T] whose True frames form a prefix of each row."""
    import torch

    frames, mask = getattr(out, "frames", None), getattr(out, "mask", None)
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point() or frames.ndim != 3:
        raise EncoderOutputError(f"frames must be a floating torch tensor [B, T, D], got {describe(frames)}")
    if frames.shape[0] != n_rows or frames.shape[2] != encoder.embed_dim:
        raise EncoderOutputError(f"frames have shape {list(frames.shape)} for a batch of {n_rows} with embed_dim "
                                 f"{encoder.embed_dim}; expected [{n_rows}, T, {encoder.embed_dim}]")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise EncoderOutputError(f"mask must be a torch.bool tensor [B, T] (an integer mask indexes frames by number "
                                 f"instead of selecting them), got {describe(mask)}")
    if tuple(mask.shape) != tuple(frames.shape[:2]):
        raise EncoderOutputError(f"mask has shape {list(mask.shape)} but frames have [B, T] = "
                                 f"{list(frames.shape[:2])}")
    counts = mask.sum(dim=1)
    prefix = torch.arange(mask.shape[1], device=mask.device)[None, :] < counts[:, None]
    gaps = (mask != prefix).any(dim=1).nonzero()
    if len(gaps):
        raise EncoderOutputError("mask's valid (True) frames must come first, then padding; this row has padding "
                                 "between valid frames", row=int(gaps[0]))


def output_error(encoder: Encoder, problem: str, where: str) -> EncoderOutputError:
    """The EncoderOutputError of a batch `where` the encoder broke its contract (`problem`), with the fix."""
    reference = encoder.reference or encoder.name
    return EncoderOutputError(f"encoder '{encoder.name}' broke the encoder contract on {where}: {problem}; nothing "
                              f"of this batch was cached; run `bench check {reference}` to see every problem")
