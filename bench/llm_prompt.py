"""Soft prompts for the frozen LLMs of bench.llm: prompt text, the shared prefix cache, sequence assembly, the answer
loss and greedy decoding.

Sequences are [shared prompt prefix][row: audio tokens, prompt suffix, answer]. The prefix (system turn and
instruction) is the same for every item, so its keys and values are computed once and reused (`PrefixCache`); rows
are left-padded so that every answer ends at the last position.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from bench.llm import FrozenLLM


SLOT = "<|bench-audio|>"


def prompt_text(tokenizer: Any, instruction: str, shots: Sequence[tuple[str, str]] = ()) -> tuple[str, str, str]:
    """(text before the audio, text after it, answer prefix) for an instruction.

    With a chat template: one user turn holding the instruction, a newline and the audio; the assistant answers.
    Without: "<instruction>\\n<audio>\\nAnswer:" and the answer after a space. `shots`: (input text, answer) pairs
    shown first in the same form, as solved examples.
    """
    chat = bool(getattr(tokenizer, "chat_template", None))
    if chat:
        turns = [m for text, answer in shots for m in ({"role": "user", "content": f"{instruction}\n{text}"},
                                                       {"role": "assistant", "content": answer})]
        text = tokenizer.apply_chat_template(turns + [{"role": "user", "content": f"{instruction}\n{SLOT}"}],
                                             tokenize=False, add_generation_prompt=True)
    else:
        text = "".join(f"{instruction}\n{t}\nAnswer: {a}\n\n" for t, a in shots) + f"{instruction}\n{SLOT}\nAnswer:"
    if text.count(SLOT) != 1:
        raise ValueError(f"the prompt must hold the audio slot once; the chat template produced {text!r}")
    before, after = text.split(SLOT)
    return before, after, "" if chat else " "


class PrefixCache:
    """Keys and values of the shared prompt prefix [P, d], expanded to a batch on request.

    `memo`: compute them once (the LLM is frozen); without it they are recomputed at every call, under the current
    grad mode (LoRA changes the prefix's keys and values, so they must be recomputed while training it).
    """

    def __init__(self, model: Any, prefix: torch.Tensor, memo: bool) -> None:
        self.model, self.prefix, self.memo, self._kept = model, prefix, memo, None
        self.length = len(prefix)

    def _run(self) -> Any:
        return _cache(self.model(inputs_embeds=self.prefix[None], use_cache=True))

    def batch(self, size: int) -> Any:
        """A fresh cache for `size` rows (None when the prefix is empty)."""
        if not self.length:
            return None
        if not self.memo:
            cache = self._run()
        else:
            if self._kept is None:
                import torch

                with torch.no_grad():
                    self._kept = self._run()
            cache = copy.deepcopy(self._kept)
        cache.batch_repeat_interleave(size)
        return cache


def assemble(suffix: torch.Tensor, middles: Sequence[torch.Tensor],
             answers: Sequence[torch.Tensor] | None = None, answer_ids: Sequence[Sequence[int]] | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Left-padded rows [middle_i, suffix, answer_i] (the prefix comes from a PrefixCache).

    Returns (embeds [B, L, d], mask [B, L], targets [B, A] or None). Every row ends at position L - 1, so the answers
    are right-aligned: targets[i] holds row i's answer ids in its last len(answer_ids[i]) places and -100 (ignored
    by the loss) before them, A = the longest answer; the logits at positions L - A - 1 .. L - 2 predict them.
    """
    import torch

    rows = [torch.cat([m, suffix] + ([answers[i]] if answers is not None else [])) for i, m in enumerate(middles)]
    length = max(len(r) for r in rows)
    embeds = suffix.new_zeros(len(rows), length, suffix.shape[-1])
    mask = torch.zeros(len(rows), length, dtype=torch.long, device=suffix.device)
    for i, row in enumerate(rows):
        embeds[i, length - len(row):] = row
        mask[i, length - len(row):] = 1
    if answer_ids is None:
        return embeds, mask, None
    width = max(len(a) for a in answer_ids)
    targets = torch.full((len(rows), width), -100, dtype=torch.long, device=suffix.device)
    for i, ids in enumerate(answer_ids):
        targets[i, width - len(ids):] = torch.tensor(list(ids), dtype=torch.long)
    return embeds, mask, targets


def forward(model: Any, prefix: PrefixCache, embeds: torch.Tensor, mask: torch.Tensor, use_cache: bool = False,
            **kwargs: Any) -> Any:
    """The model on left-padded rows after the cached prefix (positions continue from the prefix, pads skipped)."""
    import torch

    positions = prefix.length + (mask.cumsum(-1) - 1).clamp(min=0)
    cache = prefix.batch(len(embeds))
    if cache is not None:
        mask = torch.cat([mask.new_ones(len(mask), prefix.length), mask], dim=1)
    return model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=use_cache or cache
                 is not None, **_cache_arg(model, cache), **kwargs)


def _parameters(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _keep(model: Any, n: int) -> dict[str, int]:
    """Ask for the last n logits only, where the model supports it."""
    return {"logits_to_keep": n} if "logits_to_keep" in _parameters(model) else {}


def _cache_arg(model: Any, cache: Any) -> dict[str, Any]:
    """The KV cache argument: `cache` from transformers 5.2x, `past_key_values` before."""
    return {"cache" if "cache" in _parameters(model) else "past_key_values": cache}


def _cache(result: Any) -> Any:
    """The KV cache of a model output, under its new or old name."""
    cache = getattr(result, "cache", None)
    return cache if cache is not None else result.past_key_values


def answer_loss(model: Any, prefix: PrefixCache, embeds: torch.Tensor, mask: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens (targets from `assemble`); only the last A+1 logits are computed."""
    import torch.nn.functional as F

    keep = targets.shape[1] + 1
    logits = forward(model, prefix, embeds, mask, **_keep(model, keep)).logits[:, -keep:-1]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def greedy_decode(llm: FrozenLLM, prefix: PrefixCache, suffix: torch.Tensor, middles: Sequence[torch.Tensor],
                  max_new_tokens: int, batch_size: int) -> list[str]:
    """Greedy generation (argmax, no teacher forcing) after each [prefix, middle, suffix].

    An answer is the text up to the eos, and only its first line: a base model (no chat template) trained or shown
    one-line answers tends to go on with a new paragraph rather than stop.
    """
    import torch

    eos, out = llm.tokenizer.eos_token_id, []
    with torch.no_grad():
        for start in range(0, len(middles), batch_size):
            embeds, mask, _ = assemble(suffix, middles[start:start + batch_size])
            result = forward(llm.model, prefix, embeds, mask, use_cache=True, **_keep(llm.model, 1))
            mask = torch.cat([mask.new_ones(len(mask), prefix.length), mask], dim=1)
            position = prefix.length + mask[:, prefix.length:].sum(1, keepdim=True) - 1
            tokens = result.logits[:, -1].argmax(-1)
            rows, done = [tokens], tokens == eos
            while len(rows) < max_new_tokens and not bool(done.all()):
                mask, position = torch.cat([mask, mask.new_ones(len(mask), 1)], dim=1), position + 1
                result = llm.model(inputs_embeds=llm.embed(tokens[:, None]), attention_mask=mask,
                                   position_ids=position, use_cache=True, **_cache_arg(llm.model, _cache(result)))
                tokens = torch.where(done, eos, result.logits[:, -1].argmax(-1))
                rows.append(tokens)
                done = done | (tokens == eos)
            for row in torch.stack(rows, 1).tolist():
                row = row[:row.index(eos)] if eos in row else row
                out.append(llm.tokenizer.decode(row, skip_special_tokens=True).strip().split("\n", 1)[0].strip())
    return out
