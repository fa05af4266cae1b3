"""Training and decoding of the generative protocol (see bench.protocols.generative): frame stacking, the projector
into the frozen LLM, one early-stopped training run with greedy decoding, and the text-only upper bound."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.protocols.base import ProtocolInput
from bench.protocols.training import fit_with_early_stopping

if TYPE_CHECKING:
    import torch

    from bench.llm import FrozenLLM


def stack_factor(hop_ms: float, token_rate_hz: float) -> int:
    """How many frames make one audio token: round(1000 / (hop_ms * token_rate_hz)), at least 1."""
    if not hop_ms > 0:
        raise ValueError(f"the encoder's hop_ms must be positive to stack frames, got {hop_ms!r}")
    return max(1, round(1000.0 / (hop_ms * token_rate_hz)))


def stack_frames(frames: np.ndarray, k: int) -> np.ndarray:
    """[T, D] -> [ceil(T / k), k * D]: k consecutive frames concatenated, the tail zero-padded."""
    t, d = frames.shape
    n = max(1, math.ceil(t / k))
    padded = np.zeros((n * k, d), dtype=np.float32)
    padded[:t] = frames
    return padded.reshape(n, k * d)


def build_projector(kind: str, d_in: int, d_out: int) -> torch.nn.Module:
    """Linear, or 2-layer MLP (d_in -> d_out -> d_out, GELU) into the LLM's embedding space."""
    import torch.nn as nn

    if kind == "linear":
        return nn.Linear(d_in, d_out)
    return nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))


def embedding_scale(llm: FrozenLLM) -> float:
    """RMS of the LLM's input token embeddings (as the model scales them), over up to 4096 evenly spaced ids."""
    import torch

    n = llm.model.get_input_embeddings().num_embeddings
    with torch.no_grad():
        return float(llm.embed(torch.arange(0, n, max(1, n // 4096))).float().pow(2).mean().sqrt())


def train_and_decode(llm: FrozenLLM, cfg: dict[str, Any], seed: int, x: dict[int, torch.Tensor],
                      answers: dict[int, list[list[int]]], refs: list[Any], parts: tuple[Any, ...],
                      split: tuple[np.ndarray, np.ndarray, np.ndarray], score: Any) -> tuple[list[str], dict]:
    """One run (a seed, a fold): train the projector (+ LoRA), evaluating on decoded validation answers every
    `eval_every` steps with the early stopping and tie rule of bench.protocols.training, then decode the test items
    with the best checkpoint. Returns (test answers, log).

    parts: (prompt prefix embeddings, suffix embeddings, projector output scale, max new tokens, +1/-1 for
    higher/lower is better); score(answers, references) -> the validation main score.
    """
    import torch

    from bench.llm import lora
    from bench.llm_prompt import PrefixCache, answer_loss, assemble, greedy_decode

    (prefix, suffix, scale, max_new_tokens, sign), (train, val, test) = parts, split
    dtype = next(llm.model.parameters()).dtype
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    projector = build_projector(cfg["projector"], next(iter(x.values())).shape[1], llm.dim).to(llm.device)
    with lora(llm.model, cfg["lora_r"], cfg["lora_alpha"]) if cfg["lora"] else contextlib.nullcontext() as adapters:
        cache = PrefixCache(llm.model, prefix, memo=not cfg["lora"])
        modules = [projector] + ([adapters] if adapters is not None else [])
        params = [p for m in modules for p in m.parameters()]
        optimizer = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=0.0)

        def project(indices: Sequence[int]) -> list[torch.Tensor]:
            return [(projector(x[i].to(llm.device)) * scale).to(dtype) for i in indices]

        def decode(indices: np.ndarray) -> list[str]:
            for m in modules:
                m.eval()
            with torch.no_grad():
                return greedy_decode(llm, cache, suffix, project(indices.tolist()), max_new_tokens,
                                     cfg["eval_batch_size"])

        evals: list[dict[str, Any]] = []
        step_s: list[float] = []
        order, last_loss, start = torch.empty(0, dtype=torch.long), math.nan, time.perf_counter()

        def train_steps(block: int) -> None:  # the steps up to the block-th evaluation
            nonlocal order, last_loss
            for _ in range((block - 1) * cfg["eval_every"], min(block * cfg["eval_every"], cfg["steps"])):
                tick = time.perf_counter()
                if len(order) < cfg["batch_size"]:
                    order = torch.cat([order, torch.from_numpy(train)[torch.randperm(len(train), generator=generator)]])
                batch, order = order[:cfg["batch_size"]].tolist(), order[cfg["batch_size"]:]
                ids = [answers[i][int(torch.randint(len(answers[i]), (1,), generator=generator))] for i in batch]
                for m in modules:
                    m.train()
                answer_embeds = [llm.embed(torch.tensor(a)).to(dtype) for a in ids]
                embeds, mask, targets = assemble(suffix, project(batch), answer_embeds, ids)
                loss = answer_loss(llm.model, cache, embeds, mask, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                last_loss = loss.item()
                step_s.append(time.perf_counter() - tick)

        def evaluate() -> float:
            value = score(decode(val), [refs[i] for i in val.tolist()])
            evals.append({"step": len(step_s), "train_loss": round(last_loss, 4), "val_score": value})
            return sign * value

        fit = fit_with_early_stopping(
            train_steps, evaluate,
            lambda: [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules],
            math.ceil(cfg["steps"] / cfg["eval_every"]), cfg["patience"])
        train_s = time.perf_counter() - start
        if not fit.finite:
            raise ValueError("protocol 'generative': the validation score is undefined at every evaluation")
        for m, state in zip(modules, fit.state):
            m.load_state_dict(state)
        tick = time.perf_counter()
        predicted = decode(test)
    log = {"seed": seed, "best_step": evals[fit.round - 1]["step"], "val_score": sign * fit.score,
           "steps_run": len(step_s), "evals": evals, "train_s": round(train_s, 2),
           "s_per_step": round(float(np.mean(step_s)), 4),
           "test_decode_s": round(time.perf_counter() - tick, 2), "trainable_params": sum(p.numel() for p in params)}
    return predicted, log


def text_only_answers(llm: FrozenLLM, inp: ProtocolInput, config: dict[str, Any], instruction: str,
                      refs: list[Any], shots_from: np.ndarray, items: np.ndarray, max_new_tokens: int) -> list[str]:
    """Answers of the frozen LLM given the items' text column instead of the audio (no projector, no training),
    after `text_only_shots` solved examples drawn from `shots_from` with the first seed."""
    from bench.llm_prompt import PrefixCache, greedy_decode, prompt_text
    from bench.protocols.labels import item_id

    column = config["text_only"]

    def text(i: int) -> str:
        value = inp.items[i].get(column)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{inp.task.file}: item '{item_id(inp.task, inp.items[i], i)}' has no text in column "
                             f"'{column}' (config text_only)")
        return f"{column.replace('_', ' ').capitalize()}: {value.strip()}"

    rng = np.random.default_rng(inp.seeds[0])
    chosen = rng.choice(shots_from, size=min(config["text_only_shots"], len(shots_from)), replace=False)
    shots = [(text(i), refs[i] if isinstance(refs[i], str) else refs[i][0]) for i in chosen.tolist()]
    before, after, _ = prompt_text(llm.tokenizer, instruction, shots)
    embed = embedder(llm)
    return greedy_decode(llm, PrefixCache(llm.model, embed(before, True), memo=True), embed(after, False),
                         [embed(text(i), False) for i in items.tolist()], max_new_tokens, config["eval_batch_size"])


def embedder(llm: FrozenLLM) -> Any:
    """embed(text, first) -> the LLM's input embeddings of `text` (in the LLM's dtype)."""
    import torch

    def embed(text: str, first: bool) -> torch.Tensor:
        """Embeddings of `text`; `first`: with the special tokens the tokenizer adds at the start (e.g. bos)."""
        ids = llm.tokenizer(text, add_special_tokens=first and not llm.tokenizer.chat_template)["input_ids"]
        with torch.no_grad():
            return llm.embed(torch.tensor(ids, dtype=torch.long)).to(next(llm.model.parameters()).dtype)

    return embed
